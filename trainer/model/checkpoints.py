"""Checkpoint folders' weights: written atomically, restored into a model rebuilt from the folder's settings."""
import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from trainer.io import point_link
from trainer.model.checkpoint_folders import WEIGHTS_PREFIX, ModelSource
from trainer.model.checkpoint_info import CheckpointInfo


def write_folder(folder: Path, model, info: CheckpointInfo, optimizer=None, tmp: Path | None = None) -> None:
    """Weights (and optimizer state) and config.json under the temporary name `tmp`, then renamed to `folder` (an
    empty existing folder is replaced): a reader never sees a half-written checkpoint."""
    tmp = tmp or folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        parts = {"model": model} if optimizer is None else {"model": model, "optimizer": optimizer}
        tf.train.Checkpoint(**parts).write(str(tmp / WEIGHTS_PREFIX))
        info.write(tmp)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_checkpoint(run_dir: Path, step: int, model, optimizer, info: CheckpointInfo, is_best: bool) -> Path:
    """RUN/checkpoints/<step>, then repoint `last` (and `best`). The temporary name is one --resume tidies away."""
    root = run_dir / "checkpoints"
    root.mkdir(exist_ok=True)
    final = root / f"{step:08d}"
    write_folder(final, model, info, optimizer, tmp=root / f".tmp-{step:08d}")
    point_link(run_dir / "last", final)
    if is_best:
        point_link(run_dir / "best", final)
    return final


def write_discarded(model, optimizer) -> None:
    """A worker that does not own the run folder still takes part in each save (under
    MultiWorkerMirroredStrategy saving runs collective ops), into a folder that is then deleted."""
    with tempfile.TemporaryDirectory() as tmp:
        tf.train.Checkpoint(model=model, optimizer=optimizer).write(os.path.join(tmp, WEIGHTS_PREFIX))


def restore_model(model, checkpoint_dir: Path) -> None:
    """Load the model weights of a checkpoint folder (its optimizer state is not needed here). Weights of the model
    the checkpoint lacks keep their initial values: that is how checkpoints written before the DeepLab MobileNetV2
    had BatchNorm gammas still load exactly (gamma 1 is no scale). A weight of another shape is an error."""
    tf.train.Checkpoint(model=model).read(str(checkpoint_dir / WEIGHTS_PREFIX)).expect_partial()


def load_checkpoint_model(source: ModelSource):
    """The checkpoint's network built with the source's settings, its weights restored."""
    from trainer.model.builder import build_model   # the builder loads tf-models-official: only when needed

    model = build_model(source.model, source.info.classes.num_classes)
    restore_model(model, source.checkpoint)
    return model
