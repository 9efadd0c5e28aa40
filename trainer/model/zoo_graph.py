"""A research/deeplab frozen graph against our model: the output stride and ASPP rates it was exported with (what
changes no weight), and `convert_zoo --verify`: the graph and the converted model on the same images."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tf_keras

from trainer.config.validate import load_schema
from trainer.errors import UserError
from trainer.model.backbones import backbone
from trainer.model.builder import build_model
from trainer.model.checkpoint_info import CheckpointInfo
from trainer.model.checkpoints import restore_model
from trainer.model.deeplab_layers import tf1_scope
from trainer.model.frozen_graph import FrozenGraph
from trainer.model.stride import at_output_stride

TOLERANCE = 1e-4   # max |logit difference| / largest |logit| a verified conversion may show
_ASPP_BRANCH = re.compile(r"aspp\d+(_depthwise|_pointwise)?$")
_SHOWN = 6


Rate = tuple[int, int]   # (height, width): the Dense Prediction Cell's differ
_NONE = (1, 1)


def _convolutions(model) -> dict[str, Rate]:
    """TF1 scope → atrous rates of every convolution layer of our network."""
    return {tf1_scope(layer.name): tuple(layer.dilation_rate) for layer in model.network.layers
            if isinstance(layer, (tf_keras.layers.Conv2D, tf_keras.layers.DepthwiseConv2D))}


def _by_layer(graph_rates: dict[str, Rate], scopes: list[str]) -> dict[str, Rate]:
    """Graph node → rates, keyed by the layer of ours whose scope holds the node (the node's name where none does)."""
    by_length = sorted(scopes, key=len, reverse=True)
    keyed = {}
    for node, rate in graph_rates.items():
        scope = next((s for s in by_length if node.startswith(s + "/")), node)
        keyed[scope] = max(rate, keyed.get(scope, _NONE))
    return keyed


def _largest(rates: dict[str, Rate]) -> int:
    return max((max(rate) for rate in rates.values()), default=1)


def _text(rate: Rate) -> str:
    return str(rate[0]) if rate[0] == rate[1] else f"{rate[0]}×{rate[1]}"


def _backbone_rates(rates: dict[str, Rate]) -> dict[str, Rate]:
    """The rates outside the ASPP branches (whose rates are read on their own)."""
    return {scope: rate for scope, rate in rates.items() if not _ASPP_BRANCH.match(scope)}


def _aspp_rates(graph: FrozenGraph, keyed: dict[str, Rate], branches: int) -> list[int]:
    """One rate per ASPP branch, as research/deeplab's model.py builds them (unlike the Dense Prediction Cell's)."""
    rates = [max(keyed.get(f"aspp{i}", _NONE), keyed.get(f"aspp{i}_depthwise", _NONE)) for i in range(1, branches + 1)]
    uneven = [f"aspp{i} rates {_text(rate)}" for i, rate in enumerate(rates, 1) if rate[0] != rate[1]]
    if uneven:
        raise UserError(f"frozen graph {graph.path}: {', '.join(uneven)}: an ASPP branch has one rate")
    return [rate[0] for rate in rates]


def exported_settings(graph: FrozenGraph, model_cfg: dict, num_classes: int, model):
    """(model settings, a model built with them) at the graph's output stride and ASPP rates. `model` is the
    config's own (its weights are not needed). The stride is the one at which our network puts its atrous rates on
    the same layers as the graph; every such layer is compared, so a graph this architecture cannot run is refused."""
    ours = _convolutions(model)
    keyed = _by_layer(graph.atrous_rates(), list(ours))
    theirs = _backbone_rates(keyed)
    rates = _aspp_rates(graph, keyed, len(model_cfg["atrous_rates"]))
    # Our network's stride without atrous convolution: where the graph's largest backbone rate would take it.
    guess = model_cfg["output_stride"] * _largest(_backbone_rates(ours)) // _largest(theirs)
    strides = load_schema("train")["properties"]["model"]["properties"]["output_stride"]["enum"]
    for stride in sorted(strides, key=lambda s: (s != guess, s != model_cfg["output_stride"])):
        settings = at_output_stride(model_cfg, stride, rates)
        built = model if stride == model_cfg["output_stride"] else build_model(settings, num_classes)
        if {s: r for s, r in _backbone_rates(_convolutions(built)).items() if max(r) > 1} == theirs:
            return settings, built
    shown = ", ".join(f"{scope} rate {_text(rate)}" for scope, rate in sorted(theirs.items())[:_SHOWN])
    raise UserError(f"frozen graph {graph.path}: its atrous convolutions ({shown or 'none'}"
                    f"{' …' if len(theirs) > _SHOWN else ''}) are those of model.backbone "
                    f"{model_cfg['backbone']!r} at no output stride of {strides}")


@dataclass(frozen=True)
class Verification:
    images: int
    size: tuple[int, int]           # (height, width) both models ran at: the graph's crop
    output_stride: int
    atrous_rates: list[int]
    max_difference: float           # max |logit difference| over every image and pixel
    largest: float                  # the largest |logit| of the graph
    equal_labels: float             # share of pixels whose argmax agrees

    @property
    def relative(self) -> float:
        return self.max_difference / max(self.largest, 1e-30)

    @property
    def passed(self) -> bool:
        return self.relative <= TOLERANCE

    def line(self) -> str:
        return (f"verify: frozen graph and converted model on {self.images} image(s) at {self.size[0]}×{self.size[1]}, "
                f"output stride {self.output_stride}, ASPP rates {self.atrous_rates}: max |logit difference| "
                f"{self.relative:.2e} of the largest logit ({self.largest:.4g}), labels equal on "
                f"{100 * self.equal_labels:.2f}% of pixels — {'passed' if self.passed else 'FAILED'} "
                f"(tolerance {TOLERANCE:g})")


def verify(graph_path: Path, folder: Path, images: list[np.ndarray]) -> Verification:
    """The frozen graph and the converted checkpoint folder on `images` (uint8 RGB, resized to the graph's crop, so
    the graph pads nothing), our model at the graph's output stride and rates."""
    graph = FrozenGraph.load(graph_path)
    info = CheckpointInfo.read(folder)
    num_classes = info.classes.num_classes
    settings, model = exported_settings(graph, info.model, num_classes, build_model(info.model, num_classes))
    restore_model(model, folder)
    crop = graph.pooling_crop(settings["output_stride"], backbone(info.model).tf1_scope) or info.input_size
    images = [image if image.shape[:2] == crop else cv2.resize(image, crop[::-1], interpolation=cv2.INTER_AREA)
              for image in images]
    expected = graph.run(images, graph.logits_tensor())
    ours = [model(image[None].astype(np.float32)).numpy()[0] for image in images]
    if expected[0].shape != ours[0].shape:
        raise UserError(f"frozen graph {graph_path}: its logits are {list(expected[0].shape)} for a "
                        f"{crop[0]}×{crop[1]} image, the converted model's {list(ours[0].shape)}")
    return Verification(
        images=len(images), size=crop, output_stride=settings["output_stride"], atrous_rates=settings["atrous_rates"],
        max_difference=max(float(np.abs(a - b).max()) for a, b in zip(expected, ours)),
        largest=max(float(np.abs(a).max()) for a in expected),
        equal_labels=float(np.mean([np.mean(a.argmax(-1) == b.argmax(-1)) for a, b in zip(expected, ours)])))
