"""Pictures of a run: validation overlays for TensorBoard and RUN/curves.png (loss and mean IoU)."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from trainer.io import atomic_path  # noqa: E402
from trainer.overlay import blend  # noqa: E402


def overlays(images: np.ndarray, labels: np.ndarray, predictions: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Per image one strip [image | truth over image | prediction over image], uint8 [B, H, 3W, 3]."""
    images = images.astype(np.uint8)
    return np.concatenate([images, blend(images, labels, colors), blend(images, predictions, colors)], axis=2)


def write_curves(path: Path, records: list[dict]) -> None:
    """Train and validation loss, mean IoU, against epochs; replaced atomically."""
    epochs = [r["epoch"] for r in records]
    fig, (loss_ax, iou_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train loss"), ("val_loss", "val loss")):
        points = [(e, r[key]) for e, r in zip(epochs, records) if r[key] is not None]
        if points:
            loss_ax.plot(*zip(*points), marker="o", label=label)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    loss_ax.legend()
    points = [(e, r["mean_iou"]) for e, r in zip(epochs, records) if r["mean_iou"] is not None]
    if points:
        iou_ax.plot(*zip(*points), marker="o", color="tab:green")
    iou_ax.set(xlabel="epoch", ylabel="mean IoU", title="validation mean IoU", ylim=(0, 1))
    for ax in (loss_ax, iou_ax):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
