"""Shipped presets, example configs and the schemas themselves."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.config.schemas import object_schemas
from trainer.config.presets import known_presets, load_preset
from trainer.config.resolve import resolve_infer_config, resolve_train_config
from trainer.config.validate import load_schema
from trainer.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
PRESETS = ["demo", "edgetpu_deeplab_cityscapes", "edgetpu_deeplab_slim_cityscapes", "mobilenetv2_cityscapes",
           "mobilenetv2_deeplabv3", "mobilenetv2_dm05_deeplabv3", "mobilenetv2_dm05_voc",
           "mobilenetv2_voc", "mobilenetv3_large_cityscapes", "mobilenetv3_large_deeplabv3", "mobilenetv3_small_cityscapes", "mobilenetv4_conv_medium_deeplabv3",
           "resnet101_beta_imagenet", "resnet101_deeplabv3plus", "resnet50_beta_imagenet", "xception41_imagenet",
           "xception65_ade20k", "xception65_cityscapes", "xception65_voc", "xception71_dpc_cityscapes",
           "xception71_imagenet"]


def _subset(part, whole) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and _subset(v, whole[k]) for k, v in part.items())
    return part == whole


def test_known_presets():
    assert known_presets() == PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_resolves(name):
    config = resolve_train_config(None, name, [])
    assert config["preset"] == name
    assert _subset(load_preset(name), config)
    assert "preset" not in load_preset(name)


def test_demo_preset_values():
    config = resolve_train_config(None, "demo", [])
    assert config["model"] == {"backbone": "mobilenet_v2", "implementation": "tf_models", "depth_multiplier": 0.5, "output_stride": 16, "atrous_rates": [], "decoder": True, "dense_prediction_cell": False, "batchnorm_momentum": 0.9, "image_pooling_crop_size": None, "image_pooling_stride": [1, 1], "aspp_filters": 256, "aspp_concat_projection": True, "aspp_squeeze_excitation": False, "decoder_output_stride": 4, "decoder_sum_merge": False}
    assert (config["input_size"], config["batch_size"], config["data_workers"]) == (
        {"width": 128, "height": 128},
        {"train": 8, "val": 8},
        {"train": 2, "val": 2},
    )
    assert (config["epochs"], config["val_every"], config["lr"], config["seed"]) == (12, 3, 0.002, 0)


def test_model_presets():
    dm1 = resolve_train_config(None, "mobilenetv2_deeplabv3", [])
    dm05 = resolve_train_config(None, "mobilenetv2_dm05_deeplabv3", [])
    resnet = resolve_train_config(None, "resnet101_deeplabv3plus", [])
    assert dm1["model"] == {"backbone": "mobilenet_v2", "implementation": "tf_models", "depth_multiplier": 1.0, "output_stride": 16, "atrous_rates": [], "decoder": False, "dense_prediction_cell": False, "batchnorm_momentum": 0.997, "image_pooling_crop_size": None, "image_pooling_stride": [1, 1], "aspp_filters": 256, "aspp_concat_projection": True, "aspp_squeeze_excitation": False, "decoder_output_stride": 4, "decoder_sum_merge": False}
    assert {**dm05, "preset": None, "model": None} == {**dm1, "preset": None, "model": None}
    assert dm05["model"] == {**dm1["model"], "depth_multiplier": 0.5}
    assert (dm1["input_size"], dm1["batch_size"], dm1["lr"], dm1["epochs"]) == ({"width": 513, "height": 513}, {"train": 4, "val": 1}, 0.0001, 10)
    assert resnet["model"] == {"backbone": "resnet_101", "implementation": "tf_models", "depth_multiplier": 1.0, "output_stride": 16, "atrous_rates": [6, 12, 18], "decoder": True, "dense_prediction_cell": False, "batchnorm_momentum": 0.997, "image_pooling_crop_size": None, "image_pooling_stride": [1, 1], "aspp_filters": 256, "aspp_concat_projection": True, "aspp_squeeze_excitation": False, "decoder_output_stride": 4, "decoder_sum_merge": False}
    assert (resnet["input_size"], resnet["batch_size"]) == ({"width": 513, "height": 513}, {"train": 2, "val": 1})
    for name, backbone in (("mobilenetv3_large_deeplabv3", "mobilenet_v3_large"),
                           ("mobilenetv4_conv_medium_deeplabv3", "mobilenet_v4_conv_medium")):
        mobile = resolve_train_config(None, name, [])   # mobilenetv2_deeplabv3 with a newer backbone
        assert {**mobile, "preset": None} == {**dm1, "preset": None, "model": {**dm1["model"], "backbone": backbone}}


# preset → learning rate: research/deeplab train.py's 0.0001 fine-tunes a zoo segmentation checkpoint, its 0.007
# ("when training on PASCAL augmented training set") starts from an ImageNet checkpoint.
ZOO_PRESETS = {"mobilenetv2_dm05_voc": 0.0001, "mobilenetv2_voc": 0.0001, "xception65_voc": 0.0001,
               "mobilenetv2_cityscapes": 0.0001, "xception65_cityscapes": 0.0001, "xception65_ade20k": 0.0001,
               "xception71_dpc_cityscapes": 0.0001, "xception41_imagenet": 0.007, "xception71_imagenet": 0.007,
               "resnet50_beta_imagenet": 0.007, "resnet101_beta_imagenet": 0.007,
               "mobilenetv3_large_cityscapes": 0.0001, "mobilenetv3_small_cityscapes": 0.0001,
               "edgetpu_deeplab_cityscapes": 0.0001, "edgetpu_deeplab_slim_cityscapes": 0.0001}


@pytest.mark.parametrize("name,lr", ZOO_PRESETS.items())
def test_zoo_presets_carry_deeplabs_fine_tuning_recipe(name, lr):
    """research/deeplab train.py's defaults for training from a model-zoo checkpoint with small batches."""
    config = resolve_train_config(None, name, [])
    assert config["optimizer"] == {"name": "sgd", "momentum": 0.9, "weight_decay": 0, "l2_regularization": 0.00004,
                                   "clip_norm": 0}
    assert config["lr_schedule"] == {"name": "poly", "power": 0.9, "end_lr": 0, "warmup_epochs": 0}
    assert (config["lr"], config["freeze_batchnorm"]) == (lr, True)


