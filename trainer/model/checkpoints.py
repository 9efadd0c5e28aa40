"""Checkpoint folders' weights: written atomically, restored into a model rebuilt from the folder's settings."""
import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from trainer.io import point_link, write_json
from trainer.model.checkpoint_folders import WEIGHTS_PREFIX, read_info


def write_checkpoint(run_dir: Path, step: int, model, optimizer, info: dict, is_best: bool) -> Path:
    """Write the folder under a temporary name and rename it, then repoint `last` (and `best`)."""
    root = run_dir / "checkpoints"
    root.mkdir(exist_ok=True)
    final = root / f"{step:08d}"
    tmp = root / f".tmp-{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tf.train.Checkpoint(model=model, optimizer=optimizer).write(str(tmp / WEIGHTS_PREFIX))
    write_json(tmp / "config.json", info)
    os.replace(tmp, final)
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


def load_checkpoint_model(checkpoint_dir: Path, info: dict | None = None, model_cfg: dict | None = None) -> tuple:
    """(model, info) of a checkpoint folder: the network rebuilt from its settings (or from `model_cfg`, the same
    weights run differently: trainer.model.stride), its weights restored. `info`: its read_info, if the caller
    already read it to check its inputs."""
    from trainer.model.builder import build_model   # the builder loads tf-models-official: only when needed

    info = info or read_info(checkpoint_dir)
    model = build_model(model_cfg or info["settings"]["model"], len(info["out_classes"]))
    restore_model(model, checkpoint_dir)
    return model, info
