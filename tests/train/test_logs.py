"""RunLog's TensorBoard events, loaded as TensorBoard loads them: a resumed run's lost stretch is dropped."""
import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_file_loader

from tests.conftest import tensorboard_values
from trainer.train.logs import RunLog


def _session(run, start, last, base):
    """What one process logs from `start` (0 or a checkpoint's step) to `last` before it is killed: train
    scalars every step, a validation every 2 steps, values `base` + step."""
    log = RunLog(run, [], start)
    for step in range(start + 1, last + 1):
        log.train_step(step, float(base + step), 0.01)
        if step % 2 == 0:
            log.validation({"epoch": step / 4, "step": step, "train_loss": None, "val_loss": float(base + step),
                            "mean_iou": 0.5, "pixel_accuracy": 0.9, "per_class_iou": {"cat": 0.5}},
                           np.zeros((1, 4, 4, 3), np.uint8))
    log.writer.close()


def test_resumed_runs_replace_the_lost_stretch(tmp_path):
    _session(tmp_path, 0, 10, 100)    # checkpoints at every validation; killed after step 10
    _session(tmp_path, 6, 12, 200)    # resumed from checkpoint 6, killed after step 12
    _session(tmp_path, 10, 14, 300)   # resumed from checkpoint 10, finished
    assert len(list((tmp_path / "tensorboard").iterdir())) == 3
    loaded = tensorboard_values(tmp_path)
    assert sorted(loaded) == ["train/loss", "train/lr", "val/image_truth_prediction", "val/mean_iou",
                              "val/pixel_accuracy", "val/val_loss", "val_iou/cat"]
    for tag, values in loaded.items():
        steps = [step for step, _ in values]
        assert steps == (list(range(1, 15)) if tag.startswith("train/") else list(range(2, 15, 2))), tag
    expected = [101 + i for i in range(6)] + [207, 208, 209, 210] + [311, 312, 313, 314]
    assert [float(v) for _, v in loaded["train/loss"]] == expected
    assert [float(v) for _, v in loaded["val/val_loss"]] == expected[1::2]


def test_a_new_run_purges_nothing(tmp_path):
    _session(tmp_path, 0, 4, 100)
    (events,) = (tmp_path / "tensorboard").iterdir()
    starts = [(e.step, e.session_log.status) for e in event_file_loader.EventFileLoader(str(events)).Load()
              if e.HasField("session_log")]
    assert starts == [(1, tf.compat.v1.SessionLog.START)]   # the run's first START: TensorBoard's baseline
    loaded = tensorboard_values(tmp_path)
    assert [step for step, _ in loaded["train/loss"]] == [1, 2, 3, 4]
    assert [step for step, _ in loaded["val/val_loss"]] == [2, 4]
