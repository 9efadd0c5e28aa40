"""Loss options (class weights by title, top-k hard pixels) and early stopping."""
import numpy as np
import pytest
import tensorflow as tf

from trainer.data.classes import IGNORE_LABEL, ClassMapping
from trainer.errors import UserError
from trainer.train.loop import stop_early
from trainer.train.losses import TrainLoss, class_weight_list

MAPPING = ClassMapping({"bg": 0, "cat": 1, "dog": 2}, [], "neutral")


def _case():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(2, 8, 8)).astype(np.int32)
    labels[:, 0, :] = IGNORE_LABEL
    return tf.constant(rng.normal(size=(2, 8, 8, 3)).astype(np.float32)), tf.constant(labels)


def _pixel_losses(logits, labels):
    flat = tf.reshape(labels, [-1]).numpy()
    ce = -tf.gather(tf.nn.log_softmax(tf.reshape(logits, [-1, 3])), np.minimum(flat, 2), batch_dims=1).numpy()
    return ce, flat != IGNORE_LABEL, flat


def test_class_weights_by_title():
    assert class_weight_list({"dog": 3}, MAPPING) == [1.0, 1.0, 3.0]
    with pytest.raises(UserError) as err:
        class_weight_list({"emu": 2, "neutral": 0}, MAPPING)
    assert err.value.lines[0] == "loss.class_weights.emu: not a class of the model (classes: bg, cat, dog)"
    assert len(err.value.lines) == 2


def test_weighted_loss_is_normalised_by_valid_pixels():
    logits, labels = _case()
    ce, valid, flat = _pixel_losses(logits, labels)
    weights = np.array([1.0, 1.0, 3.0])[np.minimum(flat, 2)]
    loss = TrainLoss({"class_weights": {"dog": 3}, "top_k_percent_pixels": 1.0}, MAPPING)(logits, labels)
    assert float(loss) == pytest.approx((ce * weights)[valid].sum() / valid.sum(), rel=1e-4)


def test_top_k_averages_the_hardest_pixels():
    logits, labels = _case()
    ce, valid, _ = _pixel_losses(logits, labels)
    loss = TrainLoss({"class_weights": {}, "top_k_percent_pixels": 0.25}, MAPPING)(logits, labels)
    k = int(0.25 * ce.size)
    hardest = np.sort(np.where(valid, ce, 0.0))[::-1][:k]
    # tf-models-official's rule: k of all pixels, ignored ones counting as 0, normalised by k
    assert float(loss) == pytest.approx(hardest.sum() / k, rel=1e-4)


def _records(*ious):
    return [{"mean_iou": iou, "epoch": i + 1} for i, iou in enumerate(ious)]


def test_early_stopping_counts_validations_without_a_better_mean_iou():
    assert not stop_early(_records(0.1, 0.2, 0.2), patience=2)
    assert stop_early(_records(0.1, 0.3, 0.2, 0.3), patience=2)      # equal is not better
    assert not stop_early(_records(0.1, 0.3, 0.2, 0.3), patience=0)  # 0 = off
    assert not stop_early([], patience=1)
