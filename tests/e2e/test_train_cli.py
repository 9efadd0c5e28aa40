"""train.py end to end on a generated project: schedule, classes, checkpoints, metrics records."""
import json

import pytest

from tests.conftest import COMPAT, TINY_OVERRIDES, read_jsonl, run_script

EXPECTED_CLASSES = {"bg": 0, "circle": 1, "marker": 2, "ring": 3, "square": 4, "triangle": 5}


def test_val_every_half_over_two_epochs(trained_run):
    records = read_jsonl(trained_run / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [0.5, 1.0, 1.5, 2.0]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    for r in records:
        assert set(r) >= {"epoch", "step", "train_loss", "val_loss", "mean_iou", "pixel_accuracy", "per_class_iou"}
        assert set(r["per_class_iou"]) == set(EXPECTED_CLASSES)
        assert 0.0 <= r["pixel_accuracy"] <= 1.0


def test_checkpoints_and_links(trained_run):
    folders = sorted(p.name for p in (trained_run / "checkpoints").iterdir())
    assert folders == ["00000001", "00000002", "00000003", "00000004"]
    records = read_jsonl(trained_run / "metrics.jsonl")
    for record in records:
        folder = trained_run / "checkpoints" / f"{record['step']:08d}"
        info = json.loads((folder / "config.json").read_text())
        assert info["class_title_to_idx"] == EXPECTED_CLASSES
        assert [c["title"] for c in info["out_classes"]] == list(EXPECTED_CLASSES)
        assert info["out_classes"][0]["color"] == "#222222"   # bg was not in the project: added
        assert info["settings"]["input_size"] == {"width": 64, "height": 64}
        assert info["metrics"] == record
        assert (folder / "weights" / "ckpt.index").is_file()
    assert (trained_run / "last").resolve().name == "00000004"
    best = max(records, key=lambda r: r["mean_iou"])
    best_steps = [r["step"] for r in records if r["mean_iou"] == best["mean_iou"]]
    assert int((trained_run / "best").resolve().name) == best_steps[0]
    saved = json.loads((trained_run / "config.json").read_text())
    assert saved["preset"] == "demo" and saved["epochs"] == 2 and saved["val_every"] == 0.5
    assert not list((trained_run / "checkpoints").glob(".tmp-*"))


def test_tensorboard_events_written(trained_run):
    assert list((trained_run / "tensorboard").glob("events.out.tfevents.*"))


def test_refuses_non_empty_output(trained_run, tiny_project):
    result = run_script("train.py", "--project", str(tiny_project), "--output", str(trained_run))
    assert result.returncode == 2
    assert "already exists and is not empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_compat_train_config_continue_training_is_a_clear_error(tiny_project, tmp_path):
    config = COMPAT / "supervisely_train_config.json"
    if not config.is_file():
        pytest.skip("shared/compat is not next to the repository")
    result = run_script("train.py", "--config", str(config), "--project", str(tiny_project),
                        "--output", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    assert "continue_training" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_compat_train_config_drives_a_run(tiny_project, tmp_path):
    config = COMPAT / "supervisely_train_config.json"
    if not config.is_file():
        pytest.skip("shared/compat is not next to the repository")
    result = run_script("train.py", "--config", str(config), "--project", str(tiny_project),
                        "--output", str(tmp_path / "run"), "--set", "weights_init_type=transfer_learning",
                        "--set", "epochs=1", "--set", 'input_size={"width": 64, "height": 64}',
                        "--set", 'model={"depth_multiplier": 0.35}')
    assert result.returncode == 0, result.stdout + result.stderr
    records = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    # 6 train images at the config's batch 12 = one iteration per epoch; val_every 0.5 is due at 1.0
    assert [r["epoch"] for r in records] == [1.0]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["batch_size"] == {"train": 12, "val": 6}


def test_data_error_exits_2_naming_the_split(tiny_project, tmp_path):
    result = run_script("train.py", "--project", str(tiny_project), "--output", str(tmp_path / "run"),
                        "--set", "dataset_tags.val=holdout", *TINY_OVERRIDES)
    assert result.returncode == 2
    assert 'There are no annotations with tag "holdout"' in result.stderr
    assert "Traceback" not in result.stderr
