"""MobileNetV3 large / small and MobileNet-EdgeTPU exactly as research/deeplab builds them for its Cityscapes models:
core/feature_extractor.py's `mobilenet_v3_{large,small}_seg`, slim's V3_LARGE / V3_SMALL
(nets/mobilenet/mobilenet_v3.py) with the last stage's outputs halved, up to the last 1×1 conv (no pooling, no
1280 / 1024 classification conv); and its `mobilenet_edgetpu`, slim's V3_EDGETPU up to layer_24 (its 1280-channel
1×1 conv). tf-models-official's MobileNetV3 (the `tf_models` entries of the same names) is the full-width
classification network."""
from dataclasses import dataclass

import tf_keras

from trainer.model.backbones.mobilenet_v2 import make_divisible
from trainer.model.deeplab_layers import (AtrousSchedule, Norm, activate, conv_bias, conv_bn, depthwise_bn,
                                          keras_name)

BN_EPSILON = 1e-3         # mobilenet_v2_arg_scope passes no epsilon: slim.batch_norm's default
SQUEEZE_FACTOR = 4        # mobilenet_v3.py's squeeze_excite partial


@dataclass(frozen=True)
class Block:
    """One mbv3_op: expanded_conv with `expansion` × input channels (make_divisible 8), a `kernel` depthwise with
    `stride`, `activation` in both inner convs, squeeze-excite on the depthwise output if `se`, linear projection.
    `fused` (mbv3_fused): the expansion is a `kernel` full conv with the stride and there is no depthwise.
    `residual` False: no shortcut even where shapes allow one."""
    expansion: float
    out: int
    kernel: int
    stride: int
    activation: str
    se: bool = False
    fused: bool = False
    residual: bool = True


RELU, HSWISH = "relu", "hard_swish"
# The _seg variants divide num_outputs of spec[13..16] (large) / spec[9..12] (small) by 2 and set those blocks'
# expansions to 336, 480, 480 / 144, 288, 288 channels: as factors of the previous block's (by then halved)
# outputs, 3, 6, 6.
LARGE = (Block(1, 16, 3, 1, RELU), Block(4, 24, 3, 2, RELU), Block(3, 24, 3, 1, RELU),
         Block(3, 40, 5, 2, RELU, True), Block(3, 40, 5, 1, RELU, True), Block(3, 40, 5, 1, RELU, True),
         Block(6, 80, 3, 2, HSWISH), Block(2.5, 80, 3, 1, HSWISH), Block(184 / 80, 80, 3, 1, HSWISH),
         Block(184 / 80, 80, 3, 1, HSWISH), Block(6, 112, 3, 1, HSWISH, True), Block(6, 112, 3, 1, HSWISH, True),
         Block(3, 80, 5, 2, HSWISH, True), Block(6, 80, 5, 1, HSWISH, True), Block(6, 80, 5, 1, HSWISH, True))
SMALL = (Block(1, 16, 3, 2, RELU, True), Block(72 / 16, 24, 3, 2, RELU), Block(88 / 24, 24, 3, 1, RELU),
         Block(4, 40, 5, 2, HSWISH, True), Block(6, 40, 5, 1, HSWISH, True), Block(6, 40, 5, 1, HSWISH, True),
         Block(3, 48, 5, 1, HSWISH, True), Block(3, 48, 5, 1, HSWISH, True), Block(3, 48, 5, 2, HSWISH, True),
         Block(6, 48, 5, 1, HSWISH, True), Block(6, 48, 5, 1, HSWISH, True))

def _fused(expansion, out, stride=1):
    return Block(expansion, out, 3, stride, RELU, fused=True)


# slim's V3_EDGETPU: ReLU everywhere (DEFAULTS and mbv3_op's default), no squeeze-excite; fused blocks up to stride 8.
EDGETPU = (_fused(1, 16), _fused(8, 32, 2), *(_fused(4, 32),) * 3, _fused(8, 48, 2), *(_fused(4, 48),) * 3,
           Block(8, 96, 3, 2, RELU), *(Block(4, 96, 3, 1, RELU),) * 3, Block(8, 96, 3, 1, RELU, residual=False),
           *(Block(4, 96, 3, 1, RELU),) * 3, Block(8, 160, 5, 2, RELU), *(Block(4, 160, 5, 1, RELU),) * 3,
           Block(8, 192, 3, 1, RELU))


@dataclass(frozen=True)
class Variant:
    """One network of the family: TF1 scope (feature_extractor.py's name_scope), stem 3×3 stride-2 conv, blocks,
    and the final endpoint, a 1×1 conv (the `_seg` variants: layer_17 / layer_13, half of slim's 960 / 576;
    EdgeTPU: layer_24). `decoder`: feature_extractor.py's DECODER_END_POINTS as block indices, {stride:
    layer_N/depthwise_output}, layer_N being spec[N − 1] with the stem spec[0], so block index N − 2."""
    scope: str
    stem: tuple[int, str]
    blocks: tuple[Block, ...]
    last_conv: tuple[int, str]
    decoder: dict[int, int]


