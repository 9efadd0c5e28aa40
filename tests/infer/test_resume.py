"""--resume: an interrupted run continued gives exactly the output of an uninterrupted one, finished images
are not written again, and only the same run can be continued."""
import errno
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.infer.known import channel_model, class_image, random_classes, run, write_project
from trainer.errors import UserError, WriteError
from trainer.infer.run import Options
from trainer.infer.writer import LEDGER, unfinished_dir
from trainer.io import read_json_lines

MODE = {"name": "sliding_window", "window": {"width": 8, "height": 8}, "min_overlap": {"x": 2, "y": 2},
        "save": True, "class_name": "win"}
OPTIONS = Options(save_masks=True, evaluate_tag="val")


@pytest.fixture
def project(tmp_path) -> Path:
    images = {}
    for i, (height, width) in enumerate([(8, 12), (10, 10), (9, 16), (8, 8), (12, 9), (11, 13)]):
        classes = random_classes(height, width, seed=i)
        images[(f"ds{i % 2}", f"im{i}.png")] = (class_image(classes, seed=i), [], ["val"] if i % 3 else [])
    return write_project(tmp_path / "p", images)


class _InterruptedAfter:
    """The predictor, with a Ctrl-C arriving in its call number `calls + 1`."""

    def __init__(self, predictor, calls: int):
        self._predictor, self._left = predictor, calls

    def __getattr__(self, name):
        return getattr(self._predictor, name)

    def scores(self, crops):
        self._count()
        return self._predictor.scores(crops)

    def labels(self, crops):
        self._count()
        return self._predictor.labels(crops)

    def _count(self) -> None:
        if self._left == 0:
            raise KeyboardInterrupt
        self._left -= 1


def _run(project, output, options=OPTIONS, mode=MODE, model_wrapper=None):
    return run(project, output, channel_model(), (8, 8), mode, options=options, model_wrapper=model_wrapper)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_interrupted_then_resumed_equals_uninterrupted(project, tmp_path):
    _run(project, tmp_path / "reference")
    output = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        _run(project, output, model_wrapper=lambda p: _InterruptedAfter(p, calls=3))
    partial = unfinished_dir(output)
    assert not output.exists() and partial.is_dir()
    ledger = partial / LEDGER
    assert len(ledger.read_text().splitlines()) == 3  # images scored before the interrupt were all finished
    with open(ledger, "a") as f:
        f.write('{"dataset": "ds1", "na')  # a line cut short by a hard kill: that image is redone
    written = {path: (partial / path).stat().st_ino for path in _tree(partial) if not path.startswith(".")}

    assert _run(project, output, replace(OPTIONS, resume=True)) == []
    assert _tree(output) == _tree(tmp_path / "reference")
    assert not partial.exists()
    assert all((output / path).stat().st_ino == inode for path, inode in written.items())  # not written again


def test_resume_needs_an_unfinished_run(project, tmp_path):
    with pytest.raises(UserError, match="--resume: there is no unfinished run of"):
        _run(project, tmp_path / "out", replace(OPTIONS, resume=True))


def test_an_unfinished_run_is_neither_overwritten_nor_resumed_differently(project, tmp_path):
    output = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        _run(project, output, model_wrapper=lambda p: _InterruptedAfter(p, calls=1))
    with pytest.raises(UserError, match="add --resume to continue it"):
        _run(project, output)
    with pytest.raises(UserError) as info:
        _run(project, output, replace(OPTIONS, resume=True, save_masks=False),
             mode={**MODE, "window": {"width": 6, "height": 8}})
    partial = unfinished_dir(output)
    assert info.value.lines == [
        f"--resume: the unfinished run in {partial} was started with config.mode.window.width 8, now 6",
        f"--resume: the unfinished run in {partial} was started with save_masks true, now false",
        "rerun exactly the command that started it, or delete that folder to start again"]


def test_a_full_disk_stops_with_the_unfinished_folder_kept_then_resume_finishes(project, tmp_path, monkeypatch):
    """The 4th image's copy finds the disk full after half of it: one error naming it, the 3 finished images and
    their ledger lines kept, no temporary file; once space is back --resume gives the uninterrupted output."""
    _run(project, tmp_path / "reference")
    real_copy, copies = shutil.copyfile, []

    def copy_until_full(src, dst):
        copies.append(dst)
        if len(copies) < 4:
            return real_copy(src, dst)
        Path(dst).write_bytes(Path(src).read_bytes()[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(shutil, "copyfile", copy_until_full)
    output = tmp_path / "out"
    with pytest.raises(WriteError) as error:
        _run(project, output)
    partial = unfinished_dir(output)
    finished = read_json_lines(partial / LEDGER)
    assert len(finished) == 3 and len(list(partial.glob("*/img/*"))) == 3
    assert (partial / LEDGER).read_text().count("\n") == 3
    assert not list(partial.rglob(".*.tmp")) and not output.exists()
    [line] = error.value.lines
    prefix, suffix = "no space left on device writing ", ": free space and rerun the same command with --resume"
    assert line.startswith(prefix) and line.endswith(suffix), line
    failed = Path(line[len(prefix):-len(suffix)])
    assert failed.parent.parent.parent == partial and failed.parent.name == "img" and not failed.exists()
    assert (failed.parent.parent.name, failed.name) not in {(r["dataset"], r["name"]) for r in finished}

    monkeypatch.setattr(shutil, "copyfile", real_copy)
    assert _run(project, output, replace(OPTIONS, resume=True)) == []
    assert _tree(output) == _tree(tmp_path / "reference")
