"""Where a run reports its metrics: RUN/metrics.jsonl, RUN/curves.png and TensorBoard."""
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
# import_event is the writer's only way to write a whole Event (a SessionLog, not a summary); tf.summary has no
# public one, and tf.compat.v1.summary.FileWriter refuses eager execution.
from tensorflow.python.ops.summary_ops_v2 import import_event

from trainer.io import append_json_line, writing
from trainer.train.visual import write_curves


class RunLog:
    """One JSON object per validation in metrics.jsonl, the curves of all of them; scalars and validation
    overlays to TensorBoard. `records` are those already in metrics.jsonl (a resumed run has some), `step` the
    one training continues from (0, or the checkpoint's when resuming). A failed write is a WriteError naming the
    file or folder; metrics.jsonl keeps only complete lines."""

    def __init__(self, run_dir: Path, records: list[dict], step: int):
        self.metrics_path = run_dir / "metrics.jsonl"
        self.curves_path = run_dir / "curves.png"
        self.tensorboard_path = run_dir / "tensorboard"
        self.records = list(records)
        with self._tensorboard():
            self.writer = tf.summary.create_file_writer(str(self.tensorboard_path))
            self._start_session(step + 1)

    def _tensorboard(self):
        """TensorBoard's writer reports a failed write (also of events queued earlier) as an OpError."""
        return writing(self.tensorboard_path, tf.errors.OpError)

    def _start_session(self, first_step: int) -> None:
        """Open this session's event file with a SessionLog START at the first step it logs. TensorBoard's
        Python loader takes each START after a run's first (a new run's) as a restart and drops the events it
        has read at that step or later: a resumed run's lost stretch since its checkpoint, which the run logs
        again. (Its Rust data server, --load_fast, ignores STARTs but drops a series' values from any step
        logged again.)"""
        start = tf.compat.v1.Event(wall_time=time.time(), step=first_step,
                                   session_log=tf.compat.v1.SessionLog(status=tf.compat.v1.SessionLog.START))
        with self.writer.as_default():
            import_event(tf.constant(start.SerializeToString()))

    def train_step(self, step: int, loss: float, lr: float) -> None:
        with self._tensorboard(), self.writer.as_default(step=step):
            tf.summary.scalar("train/loss", loss)
            tf.summary.scalar("train/lr", lr)

    def validation(self, record: dict, overlays: np.ndarray) -> None:
        with writing(self.metrics_path):
            append_json_line(self.metrics_path, record)
        self.records.append(record)
        with writing(self.curves_path):
            write_curves(self.curves_path, self.records)
        with self._tensorboard(), self.writer.as_default(step=record["step"]):
            tf.summary.image("val/image_truth_prediction", overlays, max_outputs=len(overlays))
            for key in ("val_loss", "mean_iou", "pixel_accuracy"):
                if record[key] is not None:
                    tf.summary.scalar(f"val/{key}", record[key])
            for title, iou in record["per_class_iou"].items():
                if iou is not None:
                    tf.summary.scalar(f"val_iou/{title}", iou)
            self.writer.flush()
