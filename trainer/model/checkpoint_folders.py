"""Checkpoint folders, RUN/checkpoints/NNNNNNNN/{weights, config.json}: finding them, choosing how to run their
weights, and keeping a run's newest few, without TensorFlow, so bad --model / --resume input is refused before
TensorFlow loads."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from trainer.errors import UserError
from trainer.model.checkpoint_info import CONFIG_FILE, CheckpointInfo
from trainer.model.stride import at_output_stride, describe_change

WEIGHTS_PREFIX = "weights/ckpt"


@dataclass(frozen=True)
class ModelSource:
    """A checkpoint and the settings its network is built with: the trained ones (or the checkpoint's inference
    defaults: a converted frozen graph runs as it was exported), or the same weights at another output stride
    (trainer.model.stride)."""
    checkpoint: Path
    info: CheckpointInfo
    model: dict

    @classmethod
    def locate(cls, path: Path, output_stride: int | None = None, atrous_rates: list[int] | None = None, *,
               what: str = "--model", prefix: str = "model.") -> ModelSource:
        """A checkpoint folder or a run folder's best checkpoint; `prefix` is how messages name the stride keys."""
        checkpoint = find_checkpoint(Path(path), what)
        info = CheckpointInfo.read(checkpoint)
        return cls(checkpoint, info, at_output_stride(info.inference_model, output_stride, atrous_rates, prefix=prefix))

    def change(self) -> str | None:
        """A log line when the network runs differently from how it was trained."""
        change = describe_change(self.info.model, self.model)
        if change and self.model == self.info.inference_model:
            change += ", as its frozen graph was exported (its inference default)"
        return change


def is_checkpoint(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() and (path / (WEIGHTS_PREFIX + ".index")).is_file()


def find_checkpoint(path: Path, what: str = "--model") -> Path:
    """A checkpoint folder itself, or a run folder's `best` checkpoint."""
    if is_checkpoint(path):
        return path
    if (path / "best").is_dir():
        return (path / "best").resolve()
    raise UserError(f"{what} {path}: not a checkpoint folder (config.json + weights/) nor a run folder with best/")


def run_checkpoints(run_dir: Path) -> list[Path]:
    """The run's complete checkpoints, oldest first."""
    root = run_dir / "checkpoints"
    folders = [p for p in root.iterdir() if p.name.isdigit() and is_checkpoint(p)] if root.is_dir() else []
    return sorted(folders, key=lambda p: int(p.name))


def newest_checkpoint(run_dir: Path) -> Path | None:
    """The run's highest-step complete checkpoint, whatever `last` says: a run killed between renaming a
    checkpoint folder and repointing the link has a newer one."""
    folders = run_checkpoints(run_dir)
    return folders[-1] if folders else None


def prune_checkpoints(run_dir: Path, keep_last: int) -> None:
    """Delete all but the newest `keep_last` complete checkpoints and those `best` and `last` point to. Called only
    once the newest is complete and the links repointed. Each folder is renamed out of sight before it is emptied:
    a kill mid-deletion leaves a `.tmp-` name that --resume tidies away, never a checkpoint with files missing."""
    folders = run_checkpoints(run_dir)
    kept = {p.resolve() for p in folders[-keep_last:]}
    kept |= {(run_dir / link).resolve() for link in ("best", "last") if (run_dir / link).is_symlink()}
    for folder in (p for p in folders if p.resolve() not in kept):
        doomed = folder.with_name(f".tmp-deleted-{folder.name}")
        os.replace(folder, doomed)
        shutil.rmtree(doomed)


def newest_run(runs_root: Path) -> Path:
    """The run under `runs_root` whose newest checkpoint is the most recent."""
    runs = [p for p in runs_root.glob("*/last") if p.is_dir()] if runs_root.is_dir() else []
    if not runs:
        raise UserError(f"no trained run found under {runs_root}/: train one first (python train.py) or pass --model")
    return max(runs, key=lambda link: link.resolve().stat().st_mtime).parent
