"""research/deeplab's ASPP, V3+ decoder and logits, and the network that joins them to a backbone.

Built to the original's rules where tf-models-official differs: BN + ReLU between the depthwise and
pointwise convs of separable branches, concatenation [image_pooling, aspp0, aspp1..3], BN eps 1e-5.
"""
import re

import tf_keras

from trainer.model.backbones import backbone
from trainer.model.deeplab_layers import Norm, ResizeAlignCorners, conv_bn, keras_name, split_separable
from trainer.model.dense_prediction_cell import SCOPE as DPC_SCOPE
from trainer.model.dense_prediction_cell import dense_prediction_cell

DEPTH = 256
DECODER_PROJECTION = 48
BN_EPSILON = 1e-5
DROPOUT = 0.1   # slim.dropout keep_prob 0.9, training only
LOGITS = keras_name("logits/semantic")
NETWORK_PREFIX = "deeplab_"   # the builder tells our networks from tf-models-official's by it
# The TF1 scopes of this head (ASPP or Dense Prediction Cell, decoder, logits): everything else is the backbone's.
_HEAD_SCOPE = re.compile(r"(image_pooling|aspp\d+(_depthwise|_pointwise)?|concat_projection|decoder|logits|"
                         rf"{DPC_SCOPE})(/|$)")


def is_head_scope(tf1_name: str) -> bool:
    """Whether a TF1 variable (or scope) name belongs to the head: ASPP or DPC, decoder or `logits/semantic`. A
    backbone's own classification head (`resnet_v1_101/logits`, `MobilenetV2/Logits`) is under the backbone's scope."""
    return _HEAD_SCOPE.match(tf1_name) is not None


def aspp(features, atrous_rates: list[int], norm: Norm):
    """Image pooling + 1×1 (+ one split separable branch per rate) → concat_projection."""
    pooled = tf_keras.layers.GlobalAveragePooling2D(keepdims=True, name="image_pooling-mean")(features)
    pooled = conv_bn(pooled, DEPTH, 1, "image_pooling", norm, "relu")
    branches = [ResizeAlignCorners(name="image_pooling-resize")([pooled, features]),
                conv_bn(features, DEPTH, 1, "aspp0", norm, "relu")]
    branches += [split_separable(features, DEPTH, f"aspp{i}", norm, "relu", rate=rate)
                 for i, rate in enumerate(atrous_rates, 1)]
    x = tf_keras.layers.Concatenate(name="aspp-concat")(branches)
    x = conv_bn(x, DEPTH, 1, "concat_projection", norm, "relu")
    return tf_keras.layers.Dropout(DROPOUT, name="concat_projection_dropout")(x)


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


def deeplab_network(model_cfg: dict, num_classes: int, sync_batchnorm: bool = False) -> tf_keras.Model:
    """Normalised images (-1..1) → {"logits": [B, h, w, num_classes]} at the output (or decoder) stride."""
    images = tf_keras.Input([None, None, 3], name="images")
    norm = Norm(model_cfg["batchnorm_momentum"], sync_batchnorm)
    endpoints = backbone(model_cfg).builder()(images, model_cfg["output_stride"], model_cfg["depth_multiplier"],
                                              norm)
    norm = norm.with_epsilon(BN_EPSILON)
    if model_cfg["dense_prediction_cell"]:
        x = dense_prediction_cell(endpoints["features"], model_cfg["output_stride"], norm)
    else:
        x = aspp(endpoints["features"], model_cfg["atrous_rates"], norm)
    if model_cfg["decoder"]:
        x = decoder(x, endpoints["low_level"], norm)
    logits = tf_keras.layers.Conv2D(num_classes, 1, name=LOGITS,
                                    kernel_initializer=tf_keras.initializers.TruncatedNormal(stddev=0.01))(x)
    return tf_keras.Model(images, {"logits": logits}, name=NETWORK_PREFIX + model_cfg["backbone"])
