"""Pixels from Supervisely geometry, drawn exactly as the Supervisely SDK draws them so masks match the platform."""

from __future__ import annotations

import base64
import binascii
import io
import zlib
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from trainer.data.supervisely import ObjectAnn


def decode_bitmap(data: str) -> np.ndarray:
    """Supervisely stores masks as base64(zlib(PNG)); the mask lives in the alpha channel when there is one."""
    try:
        png = zlib.decompress(base64.b64decode(data))
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    except (binascii.Error, zlib.error, ValueError, TypeError, cv2.error) as error:
        raise ValueError(f"bitmap data cannot be decoded ({error})") from None
    if image is None:
        raise ValueError("bitmap data is not a PNG image")
    if image.ndim == 3:
        image = image[:, :, 3] if image.shape[2] == 4 else image[:, :, 0]
    mask = image.astype(bool)
    if not mask.any():
        raise ValueError("bitmap mask is empty")
    return mask


def encode_bitmap(mask: np.ndarray) -> str:
    """Byte-for-byte the SDK's encoding (black/white palette PNG, index 0 transparent), so other tools read it."""
    image = Image.fromarray(np.asarray(mask, dtype=bool).astype(np.uint8))
    image.putpalette([0, 0, 0, 255, 255, 255])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0, optimize=0)
    return base64.b64encode(zlib.compress(buffer.getvalue())).decode("utf-8")


def rasterize(
    objects: list[ObjectAnn], height: int, width: int, title_to_value: dict[str, int]
) -> np.ndarray:
    """Ground truth is painted in annotation order, so a later object wins where objects overlap."""
    out = np.zeros((height, width), np.uint8)
    for obj in objects:
        value = title_to_value[obj.class_title]
        _DRAW[obj.shape](out, obj.data, value)
    return out


def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Inclusive (top, left, bottom, right) of the set pixels: Supervisely bitmaps are stored tightly cropped."""
    rows = np.flatnonzero(np.any(mask, axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(np.any(mask, axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def _draw_bitmap(out: np.ndarray, data: tuple[np.ndarray, int, int], value: int) -> None:
    mask, x, y = data
    top, left = max(y, 0), max(x, 0)
    bottom = min(y + mask.shape[0], out.shape[0])
    right = min(x + mask.shape[1], out.shape[1])
    if top < bottom and left < right:
        region = mask[top - y : bottom - y, left - x : right - x]
        out[top:bottom, left:right][region] = value


def _draw_polygon(out: np.ndarray, data: tuple[np.ndarray, list[np.ndarray]], value: int) -> None:
    # Like the SDK: fill the exterior, then clear all holes in one fillPoly call.
    exterior, interiors = data
    canvas = np.zeros(out.shape, np.uint8)
    cv2.fillPoly(canvas, [_int_points(exterior)], 1)
    if interiors:
        cv2.fillPoly(canvas, [_int_points(ring) for ring in interiors], 0)
    out[canvas.astype(bool)] = value


def _draw_rectangle(out: np.ndarray, data: tuple[float, float, float, float], value: int) -> None:
    x1, y1, x2, y2 = (round(v) for v in data)
    left, right = sorted((x1, x2))
    top, bottom = sorted((y1, y2))
    height, width = out.shape
    rows = slice(min(max(top, 0), height), min(max(bottom + 1, 0), height))
    cols = slice(min(max(left, 0), width), min(max(right + 1, 0), width))
    out[rows, cols] = value


def _int_points(points: np.ndarray) -> np.ndarray:
    # np.rint rounds half to even, as Python's round() in the SDK's PointLocation does.
    return np.ascontiguousarray(np.rint(points), dtype=np.int32)


_DRAW = {"bitmap": _draw_bitmap, "polygon": _draw_polygon, "rectangle": _draw_rectangle}
