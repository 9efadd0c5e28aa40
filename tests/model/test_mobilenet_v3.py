"""research/deeplab's MobileNetV3 (mobilenet_v3_{large,small}_seg) with the zoo's Cityscapes head: its TF1 names and
shapes, a checkpoint and a frozen graph written from the originals' rules (tests/model/tf1_zoo.py), the zoo head's
pieces, ImageNet checkpoints, and the cost."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from tests.model.test_tf1_import import check_backbone_only_load, check_zoo_export
from tests.model.tf1_zoo import (mobilenet_v3_imagenet_names, mobilenet_v3_names, trained_value,
                                 write_mobilenet_v3_frozen_graph, write_tf1_checkpoint)
from trainer.config.resolve import resolve_train_config
from trainer.errors import UserError
from trainer.model.builder import build_model, classifier_variables
from trainer.model.deeplab_head import WindowAveragePool
from trainer.model.deeplab_layers import keras_name
from trainer.model.tf1_import import tf1_variables
from trainer.model.weights import init_source, initialise

CLASSES = 19
# Written by hand from slim's V3_LARGE / V3_SMALL and feature_extractor.py's _seg changes (expansions of 336 / 480,
# 144 / 288; the last stage and last conv halved), conv_blocks' squeeze_excite (make_divisible(expanded / 4, 8)) and
# the zoo head (128 filters; the decoder's projection of layer_7 / layer_4's depthwise output, 19 classes).
KNOWN = {
    "large": {"MobilenetV3/Conv/weights": [3, 3, 3, 16],
              "MobilenetV3/expanded_conv_3/squeeze_excite/Conv/weights": [1, 1, 72, 24],
              "MobilenetV3/expanded_conv_3/squeeze_excite/Conv_1/biases": [72],
              "MobilenetV3/expanded_conv_3/depthwise/depthwise_weights": [5, 5, 72, 1],
              "MobilenetV3/expanded_conv_12/expand/weights": [1, 1, 112, 336],
              "MobilenetV3/expanded_conv_12/project/weights": [1, 1, 336, 80],
              "MobilenetV3/expanded_conv_13/expand/weights": [1, 1, 80, 480],
              "MobilenetV3/Conv_1/weights": [1, 1, 80, 480], "image_pooling/weights": [1, 1, 480, 128],
              "image_pooling/biases": [128], "aspp0/BatchNorm/gamma": [128],
              "decoder/feature_projection0/weights": [1, 1, 120, 19], "decoder/decoder_conv0/weights": [1, 1, 128, 19],
              "decoder/decoder_conv0/biases": [19]},
    "small": {"MobilenetV3/expanded_conv/squeeze_excite/Conv/weights": [1, 1, 16, 8],
              "MobilenetV3/expanded_conv_2/expand/weights": [1, 1, 24, 88],
              "MobilenetV3/expanded_conv_8/expand/weights": [1, 1, 48, 144],
              "MobilenetV3/expanded_conv_9/expand/weights": [1, 1, 48, 288],
              "MobilenetV3/Conv_1/weights": [1, 1, 48, 288], "image_pooling/weights": [1, 1, 288, 128],
              "decoder/feature_projection0/weights": [1, 1, 88, 19]},
}
# A small export: crop 129×193, image pooling window of a 65×129 crop (3×5 at OS 32), stride (1, 2).
CROP, POOL_CROP, POOL_STRIDE = (129, 193), (65, 129), (1, 2)


def _cfg(size, **changes):
    sets = [f"model.{key}={value}" for key, value in changes.items()]
    return resolve_train_config(None, f"mobilenetv3_{size}_cityscapes", sets)["model"]


@pytest.mark.parametrize("size", ["large", "small"])
def test_variables_are_the_zoo_checkpoints(size):
    model = build_model(_cfg(size), CLASSES)
    ours = {name: v.shape.as_list() for name, v in tf1_variables(model).items()}
    zoo = mobilenet_v3_names(size, CLASSES)
    for name, shape in KNOWN[size].items():
        assert zoo[name] == shape, name
    assert ours == zoo
    assert not any(n.startswith("logits/") or n.startswith("concat_projection") for n in ours)
    assert sorted(v.name for v in classifier_variables(model)) == sorted(
        v.name for layer in ("decoder-feature_projection0", "decoder-decoder_conv0")
        for v in model.network.get_layer(layer).weights)


@pytest.fixture(scope="module", params=["small", pytest.param("large", marks=pytest.mark.slow)])
def zoo_export(request, tmp_path_factory):
    """A zoo tarball of MobileNetV3 (`size`): model.ckpt and the frozen graph exported from it."""
    size, folder = request.param, tmp_path_factory.mktemp(f"mnv3_{request.param}")
    values = write_tf1_checkpoint(str(folder / "model.ckpt"), mobilenet_v3_names(size, CLASSES),
                                  values_from=trained_value)
    write_mobilenet_v3_frozen_graph(folder / "frozen_inference_graph.pb", size, values, crop=CROP,
                                    pool_crop=POOL_CROP, pool_stride=POOL_STRIDE)
    cfg = _cfg(size, image_pooling_crop_size=list(POOL_CROP), image_pooling_stride=list(POOL_STRIDE))
    return size, folder, values, cfg


def test_checkpoint_and_frozen_graph_load_and_give_the_graphs_logits(zoo_export):
    _, folder, values, cfg = zoo_export
    check_zoo_export(folder, values, cfg, CLASSES, CROP, seed=3)


def test_transfer_learning_skips_the_sum_merge_classifier(zoo_export):
    size, folder, values, cfg = zoo_export
    model = build_model(cfg, 4)
    summary = initialise(model, tf_keras.optimizers.SGD(), init_source(
        {"init_weights": str(folder / "model.ckpt"), "weights_init_type": "transfer_learning", "model": cfg}, None))
    assert (f"{len(values) - 4} loaded, 6 ignored (optimizer slots / global_step), 4 skipped and random (the "
            "classifier decoder/decoder_conv0, decoder/feature_projection0)") in summary
    with pytest.raises(UserError, match=r"has 19 classes \(decoder/decoder_conv0/weights\), but the project has 4"):
        initialise(build_model(cfg, 4), tf_keras.optimizers.SGD(), init_source(
            {"init_weights": str(folder / "model.ckpt"), "weights_init_type": "continue_training", "model": cfg},
            None))


def test_imagenet_checkpoint_of_the_seg_widths_loads_the_backbone(tmp_path):
    values = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), mobilenet_v3_imagenet_names("small"))
    backbone, head, summary = check_backbone_only_load(_cfg("small"), 4, tmp_path, values)
    assert (f"{len(backbone)} loaded (the backbone, MobilenetV3/…), 6 ignored (optimizer slots / global_step), 4 "
            "ignored (its classification head: MobilenetV3/Conv_2, MobilenetV3/Logits/Conv2d_1c_1x1), 11 fresh (a "
            "backbone-only checkpoint; ASPP, decoder and classifier start from their initialisers: aspp0, "
            "decoder/decoder_conv0, decoder/feature_projection0, image_pooling)") in summary
    assert len(head) == 11


def test_slims_full_width_imagenet_checkpoint_is_refused_naming_the_halved_layers(tmp_path):
    """slim's own V3_LARGE ImageNet checkpoint has the last stage at full width: the _seg layers cannot take it."""
    write_tf1_checkpoint(str(tmp_path / "model.ckpt"), mobilenet_v3_imagenet_names("large", seg=False))
    cfg = _cfg("large")
    with pytest.raises(UserError) as err:
        initialise(build_model(cfg, 4), tf_keras.optimizers.SGD(), init_source(
            {"init_weights": str(tmp_path), "weights_init_type": "transfer_learning", "model": cfg}, None))
    assert (f"init_weights {tmp_path / 'model.ckpt'}: variable MobilenetV3/Conv_1/BatchNorm/beta: shape [960] in the "
            "checkpoint, [480] in the model") in err.value.lines
    assert (f"init_weights {tmp_path / 'model.ckpt'}: variable MobilenetV3/expanded_conv_12/depthwise/depthwise_weights: "
            "shape [5, 5, 672, 1] in the checkpoint, [5, 5, 336, 1] in the model") in err.value.lines
    assert err.value.lines[-1] == f"init_weights {tmp_path / 'model.ckpt'}: … and 52 more shape mismatches"


