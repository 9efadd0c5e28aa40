"""research/deeplab TF1 checkpoints onto our DeepLab models: names, values, errors, and parity of pieces with a
plain-TF reference computed straight from the checkpoint values."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from tests.model.tf1_zoo import mobilenet_v2_names, write_tf1_checkpoint, write_zoo_folder, xception_names
from trainer.errors import UserError
from trainer.model.builder import build_model
from trainer.model.deeplab_head import is_head_scope
from trainer.model.deeplab_layers import keras_name
from trainer.model.frozen_graph import FrozenGraph
from trainer.model.tf1_import import architecture_problems, load_tf1, tf1_variables
from trainer.model.tf1_source import (CHECKPOINT, FROZEN_GRAPH, FROZEN_GRAPH_FILE, Tf1Source, Tf1Target,
                                     find_tf1_source)
from trainer.model.weights import init_source, initialise

MNV2 = {"backbone": "mobilenet_v2", "implementation": "deeplab", "depth_multiplier": 0.5, "output_stride": 16,
        "atrous_rates": [], "decoder": False, "dense_prediction_cell": False, "batchnorm_momentum": 0.997}
XCEPTION = {**MNV2, "backbone": "xception_65", "depth_multiplier": 1.0, "atrous_rates": [6, 12, 18], "decoder": True}
CLASSES = 21
# Written by hand from reference/deeplab.md and the ×0.5 channel table (16 stem, 8, 12, 16, 32, 48, 80, 160).
# slim's V2_DEF sets BatchNorm center and scale ("these parameters of batch norm affect the architecture"): gamma too.
MNV2_KNOWN = {"MobilenetV2/Conv/weights": [3, 3, 3, 16], "MobilenetV2/Conv/BatchNorm/moving_variance": [16],
              "MobilenetV2/Conv/BatchNorm/gamma": [16], "MobilenetV2/expanded_conv_12/project/BatchNorm/gamma": [48],
              "MobilenetV2/expanded_conv/depthwise/depthwise_weights": [3, 3, 16, 1],
              "MobilenetV2/expanded_conv/project/weights": [1, 1, 16, 8],
              "MobilenetV2/expanded_conv_1/expand/weights": [1, 1, 8, 48],
              "MobilenetV2/expanded_conv_16/project/weights": [1, 1, 480, 160],
              "image_pooling/weights": [1, 1, 160, 256], "aspp0/BatchNorm/gamma": [256],
              "concat_projection/weights": [1, 1, 512, 256], "logits/semantic/biases": [21]}
XCEPTION_KNOWN = {"xception_65/entry_flow/conv1_1/weights": [3, 3, 3, 32],
                  "xception_65/entry_flow/block1/unit_1/xception_module/shortcut/weights": [1, 1, 64, 128],
                  "xception_65/middle_flow/block1/unit_16/xception_module/separable_conv3_pointwise/BatchNorm/gamma":
                      [728],
                  "xception_65/exit_flow/block2/unit_1/xception_module/separable_conv3_depthwise/depthwise_weights":
                      [3, 3, 1536, 1],
                  "aspp3_pointwise/weights": [1, 1, 2048, 256], "concat_projection/weights": [1, 1, 1280, 256],
                  "decoder/feature_projection0/weights": [1, 1, 256, 48],
                  "decoder/decoder_conv0_depthwise/depthwise_weights": [3, 3, 304, 1],
                  "logits/semantic/weights": [1, 1, 256, 21]}
# Xception-41: 8 middle units; Xception-71: entry blocks 2 and 4 added at stride 1 (core/xception.py).
XCEPTION_41_KNOWN = {"xception_41/entry_flow/block3/unit_1/xception_module/shortcut/weights": [1, 1, 256, 728],
                     "xception_41/middle_flow/block1/unit_8/xception_module/separable_conv1_pointwise/weights":
                         [1, 1, 728, 728],
                     "xception_41/exit_flow/block1/unit_1/xception_module/shortcut/weights": [1, 1, 728, 1024]}
XCEPTION_71_KNOWN = {"xception_71/entry_flow/block2/unit_1/xception_module/shortcut/weights": [1, 1, 128, 256],
                     "xception_71/entry_flow/block3/unit_1/xception_module/shortcut/weights": [1, 1, 256, 256],
                     "xception_71/entry_flow/block4/unit_1/xception_module/shortcut/weights": [1, 1, 256, 728],
                     "xception_71/entry_flow/block5/unit_1/xception_module/separable_conv3_pointwise/weights":
                         [1, 1, 728, 728],
                     "xception_71/middle_flow/block1/unit_16/xception_module/separable_conv3_pointwise/weights":
                         [1, 1, 728, 728]}
# scope → (names whose shapes are checked, the decoder's stride-4 feature: core/feature_extractor.py's
# DECODER_END_POINTS, taken at its BatchNorm output before any ReLU).
XCEPTIONS = {
    "xception_65": (XCEPTION_KNOWN, "entry_flow/block2/unit_1/xception_module/separable_conv2_pointwise"),
    "xception_41": ({**XCEPTION_41_KNOWN, **{k.replace("xception_65", "xception_41"): v for k, v in
                                            XCEPTION_KNOWN.items() if "middle_flow" not in k}},   # 8 units only
                    "entry_flow/block2/unit_1/xception_module/separable_conv2_pointwise"),
    "xception_71": ({**XCEPTION_71_KNOWN, **{k.replace("xception_65", "xception_71"): v for k, v in
                                            XCEPTION_KNOWN.items()}},
                    "entry_flow/block3/unit_1/xception_module/separable_conv2_pointwise"),
}
# TF1 variable name ending → the Keras attribute of the layer named after its scope (the test's own inverse).
ATTRIBUTES = {"weights": "kernel", "biases": "bias", "depthwise_weights": "depthwise_kernel", "gamma": "gamma",
              "beta": "beta", "moving_mean": "moving_mean", "moving_variance": "moving_variance"}


@pytest.fixture(scope="module")
def mnv2_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnv2_zoo")
    return folder, write_tf1_checkpoint(str(folder / "model.ckpt"), mobilenet_v2_names(0.5, CLASSES))


def _load(model, prefix, model_cfg, kind=CHECKPOINT):
    return load_tf1(model, Tf1Source(prefix, kind).open(), Tf1Target(model_cfg), skip_classifier=False)


def _layer_value(model, name):
    scope, _, variable = name.rpartition("/")
    return getattr(model.network.get_layer(keras_name(scope)), ATTRIBUTES[variable]).numpy()


def _check_all_loaded(model, values, loaded):
    assert sorted(loaded.loaded) == sorted(values) and not loaded.unused
    assert sorted(loaded.training_state) == sorted(["global_step"] + [f"{n}/Momentum" for n in list(values)[:5]])
    for name, expected in values.items():
        np.testing.assert_array_equal(_layer_value(model, name), expected, err_msg=name)


def test_mobilenet_v2_zoo_names_and_values(mnv2_checkpoint):
    folder, values = mnv2_checkpoint
    for name, shape in MNV2_KNOWN.items():
        assert list(values[name].shape) == shape, name
    model = build_model(MNV2, CLASSES)
    assert find_tf1_source(folder) == Tf1Source(str(folder / "model.ckpt"), CHECKPOINT)
    loaded = _load(model, str(folder / "model.ckpt"), MNV2)
    _check_all_loaded(model, values, loaded)
    assert set(MNV2_KNOWN) <= set(loaded.loaded)


@pytest.mark.parametrize("scope", [pytest.param(s, marks=pytest.mark.slow) if s != "xception_41" else s
                                   for s in XCEPTIONS])   # the default run: Xception-41, the quickest
def test_xception_zoo_names_and_values(scope, tmp_path):
    known, low_level = XCEPTIONS[scope]
    values = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), xception_names(scope, CLASSES))
    for name, shape in known.items():
        assert list(values[name].shape) == shape, name
    model_cfg = {**XCEPTION, "backbone": scope}
    model = build_model(model_cfg, CLASSES)
    loaded = _load(model, str(tmp_path / "model.ckpt"), model_cfg)
    _check_all_loaded(model, values, loaded)
    assert set(known) <= set(loaded.loaded)
    # Parity of the stem (fixed padding on the stride-2 conv) at a k·16+1 size and an even one (the layers are
    # shared: the even size once, for Xception-65).
    for size in (129, 128) if scope == "xception_65" else (129,):
        images = tf.constant(np.random.default_rng(size).uniform(0, 255, [1, size, size, 3]), tf.float32)
        x = images * (2 / 255) - 1
        x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])   # fixed_padding: 3×3 → 1 before, 1 after
        x = tf.nn.relu(_bn(tf.nn.conv2d(x, values[f"{scope}/entry_flow/conv1_1/weights"], 2, "VALID"),
                           values, f"{scope}/entry_flow/conv1_1", 1e-3))
        x = tf.nn.relu(_bn(tf.nn.conv2d(x, values[f"{scope}/entry_flow/conv1_2/weights"], 1, "SAME"),
                           values, f"{scope}/entry_flow/conv1_2", 1e-3))
        _assert_close(_intermediate(model, f"{scope}/entry_flow/conv1_2/relu", images), x)
        # Exit block 2 runs at rate 2 at OS 16, its ReLU inside (after the depthwise BN).
        module = f"{scope}/exit_flow/block2/unit_1/xception_module"
        x = _intermediate(model, f"{scope}/exit_flow/block1/unit_1/xception_module/add", images)
        x = tf.nn.relu(_bn(_depthwise(x, values, f"{module}/separable_conv1_depthwise", 2), values,
                           f"{module}/separable_conv1_depthwise", 1e-3))
        _assert_close(_intermediate(model, f"{module}/separable_conv1_depthwise/relu", images), x)
        _check_xception_head(model, values, images, scope, low_level)


def _check_xception_head(model, values, images, scope, low_level):
    """ASPP (rates 6, 12, 18) + decoder + logits from our backbone's two endpoints, against the model's logits."""
    features = tf.constant(_intermediate(
        model, f"{scope}/exit_flow/block2/unit_1/xception_module/separable_conv3_pointwise/relu", images))
    low_level = tf.constant(_intermediate(model, f"{scope}/{low_level}/BatchNorm", images))
    assert low_level.shape[1:3] == [(images.shape[1] + 3) // 4] * 2   # stride 4
    pooled = _resize(_conv_relu(tf.reduce_mean(features, [1, 2], keepdims=True), values, "image_pooling"),
                     tf.shape(features)[1:3])
    branches = [pooled, _conv_relu(features, values, "aspp0")]
    branches += [_separable_relu(features, values, f"aspp{i}", rate) for i, rate in enumerate([6, 12, 18], 1)]
    x = _conv_relu(tf.concat(branches, -1), values, "concat_projection")
    _check_decoder_and_logits(model, values, images, x, low_level)
    # At these sizes the features are 9×9 (8×8): rates 12 and 18 only reach the centre tap, so each
    # branch's depthwise is also checked alone on a 41×41 input, where the rates differ.
    wide = tf.constant(np.random.default_rng(0).normal(size=[1, 41, 41, 2048]), tf.float32)
    for i, rate in enumerate([6, 12, 18], 1):
        layer = model.network.get_layer(keras_name(f"aspp{i}_depthwise"))
        _assert_close(layer(wide).numpy(), _depthwise(wide, values, f"aspp{i}_depthwise", rate))


def _check_decoder_and_logits(model, values, images, x, low_level):
    """The V3+ decoder on the head's output `x` and the stride-4 feature, then the logits, against the model's."""
    projected = _conv_relu(low_level, values, "decoder/feature_projection0")
    x = tf.concat([_resize(x, tf.shape(projected)[1:3]), projected], -1)
    for i in range(2):
        x = _separable_relu(x, values, f"decoder/decoder_conv{i}", 1)
    _assert_close(model(images).numpy(), _logits(x, values, images.shape[1:3]))


# core/dense_prediction_cell_branch5_top1_cityscapes.json: (input branch, (height rate, width rate)) at OS 16.
DPC_CELL = [(-1, (1, 6)), (0, (18, 15)), (1, (6, 3)), (0, (1, 1)), (0, (6, 21))]


@pytest.mark.slow   # 13 s
def test_xception_71_dense_prediction_cell_zoo_names_and_values(tmp_path):
    """xception71_dpc_cityscapes: the cell's variables under meta_architecture load, and the cell (anisotropic
    rates, branches fed by branches) → concat_projection → decoder → logits equal a plain-TF reference."""
    values = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), xception_names("xception_71", 19, dpc=True))
    for name, shape in {"meta_architecture/branch0_depthwise/depthwise_weights": [3, 3, 2048, 1],
                        "meta_architecture/branch0_pointwise/weights": [1, 1, 2048, 256],
                        "meta_architecture/branch2_depthwise/depthwise_weights": [3, 3, 256, 1],
                        "meta_architecture/branch4_pointwise/BatchNorm/gamma": [256],
                        "meta_architecture/concat_projection/weights": [1, 1, 1280, 256],
                        "decoder/feature_projection0/weights": [1, 1, 256, 48]}.items():
        assert list(values[name].shape) == shape, name
    assert not any(n.startswith(("aspp", "image_pooling", "concat_projection/")) for n in values)
    model_cfg = {**XCEPTION, "backbone": "xception_71", "atrous_rates": [], "dense_prediction_cell": True}
    model = build_model(model_cfg, 19)
    _check_all_loaded(model, values, _load(model, str(tmp_path / "model.ckpt"), model_cfg))
    images = tf.constant(np.random.default_rng(0).uniform(0, 255, [1, 129, 257, 3]), tf.float32)
    features = tf.constant(_intermediate(
        model, "xception_71/exit_flow/block2/unit_1/xception_module/separable_conv3_pointwise/relu", images))
    assert features.shape[1:3] == [9, 17]
    branches = []
    for i, (source, rate) in enumerate(DPC_CELL):
        branches.append(_separable_relu(features if source < 0 else branches[source], values,
                                        f"meta_architecture/branch{i}", rate))
    x = _conv_relu(tf.concat(branches, -1), values, "meta_architecture/concat_projection")
    _assert_close(_intermediate(model, "meta_architecture/concat_projection/relu", images), x)
    low_level = tf.constant(_intermediate(
        model, "xception_71/entry_flow/block3/unit_1/xception_module/separable_conv2_pointwise/BatchNorm", images))
    _check_decoder_and_logits(model, values, images, x, low_level)
    # The features are 9×17 there: each branch's depthwise alone on a 41×45 input, where every rate reaches.
    for i, (source, rate) in enumerate(DPC_CELL):
        wide = tf.constant(np.random.default_rng(i).normal(size=[1, 41, 45, 2048 if source < 0 else 256]), tf.float32)
        layer = model.network.get_layer(keras_name(f"meta_architecture/branch{i}_depthwise"))
        _assert_close(layer(wide).numpy(), _depthwise(wide, values, f"meta_architecture/branch{i}_depthwise", rate))


def _assert_close(ours, expected):
    """Within 1e-4 of the largest magnitude: float32 kernels of different ops differ by less."""
    expected = np.asarray(expected)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-4 * np.abs(expected).max())


def check_zoo_export(folder, values: dict, cfg: dict, classes: int, crop: tuple[int, int], seed: int) -> None:
    """A zoo tarball's model.ckpt and frozen_inference_graph.pb load the same weights, and the model gives the
    graph's logits on a random `crop`."""
    from_checkpoint = build_model(cfg, classes)
    _check_all_loaded(from_checkpoint, values, _load(from_checkpoint, str(folder / "model.ckpt"), cfg))
    graph_path = folder / "frozen_inference_graph.pb"
    model = build_model(cfg, classes)
    loaded = _load(model, str(graph_path), cfg, kind=FROZEN_GRAPH)
    assert sorted(loaded.loaded) == sorted(values) and not loaded.unused
    for ours, theirs in zip(model.weights, from_checkpoint.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.name)

    graph = FrozenGraph.load(graph_path)
    image = np.random.default_rng(seed).integers(0, 256, [*crop, 3], dtype=np.uint8)
    expected = graph.run([image], graph.logits_tensor())[0]
    ours = model(image[None].astype(np.float32)).numpy()[0]
    assert expected.shape == (*crop, classes)
    _assert_close(ours, expected)
    assert np.mean(ours.argmax(-1) == expected.argmax(-1)) > 0.99


