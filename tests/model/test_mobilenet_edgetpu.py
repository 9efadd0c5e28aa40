"""research/deeplab's mobilenet_edgetpu (the zoo's EdgeTPU-DeepLab and EdgeTPU-DeepLab-slim): its TF1 names and
shapes, the fused blocks and the output-stride rule, a checkpoint and a frozen graph written from slim's V3_EDGETPU
and model.py's rules (tests/model/tf1_zoo.py), slim's ImageNet checkpoints and cost, and no decoder."""
import pytest
import tf_keras

from tests.model.test_tf1_import import check_backbone_only_load, check_zoo_export
from tests.model.tf1_zoo import (mobilenet_edgetpu_backbone_names, mobilenet_edgetpu_graph,
                                 mobilenet_edgetpu_imagenet_names, mobilenet_edgetpu_names, trained_value,
                                 write_frozen_graph, write_tf1_checkpoint)
from trainer.config.resolve import resolve_train_config
from trainer.errors import ConfigError, UserError
from trainer.model.backbones.mobilenet_v3 import mobilenet_edgetpu
from trainer.model.builder import build_model
from trainer.model.checkpoint_info import CheckpointInfo
from trainer.model.cost import multiply_adds
from trainer.model.deeplab_layers import keras_name
from trainer.model.tf1_import import tf1_variables
from trainer.model.tf1_source import FROZEN_GRAPH, Tf1Source, Tf1Target
from trainer.model.weights import init_source, initialise
from trainer.model.zoo import class_titles, convert, zoo_classes

CLASSES = 19
# depth multiplier → (preset, --aspp_convs_filters): model_zoo.md's flags for EdgeTPU-DeepLab / -slim.
PRESETS = {1.0: ("edgetpu_deeplab_cityscapes", 256), 0.75: ("edgetpu_deeplab_slim_cityscapes", 128)}
# Written by hand from slim's V3_EDGETPU (mobilenet_v3.py), conv_blocks.expanded_conv (an expansion only if wider:
# layer_2's factor 1 on 32 channels gives none; mbv3_fused: a 3×3 expansion, no depthwise), mobilenet.py's
# depth_multiplier (make_divisible(n × 0.75, 8, 8): 16 → 16, 32 → 24, 48 → 40, 192 → 144, 1280 → 960) and the
# head.
KNOWN = {
    1.0: {"MobilenetEdgeTPU/Conv/weights": [3, 3, 3, 32],
          "MobilenetEdgeTPU/expanded_conv/project/weights": [1, 1, 32, 16],
          "MobilenetEdgeTPU/expanded_conv_1/expand/weights": [3, 3, 16, 128],
          "MobilenetEdgeTPU/expanded_conv_1/project/weights": [1, 1, 128, 32],
          "MobilenetEdgeTPU/expanded_conv_5/expand/weights": [3, 3, 32, 256],
          "MobilenetEdgeTPU/expanded_conv_9/expand/weights": [1, 1, 48, 384],
          "MobilenetEdgeTPU/expanded_conv_9/depthwise/depthwise_weights": [3, 3, 384, 1],
          "MobilenetEdgeTPU/expanded_conv_13/expand/weights": [1, 1, 96, 768],
          "MobilenetEdgeTPU/expanded_conv_17/depthwise/depthwise_weights": [5, 5, 768, 1],
          "MobilenetEdgeTPU/expanded_conv_21/project/weights": [1, 1, 1280, 192],
          "MobilenetEdgeTPU/Conv_1/weights": [1, 1, 192, 1280], "image_pooling/weights": [1, 1, 1280, 256],
          "aspp0/weights": [1, 1, 1280, 256], "concat_projection/weights": [1, 1, 512, 256],
          "logits/semantic/weights": [1, 1, 256, 19]},
    0.75: {"MobilenetEdgeTPU/Conv/weights": [3, 3, 3, 24],
           "MobilenetEdgeTPU/expanded_conv/project/weights": [1, 1, 24, 16],
           "MobilenetEdgeTPU/expanded_conv_1/expand/weights": [3, 3, 16, 128],
           "MobilenetEdgeTPU/expanded_conv_5/expand/weights": [3, 3, 24, 192],
           "MobilenetEdgeTPU/expanded_conv_5/project/weights": [1, 1, 192, 40],
           "MobilenetEdgeTPU/expanded_conv_21/project/weights": [1, 1, 960, 144],
           "MobilenetEdgeTPU/Conv_1/weights": [1, 1, 144, 960], "aspp0/weights": [1, 1, 960, 128],
           "concat_projection/weights": [1, 1, 256, 128], "logits/semantic/weights": [1, 1, 128, 19]},
}
CROP, EXPORT_STRIDE = 65, 8   # a small export at the zoo's default export stride


