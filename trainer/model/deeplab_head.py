"""research/deeplab's ASPP, V3+ decoder and logits, and the network that joins them to a backbone.

Built to the original's rules where tf-models-official differs: BN + ReLU between the depthwise and
pointwise convs of separable branches, concatenation [image_pooling, aspp0, aspp1..3], BN eps 1e-5.
"""
import re
from dataclasses import dataclass, fields

import tensorflow as tf
import tf_keras

from trainer.model.backbones import backbone
from trainer.model.deeplab_layers import (Norm, ResizeAlignCorners, conv_bias, conv_bn, keras_name,
                                          split_separable)
from trainer.model.dense_prediction_cell import SCOPE as DPC_SCOPE
from trainer.model.dense_prediction_cell import dense_prediction_cell

DEPTH = 256
DECODER_PROJECTION = 48
BN_EPSILON = 1e-5
DROPOUT = 0.1   # slim.dropout keep_prob 0.9, training only
LOGITS = keras_name("logits/semantic")
# With the sum-merge decoder the logits are the sum of these two 1×1 convs (filters = classes): the classifier.
SUM_MERGE_CLASSIFIER = ("decoder/feature_projection0", "decoder/decoder_conv0")
# model.decoder_output_stride → the backbone end point the decoder merges (trainer.model.backbones.Backbone).
_DECODER_FEATURE = {4: "low_level", 8: "low_level_os8"}
NETWORK_PREFIX = "deeplab_"   # the builder tells our networks from tf-models-official's by it
# The TF1 scopes of this head (ASPP or Dense Prediction Cell, decoder, logits): everything else is the backbone's.
_HEAD_SCOPE = re.compile(r"(image_pooling|aspp\d+(_depthwise|_pointwise)?|concat_projection|decoder|logits|"
                         rf"{DPC_SCOPE})(/|$)")


def is_head_scope(tf1_name: str) -> bool:
    """Whether a TF1 variable (or scope) name belongs to the head: ASPP or DPC, decoder or `logits/semantic`. A
    backbone's own classification head (`resnet_v1_101/logits`, `MobilenetV2/Logits`) is under the backbone's scope."""
    return _HEAD_SCOPE.match(tf1_name) is not None