def check_backbone_only_load(cfg: dict, classes: int, folder, values: dict) -> tuple[list[str], dict, str]:
    """transfer_learning from a backbone-only (ImageNet) checkpoint in `folder`: every backbone variable takes the
    file's value and the head keeps its initial values. Returns (backbone names, head values, summary)."""
    model = build_model(cfg, classes)
    ours = tf1_variables(model)
    head = {n: v.numpy() for n, v in ours.items() if is_head_scope(n)}
    summary = initialise(model, tf_keras.optimizers.SGD(), init_source(
        {"init_weights": str(folder), "weights_init_type": "transfer_learning", "model": cfg}, None))
    backbone = [n for n in ours if not is_head_scope(n)]
    for name in backbone:
        np.testing.assert_array_equal(ours[name].numpy(), values[name], err_msg=name)
    for name, initial in head.items():
        np.testing.assert_array_equal(ours[name].numpy(), initial, err_msg=name)
    return backbone, head, summary


def _depthwise(x, values, scope, rate):
    """`rate`: one rate, or (height, width) rates."""
    rates = list(rate) if isinstance(rate, tuple) else [rate, rate]
    return tf.nn.depthwise_conv2d(x, values[f"{scope}/depthwise_weights"], [1, 1, 1, 1], "SAME", dilations=rates)


