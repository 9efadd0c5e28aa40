"""Every preset's model builds from its config and maps 0..255 images to logits at the input size."""
import numpy as np
import pytest
import tensorflow as tf

from trainer.config.resolve import known_presets, resolve_train_config
from trainer.model.builder import build_model


@pytest.mark.parametrize("preset", known_presets())
def test_preset_model_builds_and_keeps_input_size(preset):
    cfg = resolve_train_config(None, preset, [])
    model = build_model(cfg["model"], num_classes=4)
    images = tf.random.stateless_uniform([2, 97, 65, 3], seed=[1, 2], maxval=255.0)
    logits = model(images, training=False)
    assert logits.shape == (2, 97, 65, 4) and logits.dtype == tf.float32
    assert np.isfinite(logits.numpy()).all()


def test_architecture_follows_the_config():
    base = resolve_train_config(None, "mobilenetv2_deeplabv3", [])["model"]   # tf_models, ×1.0, no rates nor decoder
    small = build_model({**base, "depth_multiplier": 0.5}, 3).count_params()
    full = build_model(base, 3).count_params()
    plus = build_model({**base, "decoder": True}, 3).count_params()
    aspp = build_model({**base, "atrous_rates": [6, 12, 18]}, 3).count_params()
    assert small < full < plus and full < aspp
    assert build_model(base, 7).count_params() - full == 4 * (256 + 1)   # 1x1 logits conv: 256 → classes, + bias
