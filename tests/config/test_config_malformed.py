"""Every malformed config must fail with ConfigError lines that name the file, the key path and the problem."""

import json

import pytest

from tests.config.cases import INFER_CASES, TRAIN_CASES
from trainer.config.resolve import resolve_infer_config, resolve_train_config
from trainer.errors import ConfigError

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
