"""Every malformed config must fail with ConfigError lines that name the file, the key path and the problem."""

import json

import pytest

from trainer.config.resolve import resolve_infer_config, resolve_train_config
from trainer.errors import ConfigError

# (config file content, key path the line must name, fragment of the message)
TRAIN_CASES = [
    ({"lr": 0}, "lr", "0 is less than or equal to the minimum of 0"),
    ({"lr": -0.1}, "lr", "-0.1 is less than or equal to the minimum of 0"),
    ({"lr": "abc"}, "lr", 'expected number, got string "abc"'),
    ({"epochs": 0}, "epochs", "0 is less than the minimum of 1"),
    ({"epochs": 2.5}, "epochs", "expected integer, got number 2.5"),
    ({"epochs": 2.0}, "epochs", "expected integer, got number 2.0"),
    ({"epochs": True}, "epochs", "expected integer, got boolean true"),
    ({"val_every": 0}, "val_every", "less than or equal to the minimum of 0"),
    ({"val_every": None}, "val_every", "expected number, got null"),
    ({"batch_size": {"train": 0}}, "batch_size.train", "0 is less than the minimum of 1"),
    ({"batch_size": {"val": "2"}}, "batch_size.val", 'expected integer, got string "2"'),
    ({"batch_size": 4}, "batch_size", "expected object, got number 4"),
    ({"batch_size": {"tran": 4}}, "batch_size.tran", "unknown key (allowed: train, val)"),
    ({"input_size": {"width": 16}}, "input_size.width", "16 is less than the minimum of 32"),
    ({"input_size": {"height": 10000}}, "input_size.height", "10000 is greater than the maximum of 8192"),
    ({"input_size": [513, 513]}, "input_size", "expected object, got array [513, 513]"),
    ({"gpu_devices": [0, 0]}, "gpu_devices", "has duplicate values: 0"),
    ({"gpu_devices": [0, -1]}, "gpu_devices[1]", "-1 is less than the minimum of 0"),
    ({"gpu_devices": [0, "1"]}, "gpu_devices[1]", 'expected integer, got string "1"'),
    ({"gpu_devices": 0}, "gpu_devices", "expected array, got number 0"),
    ({"gpu_devices": []}, "gpu_devices", "must not be empty"),
    ({"data_workers": {"train": -1}}, "data_workers.train", "-1 is less than the minimum of 0"),
    ({"dataset_tags": {"train": ""}}, "dataset_tags.train", "must not be empty"),
    ({"dataset_tags": {"val": 1}}, "dataset_tags.val", "expected string, got number 1"),
    ({"special_classes": {"background": "x", "neutral": "x"}}, "special_classes.neutral", 'must differ from special_classes.background (both are "x")'),
    ({"special_classes": {"neutral": "bg"}}, "special_classes.neutral", "must differ from special_classes.background"),
    ({"special_classes": {"background": ""}}, "special_classes.background", "must not be empty"),
    ({"weights_init_type": "finetune"}, "weights_init_type", '"finetune" is not one of: "transfer_learning", "continue_training"'),
    ({"allow_corrupted_samples": {"val": -1}}, "allow_corrupted_samples.val", "-1 is less than the minimum of 0"),
    ({"seed": -1}, "seed", "-1 is less than the minimum of 0"),
    ({"seed": 2**32}, "seed", "4294967296 is greater than the maximum of 4294967295"),
    ({"foo": 1}, "foo", "unknown key (allowed: allow_corrupted_samples, augmentations, batch_size, data_workers,"),
    ({"preset": 5}, "preset", "expected string, got number 5"),
    ({"preset": "nope"}, "preset", 'unknown preset "nope" (known: demo, mobilenetv2_cityscapes, mobilenetv2_deeplabv3,'),
    ({"model": "mobilenet_v2"}, "model", 'expected object, got string "mobilenet_v2"'),
    ({"model": {"backbone": "resnet50"}}, "model.backbone", '"resnet50" is not one of: "mobilenet_v2", "resnet_101"'),
    ({"model": {"depth_multiplier": 0}}, "model.depth_multiplier", "0 is less than or equal to the minimum of 0"),
    ({"model": {"depth_multiplier": 3}}, "model.depth_multiplier", "3 is greater than the maximum of 2"),
    ({"model": {"output_stride": 12}}, "model.output_stride", "12 is not one of: 8, 16, 32"),
    ({"model": {"output_stride": "16"}}, "model.output_stride", 'expected integer, got string "16"'),
    ({"model": {"atrous_rates": [6, 0]}}, "model.atrous_rates[1]", "0 is less than the minimum of 1"),
    ({"model": {"atrous_rates": 6}}, "model.atrous_rates", "expected array, got number 6"),
    ({"model": {"decoder": "yes"}}, "model.decoder", 'expected boolean, got string "yes"'),
    ({"model": {"kernel": 3}}, "model.kernel", "unknown key (allowed: atrous_rates, backbone, batchnorm_momentum, decoder, depth_multiplier, implementation, output_stride)"),
    ({"model": {"backbone": "xception_65"}}, "model.implementation", '"tf_models" has no backbone "xception_65" (it has: mobilenet_v2, resnet_101)'),
    ({"model": {"backbone": "resnet_101", "implementation": "deeplab"}}, "model.implementation", '"deeplab" has no backbone "resnet_101"'),
    ({"model": {"backbone": "resnet_101", "depth_multiplier": 0.5}}, "model.depth_multiplier", "only applies to backbone mobilenet_v2"),
    ({"model": {"output_stride": 32}, "input_size": {"width": 48, "height": 64}}, "input_size.width", "48 is too small for model.output_stride 32 (minimum 64)"),
    ({"model": {"output_stride": 32}, "input_size": {"width": 64, "height": 63}}, "input_size.height", "63 is too small for model.output_stride 32 (minimum 64)"),
]

