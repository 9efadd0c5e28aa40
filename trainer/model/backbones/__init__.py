"""The backbone registry: every backbone is declared here once, and the config schema's enums, the config
validation, the model builder and the tests all read it. It imports no TensorFlow (builders are named, and
loaded only when a model is built), so configs validate without TensorFlow."""
from dataclasses import dataclass
from importlib import import_module
from typing import Callable


@dataclass(frozen=True)
class Backbone:
    """One `model.backbone` of one `model.implementation`.

    builder_path: "module:function". tf_models: model_cfg → official.vision.configs.backbones.Backbone;
    deeplab: (images, output_stride, depth_multiplier, norm) → {"features", "low_level"} endpoints.
    options: the model keys only some backbones take (the others refuse values other than the default).
    deeplab builders return "low_level" (stride 4) and, with the option "decoder_output_stride", "low_level_os8".
    tf1_scope: research/deeplab's TF1 variable scope of the backbone (its checkpoints load by these names);
    None where there is no TF1 counterpart.
    decoder: False where research/deeplab defines no decoder end point (feature_extractor.py's
    networks_to_feature_maps): the builder returns "features" only and model.decoder must be false.
    """
    name: str
    implementation: str
    builder_path: str
    options: tuple[str, ...] = ()
    tf1_scope: str | None = None
    decoder: bool = True

    def builder(self) -> Callable:
        module, function = self.builder_path.split(":")
        return getattr(import_module(module), function)


# Declaration order is the order of the schema's enums (a test checks that they agree).
BACKBONES: tuple[Backbone, ...] = (
    Backbone("mobilenet_v2", "tf_models", "trainer.model.backbones.tf_models:mobilenet_v2",
             options=("depth_multiplier",)),
    Backbone("resnet_101", "tf_models", "trainer.model.backbones.tf_models:resnet_101"),
    *(Backbone(name, "tf_models", f"trainer.model.backbones.tf_models:{name}", options=("depth_multiplier",))
      for name in ("mobilenet_v3_large", "mobilenet_v3_small", "mobilenet_v4_conv_small", "mobilenet_v4_conv_medium",
                   "mobilenet_v4_conv_large", "mobilenet_v4_conv_medium_seg")),
    Backbone("mobilenet_v2", "deeplab", "trainer.model.backbones.mobilenet_v2:mobilenet_v2",
             options=("depth_multiplier",), tf1_scope="MobilenetV2"),
    *(Backbone(name, "deeplab", f"trainer.model.backbones.xception:{name}", tf1_scope=name)
      for name in ("xception_41", "xception_65", "xception_71")),
    Backbone("resnet_v1_50_beta", "deeplab", "trainer.model.backbones.resnet_v1_beta:resnet_v1_50_beta",
             tf1_scope="resnet_v1_50"),
    Backbone("resnet_v1_101_beta", "deeplab", "trainer.model.backbones.resnet_v1_beta:resnet_v1_101_beta",
             tf1_scope="resnet_v1_101"),
    # research/deeplab's mobilenet_v3_{large,small}_seg (one TF1 scope for both), with stride-4 and stride-8
    # decoder end points.
    *(Backbone(name, "deeplab", f"trainer.model.backbones.mobilenet_v3:{name}",
               options=("depth_multiplier", "decoder_output_stride"), tf1_scope="MobilenetV3")
      for name in ("mobilenet_v3_large", "mobilenet_v3_small")),
    # research/deeplab's mobilenet_edgetpu (EdgeTPU-DeepLab / -slim): slim's V3_EDGETPU, no decoder end point.
    Backbone("mobilenet_edgetpu", "deeplab", "trainer.model.backbones.mobilenet_v3:mobilenet_edgetpu",
             options=("depth_multiplier",), tf1_scope="MobilenetEdgeTPU", decoder=False),
)


def backbone(model_cfg: dict) -> Backbone:
    """The entry of a (validated) `model` group: its `implementation` and `backbone`."""
    key = (model_cfg["implementation"], model_cfg["backbone"])
    for entry in BACKBONES:
        if (entry.implementation, entry.name) == key:
            return entry
    raise ValueError(f"model.implementation {key[0]!r} has no backbone {key[1]!r}")  # validation refuses it first


def _unique(values) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def names() -> tuple[str, ...]:
    """Every `model.backbone` value, in declaration order."""
    return _unique(entry.name for entry in BACKBONES)


def implementations() -> tuple[str, ...]:
    """Every `model.implementation` value, in declaration order."""
    return _unique(entry.implementation for entry in BACKBONES)


def names_by_implementation() -> dict[str, tuple[str, ...]]:
    """implementation → the backbone names it builds."""
    return {impl: _unique(e.name for e in BACKBONES if e.implementation == impl) for impl in implementations()}


def names_without_decoder() -> tuple[str, ...]:
    """The backbone names that have no decoder end point in some implementation."""
    return _unique(entry.name for entry in BACKBONES if not entry.decoder)


def names_with_option(option: str) -> tuple[str, ...]:
    """The backbone names that take the model key `option` (e.g. "depth_multiplier") in some implementation."""
    return _unique(entry.name for entry in BACKBONES if option in entry.options)
