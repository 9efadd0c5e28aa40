"""tf-models-official backbones: our `model` group → the backbone config its segmentation factory builds from."""
from official.vision.configs import backbones as backbone_cfg


def _mobilenet(model_id: str):
    """A builder for one model_id of tf-models-official's MobileNet factory (official/vision/modeling/backbones/
    mobilenet.py). Its own atrous rule applies: once `output_stride` is reached, later strides become rates, and
    the block outputs at that stride are endpoint level log2(output_stride), which the ASPP reads; level 2
    (stride 4) is the V3+ decoder's low-level feature for every model_id."""
    def build(model_cfg: dict) -> backbone_cfg.Backbone:
        return backbone_cfg.Backbone(
            type="mobilenet",
            mobilenet=backbone_cfg.MobileNet(
                model_id=model_id,
                filter_size_scale=model_cfg["depth_multiplier"],
                output_stride=model_cfg["output_stride"]))
    build.__name__ = build.__qualname__ = model_id
    return build


mobilenet_v2 = _mobilenet("MobileNetV2")
mobilenet_v3_large = _mobilenet("MobileNetV3Large")
mobilenet_v3_small = _mobilenet("MobileNetV3Small")
mobilenet_v4_conv_small = _mobilenet("MobileNetV4ConvSmall")
mobilenet_v4_conv_medium = _mobilenet("MobileNetV4ConvMedium")
mobilenet_v4_conv_large = _mobilenet("MobileNetV4ConvLarge")
# The segmentation variant tf-models-official 2.20 ships for MobileNetV4 (conv medium only): a lighter last stage.
mobilenet_v4_conv_medium_seg = _mobilenet("MobileNetV4ConvMediumSeg")


def resnet_101(model_cfg: dict) -> backbone_cfg.Backbone:
    """tf-models-official's DeepLabV3+ PASCAL setting: v1 stem, multigrid (1, 2, 4)."""
    return backbone_cfg.Backbone(
        type="dilated_resnet",
        dilated_resnet=backbone_cfg.DilatedResNet(
            model_id=101, output_stride=model_cfg["output_stride"],
            multigrid=[1, 2, 4], stem_type="v1"))