def _conv_relu(x, values, scope, epsilon=1e-5):
    return tf.nn.relu(_bn(tf.nn.conv2d(x, values[f"{scope}/weights"], 1, "SAME"), values, scope, epsilon))


def _separable_relu(x, values, scope, rate):
    """The head's split separable conv: depthwise (rate) → BN → ReLU → pointwise → BN → ReLU, BN eps 1e-5."""
    x = tf.nn.relu(_bn(_depthwise(x, values, f"{scope}_depthwise", rate), values, f"{scope}_depthwise", 1e-5))
    return _conv_relu(x, values, f"{scope}_pointwise")


def _logits(x, values, size):
    """logits/semantic (1×1 with bias), resized align-corners to the input size as the original does."""
    logits = tf.nn.conv2d(x, values["logits/semantic/weights"], 1, "SAME") + values["logits/semantic/biases"]
    return _resize(logits, list(size)).numpy()


def _bn(x, values, scope, epsilon):
    """Inference batch norm from the TF1 values."""
    return ((x - values[f"{scope}/BatchNorm/moving_mean"]) / np.sqrt(values[f"{scope}/BatchNorm/moving_variance"]
                                                                     + epsilon) * values[f"{scope}/BatchNorm/gamma"]
            + values[f"{scope}/BatchNorm/beta"])