def test_window_pooling_is_avg_pool_and_global_where_the_map_is_smaller():
    features = tf.random.stateless_uniform([2, 9, 13, 4], seed=[1, 2])
    pool = WindowAveragePool((5, 7), (2, 3))
    np.testing.assert_allclose(pool(features), tf.nn.avg_pool2d(features, (5, 7), (2, 3), "VALID"), atol=1e-6)
    np.testing.assert_allclose(WindowAveragePool((25, 49), (4, 5))(features),
                               tf.reduce_mean(features, [1, 2], keepdims=True), atol=1e-6)


def test_zoo_head_layout():
    network = build_model(_cfg("small"), CLASSES).network
    names = {layer.name for layer in network.layers}
    assert {"image_pooling-gate", "decoder-sum", keras_name("image_pooling/hard_sigmoid")} <= names
    assert not names & {"aspp-concat", keras_name("concat_projection"), keras_name("logits/semantic"),
                        keras_name("image_pooling/BatchNorm")}
    # model_zoo.md's --image_pooling_crop_size=769,769 at output stride 32
    assert network.get_layer("image_pooling-mean").window == (25, 25)
    assert network.get_layer("image_pooling-mean").strides == (4, 5)
    # the stride-8 decoder feature: layer_4/depthwise_output, expanded_conv_2's depthwise after its ReLU
    projection = network.get_layer(keras_name("decoder/feature_projection0"))
    assert projection.input._keras_history.layer.name == keras_name("MobilenetV3/expanded_conv_2/depthwise/relu")
