"""Combining region scores row band by row band gives exactly the class map of one full-image score buffer, and
keeps only a band of rows: checked with random scores, against a full buffer computed here. Single-region modes take
TensorFlow's labels, which must be NumPy's argmax."""
import tracemalloc
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from trainer.data.types import Box
from trainer.infer.predictor import class_labels
from trainer.infer.scores import class_map
from trainer.infer.modes.sliding_window import window_starts


class _RandomScores:
    """A predictor whose scores are random but fixed by each crop's pixels, so the same crop scores the same in
    any batch and order; it counts its calls."""

    def __init__(self, num_classes: int):
        self.classes = SimpleNamespace(out_classes=[{"title": str(k)} for k in range(num_classes)])
        self.calls = 0

    def scores(self, crops: np.ndarray) -> np.ndarray:
        self.calls += 1
        out = np.empty((*crops.shape[:3], len(self.classes.out_classes)), np.float32)
        for crop, scores in zip(crops, out):
            np.random.default_rng(zlib.crc32(crop.tobytes())).random(dtype=np.float32, out=scores)
        return out

    def labels(self, crops: np.ndarray) -> np.ndarray:
        return self.scores(crops).argmax(axis=-1).astype(np.int32)


def _full_buffer(predictor, image: np.ndarray, regions: list[Box]) -> np.ndarray:
    """The whole-image buffer as before: each distinct region's scores added once, sizes in order of first
    appearance, regions in listed order within a size; argmax where covered, -1 elsewhere."""
    height, width = image.shape[:2]
    sums = np.zeros((height, width, len(predictor.classes.out_classes)), np.float32)
    counts = np.zeros((height, width), np.int64)
    distinct = list(dict.fromkeys(regions))
    sizes = list(dict.fromkeys((r.height, r.width) for r in distinct))
    for r in sorted(distinct, key=lambda r: sizes.index((r.height, r.width))):
        pixels = np.full((r.height, r.width, 3), 128, np.uint8)
        inside = image[r.top:r.top + r.height, r.left:r.left + r.width]
        pixels[:inside.shape[0], :inside.shape[1]] = inside
        scores = predictor.scores(pixels[None])[0][:inside.shape[0], :inside.shape[1]]
        sums[r.top:r.top + inside.shape[0], r.left:r.left + inside.shape[1]] += scores
        counts[r.top:r.top + inside.shape[0], r.left:r.left + inside.shape[1]] += 1
    return np.where(counts > 0, sums.argmax(axis=-1), -1)


def _windows(height: int, width: int, window: tuple[int, int], overlap: tuple[int, int]) -> list[Box]:
    return [Box.sized(top, left, *window) for top in window_starts(height, window[0], window[0] - overlap[0])
            for left in window_starts(width, window[1], window[1] - overlap[1])]


HEIGHT, WIDTH = 97, 83
REGIONS = {
    "sliding windows": _windows(HEIGHT, WIDTH, (24, 32), (7, 10)),
    "windows wider than the image": _windows(HEIGHT, WIDTH, (20, 90), (5, 0)),  # padded past the right edge
    # listed out of row order, of different sizes (two equal ones apart), up to four deep, one listed twice, some
    # reaching past the bottom/right edge (padded), rows 70..74 covered by none.
    "boxes": [Box.sized(40, 10, 30, 50), Box.sized(0, 0, 20, 20), Box.sized(5, 8, 33, 21), Box.sized(10, 4, 12, 60),
              Box.sized(0, 0, 20, 20), Box.sized(12, 30, 20, 20), Box.sized(15, 0, 40, 83), Box.sized(75, 60, 40, 40),
              Box.sized(80, 0, 17, 30), Box.sized(2, 70, 10, 5), Box.sized(60, 5, 10, 50)],
    "roi": [Box.sized(13, 8, 60, 50)],
    "full image": [Box.sized(0, 0, HEIGHT, WIDTH)],
    "full image and boxes": [Box.sized(0, 0, HEIGHT, WIDTH), Box.sized(30, 20, 10, 10), Box.sized(35, 25, 30, 30)],
}


@pytest.mark.parametrize("name", REGIONS)
@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_row_bands_give_the_full_buffers_class_map(name, batch_size):
    regions = REGIONS[name]
    image = np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    expected = _full_buffer(_RandomScores(5), image, regions)
    predictor = _RandomScores(5)
    got = class_map(predictor, image, regions, batch_size)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)
    if name == "sliding windows":  # one size: batches stay full
        assert predictor.calls == -(-len(regions) // batch_size)


def test_score_rows_kept_are_a_band_not_the_image():
    height, width, num_classes = 4000, 300, 21
    image = np.zeros((height, width, 3), np.uint8)
    regions = _windows(height, width, (128, 128), (32, 32))
    tracemalloc.start()
    try:
        class_map(_RandomScores(num_classes), image, regions, 8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # about 20 MB: 128 rows of sums (3.2 MB), a batch of 8 windows' scores (11 MB), the class map (4.8 MB); a
    # full-image buffer made it 135 MB
    assert peak < height * width * num_classes * 4 / 4


def test_class_labels_are_numpys_argmax_ties_included():
    # scores of a few levels, so most pixels tie between several classes; and a pixel with every score equal
    scores = np.random.default_rng(3).integers(0, 3, (2, 40, 50, 21)).astype(np.float32) / 2
    scores[0, 0, 0] = 0.25
    labels = class_labels(tf.constant(scores)).numpy()
    assert labels.dtype == np.int32 and labels[0, 0, 0] == 0
    np.testing.assert_array_equal(labels, np.argmax(scores, axis=-1))
