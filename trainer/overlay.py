"""Class colours laid over images: one look for TensorBoard's validation previews and --save-masks overlays."""
import numpy as np

from trainer.data.classes import IGNORE_LABEL

ALPHA = 0.5  # weight of the class colour over the image


def palette(out_classes: list[dict]) -> np.ndarray:
    """uint8 [256, 3]: each class index its meta colour; ignored pixels (255) black."""
    colors = np.zeros((256, 3), np.uint8)
    for idx, cls in enumerate(out_classes):
        colors[idx] = [int(cls["color"][i:i + 2], 16) for i in (1, 3, 5)]
    colors[IGNORE_LABEL] = 0
    return colors


def blend(images: np.ndarray, classes: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """uint8 images with each pixel's class colour laid over; pixels of class -1 (no prediction) left as they are."""
    out = images.astype(np.float32)
    shown = classes >= 0
    out[shown] = (1 - ALPHA) * out[shown] + ALPHA * colors[classes[shown]].astype(np.float32)
    return np.rint(out).astype(np.uint8)
