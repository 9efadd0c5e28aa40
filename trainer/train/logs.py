"""Where a run reports its metrics: RUN/metrics.jsonl, RUN/curves.png and TensorBoard."""
import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from trainer.train.visual import write_curves


class RunLog:
    """One JSON object per validation in metrics.jsonl, the curves of all of them; scalars and validation
    overlays to TensorBoard. `records` are those already in metrics.jsonl (a resumed run has some)."""

    def __init__(self, run_dir: Path, records: list[dict]):
        self.metrics_path = run_dir / "metrics.jsonl"
        self.curves_path = run_dir / "curves.png"
        self.records = list(records)
        self.writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))

    def train_step(self, step: int, loss: float, lr: float) -> None:
        with self.writer.as_default(step=step):
            tf.summary.scalar("train/loss", loss)
            tf.summary.scalar("train/lr", lr)

    def validation(self, record: dict, overlays: np.ndarray) -> None:
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
        self.records.append(record)
        write_curves(self.curves_path, self.records)
        with self.writer.as_default(step=record["step"]):
            tf.summary.image("val/image_truth_prediction", overlays, max_outputs=len(overlays))
            for key in ("val_loss", "mean_iou", "pixel_accuracy"):
                if record[key] is not None:
                    tf.summary.scalar(f"val/{key}", record[key])
            for title, iou in record["per_class_iou"].items():
                if iou is not None:
                    tf.summary.scalar(f"val_iou/{title}", iou)
        self.writer.flush()
