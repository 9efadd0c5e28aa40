"""DeepLab's aligned Xception-65 (research/deeplab core/xception.py), layer names from its TF1 scopes."""
import tf_keras

from trainer.model.deeplab_layers import AtrousSchedule, Norm, activate, conv_bn, keras_name, split_separable

SCOPE = "xception_65"
BN_EPSILON = 1e-3
# (scope, depths of the three separable convs, shortcut, units, stride, activation inside the separable convs)
BLOCKS = [
    ("entry_flow/block1", (128, 128, 128), "conv", 1, 2, False),
    ("entry_flow/block2", (256, 256, 256), "conv", 1, 2, False),
    ("entry_flow/block3", (728, 728, 728), "conv", 1, 2, False),
    ("middle_flow/block1", (728, 728, 728), "sum", 16, 1, False),
    ("exit_flow/block1", (728, 1024, 1024), "conv", 1, 2, False),
    ("exit_flow/block2", (1536, 1536, 2048), "none", 1, 1, True),
]
# The decoder's stride-4 feature: BN output (no ReLU yet) of this pointwise conv.
LOW_LEVEL = "entry_flow/block2/unit_1/xception_module/separable_conv2_pointwise"


def _xception_module(x, scope, depths, shortcut, stride, rate, activation_inside, norm, endpoints):
    """Three separable convs (the last one strided) plus a conv, identity or no shortcut; no ReLU after the sum.

    Without `activation_inside` each separable conv is ReLU(input) → depthwise → BN → pointwise → BN;
    with it (exit block2): depthwise → BN → ReLU → pointwise → BN → ReLU.
    """
    inputs, residual = x, x
    for i, depth in enumerate(depths):
        conv_scope = f"{scope}/separable_conv{i + 1}"
        if not activation_inside:
            residual = activate(residual, "relu", f"{conv_scope}_input_relu")
        residual = split_separable(residual, depth, conv_scope, norm, "relu" if activation_inside else None,
                                   stride=stride if i == 2 else 1, rate=rate, fixed_padding=True)
        endpoints[f"{conv_scope}_pointwise"] = residual
    if shortcut == "conv":
        projected = conv_bn(inputs, depths[-1], 1, f"{scope}/shortcut", norm, stride=stride)
        return tf_keras.layers.Add(name=keras_name(f"{scope}/add"))([residual, projected])
    if shortcut == "sum":
        return tf_keras.layers.Add(name=keras_name(f"{scope}/add"))([residual, inputs])
    return residual


def xception_65(images, output_stride: int, depth_multiplier: float = 1.0, norm: Norm = Norm()) -> dict:
    """`features` = exit flow output (2048 ch, stride `output_stride`), `low_level` = stride-4 feature (256 ch).

    `depth_multiplier` is accepted for a uniform backbone signature; Xception has none (the config refuses it).
    """
    norm = norm.with_epsilon(BN_EPSILON)
    schedule = AtrousSchedule(output_stride)
    stride, _ = schedule.next(2)
    x = conv_bn(images, 32, 3, f"{SCOPE}/entry_flow/conv1_1", norm, "relu", stride=stride, fixed_padding=True)
    x = conv_bn(x, 64, 3, f"{SCOPE}/entry_flow/conv1_2", norm, "relu")
    endpoints = {}
    for block, depths, shortcut, units, nominal_stride, activation_inside in BLOCKS:
        for unit in range(1, units + 1):
            stride, rate = schedule.next(nominal_stride)
            scope = f"{SCOPE}/{block}/unit_{unit}/xception_module"
            x = _xception_module(x, scope, depths, shortcut, stride, rate, activation_inside, norm, endpoints)
    return {"features": x, "low_level": endpoints[f"{SCOPE}/{LOW_LEVEL}"]}
