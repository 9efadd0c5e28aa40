"""Checkpoint folders, RUN/checkpoints/NNNNNNNN/{weights, config.json}: finding them and reading their
settings without TensorFlow, so bad --model / --resume input is refused before TensorFlow loads."""
from pathlib import Path

from trainer.config.resolve import fill_defaults
from trainer.config.validate import load_schema, validate_train_config
from trainer.errors import UserError
from trainer.io import read_json

WEIGHTS_PREFIX = "weights/ckpt"


def read_info(checkpoint_dir: Path) -> dict:
    """The checkpoint's config.json, its settings completed with defaults of keys added since it was written."""
    path = checkpoint_dir / "config.json"
    info = read_json(path, "checkpoint")
    if not isinstance(info, dict) or not isinstance(info.get("settings"), dict):
        raise UserError(f"checkpoint {path}: not a checkpoint's config.json (no settings object)")
    info["settings"] = fill_defaults(info["settings"], load_schema("train"))
    validate_train_config(info["settings"], f"checkpoint {path}: settings")
    return info


def is_checkpoint(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / (WEIGHTS_PREFIX + ".index")).is_file()


def find_checkpoint(path: Path, what: str = "--model") -> Path:
    """A checkpoint folder itself, or a run folder's `best` checkpoint."""
    if is_checkpoint(path):
        return path
    if (path / "best").is_dir():
        return (path / "best").resolve()
    raise UserError(f"{what} {path}: not a checkpoint folder (config.json + weights/) nor a run folder with best/")


def newest_checkpoint(run_dir: Path) -> Path | None:
    """The run's highest-step complete checkpoint, whatever `last` says: a run killed between renaming a
    checkpoint folder and repointing the link has a newer one."""
    root = run_dir / "checkpoints"
    folders = [p for p in root.iterdir() if p.name.isdigit() and is_checkpoint(p)] if root.is_dir() else []
    return max(folders, key=lambda p: int(p.name), default=None)


def newest_run(runs_root: Path) -> Path:
    """The run under `runs_root` whose newest checkpoint is the most recent."""
    runs = [p for p in runs_root.glob("*/last") if p.is_dir()] if runs_root.is_dir() else []
    if not runs:
        raise UserError(f"no trained run found under {runs_root}/: train one first (python train.py) or pass --model")
    return max(runs, key=lambda link: link.resolve().stat().st_mtime).parent
