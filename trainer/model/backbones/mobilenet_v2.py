"""MobileNetV2 exactly as research/deeplab builds it from slim's V2_DEF (tf-models-official's differs)."""

import tf_keras

from trainer.model.deeplab_layers import AtrousSchedule, Norm, conv_bn, depthwise_bn, keras_name

SCOPE = "MobilenetV2"
# (expansion factor, output channels, stride) of expanded_conv, expanded_conv_1 … expanded_conv_16.
# DeepLab stops at layer_18 (expanded_conv_16, 320 ch): slim's final 1280-channel conv is not built.
EXPANDED_CONVS = [(1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 32, 1), (6, 64, 2),
                  (6, 64, 1), (6, 64, 1), (6, 64, 1), (6, 96, 1), (6, 96, 1), (6, 96, 1), (6, 160, 2),
                  (6, 160, 1), (6, 160, 1), (6, 320, 1)]
# The decoder's stride-4 feature: `layer_4/depthwise_output` = expanded_conv_2's depthwise after ReLU6.
LOW_LEVEL_INDEX = 2
BN_EPSILON = 1e-3


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """slim mobilenet's `_make_divisible`: round to a multiple of `divisor`, never more than 10% down."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def channels(base: int, depth_multiplier: float) -> int:
    """DeepLab passes min_depth = divisible_by = 8 at multiplier 1.0, and 1 / 1 below it."""
    step = 8 if depth_multiplier == 1.0 else 1
    return make_divisible(base * depth_multiplier, step, step)


def _expanded_conv(x, scope, expansion, out_channels, stride, rate, norm):
    """Inverted residual: 1×1 expand (ReLU6) → depthwise (ReLU6) → 1×1 linear project, + input if shapes allow."""
    inputs, in_channels = x, x.shape[-1]
    inner = in_channels if expansion == 1 else make_divisible(in_channels * expansion, 8)
    if inner > in_channels:
        x = conv_bn(x, inner, 1, f"{scope}/expand", norm, "relu6")
    depthwise = x = depthwise_bn(x, f"{scope}/depthwise", norm, "relu6", stride=stride, rate=rate)
    x = conv_bn(x, out_channels, 1, f"{scope}/project", norm)
    if stride == 1 and out_channels == in_channels:
        x = tf_keras.layers.Add(name=keras_name(f"{scope}/add"))([x, inputs])
    return x, depthwise


def mobilenet_v2(images, output_stride: int, depth_multiplier: float = 1.0, norm: Norm = Norm()) -> dict:
    """`features` = layer_18 (stride `output_stride`), `low_level` = layer_4/depthwise_output (stride 4)."""
    norm = norm.with_epsilon(BN_EPSILON)
    schedule = AtrousSchedule(output_stride)
    stride, _ = schedule.next(2)   # a 3×3 conv never gets a rate here: stride 2 is always below the target
    x = conv_bn(images, channels(32, depth_multiplier), 3, f"{SCOPE}/Conv", norm, "relu6", stride=stride)
    endpoints = {}
    for i, (expansion, out, nominal_stride) in enumerate(EXPANDED_CONVS):
        stride, rate = schedule.next(nominal_stride)
        scope = f"{SCOPE}/expanded_conv" + (f"_{i}" if i else "")
        x, depthwise = _expanded_conv(x, scope, expansion, channels(out, depth_multiplier), stride, rate, norm)
        if i == LOW_LEVEL_INDEX:
            endpoints["low_level"] = depthwise
    endpoints["features"] = x
    return endpoints
