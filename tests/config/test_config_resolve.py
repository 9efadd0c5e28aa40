"""Resolution order, defaults, --set parsing, inference modes and the plugin's own configs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.config.resolve import parse_set, resolve_infer_config, resolve_train_config
from trainer.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
COMPAT = REPO.parent / "shared" / "compat"

PLUGIN_TRAIN_DEFAULTS = {
    "lr": 0.0001,
    "epochs": 2,
    "val_every": 1,
    "batch_size": {"train": 1, "val": 1},
    "input_size": {"width": 513, "height": 513},
    "gpu_devices": [0],
    "data_workers": {"train": 1, "val": 1},
    "dataset_tags": {"train": "train", "val": "val"},
    "special_classes": {"background": "bg", "neutral": "neutral"},
    "weights_init_type": "transfer_learning",
    # additions whose defaults keep the plugin's behaviour (no init weights, constant-rate Adam, plain loss)
    "init_weights": None,
    "freeze_batchnorm": False,
    "optimizer": {"name": "adam", "momentum": 0.9, "weight_decay": 0, "l2_regularization": 0, "clip_norm": 0},
    "lr_schedule": {"name": "constant", "power": 0.9, "end_lr": 0, "warmup_epochs": 0},
    "loss": {"class_weights": {}, "top_k_percent_pixels": 1.0},
    "early_stopping": {"patience": 0},
    "checkpoints": {"keep_last": 3},
    "multi_worker": {"heartbeat_timeout": 30},
    "mixed_precision": "none",
    "allow_corrupted_samples": {"train": 0, "val": 0},
    "augmentations": {"train": None, "val": None},
    "seed": 0,
    "model": {"backbone": "mobilenet_v2", "implementation": "tf_models", "depth_multiplier": 1.0, "output_stride": 16, "atrous_rates": [], "decoder": False, "dense_prediction_cell": False, "batchnorm_momentum": 0.997, "image_pooling_crop_size": None, "image_pooling_stride": [1, 1], "aspp_filters": 256, "aspp_concat_projection": True, "aspp_squeeze_excitation": False, "decoder_output_stride": 4, "decoder_sum_merge": False},
}
INFER_DEFAULTS = {
    "model": {"gpu_device": 0, "output_stride": None, "atrous_rates": None},
    "mode": {"name": "full_image", "model_classes": {"save_classes": "__all__", "add_suffix": "_deeplab"}},
    "tta": {"scales": [1.0], "flip": False},
    "batch_size": 8,
}


def _write(tmp_path, data, name="config.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _compat(name: str) -> Path:
    path = COMPAT / name
    if not path.is_file():
        pytest.skip(f"plugin compat config {path} is not present (it lives outside the repo in shared/compat)")
    return path


# --- defaults -------------------------------------------------------------------------------------------------


def test_file_without_preset_gets_exactly_the_plugin_defaults(tmp_path):
    assert resolve_train_config(_write(tmp_path, {}), None, []) == PLUGIN_TRAIN_DEFAULTS


def test_partial_objects_are_completed_from_defaults(tmp_path):
    config = resolve_train_config(_write(tmp_path, {"batch_size": {"train": 5}, "model": {"decoder": True}}), None, [])
    assert config["batch_size"] == {"train": 5, "val": 1}
    assert config["model"] == {**PLUGIN_TRAIN_DEFAULTS["model"], "decoder": True}


def test_resolved_keys_follow_schema_order(tmp_path):
    config = resolve_train_config(_write(tmp_path, {"model": {"decoder": True}, "lr": 0.1}), "demo", [])
    assert list(config) == ["preset", *PLUGIN_TRAIN_DEFAULTS]


def test_infer_defaults():
    assert resolve_infer_config(None, []) == INFER_DEFAULTS


# --- precedence -----------------------------------------------------------------------------------------------


def test_no_file_no_preset_means_demo():
    config = resolve_train_config(None, None, [])
    assert config["preset"] == "demo"
    assert config["input_size"] == {"width": 128, "height": 128}


def test_preset_then_file_then_set(tmp_path):
    file = _write(tmp_path, {"preset": "mobilenetv2_deeplabv3", "epochs": 5, "lr": 0.5, "batch_size": {"val": 2}})
    config = resolve_train_config(file, None, ["lr=0.01", "batch_size.val=3"])
    assert config["preset"] == "mobilenetv2_deeplabv3"
    assert config["model"]["depth_multiplier"] == 1.0  # preset
    assert config["batch_size"] == {"train": 4, "val": 3}  # preset, then --set over the file
    assert config["epochs"] == 5  # file over preset (10)
    assert config["lr"] == 0.01  # --set over file
    assert config["seed"] == 0  # default


def test_preset_argument_overrides_the_files_preset(tmp_path):
    file = _write(tmp_path, {"preset": "mobilenetv2_deeplabv3", "epochs": 5})
    config = resolve_train_config(file, "resnet101_deeplabv3plus", [])
    assert config["preset"] == "resnet101_deeplabv3plus"
    assert config["model"]["backbone"] == "resnet_101"
    assert config["epochs"] == 5


def test_preset_argument_with_file_without_preset(tmp_path):
    config = resolve_train_config(_write(tmp_path, {"lr": 0.3}), "demo", [])
    assert (config["preset"], config["lr"], config["epochs"]) == ("demo", 0.3, 12)


def test_file_without_preset_records_none(tmp_path):
    assert "preset" not in resolve_train_config(_write(tmp_path, {"lr": 0.3}), None, [])


def test_set_merges_objects_and_replaces_lists():
    config = resolve_train_config(None, "resnet101_deeplabv3plus", ['model={"atrous_rates": [3]}', "gpu_devices=[1,2]"])
    assert config["model"] == {"backbone": "resnet_101", "implementation": "tf_models", "depth_multiplier": 1.0, "output_stride": 16, "atrous_rates": [3], "decoder": True, "dense_prediction_cell": False, "batchnorm_momentum": 0.997, "image_pooling_crop_size": None, "image_pooling_stride": [1, 1], "aspp_filters": 256, "aspp_concat_projection": True, "aspp_squeeze_excitation": False, "decoder_output_stride": 4, "decoder_sum_merge": False}
    assert config["gpu_devices"] == [1, 2]


def test_later_set_wins():
    assert resolve_train_config(None, None, ["lr=0.1", "lr=0.2"])["lr"] == 0.2


def test_preset_cannot_be_set_with_set():
    with pytest.raises(ConfigError) as info:
        resolve_train_config(None, None, ["preset=demo"])
    assert info.value.lines == ["train config (+ --set): preset: choose the preset with --preset, not --set"]


def test_unknown_preset_argument_lists_known_ones():
    with pytest.raises(ConfigError) as info:
        resolve_train_config(None, "tiny", [])
    assert info.value.lines == [
        '--preset: unknown preset "tiny" (known: demo, edgetpu_deeplab_cityscapes, edgetpu_deeplab_slim_cityscapes, mobilenetv2_cityscapes, mobilenetv2_deeplabv3, mobilenetv2_dm05_deeplabv3, mobilenetv2_dm05_voc, mobilenetv2_voc, mobilenetv3_large_cityscapes, mobilenetv3_large_deeplabv3, mobilenetv3_small_cityscapes, mobilenetv4_conv_medium_deeplabv3, resnet101_beta_imagenet, resnet101_deeplabv3plus, resnet50_beta_imagenet, xception41_imagenet, xception65_ade20k, xception65_cityscapes, xception65_voc, xception71_dpc_cityscapes, xception71_imagenet)'
    ]


def test_infer_file_then_set(tmp_path):
    file = _write(tmp_path, {"model": {"gpu_device": 1}, "mode": {"model_classes": {"add_suffix": "_x"}}})
    config = resolve_infer_config(file, ['mode.model_classes.save_classes=["cat","dog"]'])
    assert config["model"] == {"gpu_device": 1, "output_stride": None, "atrous_rates": None}
    assert config["mode"]["model_classes"] == {"save_classes": ["cat", "dog"], "add_suffix": "_x"}


# --- --set parsing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item,expected",
    [
        ("lr=0.001", (["lr"], 0.001)),
        ("epochs=3", (["epochs"], 3)),
        ("lr=1e-3", (["lr"], 0.001)),
        ("gpu_devices=[0, 1]", (["gpu_devices"], [0, 1])),
        ("model.decoder=true", (["model", "decoder"], True)),
        ("model.decoder=false", (["model", "decoder"], False)),
        ("x=null", (["x"], None)),
        ("dataset_tags.train=trainset", (["dataset_tags", "train"], "trainset")),
        ('dataset_tags.train="123"', (["dataset_tags", "train"], "123")),
        ("dataset_tags.train=", (["dataset_tags", "train"], "")),
        ("a.b=c=d", (["a", "b"], "c=d")),
        ("lr=NaN", (["lr"], "NaN")),
        ('model={"decoder": true}', (["model"], {"decoder": True})),
    ],
)
def test_parse_set_values(item, expected):
    assert parse_set([item]) == [expected]


def test_parse_set_reports_every_bad_item():
    with pytest.raises(ConfigError) as info:
        parse_set(["lr", "=1", "a..b=1", "ok=1", ".a=1"])
    assert info.value.lines == [
        '--set "lr": expected KEY=VALUE',
        '--set "=1": empty key or key part in ""',
        '--set "a..b=1": empty key or key part in "a..b"',
        '--set ".a=1": empty key or key part in ".a"',
    ]


def test_set_creates_nested_objects():
    config = resolve_infer_config(None, ["mode.model_classes.add_suffix=_seg"])
    assert config["mode"]["model_classes"] == {"save_classes": "__all__", "add_suffix": "_seg"}
    assert resolve_train_config(None, None, ["special_classes.background=background"])["special_classes"] == {
        "background": "background",
        "neutral": "neutral",
    }


def test_set_typed_values_reach_the_config():
    config = resolve_train_config(None, None, ["model.decoder=false", "gpu_devices=[0,1]", "lr=0.5", "dataset_tags.val=holdout"])
    assert (config["model"]["decoder"], config["gpu_devices"], config["lr"], config["dataset_tags"]["val"]) == (
        False,
        [0, 1],
        0.5,
        "holdout",
    )


# --- inference modes ------------------------------------------------------------------------------------------


def test_legacy_mode_source_is_read_as_name(tmp_path):
    file = _write(tmp_path, {"mode": {"source": "full_image", "model_classes": {"save_classes": ["a"]}}})
    config = resolve_infer_config(file, [])
    assert config["mode"] == {"name": "full_image", "model_classes": {"save_classes": ["a"], "add_suffix": "_deeplab"}}


def test_legacy_mode_source_equal_to_name_is_fine(tmp_path):
    file = _write(tmp_path, {"mode": {"source": "full_image", "name": "full_image"}})
    assert resolve_infer_config(file, [])["mode"]["name"] == "full_image"


def test_set_name_overrides_file_source(tmp_path):
    file = _write(tmp_path, {"mode": {"source": "sliding_window"}})
    assert resolve_infer_config(file, ["mode.name=full_image"])["mode"]["name"] == "full_image"
    assert resolve_infer_config(None, ["mode.source=full_image"])["mode"]["name"] == "full_image"


@pytest.mark.parametrize(
    "mode,defaults",
    [
        ({"name": "sliding_window", "window": {"width": 400}}, {"window": {"width": 400, "height": 128}, "min_overlap": {"x": 0, "y": 0}, "save": False, "class_name": "sliding_window"}),
        ({"name": "roi", "bounds": {"left": "10%"}}, {"bounds": {"left": "10%", "top": "0px", "right": "0px", "bottom": "0px"}, "save": False, "class_name": "inference_roi"}),
        ({"source": "bboxes"}, {"from_classes": "__all__", "padding": {"left": "0px", "top": "0px", "right": "0px", "bottom": "0px"}, "save": False, "add_suffix": "_input_bbox"}),
    ],
)
def test_each_mode_gets_its_own_plugin_defaults(tmp_path, mode, defaults):
    config = resolve_infer_config(_write(tmp_path, {"mode": mode}), [])
    name = mode.get("name", mode.get("source"))
    assert config["mode"] == {"name": name, "model_classes": INFER_DEFAULTS["mode"]["model_classes"], **defaults}


def test_mode_keys_are_checked_against_their_mode(tmp_path):
    file = _write(tmp_path, {"model": {"gpu_device": -1}, "mode": {"name": "roi", "bounds": {"left": "x"}, "window": {}}})
    with pytest.raises(ConfigError) as info:
        resolve_infer_config(file, [])
    assert info.value.lines == [
        f'inference config {file}: mode.bounds.left: expected a number of pixels ("16px") or a percentage ("5%"), got string "x"',
        f"inference config {file}: mode.window: unknown key (allowed: bounds, class_name, model_classes, name, save)",
        f"inference config {file}: model.gpu_device: -1 is less than the minimum of 0",
    ]


# --- the plugin's own configs ---------------------------------------------------------------------------------


def test_compat_train_config_validates_unchanged():
    path = _compat("supervisely_train_config.json")
    original = json.loads(path.read_text())
    config = resolve_train_config(str(path), None, [])
    assert "preset" not in config
    for key, value in original.items():
        assert config[key] == value
    assert config["model"] == PLUGIN_TRAIN_DEFAULTS["model"]


@pytest.mark.parametrize("name", ["supervisely_inference_config.json", "supervisely_sliding_window_config.json"])
def test_compat_inference_configs_validate_unchanged(name):
    path = _compat(name)
    plugin = json.loads(path.read_text())
    new_keys = {key: INFER_DEFAULTS[key] for key in ("tta", "batch_size")}
    new_model_keys = {"output_stride": None, "atrous_rates": None}
    assert resolve_infer_config(str(path), []) == {**plugin, **new_keys, "model": {**plugin["model"], **new_model_keys}}


def test_config_layer_does_not_import_tensorflow():
    code = "import sys, trainer.config.resolve; sys.exit('tensorflow' in sys.modules)"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env={"PYTHONPATH": str(REPO)}, check=True)