INFER_CASES = [
    ({"model": {"gpu_device": -1}}, "model.gpu_device", "-1 is less than the minimum of 0"),
    ({"model": {"gpu_device": "0"}}, "model.gpu_device", 'expected integer, got string "0"'),
    ({"model": {"gpu_devices": [0]}}, "model.gpu_devices", "unknown key (allowed: atrous_rates, gpu_device, output_stride)"),
    ({"mode": {"name": "tiles"}}, "mode.name", '"tiles" is not one of: "full_image"'),
    ({"mode": {"name": 1}}, "mode.name", "expected string, got number 1"),
    ({"mode": "full_image"}, "mode", 'expected object, got string "full_image"'),
    ({"mode": {"window": {"width": 4}}}, "mode.window", "unknown key (allowed: model_classes, name)"),
    ({"mode": {"model_classes": {"save_classes": "all"}}}, "mode.model_classes.save_classes", 'must be "__all__", got string "all"'),
    ({"mode": {"model_classes": {"save_classes": ["a", "a"]}}}, "mode.model_classes.save_classes", 'has duplicate values: "a"'),
    ({"mode": {"model_classes": {"save_classes": ["a", ""]}}}, "mode.model_classes.save_classes[1]", "must not be empty"),
    ({"mode": {"model_classes": {"save_classes": 3}}}, "mode.model_classes.save_classes", "expected string or array, got number 3"),
    ({"mode": {"model_classes": {"add_suffix": 1}}}, "mode.model_classes.add_suffix", "expected string, got number 1"),
    ({"mode": {"source": "roi", "name": "full_image"}}, "mode.source", 'both are given and differ ("roi" vs "full_image")'),
    ({"extra": 1}, "extra", "unknown key (allowed: batch_size, mode, model, tta)"),
    ({"mode": {"name": "roi", "bounds": {"top": "5 %"}}}, "mode.bounds.top", 'expected a number of pixels ("16px") or a percentage ("5%"), got string "5 %"'),
    ({"mode": {"name": "bboxes", "from_classes": "all"}}, "mode.from_classes", 'must be "__all__", got string "all"'),
    ({"mode": {"name": "sliding_window", "window": {"height": 64}, "min_overlap": {"y": 64}}}, "mode.min_overlap.y", "64 must be less than mode.window.height (64), or the window never moves"),
    ({"tta": {"scales": [1.0, 0]}}, "tta.scales[1]", "0 is less than or equal to the minimum of 0"),
    ({"batch_size": 0}, "batch_size", "0 is less than the minimum of 1"),
]


def _write(tmp_path, data) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize("data,key_path,fragment", TRAIN_CASES, ids=[json.dumps(c[0]) for c in TRAIN_CASES])
def test_malformed_train_config(tmp_path, data, key_path, fragment):
    file = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        resolve_train_config(file, None, [])
    assert len(info.value.lines) == 1, info.value.lines
    assert info.value.lines[0].startswith(f"train config {file}: {key_path}: "), info.value.lines
    assert fragment in info.value.lines[0]


@pytest.mark.parametrize("data,key_path,fragment", INFER_CASES, ids=[json.dumps(c[0]) for c in INFER_CASES])
def test_malformed_infer_config(tmp_path, data, key_path, fragment):
    file = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        resolve_infer_config(file, [])
    assert len(info.value.lines) == 1, info.value.lines
    assert info.value.lines[0].startswith(f"inference config {file}: {key_path}: "), info.value.lines
    assert fragment in info.value.lines[0]


