"""--save-masks: per image, a PNG of class indices and a colour overlay with a legend (research DeepLab's vis)."""
import cv2
import numpy as np

from trainer.data.classes import IGNORE_LABEL
from trainer.overlay import blend, palette

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def index_png(class_map: np.ndarray) -> bytes:
    """The model's class index per pixel; IGNORE_LABEL where the mode made no prediction (outside ROI/boxes)."""
    return _png(np.where(class_map < 0, IGNORE_LABEL, class_map).astype(np.uint8))


def overlay_png(image: np.ndarray, class_map: np.ndarray, out_classes: list[dict]) -> bytes:
    """The image blended with each predicted pixel's class colour, and a legend of all classes on its right."""
    colors = palette(out_classes)
    blended = blend(image, class_map, colors)
    legend = _legend([c["title"] for c in out_classes], colors[:len(out_classes)], scale=max(1, image.shape[0] // 400))
    height = max(image.shape[0], legend.shape[0])
    canvas = np.zeros((height, image.shape[1] + legend.shape[1], 3), np.uint8)
    canvas[:image.shape[0], :image.shape[1]] = blended
    canvas[:legend.shape[0], image.shape[1]:] = legend
    return _png(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))


def _legend(titles: list[str], colors: np.ndarray, scale: int) -> np.ndarray:
    row, pad, font = 18 * scale, 6 * scale, 0.45 * scale
    text_width = max(cv2.getTextSize(t, _FONT, font, scale)[0][0] for t in titles)
    panel = np.zeros((2 * pad + row * len(titles), 3 * pad + row + text_width, 3), np.uint8)
    for i, (title, color) in enumerate(zip(titles, colors)):
        top = pad + i * row
        cv2.rectangle(panel, (pad, top + 2 * scale), (pad + row - 4 * scale, top + row - 2 * scale),
                      tuple(int(c) for c in color), thickness=-1)
        cv2.putText(panel, title, (2 * pad + row, top + row - 5 * scale), _FONT, font, (255, 255, 255), scale,
                    cv2.LINE_AA)
    return panel


def _png(pixels: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", pixels)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()
