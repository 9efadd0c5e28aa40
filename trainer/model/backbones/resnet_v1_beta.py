"""research/deeplab's ResNet-v1 "beta" (core/resnet_v1_beta.py): slim's ResNet-v1 bottleneck network with the 7×7
stem replaced by three 3×3 convs, multi-grid rates in block4. Layer names are its TF1 scopes (`resnet_v1_101/…`), so
the zoo's `resnet_v1_{50,101}_beta_imagenet` checkpoints load by name."""
import tf_keras

from trainer.model.deeplab_layers import AtrousSchedule, Norm, activate, conv_bn, keras_name

# feature_extractor.py builds every ResNet under resnet_arg_scope(batch_norm_epsilon=1e-5, batch_norm_scale=True).
BN_EPSILON = 1e-5
# Atrous rates of block4's three units, times the rate the output stride gives it (DeepLab's --multi_grid=1,2,4).
MULTI_GRID = (1, 2, 4)
# (bottleneck depth, units) of block1..3; each block's last unit has stride 2, the others 1 (resnet_v1_beta_block).
# block4: 3 units of depth 512 at stride 1 with the multi-grid.
BLOCKS = {50: ((64, 3), (128, 4), (256, 6)), 101: ((64, 3), (128, 4), (256, 23))}
# The decoder's stride-4 feature (feature_extractor.py's DECODER_END_POINTS[4]): conv3's BN output, before the sum.
LOW_LEVEL = "block1/unit_2/bottleneck_v1/conv3"


class _Subsample(tf_keras.layers.Layer):
    """slim resnet_utils.subsample: the identity shortcut of a strided unit (a 1×1 max pool with stride 2)."""

    def call(self, x):
        return x[:, ::2, ::2, :]


def _bottleneck(x, scope, depth, stride, rate, norm):
    """conv1 1×1 → conv2 3×3 (stride, rate; fixed padding when strided) → conv3 1×1 (no ReLU), + shortcut, ReLU.
    The shortcut is a 1×1 conv + BN where the depth changes, else the input (subsampled if strided)."""
    out = 4 * depth
    if x.shape[-1] == out:
        shortcut = x if stride == 1 else _Subsample(name=keras_name(f"{scope}/shortcut"))(x)
    else:
        shortcut = conv_bn(x, out, 1, f"{scope}/shortcut", norm, stride=stride)
    residual = conv_bn(x, depth, 1, f"{scope}/conv1", norm, "relu")
    residual = conv_bn(residual, depth, 3, f"{scope}/conv2", norm, "relu", stride=stride, rate=rate,
                       fixed_padding=True)
    conv3 = conv_bn(residual, out, 1, f"{scope}/conv3", norm)
    x = tf_keras.layers.Add(name=keras_name(f"{scope}/add"))([shortcut, conv3])
    return activate(x, "relu", f"{scope}/relu"), conv3


def _resnet_v1_beta(scope, blocks, images, output_stride, norm):
    norm = norm.with_epsilon(BN_EPSILON)
    schedule = AtrousSchedule(output_stride)
    stride, _ = schedule.next(2)   # output strides are ≥ 8: the stem and pool1 always stride
    x = conv_bn(images, 64, 3, f"{scope}/conv1_1", norm, "relu", stride=stride, fixed_padding=True)
    x = conv_bn(x, 64, 3, f"{scope}/conv1_2", norm, "relu")
    x = conv_bn(x, 128, 3, f"{scope}/conv1_3", norm, "relu")
    stride, _ = schedule.next(2)
    x = tf_keras.layers.MaxPooling2D(3, stride, padding="same", name=keras_name(f"{scope}/pool1"))(x)
    units = [(f"block{b}", unit, depth, 2 if unit == count else 1, 1)
             for b, (depth, count) in enumerate(blocks, 1) for unit in range(1, count + 1)]
    units += [("block4", unit, 512, 1, grid) for unit, grid in enumerate(MULTI_GRID, 1)]
    endpoints = {}
    for block, unit, depth, nominal_stride, unit_rate in units:
        stride, rate = schedule.next(nominal_stride)
        unit_scope = f"{block}/unit_{unit}/bottleneck_v1"
        x, endpoints[f"{unit_scope}/conv3"] = _bottleneck(x, f"{scope}/{unit_scope}", depth, stride,
                                                          rate * unit_rate, norm)
    return {"features": x, "low_level": endpoints[LOW_LEVEL]}


def resnet_v1_50_beta(images, output_stride: int, depth_multiplier: float = 1.0, norm: Norm = Norm()) -> dict:
    """`features` = block4 (2048 ch, stride `output_stride`), `low_level` = block1/unit_2's conv3 (256 ch, stride 4).
    `depth_multiplier` is accepted for a uniform backbone signature (the config refuses other values)."""
    return _resnet_v1_beta("resnet_v1_50", BLOCKS[50], images, output_stride, norm)


def resnet_v1_101_beta(images, output_stride: int, depth_multiplier: float = 1.0, norm: Norm = Norm()) -> dict:
    """As resnet_v1_50_beta, with 23 units in block3."""
    return _resnet_v1_beta("resnet_v1_101", BLOCKS[101], images, output_stride, norm)
