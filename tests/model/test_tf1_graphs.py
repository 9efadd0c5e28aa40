"""Frozen graphs of every research-exact backbone, as the model zoo exported them (output stride 8, ASPP rates
[12, 24, 36]; the Dense Prediction Cell's rates doubled): written from research/deeplab's rules
(tests/model/tf1_zoo.py), not from our layers. convert_zoo reads their constants into our model, records the graph's stride and rates as the
converted checkpoint's inference defaults, and refuses a graph whose architecture is not the preset's, naming both.
MobileNetV2's graph (a runnable rebuild, verified against its logits) is in test_tf1_import.py / the CLI tests."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tf_keras

from tests.model.test_tf1_import import DPC_CELL
from tests.model.test_zoo_graph import XCEPTION_OS8
from tests.model.tf1_zoo import (ZOO_EXPORT_ASPP, ZOO_EXPORT_STRIDE, head_atrous, mobilenet_v2_imagenet_names,
                                 resnet_v1_beta_atrous, resnet_v1_beta_names, trained_value, value, write_graph_def,
                                 xception_atrous, xception_names)
from trainer import load_model
from trainer.config.resolve import resolve_train_config
from trainer.errors import UserError
from trainer.model.backbones import backbone
from trainer.model.builder import build_model
from trainer.model.checkpoint_info import CheckpointInfo
from trainer.model.deeplab_layers import keras_name
from trainer.model.frozen_graph import FrozenGraph
from trainer.model.tf1_import import architecture_problems, tf1_variables
from trainer.model.tf1_source import FROZEN_GRAPH, FROZEN_GRAPH_FILE, Tf1Source, Tf1Target
from trainer.model.weights import init_source, initialise
from trainer.model.zoo import class_titles, convert, zoo_classes

DPC_OS8 = [(2 * h, 2 * w) for _, (h, w) in DPC_CELL]   # model.py's conv_rate_multiplier 16 // 8


def _graph_spec(case: str):
    """(preset, --classes, names and shapes, atrous convs at the zoo's export stride, a layer and its rates there)."""
    if case.startswith("xception"):
        scope, dpc = case.removesuffix("_dpc"), case.endswith("_dpc")
        classes = "cityscapes" if dpc else "voc"
        atrous = {**xception_atrous(scope, ZOO_EXPORT_STRIDE),
                  **(head_atrous(dpc_rates=DPC_OS8) if dpc else head_atrous(ZOO_EXPORT_ASPP))}
        preset = {"xception_41": "xception41_imagenet", "xception_65": "xception65_voc",
                  "xception_71": "xception71_imagenet", "xception_71_dpc": "xception71_dpc_cityscapes"}[case]
        probe = (("meta_architecture/branch1_depthwise", DPC_OS8[1]) if dpc else
                 (f"{scope}/exit_flow/block2/unit_1/xception_module/separable_conv1_depthwise", (4, 4)))
        return preset, classes, xception_names(scope, 19 if dpc else 21, dpc), atrous, probe
    layers = int(case.split("_")[2])
    return (f"resnet{layers}_beta_imagenet", "voc", resnet_v1_beta_names(layers, 21),
            {**resnet_v1_beta_atrous(layers, ZOO_EXPORT_STRIDE), **head_atrous(ZOO_EXPORT_ASPP)},
            (f"resnet_v1_{layers}/block4/unit_3/bottleneck_v1/conv2", (16, 16)))   # 4 · multi-grid 4


# ResNet-50 by default (three model builds each: 20–50 s on 2 shared cores; test_zoo_graph reads Xception-65's OS-8
# rates); the Xceptions (with and without the cell, whose (height, width) rates test_anisotropic_block_shapes… reads
# fast) and ResNet-101 in the slow set.
_SLOW = ("xception_41", "xception_65", "xception_71", "xception_71_dpc", "resnet_v1_101_beta")
BACKBONES = [pytest.param(b, marks=pytest.mark.slow) if b in _SLOW else b
             for b in ("xception_41", "xception_65", "xception_71", "xception_71_dpc", "resnet_v1_50_beta",
                       "resnet_v1_101_beta")]


@pytest.fixture(scope="module", params=BACKBONES)
def converted(request, tmp_path_factory):
    """The zoo's frozen graph of this backbone, convert_zoo's lines converting it with the backbone's preset, the
    converted folder and the model load_model gives of it."""
    preset, classes, names, atrous, probe = _graph_spec(request.param)
    values = {name: trained_value(name, shape) for name, shape in names.items()}
    folder = tmp_path_factory.mktemp(request.param)
    graph = folder / FROZEN_GRAPH_FILE
    write_graph_def(graph, values, atrous)
    cfg = resolve_train_config(None, preset, [])
    mapping = zoo_classes(cfg, class_titles(classes, cfg["special_classes"]["background"]))
    lines = convert(Tf1Source(str(graph), FROZEN_GRAPH), cfg, mapping, folder / "converted",
                    Tf1Target(cfg["model"], "CHECKPOINT", f"preset {preset}", f"--classes {classes}"))
    return Converted(graph, preset, cfg["model"], values, probe, lines, folder / "converted",
                     load_model(folder / "converted"))


@dataclass
class Converted:
    graph: Path
    preset: str
    model_cfg: dict
    values: dict
    probe: tuple[str, tuple[int, int]]   # a layer and its rates at the export stride
    lines: list[str]
    folder: Path
    model: object


def test_a_frozen_graph_converts_with_its_weights_and_export_settings(converted):
    c = converted
    # Every variable, nothing else taken for one: the graph's other constants (block shapes, paddings) are not listed.
    assert c.lines[0] == f"weights from frozen graph {c.graph} (all variables): {len(c.values)} loaded"
    exported_rates = [] if c.model_cfg["dense_prediction_cell"] else list(ZOO_EXPORT_ASPP)
    assert c.lines[1].startswith(f"the frozen graph was exported at output stride 8 with ASPP rates {exported_rates} "
                                 f"(preset {c.preset} trains at 16 with {c.model_cfg['atrous_rates']}; same weights)")
    info = CheckpointInfo.read(c.folder)
    assert info.inference_defaults == {"output_stride": 8, "atrous_rates": exported_rates}
    assert info.model == c.model_cfg

    # load_model runs it as exported: at the graph's stride, every value the graph's constant.
    layer, rate = c.probe
    assert c.model.network.get_layer(keras_name(layer)).dilation_rate == rate
    ours = tf1_variables(c.model)
    assert sorted(ours) == sorted(c.values)
    for name, expected in c.values.items():
        np.testing.assert_array_equal(ours[name].numpy(), expected, err_msg=name)


def test_what_fixes_the_weights_must_agree_with_the_preset(converted):
    """Backbone, decoder, Dense Prediction Cell or ASPP branches: each difference names the graph's and the preset's."""
    c, cfg = converted, converted.model_cfg
    tensors = Tf1Source(str(c.graph), FROZEN_GRAPH).open()
    ours = tf1_variables(c.model)   # the graph's own architecture (at another stride: the same variables)
    where, config = f"CHECKPOINT {c.graph}", f"preset {c.preset}"

    def problems(**change):
        return architecture_problems(tensors, Tf1Target({**cfg, **change}, "CHECKPOINT", config), ours,
                                     check_classes=True)

    assert problems() == []
    other = "resnet_v1_50_beta" if cfg["backbone"].startswith("xception") else "xception_65"
    assert problems(backbone=other) == [
        f"{where}: holds the backbone {backbone(cfg).tf1_scope}, but model.backbone is {other!r} "
        f"({backbone({**cfg, 'backbone': other}).tf1_scope}) in {config}"]
    assert problems(decoder=False) == [f"{where}: has a decoder (decoder/…), but model.decoder is false in {config}"]
    if cfg["dense_prediction_cell"]:
        assert problems(dense_prediction_cell=False, atrous_rates=[6, 12, 18]) == [
            f"{where}: has a Dense Prediction Cell (meta_architecture/…), but model.dense_prediction_cell is false in "
            f"{config}",
            f"{where}: has 0 atrous ASPP branch(es) (aspp1…), but model.atrous_rates [6, 12, 18] has 3 in {config}"]
    else:
        assert problems(dense_prediction_cell=True, atrous_rates=[]) == [
            f"{where}: has no Dense Prediction Cell (meta_architecture/…), but model.dense_prediction_cell is true "
            f"in {config}",
            f"{where}: has 3 atrous ASPP branch(es) (aspp1…), but model.atrous_rates [] has 0 in {config}"]
        assert problems(atrous_rates=[6, 12]) == [
            f"{where}: has 3 atrous ASPP branch(es) (aspp1…), but model.atrous_rates [6, 12] has 2 in {config}"]


def test_slims_imagenet_frozen_graph_starts_a_training_run(tmp_path):
    """slim's mobilenet_v2_1.0_224.tgz ships mobilenet_v2_1.0_224_frozen.pb beside its checkpoint (research/deeplab's
    own ImageNet tarballs hold checkpoints only): as init_weights with transfer_learning it loads the backbone, ignores
    the classification head (Conv_1, Logits) and leaves ASPP, decoder and classifier fresh, as the checkpoint does."""
    names = mobilenet_v2_imagenet_names()
    values = {name: value(name, shape) for name, shape in names.items()}
    graph = tmp_path / "mobilenet_v2_1.0_224_frozen.pb"
    write_graph_def(graph, values, {})
    model_cfg = {"backbone": "mobilenet_v2", "implementation": "deeplab", "depth_multiplier": 1.0,
                 "output_stride": 16, "atrous_rates": [6, 12, 18], "decoder": True, "dense_prediction_cell": False,
                 "batchnorm_momentum": 0.997}
    cfg = {"init_weights": str(graph), "weights_init_type": "transfer_learning", "model": model_cfg}
    model = build_model(model_cfg, 5)
    ours = tf1_variables(model)
    fresh = {n: v.numpy() for n, v in ours.items() if not n.startswith("MobilenetV2/")}
    summary = initialise(model, tf_keras.optimizers.SGD(), init_source(cfg, mapping=None))
    backbone = [n for n in ours if n.startswith("MobilenetV2/")]
    for name in backbone:
        np.testing.assert_array_equal(ours[name].numpy(), values[name], err_msg=name)
    for name, initial in fresh.items():
        np.testing.assert_array_equal(ours[name].numpy(), initial, err_msg=name)
    ignored = len(values) - len(backbone)
    assert summary.startswith(
        f"weights from frozen graph {graph} (transfer_learning): {len(backbone)} loaded (the backbone, MobilenetV2/…), "
        f"{ignored} ignored (its classification head: MobilenetV2/Conv_1, MobilenetV2/Logits/Conv2d_1c_1x1), "
        f"{len(fresh)} fresh ")
    with pytest.raises(UserError, match="holds only a backbone"):   # not a whole model
        initialise(build_model(model_cfg, 5), tf_keras.optimizers.SGD(),
                   init_source({**cfg, "weights_init_type": "continue_training"}, mapping=None))


def test_the_rates_written_are_the_hand_written_xception_65_export():
    """The stacking rule (stacked_rates) against test_zoo_graph's table, written by hand from slim's rule."""
    written = {**xception_atrous("xception_65", ZOO_EXPORT_STRIDE), **head_atrous(ZOO_EXPORT_ASPP)}
    assert {f"{scope}/depthwise/SpaceToBatchND": rate for scope, rate in written.items()} == XCEPTION_OS8


def test_anisotropic_block_shapes_are_read_as_height_and_width_rates(tmp_path):
    """The Dense Prediction Cell's branches (rates (1, 6)… at OS 16, doubled at 8) are SpaceToBatchND with unequal
    block shapes, read as (height, width); the equal ones of the backbone and ASPP alike."""
    cell, aspp = "meta_architecture/branch0_depthwise", "aspp1_depthwise"
    write_graph_def(tmp_path / "cell.pb", {f"{s}/depthwise_weights": value(s, [3, 3, 8, 1]) for s in (cell, aspp)},
                    {cell: DPC_OS8[0], aspp: 12})
    assert FrozenGraph.load(tmp_path / "cell.pb").atrous_rates() == {
        f"{cell}/depthwise/SpaceToBatchND": (2, 12), f"{aspp}/depthwise/SpaceToBatchND": (12, 12)}
