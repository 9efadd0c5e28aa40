"""ImageNet-pretrained backbones as init_weights (the zoo's `xception_{41,65,71}_imagenet`,
`resnet_v1_{50,101}_beta_imagenet`, slim's `mobilenet_v2_1.0_224`): the backbone loads, the head starts fresh,
the file's classification head is ignored; and research/deeplab's ResNet-v1-beta checkpoints onto our layers."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from tests.model.test_tf1_import import _assert_close, _bn, _check_all_loaded, _intermediate, _load
from tests.model.tf1_zoo import (mobilenet_v2_imagenet_names, resnet_v1_beta_backbone_names,
                                 resnet_v1_beta_imagenet_names, resnet_v1_beta_names, trained_value,
                                 write_tf1_checkpoint, xception_imagenet_names)
from trainer.errors import UserError
from trainer.model.builder import build_model
from trainer.model.deeplab_head import is_head_scope
from trainer.model.tf1_import import tf1_variables
from trainer.model.weights import init_source, initialise

BASE = {"implementation": "deeplab", "depth_multiplier": 1.0, "output_stride": 16, "atrous_rates": [6, 12, 18],
        "decoder": True, "dense_prediction_cell": False, "batchnorm_momentum": 0.997}
CLASSES = 5
# backbone → (its ImageNet file's names, the file's classification head as the summary lists it)
IMAGENET = {
    "mobilenet_v2": (mobilenet_v2_imagenet_names, "MobilenetV2/Conv_1, MobilenetV2/Logits/Conv2d_1c_1x1"),
    **{scope: (lambda scope=scope: xception_imagenet_names(scope), f"{scope}/logits")
       for scope in ("xception_41", "xception_65", "xception_71")},
    "resnet_v1_50_beta": (lambda: resnet_v1_beta_imagenet_names(50), "resnet_v1_50/logits"),
    "resnet_v1_101_beta": (lambda: resnet_v1_beta_imagenet_names(101), "resnet_v1_101/logits"),
}


def _cfg(backbone, path, mode="transfer_learning", **model):
    return {"init_weights": str(path), "weights_init_type": mode, "model": {**BASE, "backbone": backbone, **model}}


# One per family by default; Xception-41 / 71 (Xception-65's modules) and ResNet-101 (ResNet-50's code) in the slow set.
_SLOW = ("xception_41", "xception_65", "xception_71", "resnet_v1_101_beta")   # the default run: MobileNetV2, ResNet-50


@pytest.mark.parametrize("backbone", [pytest.param(b, marks=pytest.mark.slow) if b in _SLOW else b for b in IMAGENET])
def test_imagenet_checkpoint_loads_the_backbone_and_leaves_the_head_fresh(backbone, tmp_path):
    names, classification_head = IMAGENET[backbone]
    values = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), names())
    assert not any(is_head_scope(n) for n in values)
    cfg = _cfg(backbone, tmp_path)
    model = build_model(cfg["model"], CLASSES)
    ours = tf1_variables(model)
    head = {n: v.numpy() for n, v in ours.items() if is_head_scope(n)}
    assert {"image_pooling/weights", "aspp3_pointwise/weights", "decoder/feature_projection0/weights",
            "logits/semantic/biases"} <= set(head)

    summary = initialise(model, tf_keras.optimizers.SGD(), init_source(cfg, mapping=None))

    backbone_names = [n for n in ours if not is_head_scope(n)]
    for name in backbone_names:
        np.testing.assert_array_equal(ours[name].numpy(), values[name], err_msg=name)
    for name, initial in head.items():   # fresh: the initialiser's values, untouched
        np.testing.assert_array_equal(ours[name].numpy(), initial, err_msg=name)
    ignored = sorted(set(values) - set(backbone_names))
    assert ignored   # the file's classification head, listed by layer in the summary
    scope = backbone_names[0].split("/")[0]
    assert summary == (
        f"weights from TF1 checkpoint {tmp_path / 'model.ckpt'} (transfer_learning): {len(backbone_names)} loaded "
        f"(the backbone, {scope}/…), 6 ignored (optimizer slots / global_step), {len(ignored)} ignored (its "
        f"classification head: {classification_head}), {len(head)} fresh (a backbone-only checkpoint; ASPP, decoder "
        "and classifier start from their initialisers: aspp0, aspp1_depthwise, aspp1_pointwise, aspp2_depthwise, "
        "aspp2_pointwise, aspp3_depthwise, aspp3_pointwise, concat_projection, decoder/decoder_conv0_depthwise, "
        "decoder/decoder_conv0_pointwise … and 5 more)")


@pytest.fixture(scope="module")
def mobilenet_imagenet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mobilenet_v2_1.0_224")
    return folder, write_tf1_checkpoint(str(folder / "model.ckpt"), mobilenet_v2_imagenet_names())


def test_a_missing_backbone_variable_is_an_error_naming_it(tmp_path):
    names = mobilenet_v2_imagenet_names()
    del names["MobilenetV2/expanded_conv_16/project/weights"]
    write_tf1_checkpoint(str(tmp_path / "model.ckpt"), names)
    model = build_model(_cfg("mobilenet_v2", tmp_path)["model"], CLASSES)
    before = [v.numpy() for v in model.weights]
    with pytest.raises(UserError) as err:
        initialise(model, tf_keras.optimizers.SGD(), init_source(_cfg("mobilenet_v2", tmp_path), mapping=None))
    assert err.value.lines == [f"init_weights {tmp_path / 'model.ckpt'}: 1 backbone variable(s) missing from the "
                               "checkpoint: MobilenetV2/expanded_conv_16/project/weights (is it a checkpoint of this "
                               "backbone / depth_multiplier / decoder?)"]
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.weights))   # nothing assigned


def test_slims_half_width_checkpoint_does_not_fit_deeplabs_half_width(tmp_path):
    """slim rounds ×0.5 widths to multiples of 8 (24·0.5 → 16), DeepLab does not (→ 12): the mismatch is named."""
    write_tf1_checkpoint(str(tmp_path / "model.ckpt"), mobilenet_v2_imagenet_names(0.5))
    cfg = _cfg("mobilenet_v2", tmp_path, depth_multiplier=0.5, atrous_rates=[], decoder=False)
    with pytest.raises(UserError) as err:
        initialise(build_model(cfg["model"], CLASSES), tf_keras.optimizers.SGD(), init_source(cfg, mapping=None))
    assert (f"init_weights {tmp_path / 'model.ckpt'}: variable MobilenetV2/expanded_conv_1/project/weights: shape "
            "[1, 1, 48, 16] in the checkpoint, [1, 1, 48, 12] in the model") in err.value.lines


def test_a_backbone_only_checkpoint_cannot_continue_training(mobilenet_imagenet):
    folder, _ = mobilenet_imagenet
    cfg = _cfg("mobilenet_v2", folder, mode="continue_training")
    with pytest.raises(UserError, match=r"holds only a backbone \(no ASPP, decoder or logits/semantic variables: an "
                                        r"ImageNet-pretrained checkpoint\); it can start a training run"):
        initialise(build_model(cfg["model"], CLASSES), tf_keras.optimizers.SGD(), init_source(cfg, mapping=None))


def test_another_backbones_imagenet_checkpoint_names_both(mobilenet_imagenet):
    folder, _ = mobilenet_imagenet
    cfg = _cfg("resnet_v1_50_beta", folder)
    with pytest.raises(UserError) as err:
        initialise(build_model(cfg["model"], CLASSES), tf_keras.optimizers.SGD(), init_source(cfg, mapping=None))
    assert err.value.lines == [f"init_weights {folder / 'model.ckpt'}: holds the backbone MobilenetV2, but "
                               "model.backbone is 'resnet_v1_50_beta' (resnet_v1_50) in the config"]


# ---- ResNet-v1-beta: research/deeplab's names and shapes, values, and parity of its pieces

@pytest.mark.parametrize("layers", [50, 101])
def test_resnet_v1_beta_variables_are_research_deeplabs(layers):
    """Every variable of ours has one TF1 name, and names and shapes are exactly resnet_v1_beta.py's layout."""
    model = build_model({**BASE, "backbone": f"resnet_v1_{layers}_beta"}, 21)
    names = tf1_variables(model)
    assert len(names) == len(model.weights) == len({id(v) for v in names.values()})
    assert {n: v.shape.as_list() for n, v in names.items()} == resnet_v1_beta_names(layers, 21)
    # Written by hand from resnet_v1_beta.py: 3 stem convs, 3 convs per unit (16 / 33 units), a shortcut conv in
    # each block's unit_1 only; weights + 4 BatchNorm variables each.
    backbone = resnet_v1_beta_backbone_names(layers)
    assert len(backbone) == 5 * (3 + 3 * {50: 16, 101: 33}[layers] + 4)
    scope = f"resnet_v1_{layers}"
    last = {50: 6, 101: 23}[layers]
    known = {f"{scope}/conv1_1/weights": [3, 3, 3, 64], f"{scope}/conv1_3/BatchNorm/gamma": [128],
             f"{scope}/block1/unit_1/bottleneck_v1/shortcut/weights": [1, 1, 128, 256],
             f"{scope}/block1/unit_2/bottleneck_v1/conv3/BatchNorm/moving_variance": [256],
             f"{scope}/block3/unit_{last}/bottleneck_v1/conv2/weights": [3, 3, 256, 256],
             f"{scope}/block4/unit_1/bottleneck_v1/shortcut/weights": [1, 1, 1024, 2048],
             f"{scope}/block4/unit_3/bottleneck_v1/conv3/weights": [1, 1, 512, 2048]}
    assert {n: names[n].shape.as_list() for n in known} == known
    assert f"{scope}/block2/unit_4/bottleneck_v1/shortcut/weights" not in names   # strided, same depth: subsampled


