"""Where a run's starting weights come from, with the Supervisely plugin's two `weights_init_type` modes.

transfer_learning: every weight of the checkpoint except the classifier (logits), no optimizer state; the
classes come from the project. continue_training: everything, optimizer included; the project's classes
must be exactly the checkpoint's. init_weights may also be a research/deeplab TF1 checkpoint (model zoo) for the
`implementation: "deeplab"` models, or its frozen_inference_graph.pb (trainer.model.tf1_import); it holds no
classes nor usable optimizer state. A backbone-only file (ImageNet) starts the backbone under transfer_learning:
research/deeplab's and slim's TF1 checkpoints for `deeplab`, tf-models-official's `backbone` checkpoints for
`tf_models` (trainer.model.tf2_backbone).
"""
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf
import tf_keras

from trainer.data.classes import ClassMapping
from trainer.errors import UserError
from trainer.model.builder import build_model, classifier_variables, is_research_deeplab
from trainer.model.checkpoint_folders import WEIGHTS_PREFIX, find_checkpoint
from trainer.model.checkpoint_info import CheckpointInfo
from trainer.model.checkpoints import restore_model
from trainer.model.init_mode import require_init_weights
from trainer.model.tf1_import import load_tf1
from trainer.model.tf1_source import Tf1Source, Tf1Target, find_tf1_source
from trainer.model.tf2_backbone import find_backbone_checkpoint, load_backbone

# Model keys that do not change which weights exist or their shapes.
_WEIGHTLESS_MODEL_KEYS = ("batchnorm_momentum",)


@dataclass(frozen=True)
class InitSource:
    checkpoint: Path
    info: CheckpointInfo | None   # None: a TF1 source (tf1)
    mode: str
    tf1: Tf1Source | None = None
    target: Tf1Target | None = None   # what a TF1 source must fit
    tf2_backbone: bool = False        # a tf-models-official backbone checkpoint (checkpoint: its prefix)


def init_source(cfg: dict, mapping: ClassMapping) -> InitSource | None:
    """Check, before anything is written, that `init_weights` can start this run; None = random weights."""
    mode = cfg["weights_init_type"]
    require_init_weights(cfg)
    if cfg["init_weights"] is None:
        return None
    if not is_research_deeplab(cfg["model"]) and (prefix := find_backbone_checkpoint(Path(cfg["init_weights"]))):
        if mode != "transfer_learning":
            raise UserError(f"init_weights {prefix}: a tf-models-official backbone checkpoint holds no head to "
                            "continue: use weights_init_type transfer_learning")
        return InitSource(Path(prefix), None, mode, tf2_backbone=True)
    tf1 = find_tf1_source(Path(cfg["init_weights"]))
    if tf1 is not None:
        if not is_research_deeplab(cfg["model"]):
            raise UserError(f"init_weights {tf1.path}: a research/deeplab {tf1.noun} needs "
                            'model.implementation "deeplab"')
        return InitSource(Path(tf1.path), None, mode, tf1, Tf1Target(cfg["model"], classes="the project"))
    checkpoint = find_checkpoint(Path(cfg["init_weights"]), "init_weights")
    info = CheckpointInfo.read(checkpoint)
    theirs, ours = info.model, cfg["model"]
    problems = [f"init_weights {checkpoint}: model.{key} is {theirs[key]!r} there but {ours[key]!r} in the config"
                for key in ours if key not in _WEIGHTLESS_MODEL_KEYS and theirs[key] != ours[key]]
    if mode == "continue_training":
        problems += [f"init_weights {checkpoint} (continue_training): {line}"
                     for line in info.classes.differences(mapping, "checkpoint", "project")]
        theirs_frozen = info.settings["freeze_batchnorm"] and info.settings["init_weights"] is not None
        if theirs_frozen != cfg["freeze_batchnorm"]:
            problems.append(f"init_weights {checkpoint} (continue_training): freeze_batchnorm is "
                            f"{str(theirs_frozen).lower()} there but {str(cfg['freeze_batchnorm']).lower()} in the config")
        if info.settings["optimizer"]["name"] != cfg["optimizer"]["name"]:
            problems.append(f"init_weights {checkpoint} (continue_training): optimizer.name is "
                            f"{info.settings['optimizer']['name']!r} there but {cfg['optimizer']['name']!r} "
                            "in the config (use transfer_learning to change optimizer)")
    if problems:
        raise UserError(*problems)
    return InitSource(checkpoint, info, mode)


