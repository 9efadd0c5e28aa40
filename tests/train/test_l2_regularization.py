"""optimizer.l2_regularization: DeepLab's (slim's) L2 penalty λ·Σw²/2 on convolution kernels, depthwise ones aside,
added to the differentiated loss once per step whatever the number of replicas."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO
from trainer.config.resolve import resolve_train_config
from trainer.data.classes import build_class_mapping
from trainer.data.split import split_samples
from trainer.data.supervisely import read_project
from trainer.model.builder import build_model
from trainer.train.loop import Trainer
from trainer.train.losses import l2_penalty
from trainer.train.optim import l2_regularized

LAMBDA = 0.5
UNREGULARIZED = {"depthwise_kernel:0", "gamma:0", "beta:0", "bias:0"}
# A real step at the preset's recipe, made plain: SGD without momentum, so the update is lr × gradient.
STEP = ['input_size={"width": 64, "height": 64}', 'batch_size={"train": 3, "val": 3}', "lr=0.1",
        "optimizer.momentum=0"]


def _leaf(variable) -> str:
    return variable.name.rsplit("/", 1)[-1]


@pytest.mark.parametrize("preset, overrides, precision, kernels, depthwise", [
    ("mobilenetv2_dm05_voc", [], "none", 38, 17),                                  # deeplab MobileNetV2 ×0.5
    ("xception65_voc", [], "none", 79, 68),                                        # deeplab Xception-65, V3+
    ("demo", ['model={"depth_multiplier": 0.35}'], "bfloat16", 42, 17),           # tf_models MobileNetV2, V3+
])
def test_penalty_covers_exactly_the_conv_kernels(preset, overrides, precision, kernels, depthwise):
    model = build_model(resolve_train_config(None, preset, overrides)["model"], 3, mixed_precision=precision)
    variables = model.trainable_variables
    chosen = {v.name for v in l2_regularized(variables)}
    assert chosen == {v.name for v in variables if _leaf(v) == "kernel:0"} and len(chosen) == kernels
    assert sum(_leaf(v) == "depthwise_kernel:0" for v in variables) == depthwise
    # every trainable variable is either a conv kernel (4-D) or one slim left unregularized
    assert all(len(v.shape) == 4 for v in variables if v.name in chosen)
    assert {_leaf(v) for v in variables if v.name not in chosen} <= UNREGULARIZED
    assert any("logits" in name or "segmentation_output" in name for name in chosen)
    expected = LAMBDA * sum(np.sum(np.square(v.numpy(), dtype=np.float64)) / 2 for v in variables
                            if _leaf(v) == "kernel:0")
    penalty = l2_penalty(l2_regularized(variables), LAMBDA)
    assert penalty.dtype == tf.float32
    assert float(penalty) == pytest.approx(expected, rel=1e-5)


def _trainers(tiny_project, tmp_path, *strengths):
    project = read_project(tiny_project)
    mapping = build_class_mapping(project.meta, "bg", "neutral")
    train, val = split_samples(project.samples, "train", "val")
    return [Trainer(resolve_train_config(None, "mobilenetv2_dm05_voc", [*STEP, f"optimizer.l2_regularization={s}"]),
                    mapping, train, val, tmp_path) for s in strengths]


@pytest.mark.slow   # 12 s
def test_step_gradient_is_data_gradient_plus_lambda_w(tiny_project, tmp_path):
    """Same weights, same batch, with and without the penalty: the kernels' updates differ by lr·λ·w, nothing
    else's does, and the logged loss is the data loss either way."""
    plain, regularized = _trainers(tiny_project, tmp_path, 0, LAMBDA)
    regularized.model.set_weights(plain.model.get_weights())
    before = [v.numpy() for v in plain.model.trainable_variables]
    images, labels = next(iter(plain.batches(train=True, epoch=0)))
    plain_loss, lr = plain.train_step(images, labels, 0)
    regularized_loss, _ = regularized.train_step(images, labels, 0)
    assert lr == pytest.approx(0.1) and regularized_loss == pytest.approx(plain_loss, rel=1e-6)
    kernels = {v.name for v in l2_regularized(plain.model.trainable_variables)}
    for w, a, b in zip(before, plain.model.trainable_variables, regularized.model.trainable_variables):
        shrink = -lr * LAMBDA * w if a.name in kernels else np.zeros_like(w)
        np.testing.assert_allclose(b.numpy() - a.numpy(), shrink, rtol=1e-3, atol=1e-6, err_msg=a.name)


# Runs in a fresh interpreter: the CPU must be split before TensorFlow initialises.
_PARITY = textwrap.dedent("""
    import json, os, sys
    import trainer  # sets TF_USE_LEGACY_KERAS before TensorFlow loads
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from trainer.config.resolve import resolve_train_config
    from trainer.train.losses import l2_penalty
    from trainer.model.builder import build_model

    model_cfg = resolve_train_config(None, "mobilenetv2_dm05_voc", [])["model"]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = build_model(model_cfg, 3)
    kernel = next(v for v in model.trainable_variables if v.name == "logits-semantic/kernel:0")
    def replica():
        with tf.GradientTape() as tape:
            penalty = l2_penalty([kernel], 0.5)
        return penalty, tape.gradient(penalty, kernel)
    results = tf.function(lambda: strategy.run(replica))()
    penalty, gradient = [strategy.reduce("SUM", r, axis=None) for r in results]
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "penalty": float(penalty),
                      "gradient": gradient.numpy().tolist(), "kernel": kernel.numpy().tolist()}))
""")


def test_two_replicas_hold_the_penalty_once():
    """Summed over replicas, as the optimizer sums gradients, the penalty and its gradient λ·w count once."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", _PARITY], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    kernel = np.array(out["kernel"])
    assert out["replicas"] == 2
    assert out["penalty"] == pytest.approx(0.5 * np.sum(kernel ** 2) / 2, rel=1e-5)
    np.testing.assert_allclose(out["gradient"], 0.5 * kernel, rtol=1e-5, atol=1e-8)
