"""tf-models-official backbones: our `model` group → the backbone config its segmentation factory builds from."""
from official.vision.configs import backbones as backbone_cfg


def mobilenet_v2(model_cfg: dict) -> backbone_cfg.Backbone:
    return backbone_cfg.Backbone(
        type="mobilenet",
        mobilenet=backbone_cfg.MobileNet(
            model_id="MobileNetV2",
            filter_size_scale=model_cfg["depth_multiplier"],
            output_stride=model_cfg["output_stride"]))


def resnet_101(model_cfg: dict) -> backbone_cfg.Backbone:
    """tf-models-official's DeepLabV3+ PASCAL setting: v1 stem, multigrid (1, 2, 4)."""
    return backbone_cfg.Backbone(
        type="dilated_resnet",
        dilated_resnet=backbone_cfg.DilatedResNet(
            model_id=101, output_stride=model_cfg["output_stride"],
            multigrid=[1, 2, 4], stem_type="v1"))