def restore_all(model, optimizer, checkpoint: Path) -> None:
    """Model and optimizer state. The optimizer is built over all trainable weights first: its slots are
    saved by position in that list, so it must be the list the checkpoint was written with."""
    optimizer.build(model.trainable_variables)
    prefix = str(checkpoint / WEIGHTS_PREFIX)
    saved = sum(name.startswith("optimizer/_variables/") for name, _ in tf.train.list_variables(prefix))
    if saved != len(optimizer.variables) - 1:   # variables[0] is the step count, saved apart
        raise UserError(f"{checkpoint}: its optimizer state holds {saved} values, this run's optimizer "
                        f"{len(optimizer.variables) - 1}: the trainable weights differ; use transfer_learning")
    tf.train.Checkpoint(model=model, optimizer=optimizer).read(prefix).expect_partial()


def transfer(model, source: InitSource) -> tuple[int, int]:
    """Copy every weight but the classifier from the checkpoint; returns (copied, skipped) variable counts.

    The checkpoint's network is rebuilt with its own class count and restored, then copied variable by
    variable: the architectures are the same (init_source checked), so their weights line up in order.
    """
    donor = build_model(source.info.model, source.info.classes.num_classes)
    restore_model(donor, source.checkpoint)
    if any(not layer.trainable for layer in _batchnorm_layers(model)):
        freeze_batchnorm(donor)   # a frozen layer lists its weights after the trainable ones: the same order
    skip_donor = {id(v) for v in classifier_variables(donor)}
    skip_model = {id(v) for v in classifier_variables(model)}
    theirs = [v for v in donor.weights if id(v) not in skip_donor]
    ours = [v for v in model.weights if id(v) not in skip_model]
    if [v.shape for v in theirs] != [v.shape for v in ours]:
        raise RuntimeError("init_weights: same model config but different weights: a builder bug")
    for target, value in zip(ours, theirs):
        target.assign(value)
    return len(ours), len(skip_donor)


def initialise(model, optimizer, source: InitSource | None) -> str:
    """Apply the init mode; returns the loaded / skipped / missing summary line."""
    if source is None:
        return "weights: no init_weights, starting from random weights"
    if source.tf2_backbone:
        return load_backbone(model, str(source.checkpoint), source.mode)
    if source.tf1 is not None:
        loaded = load_tf1(model, source.tf1.open(), source.target, skip_classifier=source.mode == "transfer_learning")
        return loaded.summary(source.mode)
    if source.mode == "continue_training":
        restore_all(model, optimizer, source.checkpoint)
        return (f"weights from {source.checkpoint} (continue_training): {len(model.weights)} loaded, 0 skipped, "
                f"0 missing; optimizer state loaded (its step {int(optimizer.iterations.numpy())})")
    loaded, skipped = transfer(model, source)
    classifier = classifier_variables(model)
    return (f"weights from {source.checkpoint} (transfer_learning): {loaded} loaded, {skipped} skipped (the "
            f"classifier for {source.info.classes.num_classes} classes, and the optimizer state), {len(classifier)} "
            f"missing (a new classifier for {classifier[0].shape[-1]} classes, random)")


def _batchnorm_layers(model: tf_keras.Model) -> list[tf_keras.layers.BatchNormalization]:
    return [layer for layer in model.submodules if isinstance(layer, tf_keras.layers.BatchNormalization)]


def freeze_batchnorm(model: tf_keras.Model) -> int:
    """BatchNorm layers keep their moving statistics and scale/offset (Keras runs a non-trainable BatchNorm
    in inference mode): small batches would give them noisy statistics. Returns how many were frozen."""
    layers = _batchnorm_layers(model)
    for layer in layers:
        layer.trainable = False
    return len(layers)