def _intermediate(model, tf1_scope_name, images):
    """Our network's output at one layer, for the model's own input normalisation."""
    network = model.network
    probe = tf_keras.Model(network.input, network.get_layer(keras_name(tf1_scope_name)).output)
    return probe(tf.cast(images, tf.float32) * (2 / 255) - 1).numpy()


def _resize(x, like_hw):
    return tf.compat.v1.image.resize_bilinear(x, like_hw, align_corners=True)


@pytest.mark.parametrize("size", [129, 128])
def test_mobilenet_v2_parity_stem_and_head(mnv2_checkpoint, size):
    """Plain-TF reference from the checkpoint values: the stem and first block (TF SAME padding, ReLU6, BN)
    and the whole head from the backbone features to the align-corners-resized logits."""
    folder, values = mnv2_checkpoint
    model = build_model(MNV2, CLASSES)
    _load(model, str(folder / "model.ckpt"), MNV2)
    images = tf.constant(np.random.default_rng(size).uniform(0, 255, [2, size, size, 3]), tf.float32)

    x = images * (2 / 255) - 1
    x = tf.nn.relu6(_bn(tf.nn.conv2d(x, values["MobilenetV2/Conv/weights"], 2, "SAME"), values,
                        "MobilenetV2/Conv", 1e-3))
    x = tf.nn.relu6(_bn(tf.nn.depthwise_conv2d(x, values["MobilenetV2/expanded_conv/depthwise/depthwise_weights"],
                                               [1, 1, 1, 1], "SAME"), values, "MobilenetV2/expanded_conv/depthwise",
                        1e-3))
    x = _bn(tf.nn.conv2d(x, values["MobilenetV2/expanded_conv/project/weights"], 1, "SAME"), values,
            "MobilenetV2/expanded_conv/project", 1e-3)
    ours = _intermediate(model, "MobilenetV2/expanded_conv/project/BatchNorm", images)
    assert ours.shape[1:3] == ((size + 1) // 2,) * 2
    _assert_close(ours, x)
    # OS 16: expanded_conv_14's depthwise runs at rate 2 (13, the stride turned 1, keeps rate 1).
    x = _intermediate(model, "MobilenetV2/expanded_conv_14/expand/relu6", images)
    x = tf.nn.relu6(_bn(_depthwise(x, values, "MobilenetV2/expanded_conv_14/depthwise", 2), values,
                        "MobilenetV2/expanded_conv_14/depthwise", 1e-3))
    _assert_close(_intermediate(model, "MobilenetV2/expanded_conv_14/depthwise/relu6", images), x)

    features = tf.constant(_intermediate(model, "MobilenetV2/expanded_conv_16/project/BatchNorm", images))
    pooled = _resize(_conv_relu(tf.reduce_mean(features, [1, 2], keepdims=True), values, "image_pooling"),
                     tf.shape(features)[1:3])
    x = _conv_relu(tf.concat([pooled, _conv_relu(features, values, "aspp0")], -1), values, "concat_projection")
    ours = model(images).numpy()
    assert ours.shape == (2, size, size, CLASSES)
    _assert_close(ours, _logits(x, values, [size, size]))


def test_transfer_learning_skips_the_classifier_and_continue_loads_it(mnv2_checkpoint, tmp_path):
    folder, values = mnv2_checkpoint
    cfg = {"init_weights": str(folder), "weights_init_type": "transfer_learning", "model": MNV2}
    source = init_source(cfg, mapping=None)
    assert source.info is None and str(source.checkpoint) == str(folder / "model.ckpt")
    model = build_model(MNV2, 4)   # a 4-class project: the 21-class logits cannot fit, and need not
    before = model.network.get_layer(keras_name("logits/semantic")).kernel.numpy()
    summary = initialise(model, tf_keras.optimizers.SGD(), source)
    np.testing.assert_array_equal(model.network.get_layer(keras_name("logits/semantic")).kernel.numpy(), before)
    np.testing.assert_array_equal(_layer_value(model, "aspp0/weights"), values["aspp0/weights"])
    assert f"{len(values) - 2} loaded, 6 ignored (optimizer slots / global_step)" in summary
    assert "2 skipped and random (the classifier logits/semantic)" in summary

    model = build_model(MNV2, CLASSES)
    summary = initialise(model, tf_keras.optimizers.SGD(),
                         init_source({**cfg, "weights_init_type": "continue_training"}, mapping=None))
    np.testing.assert_array_equal(_layer_value(model, "logits/semantic/weights"), values["logits/semantic/weights"])
    assert f"{len(values)} loaded" in summary and "optimizer starts fresh" in summary


def test_tf1_checkpoint_needs_the_deeplab_implementation(mnv2_checkpoint):
    folder, _ = mnv2_checkpoint
    cfg = {"init_weights": str(folder / "model.ckpt"), "weights_init_type": "transfer_learning",
           "model": {**MNV2, "implementation": "tf_models"}}
    with pytest.raises(UserError, match='implementation "deeplab"'):
        init_source(cfg, mapping=None)


def test_missing_and_mismatched_variables_are_named(tmp_path):
    names = mobilenet_v2_names(0.5, CLASSES)
    del names["MobilenetV2/expanded_conv_3/expand/BatchNorm/moving_mean"]
    names["aspp0/weights"] = [1, 1, 160, 128]
    write_tf1_checkpoint(str(tmp_path / "model.ckpt"), names)
    model = build_model(MNV2, CLASSES)
    before = [v.numpy() for v in model.weights]
    with pytest.raises(UserError) as err:
        _load(model, str(tmp_path / "model.ckpt"), MNV2)
    assert err.value.lines[0].endswith("1 variable(s) missing from the checkpoint: "
                                       "MobilenetV2/expanded_conv_3/expand/BatchNorm/moving_mean "
                                       "(is it a checkpoint of this backbone / depth_multiplier / decoder?)")
    assert "variable aspp0/weights: shape [1, 1, 160, 128] in the checkpoint, [1, 1, 160, 256] in the model" \
        in err.value.lines[1]
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.weights))   # nothing assigned

    model = build_model(MNV2, 4)   # the classifier is checked too when it is loaded
    write_tf1_checkpoint(str(tmp_path / "ok.ckpt"), mobilenet_v2_names(0.5, CLASSES))
    with pytest.raises(UserError, match=r"has 21 classes \(logits/semantic/weights\), but the model has 4"):
        _load(model, str(tmp_path / "ok.ckpt"), MNV2)


