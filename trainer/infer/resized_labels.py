"""Each pixel's class from scores at another size: the argmax of TensorFlow's bilinear resize (tf.image.resize,
half-pixel centres) followed by top_k, without ever holding the resized scores.

Why: an image's scores at its own size are 40 MB at 600×800 with 21 classes; TensorFlow writes them, then reads them
back for the argmax, and that took a lone server request longer than its HTTP, decoding of the model input and
objects together (bench/serve_load.py). Here each output row is made from two source rows, interpolated once along
x into a buffer and reused by the next output rows, and its argmax taken at once.

The labels are TensorFlow's bit for bit (tests/infer/test_resized_labels.py): the same float32 arithmetic in the
same order as its kernel (each source row along x, then the two rows along y; no fused multiply-add), and ties go to
the lowest class index, as top_k's.
"""
from __future__ import annotations

import numba
import numpy as np


def resized_labels(scores: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[B, H, W, C] float32 scores → [B, h, w] int32 labels at `size` (h, w)."""
    scores = np.ascontiguousarray(scores, np.float32)
    batch, height, width, _ = scores.shape
    out_height, out_width = int(size[0]), int(size[1])
    labels = np.empty((batch, out_height, out_width), np.int32)
    ys, xs = _axis(height, out_height), _axis(width, out_width)
    for b in range(batch):
        _rows(scores[b], *ys, *xs, labels[b])
    return labels


def _axis(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output index along one axis: the lower and upper source index and the weight of the upper, as
    TensorFlow's ResizeBilinear computes them (HalfPixelScaler, in float32)."""
    scale = np.float32(size_in) / np.float32(size_out)
    where = (np.arange(size_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(where)
    lower = np.maximum(floor, 0).astype(np.intp)
    upper = np.minimum(np.ceil(where), size_in - 1).astype(np.intp)
    return lower, upper, (where - floor).astype(np.float32)


@numba.njit(nogil=True, cache=True)   # nogil: the server's requests run it in their own threads at once
def _rows(image, y0s, y1s, lys, x0s, x1s, lxs, labels):
    """One image's labels, row by row."""
    classes, width = image.shape[2], labels.shape[1]
    along_x = np.empty((2, classes, width), np.float32)   # two source rows interpolated along x, class-major
    held = np.full(2, -1, np.intp)                        # the source row each holds
    best = np.empty(width, np.float32)
    label = np.empty(width, np.int32)
    for y in range(labels.shape[0]):
        top = _row_along_x(image, y0s[y], y1s[y], along_x, held, x0s, x1s, lxs)
        bottom = _row_along_x(image, y1s[y], y0s[y], along_x, held, x0s, x1s, lxs)
        upper, lower, weight = along_x[top], along_x[bottom], lys[y]
        for x in range(width):
            best[x] = upper[0, x] + (lower[0, x] - upper[0, x]) * weight
            label[x] = 0
        for c in range(1, classes):
            for x in range(width):
                value = upper[c, x] + (lower[c, x] - upper[c, x]) * weight
                higher = value > best[x]
                best[x] = value if higher else best[x]
                label[x] = c if higher else label[x]
        labels[y] = label


@numba.njit(nogil=True, cache=True)
def _row_along_x(image, row, keep, along_x, held, x0s, x1s, lxs):
    """The slot of along_x holding source `row` interpolated along x; made in the slot not holding `keep` (the
    other row the output row needs) if not there yet."""
    for slot in range(2):
        if held[slot] == row:
            return slot
    slot = 1 if held[0] == keep else 0
    source = image[row]
    for x in range(along_x.shape[2]):
        left, right, weight = source[x0s[x]], source[x1s[x]], lxs[x]
        for c in range(along_x.shape[1]):
            along_x[slot, c, x] = left[c] + (right[c] - left[c]) * weight
    held[slot] = row
    return slot