VARIANTS = {
    "large": Variant("MobilenetV3", (16, HSWISH), LARGE, (480, HSWISH), {4: 2, 8: 5}),   # layer_4 / layer_7
    "small": Variant("MobilenetV3", (16, HSWISH), SMALL, (288, HSWISH), {4: 0, 8: 2}),   # layer_2 / layer_4
    # No DECODER_END_POINTS entry for mobilenet_edgetpu: research/deeplab builds it without a decoder.
    "edgetpu": Variant("MobilenetEdgeTPU", (32, RELU), EDGETPU, (1280, RELU), {}),
}


def _squeeze_excite(x, scope, channels):
    """conv_blocks.squeeze_excite: global mean → 1×1 conv (biases) ReLU → 1×1 conv (biases) hard sigmoid → × x;
    the squeeze width make_divisible(channels / 4, 8)."""
    gate = tf_keras.layers.GlobalAveragePooling2D(keepdims=True, name=keras_name(f"{scope}/mean"))(x)
    gate = conv_bias(gate, make_divisible(channels / SQUEEZE_FACTOR, 8), 1, f"{scope}/Conv", "relu")
    gate = conv_bias(gate, channels, 1, f"{scope}/Conv_1", "hard_sigmoid")
    return tf_keras.layers.Multiply(name=keras_name(f"{scope}/multiply"))([x, gate])


def _expanded_conv(x, scope, block: Block, out, stride, rate, norm):
    """conv_blocks.expanded_conv: 1×1 expand (if wider) → depthwise → [squeeze-excite] → 1×1 linear project,
    + input where stride 1 and the channels agree. Fused: the expansion (if wider) is the `kernel` conv with the
    stride (mbv3_fused binds it; slim gives it no rate) and nothing else precedes the projection. Returns (output,
    depthwise output before the SE; None if fused)."""
    inputs, in_channels = x, x.shape[-1]
    inner = make_divisible(in_channels * block.expansion, 8)
    if inner > in_channels:
        x = conv_bn(x, inner, block.kernel if block.fused else 1, f"{scope}/expand", norm, block.activation,
                    stride=stride if block.fused else 1)
    depthwise = None
    if not block.fused:
        depthwise = x = depthwise_bn(x, f"{scope}/depthwise", norm, block.activation, stride=stride, rate=rate,
                                     kernel=block.kernel)
    if block.se:
        x = _squeeze_excite(x, f"{scope}/squeeze_excite", inner)
    x = conv_bn(x, out, 1, f"{scope}/project", norm)
    if block.residual and stride == 1 and out == in_channels:
        x = tf_keras.layers.Add(name=keras_name(f"{scope}/add"))([x, inputs])
    return x, depthwise


def _mobilenet_v3(name: str, variant: Variant):
    def build(images, output_stride: int, depth_multiplier: float = 1.0, norm: Norm = Norm()) -> dict:
        """`features` (stride `output_stride`) and the variant's decoder end points, `low_level` (stride 4) and
        `low_level_os8` (stride 8), each a block's depthwise output after its activation."""
        def width(channels):   # mobilenet.py's depth_multiplier op: divisible_by = min_depth = 8
            return make_divisible(channels * depth_multiplier, 8, 8)

        norm = norm.with_epsilon(BN_EPSILON)
        schedule = AtrousSchedule(output_stride)
        stride, _ = schedule.next(2)
        (stem, stem_activation), (last, last_activation) = variant.stem, variant.last_conv
        x = conv_bn(images, width(stem), 3, f"{variant.scope}/Conv", norm, stem_activation, stride=stride)
        endpoints, decoder = {}, {index: stride for stride, index in variant.decoder.items()}
        for i, block in enumerate(variant.blocks):
            stride, rate = schedule.next(block.stride)
            scope = f"{variant.scope}/expanded_conv" + (f"_{i}" if i else "")
            x, depthwise = _expanded_conv(x, scope, block, width(block.out), stride, rate, norm)
            if i in decoder:
                endpoints["low_level" if decoder[i] == 4 else "low_level_os8"] = depthwise
        endpoints["features"] = conv_bn(x, width(last), 1, f"{variant.scope}/Conv_1", norm, last_activation)
        return endpoints
    build.__name__ = build.__qualname__ = name
    return build


mobilenet_v3_large = _mobilenet_v3("mobilenet_v3_large", VARIANTS["large"])
mobilenet_v3_small = _mobilenet_v3("mobilenet_v3_small", VARIANTS["small"])
mobilenet_edgetpu = _mobilenet_v3("mobilenet_edgetpu", VARIANTS["edgetpu"])
