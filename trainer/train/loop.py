"""The training run: batches in, Adam steps, validations on the plugin's schedule, checkpoints out."""
import math
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras
from official.vision.losses.segmentation_losses import SegmentationLoss

from trainer.data import augment
from trainer.data.classes import IGNORE_LABEL, ClassMapping
from trainer.data.pipeline import SampleLoader, epoch_order, make_dataset
from trainer.data.supervisely import Sample
from trainer.model.builder import build_model
from trainer.model.checkpoints import write_checkpoint
from trainer.progress import Progress, fmt_metric, say
from trainer.train.logs import RunLog, per_class_table
from trainer.train.metrics import batch_confusion, summarize
from trainer.train.schedule import ValidationSchedule


class Trainer:
    def __init__(self, cfg: dict, mapping: ClassMapping, train_samples: list[Sample],
                 val_samples: list[Sample], run_dir: Path):
        self.cfg = cfg
        self.mapping = mapping
        self.run_dir = run_dir
        self.height, self.width = cfg["input_size"]["height"], cfg["input_size"]["width"]
        self.num_classes = mapping.num_classes
        self.titles = [c["title"] for c in mapping.out_classes]
        self.train_loader = SampleLoader(train_samples, mapping,
                                         lambda: augment.train_transform(self.height, self.width))
        self.val_loader = SampleLoader(val_samples, mapping,
                                       lambda: augment.val_transform(self.height, self.width))
        self.num_train, self.num_val = len(train_samples), len(val_samples)
        self.iters_per_epoch = math.ceil(self.num_train / cfg["batch_size"]["train"])

        tf_keras.utils.set_random_seed(cfg["seed"])
        self.model = build_model(cfg["model"], self.num_classes)
        self.optimizer = tf_keras.optimizers.Adam(learning_rate=cfg["lr"])
        # Neutral and padding pixels carry IGNORE_LABEL: they add nothing to the loss or its average.
        self.loss_fn = SegmentationLoss(label_smoothing=0.0, class_weights=[], ignore_label=IGNORE_LABEL,
                                        use_groundtruth_dimension=True)
        spec = (tf.TensorSpec([None, self.height, self.width, 3], tf.float32),
                tf.TensorSpec([None, self.height, self.width], tf.int32))
        self._train_step = tf.function(self._train_step_fn, input_signature=spec)
        self._val_step = tf.function(self._val_step_fn, input_signature=spec)

    def _loss(self, logits, labels):
        return self.loss_fn(logits, labels[..., tf.newaxis])

    def _train_step_fn(self, images, labels):
        with tf.GradientTape() as tape:
            loss = self._loss(self.model(images, training=True), labels)
        variables = self.model.trainable_variables
        # tf-models-official's MobileNet also builds a final 1x1 conv that DeepLab never reads:
        # it gets no gradient and is left out (graph pruning skips computing it too).
        self.optimizer.apply_gradients(
            (g, v) for g, v in zip(tape.gradient(loss, variables), variables) if g is not None)
        return loss

    def _val_step_fn(self, images, labels):
        logits = self.model(images, training=False)
        valid = tf.reduce_sum(tf.cast(tf.not_equal(labels, IGNORE_LABEL), tf.float32))
        return self._loss(logits, labels) * valid, valid, batch_confusion(labels, logits, self.num_classes)

    def _dataset(self, loader: SampleLoader, num: int, epoch: int, train: bool) -> tf.data.Dataset:
        order, seeds = epoch_order(num, self.cfg["seed"], epoch, shuffle=train)
        split = "train" if train else "val"
        return make_dataset(loader, order, seeds, batch_size=self.cfg["batch_size"][split],
                            workers=self.cfg["data_workers"][split], height=self.height, width=self.width)

    def validate(self) -> dict:
        loss_sum, valid_sum = 0.0, 0.0
        confusion = np.zeros((self.num_classes, self.num_classes), np.int64)
        for images, labels in self._dataset(self.val_loader, self.num_val, 0, train=False):
            loss, valid, batch = self._val_step(images, labels)
            loss_sum += float(loss)
            valid_sum += float(valid)
            confusion += batch.numpy()
        metrics = summarize(confusion, self.titles)
        metrics["val_loss"] = loss_sum / valid_sum if valid_sum else None
        return metrics

    def run(self) -> dict:
        """Train for cfg['epochs']; returns the best validation record."""
        epochs = self.cfg["epochs"]
        schedule = ValidationSchedule(self.cfg["val_every"], self.iters_per_epoch)
        log = RunLog(self.run_dir)
        progress = Progress("step", epochs * self.iters_per_epoch, "img")
        step, images_seen, best, validated_last = 0, 0, None, False
        losses: list[float] = []
        for epoch in range(epochs):
            batches = self._dataset(self.train_loader, self.num_train, epoch, train=True)
            for it, (images, labels) in enumerate(batches):
                loss = float(self._train_step(images, labels))
                step += 1
                images_seen += int(images.shape[0])
                losses.append(loss)
                log.train_step(step, loss, self.cfg["lr"])
                progress.update(step, images_seen, f"epoch {schedule.progress(epoch, it):.2f}  loss {loss:.4f}")
                validated_last = schedule.due(epoch, it)
                if validated_last:
                    schedule.done += 1
                    best = self._validation(step, schedule.progress(epoch, it), losses, log, best)
                    losses = []
        if not validated_last:
            best = self._validation(step, float(epochs), losses, log, best)
        return best

    def _validation(self, step: int, epoch: float, losses: list[float], log: RunLog, best: dict | None) -> dict:
        started = time.monotonic()
        metrics = self.validate()
        record = {"epoch": round(epoch, 6), "step": step,
                  "train_loss": float(np.mean(losses)) if losses else None, **metrics}
        log.validation(record)
        is_best = best is None or (record["mean_iou"] or 0.0) > (best["mean_iou"] or 0.0)
        info = {"settings": self.cfg, "out_classes": self.mapping.out_classes,
                "class_title_to_idx": self.mapping.class_title_to_idx, "neutral_class": self.mapping.neutral,
                "step": step, "epoch": record["epoch"], "metrics": record}
        folder = write_checkpoint(self.run_dir, step, self.model, self.optimizer, info, is_best)
        say(f"validation at epoch {record['epoch']:g} (step {step}): val_loss {fmt_metric(record['val_loss'])}  "
            f"mean IoU {fmt_metric(record['mean_iou'])}  pixel accuracy {fmt_metric(record['pixel_accuracy'])}  "
            f"({time.monotonic() - started:.1f}s) → {folder.relative_to(self.run_dir)}")
        say(per_class_table(record["per_class_iou"]))
        return record if is_best else best