@pytest.mark.parametrize("depth_multiplier", [0.5, 1.0])
def test_every_model_variable_has_one_tf1_name(depth_multiplier):
    """Names and shapes equal the zoo layout's, for both published MobileNetV2 widths."""
    model = build_model({**MNV2, "depth_multiplier": depth_multiplier}, CLASSES)
    names = tf1_variables(model)
    assert len(names) == len(model.weights) == len({id(v) for v in names.values()})
    assert {n: v.shape.as_list() for n, v in names.items()} == mobilenet_v2_names(depth_multiplier, CLASSES)
    if depth_multiplier == 1.0:
        assert names["MobilenetV2/expanded_conv_16/project/weights"].shape == [1, 1, 960, 320]


# ---- frozen graphs: the same variables as Const nodes (research/deeplab's frozen_inference_graph.pb)

ASPP_OS8 = [12, 24, 36]


@pytest.fixture(scope="module")
def zoo_tarball(tmp_path_factory):
    """model.ckpt and the frozen_inference_graph.pb exported from it at OS 8 (ASPP 12/24/36)."""
    folder = tmp_path_factory.mktemp("zoo_tarball")
    return folder, write_zoo_folder(folder, atrous_rates=ASPP_OS8)


def test_a_frozen_graph_gives_the_checkpoints_weights(zoo_tarball, tmp_path):
    folder, values = zoo_tarball
    cfg = {**MNV2, "atrous_rates": [6, 12, 18]}
    graph = folder / FROZEN_GRAPH_FILE
    assert find_tf1_source(folder) == Tf1Source(str(folder / "model.ckpt"), CHECKPOINT)   # both there: the checkpoint
    assert find_tf1_source(graph) == Tf1Source(str(graph), FROZEN_GRAPH)
    (tmp_path / FROZEN_GRAPH_FILE).write_bytes(graph.read_bytes())
    assert find_tf1_source(tmp_path) == Tf1Source(str(tmp_path / FROZEN_GRAPH_FILE), FROZEN_GRAPH)

    from_checkpoint, from_graph = build_model(cfg, CLASSES), build_model(cfg, CLASSES)
    _load(from_checkpoint, str(folder / "model.ckpt"), cfg)
    loaded = _load(from_graph, str(graph), cfg, kind=FROZEN_GRAPH)
    # Every variable, nothing else taken for one: the graph's other constants (block shapes, sizes) are not listed.
    assert sorted(loaded.loaded) == sorted(values) and not loaded.unused and not loaded.training_state
    assert loaded.summary("all variables") == f"weights from frozen graph {graph} (all variables): {len(values)} loaded"
    for ours, theirs in zip(from_graph.weights, from_checkpoint.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.name)
    np.testing.assert_array_equal(_layer_value(from_graph, "aspp2_depthwise/depthwise_weights"),
                                  values["aspp2_depthwise/depthwise_weights"])

    # init_weights = the graph: transfer_learning leaves the classifier random, as from a checkpoint.
    source = init_source({"init_weights": str(graph), "weights_init_type": "transfer_learning", "model": cfg}, None)
    summary = initialise(build_model(cfg, 4), tf_keras.optimizers.SGD(), source)
    assert summary == (f"weights from frozen graph {graph} (transfer_learning): {len(values) - 2} loaded, "
                       "2 skipped and random (the classifier logits/semantic)")


