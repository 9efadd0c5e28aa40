"""Where a run reports its metrics: RUN/metrics.jsonl, TensorBoard and the per-class table."""
import json
from pathlib import Path

import tensorflow as tf

from trainer.progress import fmt_metric


def per_class_table(per_class_iou: dict) -> str:
    width = max(len(t) for t in per_class_iou)
    rows = [f"  {title:<{width}}  {fmt_metric(iou)}" for title, iou in per_class_iou.items()]
    return "\n".join([f"  {'class':<{width}}  IoU", *rows])


class RunLog:
    """One JSON object per validation in metrics.jsonl; scalars also to TensorBoard."""

    def __init__(self, run_dir: Path):
        self.metrics_path = run_dir / "metrics.jsonl"
        self.writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))

    def train_step(self, step: int, loss: float, lr: float) -> None:
        with self.writer.as_default(step=step):
            tf.summary.scalar("train/loss", loss)
            tf.summary.scalar("train/lr", lr)

    def validation(self, record: dict) -> None:
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
        with self.writer.as_default(step=record["step"]):
            for key in ("val_loss", "mean_iou", "pixel_accuracy"):
                if record[key] is not None:
                    tf.summary.scalar(f"val/{key}", record[key])
            for title, iou in record["per_class_iou"].items():
                if iou is not None:
                    tf.summary.scalar(f"val_iou/{title}", iou)
        self.writer.flush()
