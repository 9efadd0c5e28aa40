"""train.py --resume: a run killed at any moment continues to the same steps, with no duplicated metrics."""
import json
import shutil
import signal
import subprocess
import sys
import os
import time

import pytest

from tests.conftest import REPO, TINY_OVERRIDES, kept_checkpoints, read_jsonl, run_script, tensorboard_values
from trainer.cli import train as train_cli


def _assert_complete_like(run, reference):
    records, expected = read_jsonl(run / "metrics.jsonl"), read_jsonl(reference / "metrics.jsonl")
    assert [r["step"] for r in records] == [r["step"] for r in expected] == [1, 2, 3, 4]
    assert [r["epoch"] for r in records] == [r["epoch"] for r in expected]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == kept_checkpoints(records)
    assert (run / "last").resolve().name == "00000004"
    # the same batches in the same order from the same weights: the same run, up to float noise
    for ours, theirs in zip(records, expected):
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-3)
        assert ours["val_loss"] == pytest.approx(theirs["val_loss"], rel=1e-3)
    assert (run / "curves.png").stat().st_size > 0
    # TensorBoard shows each step once: the resumed run's SessionLog START dropped the lost stretch's events
    for tag, values in tensorboard_values(run).items():
        assert [step for step, _ in values] == [1, 2, 3, 4], tag


@pytest.mark.slow   # 33 s; the default run keeps the kill while writing a checkpoint
def test_resume_after_a_kill(tiny_project, trained_run, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), "--project", str(tiny_project),
                             "--output", str(run), *TINY_OVERRIDES], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / "00000002").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = len(read_jsonl(run / "metrics.jsonl"))
    assert killed_at < 4, "the run finished before it could be killed"

    result = run_script("train.py", "--resume", str(run))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resumed from" in result.stdout
    _assert_complete_like(run, trained_run)


def test_resume_after_a_kill_while_writing_a_checkpoint(trained_run, tmp_path):
    """Killed after metrics.jsonl got step 4's record (and half of another line), before its checkpoint
    folder was renamed into place."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, symlinks=True)
    checkpoints = run / "checkpoints"
    (checkpoints / "00000004").rename(checkpoints / ".tmp-00000004")
    (checkpoints / ".tmp-00000004" / "config.json").unlink()
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2.5, "ste')

    result = run_script("train.py", "--resume", str(run))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "step 3, 3 validation(s) so far" in result.stdout
    assert not list(checkpoints.glob(".tmp-*"))
    _assert_complete_like(run, trained_run)


def test_resume_refuses_a_new_config_and_non_runs(tmp_path, capsys):
    assert train_cli.main(["--resume", str(tmp_path), "--set", "lr=0.1", "--output", "x"]) == 2
    assert capsys.readouterr().err == ("error: --resume continues a run with its own config and folder: "
                                       "not with --set, --output\n")
    assert train_cli.main(["--resume", str(tmp_path)]) == 2
    assert "not a run folder of this tool" in capsys.readouterr().err
