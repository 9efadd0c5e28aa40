"""Checkpoint folders' weights: written atomically, restored into a model rebuilt from the folder's settings."""
import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from trainer.io import point_link, writing
from trainer.model.checkpoint_folders import WEIGHTS_PREFIX, ModelSource, prune_checkpoints
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
    """RUN/checkpoints/<step>, then repoint `last` (and `best`), then delete the checkpoints beyond the run's
    `checkpoints.keep_last`. The temporary name is one --resume tidies away. A failed write (a full disk) is a
    WriteError naming the checkpoint; the earlier checkpoints and the links are left as they were."""
    root = run_dir / "checkpoints"
    final = root / f"{step:08d}"
    with writing(final, tf.errors.OpError):
        root.mkdir(exist_ok=True)
        write_folder(final, model, info, optimizer, tmp=root / f".tmp-{step:08d}")
        point_link(run_dir / "last", final)
        if is_best:
            point_link(run_dir / "best", final)
        prune_checkpoints(run_dir, info.settings["checkpoints"]["keep_last"])
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