def test_what_fixes_the_weights_must_agree_and_both_sides_are_named(zoo_tarball):
    folder, _ = zoo_tarball
    graph = str(folder / FROZEN_GRAPH_FILE)
    tensors = Tf1Source(graph, FROZEN_GRAPH).open()
    cfg = {**MNV2, "atrous_rates": [6, 12, 18]}
    ours = tf1_variables(build_model(cfg, CLASSES))   # the graph's own architecture
    assert architecture_problems(tensors, Tf1Target(cfg), ours, check_classes=True) == []
    cases = [
        ({"decoder": True},
         f"init_weights {graph}: has no decoder (decoder/…), but model.decoder is true in the config"),
        ({"atrous_rates": []}, f"init_weights {graph}: has 3 atrous ASPP branch(es) (aspp1…), but model.atrous_rates "
                               "[] has 0 in the config"),
        ({**XCEPTION, "decoder": False}, f"init_weights {graph}: holds the backbone MobilenetV2, but model.backbone is "
                                         "'xception_65' (xception_65) in the config"),
    ]
    for change, message in cases:
        assert architecture_problems(tensors, Tf1Target({**cfg, **change}), ours, check_classes=True) == [message]
    # Through load_tf1, with the model of the config: refused before anything is assigned.
    wide = {**cfg, "depth_multiplier": 1.0}
    with pytest.raises(UserError) as err:
        load_tf1(build_model(wide, CLASSES), tensors, Tf1Target(wide, "CHECKPOINT", "preset mobilenetv2_voc"),
                 skip_classifier=True)
    assert err.value.lines == [f"CHECKPOINT {graph}: MobilenetV2/Conv/weights has 16 output channels (depth multiplier "
                               "about 0.5), but 32 with model.depth_multiplier 1.0 in preset mobilenetv2_voc"]
