"""research/deeplab's architectures: model-zoo costs, layer-by-layer shapes and the computation rules of
../shared/reference/deeplab.md (channel rounding, atrous rates, fixed padding, activation placement, head order)."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from trainer.config.resolve import resolve_train_config
from trainer.model.backbones.mobilenet_v2 import mobilenet_v2
from trainer.model.backbones.xception import xception_65
from trainer.model.builder import build_model, classifier_variables
from trainer.model.cost import default_classes, multiply_adds
from trainer.model.deeplab_head import deeplab_network
from trainer.model.deeplab_layers import keras_name, tf1_scope

# Model-zoo Multiply-Adds (g3doc/model_zoo.md), one image, at the evaluation output stride.
ZOO = [("mobilenetv2_dm05_voc", 16, 513, 513, 0.88e9), ("mobilenetv2_dm05_voc", 8, 513, 513, 2.84e9),
       ("mobilenetv2_voc", 16, 513, 513, 2.75e9), ("xception65_voc", 16, 513, 513, 54.17e9),
       ("mobilenetv2_cityscapes", 16, 1025, 2049, 21.27e9), ("xception65_cityscapes", 16, 1025, 2049, 418.64e9),
       ("xception71_dpc_cityscapes", 16, 1025, 2049, 502.07e9),
       # Known gap: at the zoo's setting (OS 32, 1025×2049) research/deeplab's MobileNetV3 as built here (slim's
       # V3 specs with feature_extractor.py's _seg changes, model.py's head with the zoo's flags; names and shapes
       # match tf1_zoo's checkpoint layout) counts 7.70B / 2.03B: the zoo's figures are 2.07× / 2.28× that. The
       # profiler's float ops of tf1_zoo's export graph (2 per multiply-add) give 15.46B / 4.10B, with the softmax
       # and unfused BatchNorm 16.01B / 4.41B: no convention fits both rows (README, Cost). Strict: a fix fails these.
       *(pytest.param(preset, 32, 1025, 2049, madds, marks=pytest.mark.xfail(strict=True, reason="zoo MobileNetV3 "
                      "Multiply-Adds not reproduced (7.70B / 2.03B here)"))
         for preset, madds in [("mobilenetv3_large_cityscapes", 15.95e9), ("mobilenetv3_small_cityscapes", 4.63e9)]),
       # EdgeTPU-DeepLab / -slim: model_zoo.md gives no input size; at the Cityscapes evaluation crop 1025×2049 this
       # architecture counts 42.9B / 55.3B (slim 26.6B / 33.0B), so its figures are not of that size. At 513×513 (the
       # size Coral deploys EdgeTPU-DeepLab-slim at) three rows agree: 5.49B (−1.95%), 7.08B (−0.3%), slim at OS 16
       # 4.23B (−1.7%); slim at OS 32 counts 3.40B (−2.7%). Strict: a fix fails it.
       ("edgetpu_deeplab_cityscapes", 32, 513, 513, 5.6e9), ("edgetpu_deeplab_cityscapes", 16, 513, 513, 7.1e9),
       ("edgetpu_deeplab_slim_cityscapes", 16, 513, 513, 4.3e9),
       pytest.param("edgetpu_deeplab_slim_cityscapes", 32, 513, 513, 3.5e9, marks=pytest.mark.xfail(
           strict=True, reason="zoo EdgeTPU-DeepLab-slim OS 32 Multiply-Adds: 3.40B here (−2.7%)"))]


@pytest.mark.parametrize("preset,output_stride,height,width,published", ZOO)
def test_multiply_adds_match_the_model_zoo(preset, output_stride, height, width, published):
    cfg = resolve_train_config(None, preset, [f"model.output_stride={output_stride}"])
    model = build_model(cfg["model"], default_classes(preset))   # traced at the zoo size, run only at 64×64
    assert multiply_adds(model, height, width) == pytest.approx(published, rel=0.02)


def test_tf_models_official_mobilenet_v2_convention():
    """The reference measured tf-models-official's mnv2_deeplabv3 (2.56M params) at 2.79B with BatchNorm counted
    as a multiply and an add per element; fused at inference, as here, BatchNorm costs nothing."""
    model = build_model(resolve_train_config(None, "mobilenetv2_deeplabv3", [])["model"], 21)
    assert model.count_params() == pytest.approx(2.56e6, rel=0.01)
    assert multiply_adds(model, 513, 513) == pytest.approx(2.79e9, rel=0.02)


def _backbone(fn, output_stride, size=None, depth_multiplier=1.0):
    images = tf_keras.Input([size, size, 3])
    return tf_keras.Model(images, fn(images, output_stride, depth_multiplier))


@pytest.fixture(scope="module")
def xception():
    """Xception-65 backbones by output stride, built once: a build takes seconds on a shared CPU."""
    return {output_stride: _backbone(xception_65, output_stride) for output_stride in (16, 8)}


def _layer(model, scope):
    return model.get_layer(keras_name(scope))


def test_mobilenet_v2_dm05_channels_follow_deeplab_rounding():
    model = _backbone(mobilenet_v2, 16, depth_multiplier=0.5)
    assert _layer(model, "MobilenetV2/Conv").filters == 16
    projects = [_layer(model, f"MobilenetV2/expanded_conv{'_' + str(i) if i else ''}/project").filters
                for i in range(17)]
    # divisible_by 1: 24 × 0.5 = 12 (tf-models-official's 8/8 rounding would give 16)
    assert projects == [8, 12, 12, 16, 16, 16, 32, 32, 32, 32, 48, 48, 48, 80, 80, 80, 160]
    assert _layer(model, "MobilenetV2/expanded_conv_1/expand").filters == 48
    assert _layer(model, "MobilenetV2/expanded_conv_2/expand").filters == 72
    assert not any(layer.name.startswith(keras_name("MobilenetV2/expanded_conv/expand")) for layer in model.layers)
    assert not any("Conv_1" in layer.name for layer in model.layers)   # no 1280-channel conv: stops at layer_18
    assert model.output["features"].shape[-1] == 160 and model.output["low_level"].shape[-1] == 72


@pytest.mark.parametrize("output_stride,strides,rates", [
    (16, {13: 1}, {12: 1, 13: 1, 14: 2, 15: 2, 16: 2}),
    (8, {6: 1, 13: 1}, {6: 1, 7: 2, 12: 2, 13: 2, 14: 4, 16: 4}),
])
def test_mobilenet_v2_rate_starts_after_the_output_stride(output_stride, strides, rates):
    model = _backbone(mobilenet_v2, output_stride, size=513)
    for i, rate in rates.items():
        depthwise = _layer(model, f"MobilenetV2/expanded_conv_{i}/depthwise")
        assert depthwise.dilation_rate == (rate, rate), i
        assert depthwise.strides == (strides.get(i, depthwise.strides[0]),) * 2
    side = (513 - 1) // output_stride + 1
    assert model.output["features"].shape[1:] == (side, side, 320)
    assert model.output["low_level"].shape[1:] == (129, 129, 144)


@pytest.mark.parametrize("size", [513, 128])
@pytest.mark.parametrize("output_stride", [16, 8])
def test_xception_65_endpoint_strides(xception, output_stride, size):
    outputs = xception[output_stride](tf_keras.Input([size, size, 3]))
    low, features = (size - 1) // 4 + 1, (size - 1) // output_stride + 1   # fixed padding: ⌊(n−1)/s⌋ + 1
    assert outputs["low_level"].shape[1:] == (low, low, 256)
    assert outputs["features"].shape[1:] == (features, features, 2048)


@pytest.mark.parametrize("output_stride,rates", [
    (16, {"middle_flow/block1/unit_16": 1, "exit_flow/block1/unit_1": 1, "exit_flow/block2/unit_1": 2}),
    (8, {"entry_flow/block3/unit_1": 1, "middle_flow/block1/unit_1": 2, "exit_flow/block1/unit_1": 2,
         "exit_flow/block2/unit_1": 4}),
])
def test_xception_65_exit_flow_rates(xception, output_stride, rates):
    model = xception[output_stride]
    for unit, rate in rates.items():
        for conv in (1, 2, 3):
            layer = _layer(model, f"xception_65/{unit}/xception_module/separable_conv{conv}_depthwise")
            assert (layer.dilation_rate, layer.strides) == ((rate, rate), (1, 1)), (unit, conv)


def test_xception_65_stride_two_convs_pad_symmetrically(xception):
    """At an even size TF's SAME pads 0 before / 1 after; DeepLab's fixed_padding pads 1 / 1 and runs VALID."""
    model = xception[16]
    conv = _layer(model, "xception_65/entry_flow/conv1_1")
    probe = tf_keras.Model(model.input, conv.output)
    images = tf.random.stateless_uniform([1, 128, 128, 3], seed=[3, 4], minval=-1.0)
    fixed = tf.nn.conv2d(tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]]), conv.kernel, 2, "VALID")
    same = tf.nn.conv2d(images, conv.kernel, 2, "SAME")
    assert np.allclose(probe(images), fixed, atol=1e-5) and not np.allclose(fixed, same, atol=1e-3)
    strided = [layer for layer in model.layers if getattr(layer, "strides", (1, 1)) == (2, 2)
               and "shortcut" not in layer.name]
    assert len(strided) == 4 and all(layer.padding == "valid" for layer in strided)


def test_xception_65_activation_placement(xception):
    model = xception[16]
    names = {layer.name for layer in model.layers}
    unit = "xception_65/entry_flow/block2/unit_1/xception_module"
    exit2 = "xception_65/exit_flow/block2/unit_1/xception_module"
    assert keras_name(f"{unit}/separable_conv1_input_relu") in names          # ReLU on the input ...
    pointwise = _layer(model, f"{unit}/separable_conv1_pointwise")             # ... none inside
    assert tf1_scope(pointwise.input._keras_history.layer.name) == f"{unit}/separable_conv1_depthwise/BatchNorm"
    assert keras_name(f"{exit2}/separable_conv1_input_relu") not in names     # exit block2: ReLU inside
    assert keras_name(f"{exit2}/separable_conv1_depthwise/relu") in names
    assert keras_name(f"{exit2}/separable_conv3_pointwise/relu") in names
    low = tf_keras.Model(model.input, model.output["low_level"])(tf.random.uniform([1, 65, 65, 3], -1.0, 1.0))
    assert (low.numpy() < 0).any()   # the decoder's feature is the BN output, before any ReLU
    bn = _layer(model, f"{unit}/separable_conv2_pointwise/BatchNorm")
    assert bn.epsilon == 1e-3 and tf1_scope(bn.name) == f"{unit}/separable_conv2_pointwise/BatchNorm"


def _head_cfg(backbone, rates, decoder):
    return {"backbone": backbone, "implementation": "deeplab", "depth_multiplier": 1.0, "output_stride": 16,
            "atrous_rates": rates, "decoder": decoder, "dense_prediction_cell": False, "batchnorm_momentum": 0.997}


def _sources(layer):
    return [tf1_scope(t._keras_history.layer.name) for t in layer.input]   # noqa: SLF001


def test_head_concatenation_order_and_batchnorm():
    model = build_model(_head_cfg("xception_65", [6, 12, 18], True), 5)
    images = tf.random.stateless_uniform([1, 66, 70, 3], seed=[5, 6], maxval=255.0)
    assert model(images).shape == (1, 66, 70, 5)
    assert [v.shape for v in classifier_variables(model)] == [(1, 1, 256, 5), (5,)]
    network = model.network
    assert _sources(network.get_layer("aspp-concat")) == [
        "image_pooling/resize", "aspp0/relu", "aspp1_pointwise/relu", "aspp2_pointwise/relu", "aspp3_pointwise/relu"]
    assert _sources(network.get_layer("decoder-concat")) == ["decoder/resize", "decoder/feature_projection0/relu"]
    assert network.get_layer(keras_name("aspp2_depthwise")).dilation_rate == (12, 12)
    assert network.get_layer(keras_name("aspp1_depthwise/relu"))   # BN + ReLU between depthwise and pointwise
    for scope in ("image_pooling", "aspp0", "aspp3_depthwise", "concat_projection", "decoder/decoder_conv1_pointwise"):
        assert network.get_layer(keras_name(f"{scope}/BatchNorm")).epsilon == 1e-5
    logits = network.get_layer(keras_name("logits/semantic"))
    assert logits.use_bias and logits.kernel.shape == (1, 1, 256, 5)
    # Every layer with variables is named after its TF1 scope (`<scope>/weights`, `<scope>/BatchNorm/gamma`, …).
    head = {tf1_scope(layer.name) for layer in network.layers if layer.weights} - {
        tf1_scope(layer.name) for layer in network.layers if layer.name.startswith("xception_65-")}
    convs = ["image_pooling", "aspp0", "concat_projection", "decoder/feature_projection0"] + [
        f"{name}_{part}" for name in ("aspp1", "aspp2", "aspp3", "decoder/decoder_conv0", "decoder/decoder_conv1")
        for part in ("depthwise", "pointwise")]
    assert head == {"logits/semantic", *convs, *(f"{conv}/BatchNorm" for conv in convs)}


def test_mobilenet_head_without_rates_has_pooling_and_1x1_only():
    network = deeplab_network(_head_cfg("mobilenet_v2", [], False), 21)
    assert _sources(network.get_layer("aspp-concat")) == ["image_pooling/resize", "aspp0/relu"]
    assert not any(layer.name.startswith("decoder") for layer in network.layers)

