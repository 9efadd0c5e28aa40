"""Trained weights run at another output stride (infer.py model.output_stride / model.atrous_rates, load_model):
the rates follow the stride, the weights are the checkpoint's, and only shapes the weights allow are accepted."""
import gc

import numpy as np
import pytest
import tensorflow as tf

from trainer import load_model
from trainer.config.resolve import resolve_train_config
from trainer.errors import UserError
from trainer.model.builder import build_model
from trainer.data.classes import ordered_mapping
from trainer.model.checkpoint_info import CheckpointInfo
from trainer.model.checkpoints import restore_model, write_checkpoint
from trainer.model.cost import multiply_adds
from trainer.model.deeplab_layers import keras_name
from trainer.model.stride import at_output_stride

OS16 = {"output_stride": 16, "atrous_rates": [6, 12, 18], "dense_prediction_cell": False}
NO_RATES = {**OS16, "atrous_rates": []}


def test_rates_follow_the_stride_unless_given():
    assert at_output_stride(OS16, None, None) == OS16
    assert at_output_stride(OS16, 8, None) == {**OS16, "output_stride": 8, "atrous_rates": [12, 24, 36]}
    assert at_output_stride(OS16, 32, None) == {**OS16, "output_stride": 32, "atrous_rates": [3, 6, 9]}
    assert at_output_stride(OS16, 8, [1, 2, 3]) == {**OS16, "output_stride": 8, "atrous_rates": [1, 2, 3]}
    assert at_output_stride(NO_RATES, 8, None)["atrous_rates"] == []


@pytest.mark.parametrize("model,stride,rates,message", [
    (OS16, None, [12, 24], "model.atrous_rates: [12, 24] has 2 rates, the model was trained with 3 ([6, 12, 18])"),
    (NO_RATES, 8, [12], "model.atrous_rates: [12] has 1 rates, the model was trained with 0"),
    ({**OS16, "output_stride": 8, "atrous_rates": [12, 25, 36]}, 16, None,
     "model.output_stride: 16 would scale the trained ASPP rates [12, 25, 36] by 8/16 to non-integers"),
    (OS16, 4, None, "model.output_stride: 4 is not one of [8, 16, 32]"),
    ({**NO_RATES, "dense_prediction_cell": True}, 32, None, "model.output_stride: 32 has no Dense Prediction Cell"),
])
def test_overrides_the_weights_do_not_allow_are_user_errors(model, stride, rates, message):
    with pytest.raises(UserError) as error:
        at_output_stride(model, stride, rates)
    assert str(error.value).startswith(message), str(error.value)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A DeepLab MobileNetV2 ×0.5 with three ASPP branches, trained at OS 16 (random weights suffice)."""
    cfg = resolve_train_config(None, "mobilenetv2_dm05_voc", ['model.atrous_rates=[6, 12, 18]'])
    model = build_model(cfg["model"], 3)
    titles = ["bg", "cat", "dog"]
    info = CheckpointInfo(cfg, ordered_mapping(titles, dict.fromkeys(titles, "#102030"), "neutral"))
    return write_checkpoint(tmp_path_factory.mktemp("run"), 1, model, tf.keras.optimizers.SGD(), info, True)


def test_load_model_at_output_stride_8_runs_the_same_weights_densely(checkpoint):
    trained, dense = load_model(checkpoint), load_model(checkpoint, output_stride=8)
    assert [v.name for v in dense.weights] == [v.name for v in trained.weights]
    for ours, theirs in zip(dense.weights, trained.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.name)
    rates = [dense.network.get_layer(keras_name(f"aspp{i}_depthwise")).dilation_rate for i in (1, 2, 3)]
    assert rates == [(12, 12), (24, 24), (36, 36)]
    # Stride 8 keeps the last blocks at twice the resolution: several times the work, different logits.
    assert multiply_adds(dense, 129, 129) > 2.5 * multiply_adds(trained, 129, 129)
    images = tf.random.stateless_uniform([1, 97, 97, 3], [5, 6], maxval=255.0)
    assert dense(images).shape == trained(images).shape == (1, 97, 97, 3)
    difference, scale = np.abs(dense(images) - trained(images)).max(), np.abs(trained(images)).max()
    assert difference > 1e-2 * scale > 0


def test_load_model_refuses_rates_the_weights_do_not_have(checkpoint):
    with pytest.raises(UserError, match=r"atrous_rates: \[1, 2\] has 2 rates"):
        load_model(checkpoint, atrous_rates=[1, 2])


def test_restoring_into_a_model_built_differently_fails(checkpoint):
    """Never silently: an extra ASPP branch shifts the layers, so weights meet others' shapes."""
    cfg = resolve_train_config(None, "mobilenetv2_dm05_voc", ['model.atrous_rates=[6, 12, 18, 24]'])
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")   # the abandoned restore lists every value it left behind when collected
    try:
        with pytest.raises(ValueError):
            restore_model(build_model(cfg["model"], 3), checkpoint)
        gc.collect()
    finally:
        logger.setLevel(level)
