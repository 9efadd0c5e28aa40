"""mixed_precision: the network computes in float16/bfloat16, the logits and the loss stay float32, the
weights (and so checkpoints) stay float32."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from trainer.config.resolve import resolve_train_config
from trainer.data.classes import build_class_mapping
from trainer.data.split import split_samples
from trainer.data.supervisely import read_project
from trainer.model.builder import build_model
from trainer.train.loop import Trainer

TINY = ['input_size={"width": 64, "height": 64}', 'batch_size={"train": 3, "val": 3}',
        'model={"depth_multiplier": 0.35}']


@pytest.mark.parametrize("precision, compute", [("bfloat16", tf.bfloat16), ("float16", tf.float16)])
def test_mixed_network_float32_logits(precision, compute):
    model = build_model(resolve_train_config(None, "demo", TINY)["model"], 3, mixed_precision=precision)
    assert model.network.backbone.layers[-1].compute_dtype == compute.name
    assert model(tf.zeros([1, 64, 64, 3])).dtype == tf.float32
    assert {v.dtype for v in model.weights} == {tf.float32}
    assert tf_keras.mixed_precision.global_policy().name == "float32"   # the policy does not leak


@pytest.mark.slow
def test_float16_step_is_loss_scaled_and_finite(tiny_project, tmp_path):
    """~30-50 s: float16 on CPU runs TensorFlow's slow fallback kernels."""
    project = read_project(tiny_project)
    mapping = build_class_mapping(project.meta, "bg", "neutral")
    train, val = split_samples(project.samples, "train", "val")
    trainer = Trainer(resolve_train_config(None, "demo", [*TINY, "mixed_precision=float16"]), mapping, train, val,
                      tmp_path)
    assert isinstance(trainer.step_optimizer, tf_keras.mixed_precision.LossScaleOptimizer)
    before = [v.numpy() for v in trainer.model.trainable_weights]
    images, labels = next(iter(trainer.batches(train=True, epoch=0)))
    loss, _ = trainer.train_step(images, labels, 0)
    assert np.isfinite(loss)
    changed = any(not np.array_equal(a, b.numpy()) for a, b in zip(before, trainer.model.trainable_weights))
    # a step whose scaled gradients overflow is skipped and the scale halved: loss scaling at work
    assert changed != (float(trainer.step_optimizer.loss_scale) < 2 ** 15)
