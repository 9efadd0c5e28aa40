"""research/deeplab TF1 checkpoints (the model zoo's `model.ckpt`) onto our `implementation: "deeplab"` models.

Read with tf.train.load_checkpoint, so no TF1 graph is built. Every layer is named keras_name(<TF1 scope>), so
the TF1 name of each variable is derived from its layer: one rule per layer type, no per-model table.
"""
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf
import tf_keras

from trainer.errors import UserError
from trainer.model.deeplab_head import LOGITS
from trainer.model.deeplab_layers import tf1_scope

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


def find_tf1_checkpoint(path: Path) -> str | None:
    """The TF1 checkpoint prefix `path` (…/model.ckpt) or the one inside folder `path` (the unpacked zoo tarball);
    None if `path` is neither."""
    if Path(f"{path}.index").is_file():
        return str(path)
    indexes = sorted(path.glob("model.ckpt*.index")) if path.is_dir() else []
    if len(indexes) > 1:
        raise UserError(f"{path}: holds several TF1 checkpoints ({', '.join(p.name[:-6] for p in indexes)}): "
                        "pass one model.ckpt… prefix")
    return str(indexes[0])[:-len(".index")] if indexes else None


def _listed(names: list[str]) -> str:
    more = f" … and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def is_training_state(name: str) -> bool:
    return name in _TRAINING_STATE_NAMES or name.endswith(_TRAINING_STATE_SUFFIXES)


@dataclass(frozen=True)
class Tf1Load:
    loaded: list[str]
    skipped: list[str]         # ours, not loaded on purpose: the classifier under transfer_learning
    training_state: list[str]  # in the checkpoint, ignored: optimizer slots, global_step
    unused: list[str]          # in the checkpoint, ignored: no layer of ours has that name

    def summary(self, prefix: str, mode: str) -> str:
        line = (f"weights from TF1 checkpoint {prefix} ({mode}): {len(self.loaded)} loaded, "
                f"{len(self.training_state)} ignored (optimizer slots / global_step)")
        if self.unused:
            line += f", {len(self.unused)} ignored (not in this model: {_listed(self.unused)})"
        if self.skipped:
            line += f", {len(self.skipped)} skipped and random (the classifier {_CLASSIFIER[:-1]})"
        if mode == "continue_training":
            line += "; the optimizer starts fresh (a TF1 checkpoint's slots are not ours)"
        return line


def load_tf1(model, prefix: str, skip_classifier: bool) -> Tf1Load:
    """Assign every variable of `model` from the checkpoint (but the classifier if `skip_classifier`).

    All problems are found before anything is assigned: a missing variable or a shape mismatch is a
    UserError naming the variable.
    """
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as err:
        raise UserError(f"init_weights {prefix}: not a readable TF1 checkpoint ({str(err).splitlines()[0]})") from None
    shapes = reader.get_variable_to_shape_map()
    targets = tf1_variables(model)
    skipped = sorted(n for n in targets if skip_classifier and n.startswith(_CLASSIFIER))
    wanted = {n: v for n, v in targets.items() if n not in skipped}
    missing = sorted(n for n in wanted if n not in shapes)
    mismatched = [f"{n}: shape {list(shapes[n])} in the checkpoint, {wanted[n].shape.as_list()} in the model"
                  for n in sorted(wanted) if n in shapes and list(shapes[n]) != wanted[n].shape.as_list()]
    problems = []
    if missing:
        problems.append(f"init_weights {prefix}: {len(missing)} variable(s) missing from the checkpoint: "
                        f"{_listed(missing)} (is it a checkpoint of this backbone / depth_multiplier / decoder?)")
    problems += [f"init_weights {prefix}: variable {line}" for line in mismatched[:_SHOWN]]
    if len(mismatched) > _SHOWN:
        problems.append(f"init_weights {prefix}: … and {len(mismatched) - _SHOWN} more shape mismatches")
    if problems:
        raise UserError(*problems)
    for name, variable in wanted.items():
        variable.assign(reader.get_tensor(name))
    rest = sorted(set(shapes) - set(targets))
    return Tf1Load(loaded=sorted(wanted), skipped=skipped,
                   training_state=[n for n in rest if is_training_state(n)],
                   unused=[n for n in rest if not is_training_state(n)])
