"""Albumentations pipelines: DeepLab's training augmentation and the plugin's validation resize."""
import cv2
import albumentations as A

from trainer.data.classes import IGNORE_LABEL

# DeepLab pads images with the mean pixel value; masks are padded with the ignore label.
_PAD_VALUE = 127.5


def train_transform(height: int, width: int) -> A.Compose:
    """Random scale 0.5–2.0, pad bottom/right, random crop, left-right flip (research DeepLab's recipe)."""
    return A.Compose([
        A.RandomScale(scale_limit=(-0.5, 1.0), interpolation=cv2.INTER_LINEAR,
                      mask_interpolation=cv2.INTER_NEAREST, p=1.0),
        A.PadIfNeeded(min_height=height, min_width=width, position="top_left",
                      border_mode=cv2.BORDER_CONSTANT, fill=_PAD_VALUE, fill_mask=IGNORE_LABEL),
        A.RandomCrop(height=height, width=width),
        A.HorizontalFlip(p=0.5),
    ])


def val_transform(height: int, width: int) -> A.Compose:
    """The plugin resized validation images (and, nearest-neighbour, their masks) to the input size."""
    return A.Compose([
        A.Resize(height=height, width=width, interpolation=cv2.INTER_LINEAR,
                 mask_interpolation=cv2.INTER_NEAREST),
    ])
