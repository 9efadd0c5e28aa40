"""Config → Keras model. tf-models-official supplies every part; we only choose them from our config."""
import math

import tensorflow as tf
import tf_keras
from official.vision.configs import common
from official.vision.configs import decoders as decoder_cfg
from official.vision.configs import semantic_segmentation as seg_cfg
from official.vision.modeling import factory

from trainer.model.backbones import backbone
from trainer.model.deeplab_head import NETWORK_PREFIX as DEEPLAB_NETWORK_PREFIX
from trainer.model.deeplab_head import classifier_layers, deeplab_network

# DeepLab's normalisation for MobileNetV2 and Xception: 0..255 → -1..1.
_PIXEL_SCALE = 2.0 / 255.0

# The DeepLabV3+ low-level feature comes from the stride-4 endpoint (level 2).
_DECODER_LOW_LEVEL = 2


# mixed_precision config value → Keras dtype policy.
_POLICIES = {"none": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


def segmentation_config(model_cfg: dict, num_classes: int,
                        sync_batchnorm: bool = False) -> seg_cfg.SemanticSegmentationModel:
    """Our `model` group as tf-models-official's config object, so its factory builds the network.

    Synchronised BatchNorm is only worth its cost (no fused kernel) with several replicas, where it keeps
    the statistics those of the whole batch, as on one device.
    """
    entry = backbone(model_cfg)
    if entry.implementation != "tf_models":
        raise ValueError(f"{entry.implementation} backbone {entry.name!r} is not built by tf-models-official")
    level = int(math.log2(model_cfg["output_stride"]))
    decoder = model_cfg["decoder"]
    return seg_cfg.SemanticSegmentationModel(
        num_classes=num_classes,
        input_size=[None, None, 3],
        backbone=entry.builder()(model_cfg),
        # Global image pooling (pool_kernel_size None) works at any input size.
        decoder=decoder_cfg.Decoder(
            type="aspp",
            aspp=decoder_cfg.ASPP(level=level, dilation_rates=list(model_cfg["atrous_rates"]),
                                  pool_kernel_size=None)),
        head=seg_cfg.SegmentationHead(
            level=level,
            num_convs=2 if decoder else 0,
            feature_fusion="deeplabv3plus" if decoder else None,
            low_level=_DECODER_LOW_LEVEL,
            low_level_num_filters=48),
        norm_activation=common.NormActivation(activation="relu", norm_momentum=model_cfg["batchnorm_momentum"],
                                              norm_epsilon=1e-3, use_sync_bn=sync_batchnorm))


def is_research_deeplab(model_cfg: dict) -> bool:
    """`model.implementation` "deeplab": research/deeplab's exact backbone and head (trainer.model.deeplab_head)."""
    return backbone(model_cfg).implementation == "deeplab"


class DeepLab(tf_keras.Model):
    """Maps RGB images with values 0..255 to float32 logits at the input resolution."""

    def __init__(self, network: tf_keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.network = network

    def call(self, images, training=False):
        x = tf.cast(images, tf.float32) * _PIXEL_SCALE - 1.0
        logits = tf.cast(self.network(x, training=training)["logits"], tf.float32)
        # DeepLab upsamples logits with align-corners bilinear resizing.
        return tf.raw_ops.ResizeBilinear(images=logits, size=tf.shape(images)[1:3], align_corners=True)


def build_model(model_cfg: dict, num_classes: int, *, mixed_precision: str = "none",
                sync_batchnorm: bool = False) -> DeepLab:
    """The network computes in the `mixed_precision` dtype; its wrapper (and so the logits) stays float32."""
    previous = tf_keras.mixed_precision.global_policy()
    tf_keras.mixed_precision.set_global_policy(_POLICIES[mixed_precision])
    try:
        if is_research_deeplab(model_cfg):
            network = deeplab_network(model_cfg, num_classes, sync_batchnorm)
        else:
            network = factory.build_segmentation_model(
                tf_keras.layers.InputSpec(shape=[None, None, None, 3]),
                segmentation_config(model_cfg, num_classes, sync_batchnorm))
    finally:
        tf_keras.mixed_precision.set_global_policy(previous)
    model = DeepLab(network)
    model(tf.zeros([1, 64, 64, 3]))  # create the variables so checkpoints can be restored eagerly
    return model


def classifier_variables(model: DeepLab) -> list[tf.Variable]:
    """The last 1x1 conv(s) (logits): the one part whose shape depends on the classes."""
    if model.network.name.startswith(DEEPLAB_NETWORK_PREFIX):
        return [w for layer in classifier_layers(model.network) for w in layer.weights]
    return model.network.head._classifier.weights  # noqa: SLF001 — tf-models-official names it nowhere else