def test_exact_minimum_line(tmp_path):
    file = _write(tmp_path, {"batch_size": {"train": 0}})
    with pytest.raises(ConfigError) as info:
        resolve_train_config(file, None, [])
    assert info.value.lines == [f"train config {file}: batch_size.train: 0 is less than the minimum of 1"]


def test_all_schema_problems_reported_sorted_by_key_path(tmp_path):
    data = {"zzz": 1, "lr": "x", "gpu_devices": [0, -1, -2], "batch_size": {"val": 0, "train": 0}, "epochs": 0}
    file = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        resolve_train_config(file, None, [])
    paths = [line.removeprefix(f"train config {file}: ").split(": ")[0] for line in info.value.lines]
    assert paths == ["batch_size.train", "batch_size.val", "epochs", "gpu_devices[1]", "gpu_devices[2]", "lr", "zzz"]


def test_list_indices_sort_numerically(tmp_path):
    file = _write(tmp_path, {"gpu_devices": [-1] + list(range(1, 10)) + [-1]})
    with pytest.raises(ConfigError) as info:
        resolve_train_config(file, None, [])
    assert [line.split(": ")[1] for line in info.value.lines] == ["gpu_devices", "gpu_devices[0]", "gpu_devices[10]"]


def test_each_unknown_key_gets_its_own_line(tmp_path):
    file = _write(tmp_path, {"batch_size": {"a": 1, "b": 2}})
    with pytest.raises(ConfigError) as info:
        resolve_train_config(file, None, [])
    assert info.value.lines == [
        f"train config {file}: batch_size.a: unknown key (allowed: train, val)",
        f"train config {file}: batch_size.b: unknown key (allowed: train, val)",
    ]


def test_set_errors_are_marked(tmp_path):
    file = _write(tmp_path, {})
    with pytest.raises(ConfigError) as info:
        resolve_train_config(file, None, ["lr=abc"])
    assert info.value.lines == [f'train config {file} (+ --set): lr: expected number, got string "abc"']
    with pytest.raises(ConfigError) as info:
        resolve_train_config(None, None, ["epochs=0"])
    assert info.value.lines == ["train config (+ --set): epochs: 0 is less than the minimum of 1"]
    with pytest.raises(ConfigError) as info:
        resolve_infer_config(None, ["model.gpu_device=-1"])
    assert info.value.lines == ["inference config (+ --set): model.gpu_device: -1 is less than the minimum of 0"]


def test_set_into_non_object_is_a_type_error():
    with pytest.raises(ConfigError) as info:
        resolve_train_config(None, None, ["lr.x=1"])
    assert info.value.lines == ['train config (+ --set): lr: expected number, got object {"x": 1}']


@pytest.mark.parametrize(
    "text,fragment",
    [
        ('{"lr": 0.1,}', "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 12"),
        ('{\n  "lr": 0.1\n  "epochs": 2\n}', "not valid JSON: Expecting ',' delimiter at line 3, column 3"),
        ("", "not valid JSON: Expecting value at line 1, column 1"),
        ('{"lr": NaN}', "not valid JSON: NaN is not a JSON value"),
        ("[1, 2]", "expected a JSON object at the top level, got array [1, 2]"),
        ('"lr"', 'expected a JSON object at the top level, got string "lr"'),
    ],
)
def test_unreadable_config_file(tmp_path, text, fragment):
    path = tmp_path / "bad.json"
    path.write_text(text)
    for resolve, kind in ((lambda f: resolve_train_config(f, None, []), "train"), (lambda f: resolve_infer_config(f, []), "inference")):
        with pytest.raises(ConfigError) as info:
            resolve(str(path))
        assert info.value.lines == [f"{kind} config {path}: {fragment}"]


def test_missing_config_file(tmp_path):
    path = tmp_path / "missing.json"
    with pytest.raises(ConfigError) as info:
        resolve_train_config(str(path), None, [])
    assert info.value.lines == [f"train config {path}: cannot read (No such file or directory)"]
    with pytest.raises(ConfigError) as info:
        resolve_infer_config(str(tmp_path), [])
    assert info.value.lines == [f"inference config {tmp_path}: cannot read (Is a directory)"]


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"dataset_tags": {"train": "é"}}'.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        resolve_train_config(str(path), None, [])
    assert info.value.lines[0].startswith(f"train config {path}: not UTF-8 text")