def _cfg(depth_multiplier, *sets):
    return resolve_train_config(None, PRESETS[depth_multiplier][0], list(sets))["model"]


@pytest.mark.parametrize("depth_multiplier", [1.0, 0.75])
def test_variables_are_the_zoo_checkpoints(depth_multiplier):
    model = build_model(_cfg(depth_multiplier), CLASSES)
    ours = {name: v.shape.as_list() for name, v in tf1_variables(model).items()}
    zoo = mobilenet_edgetpu_names(depth_multiplier, CLASSES, PRESETS[depth_multiplier][1])
    for name, shape in KNOWN[depth_multiplier].items():
        assert zoo[name] == shape, name
    assert ours == zoo
    assert not any(n.startswith("decoder/") or n.startswith("aspp1") for n in ours)


def _layers(output_stride):
    images = tf_keras.Input([129, 129, 3])
    model = tf_keras.Model(images, mobilenet_edgetpu(images, output_stride))
    return model, {layer.name: layer for layer in model.layers}


@pytest.mark.parametrize("output_stride,rates", [
    (16, {16: 1, 17: 1, 18: 2, 21: 2}),
    (8, {9: 1, 10: 2, 16: 2, 17: 2, 18: 4, 21: 4}),
])
def test_fused_blocks_and_the_output_stride_rule(output_stride, rates):
    """mbv3_fused: a 3×3 expansion carrying the stride, no depthwise; layer_2 (factor 1) only projects; layer_15
    (residual=False) adds no input; the depthwise rate starts after the output stride is reached (slim's rule)."""
    model, layers = _layers(output_stride)
    expand = layers[keras_name("MobilenetEdgeTPU/expanded_conv_1/expand")]
    assert (expand.kernel_size, expand.strides) == ((3, 3), (2, 2))
    assert not any(name.startswith(keras_name(f"MobilenetEdgeTPU/expanded_conv_{i}/depthwise")) for name in layers
                   for i in range(1, 9))
    assert [n for n in layers if n.startswith(keras_name("MobilenetEdgeTPU/expanded_conv/"))] == [
        keras_name(f"MobilenetEdgeTPU/expanded_conv/project{part}") for part in ("", "/BatchNorm")]
    assert keras_name("MobilenetEdgeTPU/expanded_conv_12/add") in layers
    assert keras_name("MobilenetEdgeTPU/expanded_conv_13/add") not in layers
    for i, rate in rates.items():
        depthwise = layers[keras_name(f"MobilenetEdgeTPU/expanded_conv_{i}/depthwise")]
        assert depthwise.dilation_rate == (rate, rate), i
        assert depthwise.strides == (1, 1), i
    side = (129 - 1) // output_stride + 1
    assert model.output["features"].shape[1:] == (side, side, 1280)
    assert set(model.output) == {"features"}   # no decoder end point


def test_decoder_is_refused():
    with pytest.raises(ConfigError, match=r'model.decoder: backbone "mobilenet_edgetpu" has no decoder feature'):
        resolve_train_config(None, "edgetpu_deeplab_cityscapes", ["model.decoder=true"])


@pytest.fixture(scope="module")
def zoo_export(tmp_path_factory):
    """A zoo tarball of EdgeTPU-DeepLab-slim: model.ckpt and the frozen graph exported from it at output stride 8."""
    folder = tmp_path_factory.mktemp("edgetpu_slim")
    values = write_tf1_checkpoint(str(folder / "model.ckpt"), mobilenet_edgetpu_names(0.75, CLASSES, 128),
                                  values_from=trained_value)
    write_frozen_graph(folder / "frozen_inference_graph.pb", values, output_stride=EXPORT_STRIDE, crop=CROP,
                       backbone=mobilenet_edgetpu_graph)
    return folder, values


def test_checkpoint_and_frozen_graph_load_and_give_the_graphs_logits(zoo_export):
    folder, values = zoo_export
    cfg = _cfg(0.75, f"model.output_stride={EXPORT_STRIDE}")
    check_zoo_export(folder, values, cfg, CLASSES, (CROP, CROP), seed=5)


