"""Optimizer and learning-rate schedule from the config: the plugin's constant-rate Adam by default,
DeepLab's poly-decayed SGD with momentum as an option."""
from typing import Callable

import tensorflow as tf
import tf_keras
from official.modeling.optimization.lr_schedule import LinearWarmup

# Decoupled weight decay applies to convolution kernels only, as DeepLab regularised only those.
_NO_DECAY = ["gamma", "beta", "bias"]

# Kernels slim's l2_regularizer covered in DeepLab: regular and pointwise convolutions. Its MobileNet and
# Xception scopes set no regularizer on depthwise weights, which Keras names "depthwise_kernel".
_L2_REGULARIZED = ("kernel", "pointwise_kernel")


def l2_regularized(variables: list[tf.Variable]) -> list[tf.Variable]:
    """The variables `optimizer.l2_regularization` penalises, chosen by name as DeepLab's arg scopes chose them."""
    return [v for v in variables if v.name.rsplit("/", 1)[-1].split(":")[0] in _L2_REGULARIZED]


def make_optimizer(cfg: dict) -> tf_keras.optimizers.Optimizer:
    """The learning rate is a variable the loop sets from the schedule before each step, so the schedule
    follows the run's own step (continue_training restores a checkpoint's optimizer, step count included)."""
    opt = cfg["optimizer"]
    common = {"learning_rate": cfg["lr"], "weight_decay": opt["weight_decay"] or None,
              "global_clipnorm": opt["clip_norm"] or None}
    if opt["name"] == "sgd":
        optimizer = tf_keras.optimizers.SGD(momentum=opt["momentum"], **common)
    else:
        optimizer = tf_keras.optimizers.Adam(**common)
    if opt["weight_decay"]:
        optimizer.exclude_from_weight_decay(var_names=_NO_DECAY)
    return optimizer


def lr_schedule(cfg: dict, total_steps: int, iters_per_epoch: int) -> Callable[[int], float]:
    """step (0-based, the update about to be made) → learning rate."""
    sched, lr = cfg["lr_schedule"], cfg["lr"]
    if sched["name"] == "poly":
        decay = tf_keras.optimizers.schedules.PolynomialDecay(lr, total_steps, sched["end_lr"], power=sched["power"])
    elif sched["name"] == "cosine":
        decay = tf_keras.optimizers.schedules.CosineDecay(lr, total_steps, alpha=sched["end_lr"] / lr)
    else:
        decay = lr
    warmup_steps = round(sched["warmup_epochs"] * iters_per_epoch)
    if warmup_steps:
        decay = LinearWarmup(decay, warmup_steps, warmup_learning_rate=0.0)
    if isinstance(decay, float):
        return lambda step: decay
    return lambda step: float(decay(step))
