"""research/deeplab TF1 variables (the model zoo's `model.ckpt`, or the constants of its frozen_inference_graph.pb:
trainer.model.tf1_source) onto our `implementation: "deeplab"` models.

No TF1 graph is built. Every layer is named keras_name(<TF1 scope>), so the TF1 name of each variable is derived from
its layer: one rule per layer type, no per-model table. Before anything is assigned, what fixes the weights (backbone,
decoder, ASPP branches, depth multiplier, classes) is compared with the config, each difference naming both sides.
A source without any head variable (ASPP, decoder, logits) is a backbone-only, ImageNet-pretrained checkpoint: it
loads the backbone and leaves the head fresh; its own classification head (`Logits`, `Conv_1`, `logits`) is ignored.
"""
import re
from dataclasses import dataclass, field

import tensorflow as tf
import tf_keras

from trainer.errors import UserError
from trainer.model.backbones import BACKBONES, backbone
from trainer.model.builder import classifier_variables
from trainer.model.deeplab_head import LOGITS, is_head_scope
from trainer.model.deeplab_layers import tf1_scope
from trainer.model.tf1_source import CHECKPOINT, Tf1Source, Tf1Target, Tf1Tensors

# Layer type → {Keras attribute: TF1 variable name under the layer's scope}. DepthwiseConv2D first: it must not
# be taken for a Conv2D whatever the class hierarchy.
_VARIABLES = (
    (tf_keras.layers.DepthwiseConv2D, {"depthwise_kernel": "depthwise_weights"}),
    (tf_keras.layers.Conv2D, {"kernel": "weights", "bias": "biases"}),
    (tf_keras.layers.BatchNormalization, {"gamma": "gamma", "beta": "beta", "moving_mean": "moving_mean",
                                          "moving_variance": "moving_variance"}),
)
# Training-only state in zoo / training checkpoints: optimizer slots and the step counter.
_TRAINING_STATE_SUFFIXES = ("/Momentum", "/ExponentialMovingAverage")
_TRAINING_STATE_NAMES = ("global_step",)
_CLASSIFIER = tf1_scope(LOGITS) + "/"
_SHOWN = 10   # names listed per problem kind before "… and N more"
_ASPP_BRANCH = re.compile(r"aspp(\d+)(_depthwise|_pointwise)?/")


def tf1_variables(model) -> dict[str, tf.Variable]:
    """TF1 name → our variable, for every variable of a research-DeepLab model."""
    names = {}
    for layer in model.network.layers:
        for layer_type, attributes in _VARIABLES:
            if isinstance(layer, layer_type):
                for attribute, tf1_name in attributes.items():
                    variable = getattr(layer, attribute, None)
                    if variable is not None:
                        names[f"{tf1_scope(layer.name)}/{tf1_name}"] = variable
                break
    if len(names) != len(model.weights):
        raise RuntimeError("tf1_variables: a model variable has no TF1 name: a layer type is missing in _VARIABLES")
    return names


def classifier_names(model) -> list[str]:
    """The TF1 names of the classifier (builder.classifier_variables): `logits/semantic`, or the sum-merge decoder's
    two convs, whose filters are the classes."""
    ids = {id(v) for v in classifier_variables(model)}
    return sorted(name for name, variable in tf1_variables(model).items() if id(variable) in ids)


def _listed(names: list[str]) -> str:
    more = f" … and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def is_training_state(name: str) -> bool:
    return name in _TRAINING_STATE_NAMES or name.endswith(_TRAINING_STATE_SUFFIXES)


def _layers(names: list[str]) -> list[str]:
    """The layer scopes of TF1 variable names, in order: `a/b/BatchNorm/gamma` → `a/b`."""
    return list(dict.fromkeys(n.rpartition("/")[0].removesuffix("/BatchNorm") for n in names))


def is_backbone_only(tensors: Tf1Tensors) -> bool:
    """No variable of research/deeplab's head (ASPP, decoder, logits/semantic): an ImageNet-pretrained backbone."""
    return not any(is_head_scope(n) for n in tensors.variables)


@dataclass(frozen=True)
class Tf1Load:
    source: Tf1Source
    loaded: list[str]
    skipped: list[str]         # ours, not loaded on purpose: the classifier under transfer_learning
    training_state: list[str]  # in the checkpoint, ignored: optimizer slots, global_step
    unused: list[str]          # in the source, ignored: no layer of ours has that name
    fresh: list[str] = field(default_factory=list)   # ours, left as initialised: the head of a backbone-only source

    def summary(self, mode: str) -> str:
        line = f"weights from {self.source.label} ({mode}): {len(self.loaded)} loaded"
        if self.fresh:
            line += f" (the backbone, {self.loaded[0].split('/')[0]}/…)"
        if self.source.kind == CHECKPOINT:
            line += f", {len(self.training_state)} ignored (optimizer slots / global_step)"
        if self.unused:
            what = "its classification head" if self.fresh else "not in this model"
            line += f", {len(self.unused)} ignored ({what}: {_listed(_layers(self.unused))})"
        if self.fresh:
            line += (f", {len(self.fresh)} fresh (a backbone-only checkpoint; ASPP, decoder and classifier start "
                     f"from their initialisers: {_listed(_layers(self.fresh))})")
        if self.skipped:
            line += f", {len(self.skipped)} skipped and random (the classifier {_listed(_layers(self.skipped))})"
        if mode == "continue_training":
            line += "; the optimizer starts fresh (a TF1 source's slots are not ours)"
        return line


def _flag(value: bool) -> str:
    return str(value).lower()


