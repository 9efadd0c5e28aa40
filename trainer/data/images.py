"""Image loading with one colour convention (RGB uint8, 3 channels) whatever the file holds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from trainer.errors import DataError


def read_image(path: Path) -> np.ndarray:
    """Decodes from bytes so non-ASCII paths work; EXIF orientation is applied, as the Supervisely SDK's reader does."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as error:
        raise DataError(f"{path}: cannot read image ({error.strerror or error})") from None
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR_RGB) if data.size else None
    except cv2.error:
        image = None
    if image is None:
        raise DataError(f"{path}: not a readable image (unknown format or corrupted)")
    return image