def test_resnet_v1_50_beta_zoo_checkpoint_values_and_parity(tmp_path):
    """A DeepLabV3+ ResNet-50-beta checkpoint: every value lands; the stem (fixed padding), pool1 (SAME), block1's
    strided unit_3 (subsampled identity shortcut) and block4's multi-grid rates (2·(1, 2, 4) at OS 16) against plain
    TF computed from the checkpoint values."""
    cfg = {**BASE, "backbone": "resnet_v1_50_beta"}
    values = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), resnet_v1_beta_names(50, 21),
                                  values_from=trained_value)
    model = build_model(cfg, 21)
    _check_all_loaded(model, values, _load(model, str(tmp_path / "model.ckpt"), cfg))
    for size in (65, 64):
        images = tf.constant(np.random.default_rng(size).uniform(0, 255, [1, size, size, 3]), tf.float32)
        x = images * (2 / 255) - 1
        x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])   # conv2d_same: 3×3 stride 2 → 1 before, 1 after, VALID
        x = _conv_bn_relu(x, values, "resnet_v1_50/conv1_1", stride=2, padding="VALID")
        x = _conv_bn_relu(x, values, "resnet_v1_50/conv1_2")
        x = _conv_bn_relu(x, values, "resnet_v1_50/conv1_3")
        x = tf.nn.max_pool2d(x, 3, 2, "SAME")
        _assert_close(_intermediate(model, "resnet_v1_50/pool1", images), x)

        unit = "resnet_v1_50/block1/unit_3/bottleneck_v1"
        x = tf.constant(_intermediate(model, "resnet_v1_50/block1/unit_2/bottleneck_v1/relu", images))
        y = _conv_bn_relu(x, values, f"{unit}/conv1")
        y = _conv_bn_relu(tf.pad(y, [[0, 0], [1, 1], [1, 1], [0, 0]]), values, f"{unit}/conv2", stride=2,
                          padding="VALID")
        y = _bn(tf.nn.conv2d(y, values[f"{unit}/conv3/weights"], 1, "SAME"), values, f"{unit}/conv3", 1e-5)
        _assert_close(_intermediate(model, f"{unit}/relu", images), tf.nn.relu(x[:, ::2, ::2] + y))

        for i, rate in enumerate((2, 4, 8), 1):
            unit = f"resnet_v1_50/block4/unit_{i}/bottleneck_v1"
            x = tf.constant(_intermediate(model, f"{unit}/conv1/relu", images))
            y = _conv_bn_relu(x, values, f"{unit}/conv2", rate=rate)
            _assert_close(_intermediate(model, f"{unit}/conv2/relu", images), y)
        # The decoder reads block1/unit_2's conv3 BatchNorm output (before the sum and ReLU), at stride 4.
        low_level = _intermediate(model, "resnet_v1_50/block1/unit_2/bottleneck_v1/conv3/BatchNorm", images)
        assert low_level.shape[1:3] == ((size + 3) // 4,) * 2
        projected = tf.nn.relu(_bn(tf.nn.conv2d(low_level, values["decoder/feature_projection0/weights"], 1, "SAME"),
                                   values, "decoder/feature_projection0", 1e-5))
        _assert_close(_intermediate(model, "decoder/feature_projection0/relu", images), projected)
    wide = tf.constant(np.random.default_rng(0).normal(size=[1, 21, 21, 512]), tf.float32)
    layer = model.network.get_layer("resnet_v1_50-block4-unit_3-bottleneck_v1-conv2")
    assert layer.dilation_rate == (8, 8)
    _assert_close(layer(wide).numpy(), tf.nn.conv2d(wide, values[f"{unit}/conv2/weights"], 1, "SAME",
                                                    dilations=8).numpy())


def _conv_bn_relu(x, values, scope, stride=1, padding="SAME", rate=1):
    x = tf.nn.conv2d(x, values[f"{scope}/weights"], stride, padding, dilations=rate)
    return tf.nn.relu(_bn(x, values, scope, 1e-5))


def test_the_head_is_told_from_the_backbone_by_scope():
    """What a backbone-only file leaves fresh: the ASPP or Dense Prediction Cell, the decoder, logits/semantic; a
    backbone's own classification head (under its scope) is the file's, never ours."""
    assert all(is_head_scope(n) for n in ("image_pooling/weights", "aspp2_pointwise/BatchNorm/beta",
                                          "meta_architecture/branch3_depthwise/depthwise_weights",
                                          "decoder/decoder_conv1_pointwise/weights", "logits/semantic/biases"))
    assert not any(is_head_scope(n) for n in ("resnet_v1_101/logits/weights", "xception_65/logits/biases",
                                              "MobilenetV2/Logits/Conv2d_1c_1x1/weights", "MobilenetV2/Conv_1/weights",
                                              "resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/weights"))