def test_convert_reads_the_graphs_export_stride(zoo_export, tmp_path):
    folder, values = zoo_export
    graph, preset = folder / "frozen_inference_graph.pb", PRESETS[0.75][0]
    cfg = resolve_train_config(None, preset, [])
    mapping = zoo_classes(cfg, class_titles("cityscapes", cfg["special_classes"]["background"]))
    lines = convert(Tf1Source(str(graph), FROZEN_GRAPH), cfg, mapping, tmp_path / "converted",
                    Tf1Target(cfg["model"], "CHECKPOINT", f"preset {preset}", "--classes cityscapes"))
    assert lines[0] == f"weights from frozen graph {graph} (all variables): {len(values)} loaded"
    assert lines[1].startswith(f"the frozen graph was exported at output stride 8 with ASPP rates [] (preset {preset} "
                               "trains at 16 with []; same weights)")
    assert CheckpointInfo.read(tmp_path / "converted").inference_defaults == {"output_stride": 8, "atrous_rates": []}


def test_slims_imagenet_checkpoint_loads_the_backbone(tmp_path):
    """slim's mobilenet_edgetpu_224_1.0: every backbone variable (Conv_1, layer_24, included), its Logits ignored."""
    values = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), mobilenet_edgetpu_imagenet_names())
    cfg = _cfg(1.0)
    backbone, _, summary = check_backbone_only_load(cfg, 4, tmp_path, values)
    assert len(backbone) == len(values) - 2
    assert (f"{len(backbone)} loaded (the backbone, MobilenetEdgeTPU/…), 6 ignored (optimizer slots / global_step), "
            "2 ignored (its classification head: MobilenetEdgeTPU/Logits/Conv2d_1c_1x1), 17 fresh") in summary
    with pytest.raises(UserError, match=r"holds the backbone MobilenetEdgeTPU, but model.backbone is 'mobilenet_v2'"):
        other = {**cfg, "backbone": "mobilenet_v2", "depth_multiplier": 1.0}
        initialise(build_model(other, 4), tf_keras.optimizers.SGD(), init_source(
            {"init_weights": str(tmp_path), "weights_init_type": "transfer_learning", "model": other}, None))


def test_backbone_costs_slims_published_imagenet_macs():
    """slim's README (nets/mobilenet) gives MobilenetEdgeTPU dm=1 990M MACs at 224×224: the backbone with global
    pooling and the 1001-class logits counts the same."""
    images = tf_keras.Input([None, None, 3])
    pooled = tf_keras.layers.GlobalAveragePooling2D(keepdims=True)(mobilenet_edgetpu(images, 32)["features"])
    model = tf_keras.Model(images, tf_keras.layers.Conv2D(1001, 1)(pooled))
    assert multiply_adds(model, 224, 224) == pytest.approx(990e6, rel=0.005)


def test_slims_075_imagenet_checkpoint_is_refused_naming_conv_1(tmp_path):
    """slim's edge_tpu_075 keeps Conv_1 at 1280 (finegrain_classification_mode); DeepLab's ×0.75 has 960."""
    names, _ = mobilenet_edgetpu_backbone_names(0.75)
    names.update({"MobilenetEdgeTPU/Conv_1/weights": [1, 1, 144, 1280],
                  **{f"MobilenetEdgeTPU/Conv_1/BatchNorm/{v}": [1280]
                     for v in ("gamma", "beta", "moving_mean", "moving_variance")},
                  "MobilenetEdgeTPU/Logits/Conv2d_1c_1x1/weights": [1, 1, 1280, 1001],
                  "MobilenetEdgeTPU/Logits/Conv2d_1c_1x1/biases": [1001]})
    write_tf1_checkpoint(str(tmp_path / "model.ckpt"), names)
    cfg = _cfg(0.75)
    with pytest.raises(UserError) as err:
        initialise(build_model(cfg, 4), tf_keras.optimizers.SGD(), init_source(
            {"init_weights": str(tmp_path), "weights_init_type": "transfer_learning", "model": cfg}, None))
    assert (f"init_weights {tmp_path / 'model.ckpt'}: variable MobilenetEdgeTPU/Conv_1/weights: shape "
            "[1, 1, 144, 1280] in the checkpoint, [1, 1, 144, 960] in the model") in err.value.lines
    assert len(err.value.lines) == 5   # Conv_1's kernel and its four BatchNorm variables
