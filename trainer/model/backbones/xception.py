"""DeepLab's aligned Xception-41, -65 and -71 (research/deeplab core/xception.py), layer names from its TF1 scopes.

The three differ only in their block lists (xception_41 / xception_65_factory / xception_71_factory there): the
entry flow (71 splits each strided block of 65 into a stride-1 and a stride-2 block) and the middle flow's units.
"""
from dataclasses import dataclass

import tf_keras

from trainer.model.deeplab_layers import AtrousSchedule, Norm, activate, conv_bn, keras_name, split_separable

BN_EPSILON = 1e-3


@dataclass(frozen=True)
class Block:
    """One xception_block: `units` units of three separable convs, the last unit's last conv with `stride`.

    shortcut: "conv" (1×1 strided conv + BN), "sum" (identity) or "none"; activation_inside: see _xception_module.
    """
    scope: str
    depths: tuple[int, int, int]
    shortcut: str
    units: int
    stride: int
    activation_inside: bool = False


def _entry(*blocks: tuple[int, int]) -> tuple[Block, ...]:
    """Entry flow blocks (depth of all three convs, stride), each one unit with a conv shortcut."""
    return tuple(Block(f"entry_flow/block{i}", (depth,) * 3, "conv", 1, stride)
                 for i, (depth, stride) in enumerate(blocks, 1))


def _blocks(entry: tuple[Block, ...], middle_units: int) -> tuple[Block, ...]:
    return (*entry,
            Block("middle_flow/block1", (728, 728, 728), "sum", middle_units, 1),
            Block("exit_flow/block1", (728, 1024, 1024), "conv", 1, 2),
            Block("exit_flow/block2", (1536, 1536, 2048), "none", 1, 1, activation_inside=True))


_ENTRY_41_65 = _entry((128, 2), (256, 2), (728, 2))
BLOCKS = {
    "xception_41": _blocks(_ENTRY_41_65, 8),
    "xception_65": _blocks(_ENTRY_41_65, 16),
    "xception_71": _blocks(_entry((128, 2), (256, 1), (256, 2), (728, 1), (728, 2)), 16),
}
# The decoder's stride-4 feature (research/deeplab core/feature_extractor.py, DECODER_END_POINTS): BN output (no
# ReLU yet) of the second separable conv's pointwise in the last entry block before the stride-8 one.
LOW_LEVEL = {
    "xception_41": "entry_flow/block2/unit_1/xception_module/separable_conv2_pointwise",
    "xception_65": "entry_flow/block2/unit_1/xception_module/separable_conv2_pointwise",
    "xception_71": "entry_flow/block3/unit_1/xception_module/separable_conv2_pointwise",
}


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


def _xception(scope: str):
    """The builder of one Xception, under its research/deeplab TF1 scope (also the key of BLOCKS and LOW_LEVEL)."""
    def build(images, output_stride: int, depth_multiplier: float = 1.0, norm: Norm = Norm()) -> dict:
        """`features` = exit flow output (2048 ch, stride `output_stride`), `low_level` = stride-4 feature (256 ch).

        `depth_multiplier` is accepted for a uniform backbone signature; Xception has none (the config refuses it).
        """
        norm = norm.with_epsilon(BN_EPSILON)
        schedule = AtrousSchedule(output_stride)
        stride, _ = schedule.next(2)
        x = conv_bn(images, 32, 3, f"{scope}/entry_flow/conv1_1", norm, "relu", stride=stride, fixed_padding=True)
        x = conv_bn(x, 64, 3, f"{scope}/entry_flow/conv1_2", norm, "relu")
        endpoints = {}
        for block in BLOCKS[scope]:
            for unit in range(1, block.units + 1):
                # xception_block gives every unit the block's stride (all Xception blocks here have one unit
                # where the stride is 2).
                stride, rate = schedule.next(block.stride)
                module = f"{scope}/{block.scope}/unit_{unit}/xception_module"
                x = _xception_module(x, module, block.depths, block.shortcut, stride, rate, block.activation_inside,
                                     norm, endpoints)
        return {"features": x, "low_level": endpoints[f"{scope}/{LOW_LEVEL[scope]}"]}
    build.__name__ = build.__qualname__ = scope
    return build


xception_41 = _xception("xception_41")
xception_65 = _xception("xception_65")
xception_71 = _xception("xception_71")
