"""Neutral (ignored) pixels change neither the loss nor the metrics."""
import numpy as np
import pytest
import tensorflow as tf
from official.vision.losses.segmentation_losses import SegmentationLoss

from trainer.data.classes import IGNORE_LABEL
from trainer.metrics import batch_confusion, summarize


def _case():
    labels = np.array([[[0, 1, 1, IGNORE_LABEL], [2, 2, 0, IGNORE_LABEL]]], np.int32)
    logits = np.random.default_rng(0).normal(size=(1, 2, 4, 3)).astype(np.float32)
    return labels, logits


def test_loss_ignores_neutral_pixels():
    labels, logits = _case()
    loss = SegmentationLoss(0.0, [], IGNORE_LABEL, True)
    changed = logits.copy()
    changed[:, :, 3, :] = [50.0, -50.0, 7.0]
    a = float(loss(tf.constant(logits), tf.constant(labels[..., None])))
    b = float(loss(tf.constant(changed), tf.constant(labels[..., None])))
    assert a == pytest.approx(b, rel=1e-6)
    # the mean runs over the 6 valid pixels only
    valid = labels[0] != IGNORE_LABEL
    log_probs = tf.nn.log_softmax(logits[0]).numpy()
    expected = -np.mean([log_probs[r, c, labels[0, r, c]] for r, c in zip(*np.nonzero(valid))])
    assert a == pytest.approx(expected, rel=1e-5)


def test_confusion_ignores_neutral_pixels():
    labels, logits = _case()
    changed = logits.copy()
    changed[:, :, 3, :] = [0.0, 0.0, 99.0]
    a = batch_confusion(tf.constant(labels), tf.constant(logits), 3).numpy()
    b = batch_confusion(tf.constant(labels), tf.constant(changed), 3).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.sum() == 6


def test_summary_hand_computed():
    # rows = truth, columns = prediction
    confusion = np.array([[3, 1, 0],
                          [0, 2, 0],
                          [0, 0, 0]])
    result = summarize(confusion, ["bg", "a", "absent"])
    assert result["per_class_iou"] == {"bg": pytest.approx(3 / 4), "a": pytest.approx(2 / 3), "absent": None}
    assert result["mean_iou"] == pytest.approx((3 / 4 + 2 / 3) / 2)   # the absent class is left out
    assert result["pixel_accuracy"] == pytest.approx(5 / 6)
