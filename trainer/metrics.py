"""Segmentation metrics from a confusion matrix over non-ignored pixels: one code for training's validation
and inference's --evaluate, so both apply the same rules."""
import numpy as np
import tensorflow as tf

from trainer.data.classes import IGNORE_LABEL
from trainer.progress import fmt_metric


def batch_confusion(labels: tf.Tensor, logits: tf.Tensor, num_classes: int) -> tf.Tensor:
    """Confusion matrix [true, predicted] of one batch; ignored pixels do not count."""
    return prediction_confusion(labels, tf.argmax(logits, axis=-1, output_type=tf.int32), num_classes)


def prediction_confusion(labels: tf.Tensor, predictions: tf.Tensor, num_classes: int) -> tf.Tensor:
    """Confusion matrix [true, predicted] of class-index maps (inference evaluates these); ignored pixels do not count."""
    labels = tf.reshape(labels, [-1])
    predictions = tf.reshape(predictions, [-1])
    valid = tf.not_equal(labels, IGNORE_LABEL)
    return tf.math.confusion_matrix(tf.boolean_mask(labels, valid), tf.boolean_mask(predictions, valid),
                                    num_classes=num_classes, dtype=tf.int64)


def summarize(confusion: np.ndarray, titles: list[str]) -> dict:
    """Pixel accuracy, mean IoU and per-class IoU.

    A class absent from both ground truth and prediction has no IoU: it is reported as None and left
    out of the mean (tf-models-official's PerClassIoU would count it as 0 and drag the mean down).
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - tp
    per_class = [float(t / u) if u > 0 else None for t, u in zip(tp, union)]
    present = [v for v in per_class if v is not None]
    total = confusion.sum()
    return {
        "pixel_accuracy": float(tp.sum() / total) if total else None,
        "mean_iou": float(np.mean(present)) if present else None,
        "per_class_iou": dict(zip(titles, per_class)),
    }


def per_class_table(per_class_iou: dict) -> str:
    width = max(len(t) for t in per_class_iou)
    rows = [f"  {title:<{width}}  {fmt_metric(iou)}" for title, iou in per_class_iou.items()]
    return "\n".join([f"  {'class':<{width}}  IoU", *rows])
