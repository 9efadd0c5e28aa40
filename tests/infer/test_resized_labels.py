"""The labels of resized scores are TensorFlow's (bilinear resize, then top_k) bit for bit, at every size."""
import numpy as np
import pytest
import tensorflow as tf

from trainer.infer.predictor import class_labels
from trainer.infer.resized_labels import resized_labels

RNG = np.random.default_rng(7)


def _tensorflow(scores: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return class_labels(tf.image.resize(scores, size, method="bilinear")).numpy()


def _smooth(batch: int, height: int, width: int, classes: int) -> np.ndarray:
    """Softmax of a coarse random field upsampled: regions with boundaries, as a segmentation model's scores."""
    coarse = RNG.normal(size=(batch, 6, 6, classes)).astype(np.float32) * 4
    return tf.nn.softmax(tf.image.resize(coarse, (height, width), method="bicubic"), -1).numpy()


CASES = {
    "model-like, up": (_smooth(1, 65, 65, 21), (600, 800)),
    "model-like, down": (_smooth(1, 129, 129, 21), (64, 50)),
    "model-like, same size": (_smooth(2, 64, 64, 6), (64, 64)),
    "noise, mixed": (RNG.random((2, 37, 23, 6), dtype=np.float32), (75, 11)),
    "ties everywhere": (np.round(RNG.random((1, 20, 30, 5), dtype=np.float32) * 2) / 2, (57, 31)),
    "equal scores": (np.full((1, 9, 9, 21), 1 / 21, np.float32), (40, 40)),
    "one pixel out": (RNG.random((1, 13, 17, 3), dtype=np.float32), (1, 1)),
    "one row in": (RNG.random((1, 1, 17, 4), dtype=np.float32), (5, 70)),
    "tall and narrow": (_smooth(1, 40, 40, 8), (1000, 3)),
}


@pytest.mark.parametrize("case", CASES)
def test_labels_are_tensorflows_bit_for_bit(case):
    scores, size = CASES[case]
    labels = resized_labels(scores, size)
    assert labels.dtype == np.int32 and labels.shape == (len(scores), *size)
    np.testing.assert_array_equal(labels, _tensorflow(scores, size))


def test_read_only_scores_are_read_in_place():
    scores, size = CASES["model-like, down"]
    frozen = scores.copy()
    frozen.setflags(write=False)
    np.testing.assert_array_equal(resized_labels(frozen, size), _tensorflow(scores, size))