def architecture_problems(tensors: Tf1Tensors, target: Tf1Target, ours: dict, check_classes: bool,
                          classifier: list[str] | None = None) -> list[str]:
    """What fixes the weights, in the source and in the config (`ours`: tf1_variables of its model; `classifier`:
    its classifier_names, default logits/semantic): each difference names both."""
    shapes, cfg, where = tensors.shapes, target.model_cfg, f"{target.what} {tensors.source.path}"
    entry = backbone(cfg)
    held = sorted({b.tf1_scope for b in BACKBONES if b.tf1_scope and any(n.startswith(b.tf1_scope + "/")
                                                                         for n in shapes)})
    if entry.tf1_scope not in held:
        return [f"{where}: holds the backbone {' and '.join(held) or '(none known)'}, but model.backbone is "
                f"{cfg['backbone']!r} ({entry.tf1_scope}) in {target.config}"]
    problems = []
    if "depth_multiplier" in entry.options:   # the stem's width, the first variable of the backbone
        stem = next(n for n in ours if n.startswith(entry.tf1_scope + "/"))
        theirs, width = shapes.get(stem, [0])[-1], ours[stem].shape[-1]
        if stem in shapes and theirs != width:
            problems.append(f"{where}: {stem} has {theirs} output channels (depth multiplier about "
                            f"{cfg['depth_multiplier'] * theirs / width:.2g}), but {width} with "
                            f"model.depth_multiplier {cfg['depth_multiplier']} in {target.config}")
    if is_backbone_only(tensors):
        return problems   # no head to compare: the config's starts fresh
    decoder = any(n.startswith("decoder/") for n in shapes)
    if decoder != cfg["decoder"]:
        problems.append(f"{where}: {'has a' if decoder else 'has no'} decoder (decoder/…), but model.decoder is "
                        f"{_flag(cfg['decoder'])} in {target.config}")
    cell = any(n.startswith("meta_architecture/") for n in shapes)
    if cell != cfg.get("dense_prediction_cell", False):
        problems.append(f"{where}: {'has a' if cell else 'has no'} Dense Prediction Cell (meta_architecture/…), but "
                        f"model.dense_prediction_cell is {_flag(cfg.get('dense_prediction_cell', False))} in "
                        f"{target.config}")
    branches = max((int(m.group(1)) for n in shapes if (m := _ASPP_BRANCH.match(n))), default=0)
    if branches != len(cfg["atrous_rates"]):
        problems.append(f"{where}: has {branches} atrous ASPP branch(es) (aspp1…), but model.atrous_rates "
                        f"{cfg['atrous_rates']} has {len(cfg['atrous_rates'])} in {target.config}")
    kernel = next(n for n in classifier or [_CLASSIFIER + "weights"] if n.endswith("/weights"))
    classes = ours[kernel].shape[-1]
    if check_classes and kernel in shapes and shapes[kernel][-1] != classes:
        problems.append(f"{where}: has {shapes[kernel][-1]} classes ({kernel}), but {target.classes} has {classes}")
    return problems


def load_tf1(model, tensors: Tf1Tensors, target: Tf1Target, skip_classifier: bool) -> Tf1Load:
    """Assign every variable of `model` from the source (but the classifier if `skip_classifier`). A backbone-only
    source (ImageNet) gives the backbone only, and only where the classifier may be skipped: the head stays fresh.

    All problems are found before anything is assigned: an architecture that differs from the config, a missing
    variable or a shape mismatch is a UserError naming it.
    """
    where, noun = f"{target.what} {tensors.source.path}", tensors.source.noun
    shapes, targets, classifier = tensors.shapes, tf1_variables(model), classifier_names(model)
    problems = architecture_problems(tensors, target, targets, not skip_classifier, classifier)
    if problems:
        raise UserError(*problems)
    backbone_only = is_backbone_only(tensors)
    if backbone_only and not skip_classifier:
        raise UserError(f"{where}: holds only a backbone (no ASPP, decoder or {_CLASSIFIER[:-1]} variables: an "
                        "ImageNet-pretrained checkpoint); it can start a training run (init_weights with "
                        "weights_init_type transfer_learning), not give a whole model")
    fresh = sorted(n for n in targets if backbone_only and is_head_scope(n))
    skipped = [n for n in classifier if skip_classifier and not backbone_only]
    wanted = {n: v for n, v in targets.items() if n not in skipped and n not in fresh}
    missing = sorted(n for n in wanted if n not in shapes)
    mismatched = [f"{n}: shape {shapes[n]} in the {noun}, {wanted[n].shape.as_list()} in the model"
                  for n in sorted(wanted) if n in shapes and shapes[n] != wanted[n].shape.as_list()]
    if missing:
        problems.append(f"{where}: {len(missing)} {'backbone ' if backbone_only else ''}variable(s) missing from the "
                        f"{noun}: {_listed(missing)} "
                        "(is it a checkpoint of this backbone / depth_multiplier / decoder?)")
    problems += [f"{where}: variable {line}" for line in mismatched[:_SHOWN]]
    if len(mismatched) > _SHOWN:
        problems.append(f"{where}: … and {len(mismatched) - _SHOWN} more shape mismatches")
    if problems:
        raise UserError(*problems)
    for name, variable in wanted.items():
        variable.assign(tensors.get(name))
    rest = sorted(tensors.variables - set(targets))
    return Tf1Load(source=tensors.source, loaded=sorted(wanted), skipped=skipped,
                   training_state=[n for n in rest if is_training_state(n)],
                   unused=[n for n in rest if not is_training_state(n)], fresh=fresh)