@dataclass(frozen=True)
class Head:
    """The `model` keys that shape research/deeplab's ASPP and decoder beyond rates and `decoder` (model.py's
    flags); the defaults are that head as the MobileNetV2 / Xception zoo models use it. A config written before a
    key existed has its default."""
    image_pooling_crop_size: tuple[int, int] | None = None   # None: a global mean
    image_pooling_stride: tuple[int, int] = (1, 1)
    aspp_filters: int = DEPTH
    aspp_concat_projection: bool = True
    aspp_squeeze_excitation: bool = False
    decoder_output_stride: int = 4
    decoder_sum_merge: bool = False

    @classmethod
    def of(cls, model_cfg: dict) -> "Head":
        values = {f.name: model_cfg.get(f.name, f.default) for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def scale_dimension(size: int, scale: float) -> int:
    """model.py's scale_dimension: the feature size of a crop side at 1 / stride."""
    return int((size - 1) * scale + 1)


class WindowAveragePool(tf_keras.layers.Layer):
    """model.py's image pooling with --image_pooling_crop_size: a VALID average pool of `window` with `strides`. A
    window larger than the feature map is cut to it (the original refuses such inputs), so small inputs pool
    globally. Sums of an integral image: the window and the map may be known only when the model runs."""

    def __init__(self, window, strides, **kwargs):
        super().__init__(**kwargs)
        self.window, self.strides = tuple(window), tuple(strides)

    def call(self, x):
        size = tf.shape(x)[1:3]
        kh, kw = tf.minimum(self.window[0], size[0]), tf.minimum(self.window[1], size[1])
        sh, sw = self.strides
        total = tf.pad(tf.cumsum(tf.cumsum(x, axis=1), axis=2), [[0, 0], [1, 0], [1, 0], [0, 0]])
        rows = (total[:, kh::sh], total[:, :size[0] - kh + 1:sh])
        (a, b), (c, d) = [(r[:, :, kw::sw], r[:, :, :size[1] - kw + 1:sw]) for r in rows]
        return (a - b - c + d) / tf.cast(kh * kw, x.dtype)


def image_pooling(features, head: Head, output_stride: int, norm: Norm):
    """The image-level feature at the features' size: global mean (or the crop-size window) → 1×1 conv + BN + ReLU;
    as a squeeze-excitation gate: 1×1 conv with biases → q_sigmoid, no BatchNorm."""
    if head.image_pooling_crop_size is None:
        pooled = tf_keras.layers.GlobalAveragePooling2D(keepdims=True, name="image_pooling-mean")(features)
    else:
        window = [scale_dimension(side, 1 / output_stride) for side in head.image_pooling_crop_size]
        pooled = WindowAveragePool(window, head.image_pooling_stride, name="image_pooling-mean")(features)
    if head.aspp_squeeze_excitation:
        pooled = conv_bias(pooled, head.aspp_filters, 1, "image_pooling", "hard_sigmoid")
    else:
        pooled = conv_bn(pooled, head.aspp_filters, 1, "image_pooling", norm, "relu")
    return ResizeAlignCorners(name="image_pooling-resize")([pooled, features])


def aspp(features, atrous_rates: list[int], head: Head, output_stride: int, norm: Norm):
    """Image pooling + 1×1 (+ one split separable branch per rate) → concat_projection; with squeeze-excitation the
    image feature gates the result instead of joining the concatenation."""
    pooled = image_pooling(features, head, output_stride, norm)
    branches = [] if head.aspp_squeeze_excitation else [pooled]
    branches.append(conv_bn(features, head.aspp_filters, 1, "aspp0", norm, "relu"))
    branches += [split_separable(features, head.aspp_filters, f"aspp{i}", norm, "relu", rate=rate)
                 for i, rate in enumerate(atrous_rates, 1)]
    x = tf_keras.layers.Concatenate(name="aspp-concat")(branches) if len(branches) > 1 else branches[0]
    if head.aspp_concat_projection:
        x = conv_bn(x, head.aspp_filters, 1, "concat_projection", norm, "relu")
        x = tf_keras.layers.Dropout(DROPOUT, name="concat_projection_dropout")(x)
    if head.aspp_squeeze_excitation:
        x = tf_keras.layers.Multiply(name="image_pooling-gate")([x, pooled])
    return x


def sum_merge_decoder(x, low_level, num_classes: int):
    """model.py's decoder with --decoder_use_sum_merge and --decoder_output_is_logits (filters = classes): the
    low-level feature's 1×1 projection (biases, linear) + a 1×1 conv of the resized ASPP output: the logits."""
    projected = conv_bias(low_level, num_classes, 1, "decoder/feature_projection0")
    x = ResizeAlignCorners(name="decoder-resize")([x, projected])
    x = conv_bias(x, num_classes, 1, "decoder/decoder_conv0")
    return tf_keras.layers.Add(name="decoder-sum")([x, projected])


def decoder(x, low_level, norm: Norm):
    """V3+: ASPP output resized to the stride-4 feature, concatenated with its 48-ch projection, two separable convs.

    The original also resizes the projection to scale_dimension(input, 1/4); that equals its size for both
    backbones' padding rules, so the resize is the identity and is left out.
    """
    projected = conv_bn(low_level, DECODER_PROJECTION, 1, "decoder/feature_projection0", norm, "relu")
    x = ResizeAlignCorners(name="decoder-resize")([x, projected])
    x = tf_keras.layers.Concatenate(name="decoder-concat")([x, projected])
    for i in range(2):
        x = split_separable(x, DEPTH, f"decoder/decoder_conv{i}", norm, "relu")
    return x


def classifier_layers(network: tf_keras.Model) -> list:
    """The layers whose filters are the classes: `logits/semantic`, or the sum-merge decoder's two convs."""
    if any(layer.name == LOGITS for layer in network.layers):
        return [network.get_layer(LOGITS)]
    return [network.get_layer(keras_name(scope)) for scope in SUM_MERGE_CLASSIFIER]


def deeplab_network(model_cfg: dict, num_classes: int, sync_batchnorm: bool = False) -> tf_keras.Model:
    """Normalised images (-1..1) → {"logits": [B, h, w, num_classes]} at the output (or decoder) stride."""
    images = tf_keras.Input([None, None, 3], name="images")
    norm = Norm(model_cfg["batchnorm_momentum"], sync_batchnorm)
    endpoints = backbone(model_cfg).builder()(images, model_cfg["output_stride"], model_cfg["depth_multiplier"],
                                              norm)
    norm, head = norm.with_epsilon(BN_EPSILON), Head.of(model_cfg)
    if model_cfg["dense_prediction_cell"]:
        x = dense_prediction_cell(endpoints["features"], model_cfg["output_stride"], norm)
    else:
        x = aspp(endpoints["features"], model_cfg["atrous_rates"], head, model_cfg["output_stride"], norm)
    low_level = endpoints[_DECODER_FEATURE[head.decoder_output_stride]] if model_cfg["decoder"] else None
    if model_cfg["decoder"] and head.decoder_sum_merge:
        logits = sum_merge_decoder(x, low_level, num_classes)
    else:
        if model_cfg["decoder"]:
            x = decoder(x, low_level, norm)
        logits = tf_keras.layers.Conv2D(num_classes, 1, name=LOGITS,
                                        kernel_initializer=tf_keras.initializers.TruncatedNormal(stddev=0.01))(x)
    return tf_keras.Model(images, {"logits": logits}, name=NETWORK_PREFIX + model_cfg["backbone"])
