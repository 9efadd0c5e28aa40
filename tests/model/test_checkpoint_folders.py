"""A run's checkpoints kept to its newest few and the best; only complete ones count."""
from pathlib import Path

import pytest

from trainer.io import point_link
from trainer.model.checkpoint_folders import newest_checkpoint, prune_checkpoints, run_checkpoints


def _checkpoint(run: Path, step: int) -> Path:
    folder = run / "checkpoints" / f"{step:08d}"
    (folder / "weights").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "weights" / "ckpt.index").write_text("")
    return folder


def _names(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").iterdir())


@pytest.mark.parametrize("keep_last,best,kept", [
    (2, 1, [1, 4, 5]),     # the best is kept however old
    (2, 5, [4, 5]),
    (1, 3, [3, 5]),
    (3, 4, [3, 4, 5]),
    (9, 1, [1, 2, 3, 4, 5]),
])
def test_prune_keeps_the_newest_and_the_best(tmp_path, keep_last, best, kept):
    folders = {step: _checkpoint(tmp_path, step) for step in range(1, 6)}
    point_link(tmp_path / "best", folders[best])
    point_link(tmp_path / "last", folders[5])
    prune_checkpoints(tmp_path, keep_last)
    assert _names(tmp_path) == [f"{step:08d}" for step in kept]
    assert (tmp_path / "best").resolve() == folders[best].resolve()


def test_prune_never_deletes_what_last_points_to_nor_counts_unfinished_folders(tmp_path):
    """Killed after the newest folder was renamed into place but before `last` moved: `last` still holds."""
    for step in (1, 2, 3):
        _checkpoint(tmp_path, step)
    (tmp_path / "checkpoints" / ".tmp-00000004" / "weights").mkdir(parents=True)   # being written
    point_link(tmp_path / "best", tmp_path / "checkpoints" / "00000003")
    point_link(tmp_path / "last", tmp_path / "checkpoints" / "00000001")
    prune_checkpoints(tmp_path, 1)
    assert _names(tmp_path) == [".tmp-00000004", "00000001", "00000003"]
    assert [p.name for p in run_checkpoints(tmp_path)] == ["00000001", "00000003"]
    assert newest_checkpoint(tmp_path).name == "00000003"
