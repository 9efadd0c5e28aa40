"""Bounded disk use and full disks: a run keeps its newest checkpoints and the best; a write that fails for lack of
space stops the command with one line, leaves everything written before intact, and --resume then finishes the job."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY_OVERRIDES, kept_checkpoints, read_jsonl, run_script, tensorboard_values
from trainer.data.supervisely import read_project
from trainer.infer.writer import LEDGER, unfinished_dir

KEEP_LAST = ["--set", "checkpoints.keep_last=2"]


def _folders(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").iterdir())


def _run_failing(target: str, n: int, command: str, *args: str) -> subprocess.CompletedProcess:
    """The command with the nth write of `target` failing for lack of space (tests/e2e/enospc.py)."""
    return subprocess.run([sys.executable, "-m", "tests.e2e.enospc", target, str(n), command, *args], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=900)


def _assert_one_error_line(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [expected], result.stderr


def _assert_intact(run: Path) -> None:
    """Complete checkpoints only, best/last on them, only whole lines in metrics.jsonl."""
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    assert all(line.endswith("\n") for line in lines)
    records = [json.loads(line) for line in lines]
    for name in _folders(run):
        assert not name.startswith("."), name    # no temporary folder left behind
        assert (run / "checkpoints" / name / "config.json").is_file()
        assert (run / "checkpoints" / name / "weights" / "ckpt.index").is_file()
    for link in ("best", "last"):
        assert (run / link).resolve().parent == (run / "checkpoints").resolve()
        assert (run / link).resolve().name in _folders(run)
    assert {f"{r['step']:08d}" for r in records} >= set(_folders(run))


@pytest.fixture(scope="module")
def kept_run(tiny_project, tmp_path_factory) -> Path:
    """4 validations (steps 1-4) keeping the newest 2 checkpoints."""
    run = tmp_path_factory.mktemp("kept") / "run"
    result = run_script("train.py", "--project", str(tiny_project), "--output", str(run), *TINY_OVERRIDES, *KEEP_LAST)
    assert result.returncode == 0, result.stdout + result.stderr
    return run


@pytest.mark.slow   # the retention rules are unit-tested in the default run (tests/model/test_checkpoint_folders.py)
def test_keep_last_keeps_the_newest_and_the_best(kept_run, tiny_project, tmp_path):
    records = read_jsonl(kept_run / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert _folders(kept_run) == kept_checkpoints(records, 2)
    assert (kept_run / "last").resolve().name == "00000004"
    best = max(records, key=lambda r: r["mean_iou"])["step"]
    assert (kept_run / "best").resolve().name == f"{best:08d}"
    _assert_intact(kept_run)

    result = run_script("infer.py", "--model", str(kept_run), "--project", str(tiny_project),
                        "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"model: {(kept_run / 'best').resolve()}" in result.stdout.splitlines()


# Slow (60 s each with the uninterrupted run): the default run covers failed writes in tests/test_io.py and a
# stop and resume at a full disk in-process in tests/infer/test_resume.py.
@pytest.mark.parametrize("target,path", [
    pytest.param("checkpoint", "checkpoints/00000004", marks=pytest.mark.slow),
    pytest.param("metrics", "metrics.jsonl", marks=pytest.mark.slow),
    pytest.param("tensorboard", "tensorboard", marks=pytest.mark.slow),
    pytest.param("curves", "curves.png", marks=pytest.mark.slow),
])
def test_disk_full_at_the_last_validation_then_resume(target, path, kept_run, tiny_project, tmp_path):
    """The 4th validation's write fails: the run stops with one line, its first 3 checkpoints kept (the newest 2 and
    the best); once space is back, --resume finishes with the run an uninterrupted one makes."""
    run = tmp_path / "run"
    result = _run_failing(target, 4, "train", "--project", str(tiny_project), "--output", str(run),
                          *TINY_OVERRIDES, *KEEP_LAST)
    _assert_one_error_line(result, f"error: no space left on device writing {run / path}: free space and run "
                                   f"`train.py --resume {run}`")
    _assert_intact(run)
    assert (run / "last").resolve().name == "00000003"
    assert _folders(run) == kept_checkpoints(read_jsonl(kept_run / "metrics.jsonl")[:3], 2)

    result = run_script("train.py", "--resume", str(run))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "step 3, 3 validation(s) so far" in result.stdout
    records, expected = read_jsonl(run / "metrics.jsonl"), read_jsonl(kept_run / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    for ours, theirs in zip(records, expected):
        assert ours["val_loss"] == pytest.approx(theirs["val_loss"], rel=1e-3)
    assert _folders(run) == _folders(kept_run)
    assert (run / "curves.png").read_bytes().startswith(b"\x89PNG")
    _assert_intact(run)
    for tag, values in tensorboard_values(run).items():
        assert [step for step, _ in values] == [1, 2, 3, 4], tag


@pytest.mark.slow   # the same stop and resume runs in-process in tests/infer/test_resume.py
def test_inference_disk_full_then_resume(trained_run, tiny_project, tmp_path):
    output = tmp_path / "out"
    args = ["--model", str(trained_run), "--project", str(tiny_project), "--output", str(output)]
    result = _run_failing("image", 4, "infer", *args)
    partial = unfinished_dir(output)
    samples = read_project(tiny_project).samples   # written in this order
    failed = partial / samples[3].dataset / "img" / samples[3].name
    _assert_one_error_line(result, f"error: no space left on device writing {failed}: free space and rerun the "
                                   "same command with --resume")
    assert not output.exists()
    assert [(r["dataset"], r["name"]) for r in read_jsonl(partial / LEDGER)] == [(s.dataset, s.name)
                                                                                 for s in samples[:3]]
    assert (partial / LEDGER).read_text().endswith("\n")
    assert not failed.exists() and not list(partial.rglob(".*.tmp"))

    result = run_script("infer.py", *args, "--resume")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resuming: 3 image(s) finished earlier, 6 to go" in result.stdout
    assert not partial.exists()
    assert len(list(output.glob("*/img/*"))) == len(list(tiny_project.glob("*/img/*")))


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of its own (root only): `resize(bytes)` changes its size."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")

    def resize(size: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)

    yield mount, resize
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.slow
def test_a_real_full_disk_then_resume(small_disk, kept_run, tiny_project):
    """On a disk with room for 2.5 checkpoints, whichever write finds it full stops the run; after the disk grows,
    --resume finishes the same run."""
    mount, resize = small_disk
    checkpoint_size = sum(p.stat().st_size for p in (kept_run / "last").resolve().rglob("*") if p.is_file())
    resize(int(2.5 * checkpoint_size))
    run = mount / "run"
    result = run_script("train.py", "--project", str(tiny_project), "--output", str(run), *TINY_OVERRIDES, *KEEP_LAST)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: no space left on device writing {run}/"), result.stderr
    assert lines[0].endswith(f": free space and run `train.py --resume {run}`")
    _assert_intact(run)
    assert len(_folders(run)) == 2

    resize(10 * checkpoint_size)
    result = run_script("train.py", "--resume", str(run))
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r["step"] for r in read_jsonl(run / "metrics.jsonl")] == [1, 2, 3, 4]
    assert _folders(run) == _folders(kept_run)
    _assert_intact(run)
    for tag, values in tensorboard_values(run).items():
        assert [step for step, _ in values] == [1, 2, 3, 4], tag