@pytest.mark.parametrize("layers", [50, 101])
def test_resnet_beta_imagenet_presets_are_deeplabv3plus_on_research_deeplabs_resnet(layers):
    config = resolve_train_config(None, f"resnet{layers}_beta_imagenet", [])
    assert config["model"] == {"backbone": f"resnet_v1_{layers}_beta", "implementation": "deeplab",
                               "depth_multiplier": 1.0, "output_stride": 16, "atrous_rates": [6, 12, 18],
                               "decoder": True, "dense_prediction_cell": False, "batchnorm_momentum": 0.997, "image_pooling_crop_size": None, "image_pooling_stride": [1, 1], "aspp_filters": 256, "aspp_concat_projection": True, "aspp_squeeze_excitation": False, "decoder_output_stride": 4, "decoder_sum_merge": False}


def test_edgetpu_presets_are_mobilenetv2_cityscapes_on_mobilenet_edgetpu():
    """model_zoo.md: EdgeTPU-DeepLab takes MobileNet-v2's flags with --model_variant=mobilenet_edgetpu and
    --aspp_convs_filters=256; -slim also --depth_multiplier=0.75 and --aspp_convs_filters=128."""
    mnv2 = resolve_train_config(None, "mobilenetv2_cityscapes", [])
    for name, multiplier, filters in (("edgetpu_deeplab_cityscapes", 1.0, 256),
                                      ("edgetpu_deeplab_slim_cityscapes", 0.75, 128)):
        config = resolve_train_config(None, name, [])
        assert {**config, "preset": None} == {**mnv2, "preset": None, "model": {
            **mnv2["model"], "backbone": "mobilenet_edgetpu", "depth_multiplier": multiplier, "aspp_filters": filters}}


def test_load_unknown_preset():
    with pytest.raises(ConfigError) as info:
        load_preset("nope")
    assert info.value.lines == [f'unknown preset "nope" (known: {", ".join(PRESETS)})']


def test_unknown_preset_in_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"preset": "nope"}')
    with pytest.raises(ConfigError) as info:
        resolve_train_config(str(path), None, [])
    assert info.value.lines == [f'train config {path}: preset: unknown preset "nope" (known: {", ".join(PRESETS)})']


def test_train_example_is_complete_and_valid():
    path = REPO / "configs" / "train_example.json"
    data = json.loads(path.read_text())
    assert set(data) == set(load_schema("train")["properties"]) - {"preset"}
    assert resolve_train_config(str(path), None, []) == data


def test_infer_example_is_complete_and_valid():
    path = REPO / "configs" / "infer_full_image.json"
    data = json.loads(path.read_text())
    assert resolve_infer_config(str(path), []) == data
    assert data["mode"]["name"] == "full_image"


@pytest.mark.parametrize("kind", ["train", "infer"])
def test_schema_is_valid_and_closed(kind):
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    objects = list(object_schemas(schema))
    assert objects and all(s.get("additionalProperties") is False for s in objects)
    for s in objects:
        for key, sub in s["properties"].items():
            assert "default" in sub or key == "preset", key
