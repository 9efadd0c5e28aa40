"""Building blocks shared by the research-DeepLab backbones and head, named after the TF1 scopes.

Every layer is named `keras_name(<TF1 scope>)` so that a model-zoo variable `<scope>/weights` or
`<scope>/BatchNorm/gamma` maps one-to-one to a layer (Keras names cannot contain '/').
"""
from dataclasses import dataclass, replace

import tensorflow as tf
import tf_keras

# TF1 scopes use letters, digits and '_' only, so '-' for '/' is reversible.
_SEP = "-"


def keras_name(tf1_scope: str) -> str:
    return tf1_scope.replace("/", _SEP)


def tf1_scope(layer_name: str) -> str:
    return layer_name.replace(_SEP, "/")


@dataclass(frozen=True)
class Norm:
    """BatchNorm settings; each part sets its own epsilon (DeepLab: 1e-3 in backbones, 1e-5 in the head). Every
    BatchNorm has gamma and beta: slim's MobileNetV2 sets center and scale in its architecture (V2_DEF), DeepLab's
    Xception and head in their batch-norm parameters."""
    momentum: float = 0.997
    synchronized: bool = False
    epsilon: float = 1e-3

    def with_epsilon(self, epsilon: float) -> "Norm":
        return replace(self, epsilon=epsilon)

    def __call__(self, x, scope: str):
        return tf_keras.layers.BatchNormalization(epsilon=self.epsilon, momentum=self.momentum,
                                                  synchronized=self.synchronized,
                                                  name=keras_name(f"{scope}/BatchNorm"))(x)


class HardSwish(tf_keras.layers.Layer):
    """slim mobilenet_v3's hard_swish: x · relu6(x + 3) / 6."""

    def call(self, x):
        return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


class HardSigmoid(tf_keras.layers.Layer):
    """slim mobilenet_v3's squeeze-excite gate and research/deeplab's q_sigmoid: relu6(x + 3) · 0.16667 (their
    constant, not 1/6)."""

    def call(self, x):
        return tf.nn.relu6(x + 3.0) * 0.16667


_ACTIVATIONS = {"hard_swish": HardSwish, "hard_sigmoid": HardSigmoid}


def activate(x, activation: str | None, name: str):
    """`relu`, `relu6` (MobileNetV2), `hard_swish`, `hard_sigmoid` (MobileNetV3) or None (linear)."""
    if activation is None:
        return x
    if activation in _ACTIVATIONS:
        return _ACTIVATIONS[activation](name=keras_name(name))(x)
    return tf_keras.layers.ReLU(max_value=6.0 if activation == "relu6" else None, name=keras_name(name))(x)


def _padding(x, kernel: int, stride: int, rate: int, fixed: bool, scope: str) -> tuple:
    """research/deeplab's `fixed_padding`: a stride-2 conv pads symmetrically, then runs VALID (not TF SAME)."""
    if stride == 1 or not fixed:
        return x, "same"
    total = kernel + (kernel - 1) * (rate - 1) - 1
    begin = total // 2
    pad = tf_keras.layers.ZeroPadding2D(((begin, total - begin), (begin, total - begin)),
                                        name=keras_name(f"{scope}/fixed_padding"))
    return pad(x), "valid"


def conv_bn(x, filters: int, kernel: int, scope: str, norm: Norm, activation: str | None = None,
            stride: int = 1, rate: int = 1, fixed_padding: bool = False):
    """slim.conv2d with batch norm: conv (no bias) → BN → activation."""
    x, padding = _padding(x, kernel, stride, rate, fixed_padding, scope)
    x = tf_keras.layers.Conv2D(filters, kernel, strides=stride, dilation_rate=rate, padding=padding,
                               use_bias=False, name=keras_name(scope))(x)
    return activate(norm(x, scope), activation, f"{scope}/{activation}")


def conv_bias(x, filters: int, kernel: int, scope: str, activation: str | None = None):
    """slim.conv2d with normalizer_fn=None: conv with biases → activation (no BatchNorm)."""
    x = tf_keras.layers.Conv2D(filters, kernel, padding="same", name=keras_name(scope))(x)
    return activate(x, activation, f"{scope}/{activation}")


def depthwise_bn(x, scope: str, norm: Norm, activation: str | None = None, stride: int = 1, rate: int = 1,
                 fixed_padding: bool = False, kernel: int = 3):
    """slim.separable_conv2d with num_outputs=None: depthwise `kernel`×`kernel` → BN → activation."""
    x, padding = _padding(x, kernel, stride, rate, fixed_padding, scope)
    x = tf_keras.layers.DepthwiseConv2D(kernel, strides=stride, dilation_rate=rate, padding=padding, use_bias=False,
                                        name=keras_name(scope))(x)
    return activate(norm(x, scope), activation, f"{scope}/{activation}")


def split_separable(x, filters: int, scope: str, norm: Norm, activation: str | None = "relu", stride: int = 1,
                    rate: int = 1, fixed_padding: bool = False):
    """DeepLab's split separable conv: `<scope>_depthwise` (→ BN → act), `<scope>_pointwise` 1×1 (→ BN → act)."""
    x = depthwise_bn(x, f"{scope}_depthwise", norm, activation, stride, rate, fixed_padding)
    return conv_bn(x, filters, 1, f"{scope}_pointwise", norm, activation)


class AtrousSchedule:
    """DeepLab's output-stride rule (slim's stack_blocks_dense / mobilenet_base): once the target stride is
    reached, each further stride becomes 1 and multiplies the atrous rate of the layers after it."""

    def __init__(self, output_stride: int):
        self.output_stride, self.current, self.rate = output_stride, 1, 1

    def next(self, stride: int) -> tuple[int, int]:
        """(stride, rate) for a layer that nominally has `stride`."""
        if self.current == self.output_stride:
            rate = self.rate
            self.rate *= stride
            return 1, rate
        self.current *= stride
        if self.current > self.output_stride:
            raise ValueError(f"output stride {self.output_stride} cannot be reached")
        return stride, 1


class ResizeAlignCorners(tf_keras.layers.Layer):
    """Bilinear resize of `x` to the spatial size of `like`, with align_corners=True as DeepLab does."""

    def call(self, inputs):
        x, like = inputs
        resized = tf.raw_ops.ResizeBilinear(images=x, size=tf.shape(like)[1:3], align_corners=True)
        return tf.cast(resized, x.dtype)   # the op always returns float32
