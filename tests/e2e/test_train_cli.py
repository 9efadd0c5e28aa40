"""train.py end to end on a generated project: schedule, classes, checkpoints, metrics records."""
import json
import shutil

import pytest

from tests.conftest import (COMPAT, TINY_OVERRIDES, kept_checkpoints, read_jsonl, run_cli_reporting_tensorflow,
                            run_script)
from trainer.cli import train as train_cli

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
    records = read_jsonl(trained_run / "metrics.jsonl")
    assert folders == kept_checkpoints(records)   # checkpoints.keep_last: 3 by default, and the best
    for record in records:
        folder = trained_run / "checkpoints" / f"{record['step']:08d}"
        if folder.name not in folders:
            continue
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


def test_tensorboard_and_curves_written(trained_run):
    import tensorflow as tf

    tags = {value.tag for events in (trained_run / "tensorboard").glob("events.out.tfevents.*")
            for event in tf.compat.v1.train.summary_iterator(str(events)) for value in event.summary.value}
    assert {"train/loss", "train/lr", "val/mean_iou", "val_iou/circle", "val/image_truth_prediction"} <= tags
    assert (trained_run / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_refuses_non_empty_output(trained_run, tiny_project):
    result = run_script("train.py", "--project", str(tiny_project), "--output", str(trained_run))
    assert result.returncode == 2
    assert "already exists and is not empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_compat_train_config_continue_training_is_a_clear_error_before_tensorflow(tiny_project, tmp_path):
    config = COMPAT / "supervisely_train_config.json"
    if not config.is_file():
        pytest.skip("shared/compat is not next to the repository")
    result = run_cli_reporting_tensorflow("train", "--config", str(config), "--project", str(tiny_project),
                                          "--output", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    assert result.stderr == ("error: weights_init_type: continue_training needs init_weights: the checkpoint or "
                             "run folder to continue from\n")
    assert result.stdout.splitlines()[-1] == "tensorflow loaded: False"
    assert not (tmp_path / "run").exists()


@pytest.mark.slow   # 17 s
def test_continue_training_from_a_run(trained_run, tiny_project, tmp_path):
    result = run_script("train.py", "--project", str(tiny_project), "--output", str(tmp_path / "run"), *TINY_OVERRIDES,
                        "--set", f"init_weights={trained_run}", "--set", "weights_init_type=continue_training",
                        "--set", "epochs=1", "--set", "val_every=1")
    assert result.returncode == 0, result.stdout + result.stderr
    best = (trained_run / "best").resolve()
    assert f"weights from {best} (continue_training): " in result.stdout
    assert "optimizer state loaded (its step " in result.stdout
    assert [r["step"] for r in read_jsonl(tmp_path / "run" / "metrics.jsonl")] == [2]   # a new run: its own steps


def test_continue_training_refuses_other_classes(trained_run, tiny_project, tmp_path, capsys):
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree((trained_run / "best").resolve(), checkpoint)
    info = json.loads((checkpoint / "config.json").read_text())
    info["class_title_to_idx"]["torus"] = info["class_title_to_idx"].pop("ring")
    (checkpoint / "config.json").write_text(json.dumps(info))
    status = train_cli.main(["--project", str(tiny_project), "--output", str(tmp_path / "run"),
                             "--set", f"init_weights={checkpoint}", "--set", "weights_init_type=continue_training",
                             *TINY_OVERRIDES])
    assert status == 2
    assert capsys.readouterr().err.splitlines() == [
        f'error: init_weights {checkpoint} (continue_training): class "torus" is in the checkpoint but not in the project',
        f'error: init_weights {checkpoint} (continue_training): class "ring" is in the project but not in the checkpoint']
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


def test_resume_of_a_damaged_run_is_a_user_error(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("[1, 2]")
    (tmp_path / "run" / "run.json").write_text('{"project": "x"}')
    status = train_cli.main(["--resume", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2 and "not a train config" in err and "Traceback" not in err


def test_resume_check_reads_the_run_and_its_project_without_tensorflow(trained_run):
    result = run_cli_reporting_tensorflow("train", "--resume", str(trained_run), "--check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == ["check passed: the project can be trained on", "tensorflow loaded: False"]
