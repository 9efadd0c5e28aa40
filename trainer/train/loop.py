"""The training run: batches in, optimizer steps on every replica, validations on the plugin's schedule,
checkpoints out; started fresh, from init_weights, or resumed from the run's own newest checkpoint."""
import math
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras

from trainer.data import augment
from trainer.data.classes import ClassMapping
from trainer.data.pipeline import SampleLoader, epoch_order, worker_dataset
from trainer.data.types import Sample
from trainer.metrics import batch_confusion, per_class_table, summarize
from trainer.model.builder import build_model
from trainer.model.checkpoint_info import CheckpointInfo
from trainer.model.checkpoints import write_checkpoint, write_discarded
from trainer.model.weights import InitSource, freeze_batchnorm, initialise, restore_all
from trainer.overlay import palette
from trainer.progress import Progress, fmt_metric, say
from trainer.train.logs import RunLog
from trainer.train.losses import TrainLoss, cross_entropy_sum, l2_penalty
from trainer.train.optim import l2_regularized, lr_schedule, make_optimizer
from trainer.train.resume import RunState, best_record
from trainer.train.schedule import ValidationSchedule
from trainer.train.visual import overlays

# Validation images shown in TensorBoard at each validation.
PREVIEW_IMAGES = 3


def stop_early(records: list[dict], patience: int) -> bool:
    """True once `patience` validations in a row have not beaten the best mean IoU (0 = never)."""
    if not patience or not records:
        return False
    best_at = records.index(best_record(records))
    return len(records) - 1 - best_at >= patience


class Trainer:
    def __init__(self, cfg: dict, mapping: ClassMapping, train_samples: list[Sample], val_samples: list[Sample],
                 run_dir: Path, strategy: tf.distribute.Strategy | None = None, init: InitSource | None = None):
        self.cfg = cfg
        self.mapping = mapping
        self.run_dir = run_dir
        self.init = init
        self.strategy = strategy or tf.distribute.get_strategy()
        # Only one worker of a multi-worker run writes the run folder.
        self.writes = self.strategy.extended.should_checkpoint
        self.height, self.width = cfg["input_size"]["height"], cfg["input_size"]["width"]
        self.num_classes = mapping.num_classes
        self.train_loader = SampleLoader(train_samples, mapping, augment.transform_factory(cfg, "train"))
        self.val_loader = SampleLoader(val_samples, mapping, augment.transform_factory(cfg, "val"))
        self.num_train, self.num_val = len(train_samples), len(val_samples)
        replicas = self.strategy.num_replicas_in_sync
        # The plugin's rule: each device takes batch_size images, so the effective batch grows with devices.
        self.train_batch = cfg["batch_size"]["train"] * replicas
        self.val_batch = cfg["batch_size"]["val"] * replicas
        self.iters_per_epoch = math.ceil(self.num_train / self.train_batch)
        self.total_steps = cfg["epochs"] * self.iters_per_epoch
        self.lr_at = lr_schedule(cfg, self.total_steps, self.iters_per_epoch)

        tf_keras.utils.set_random_seed(cfg["seed"])
        with self.strategy.scope():
            self.model = build_model(cfg["model"], self.num_classes, mixed_precision=cfg["mixed_precision"],
                                     sync_batchnorm=replicas > 1)
            self.frozen = freeze_batchnorm(self.model) if cfg["freeze_batchnorm"] and init is not None else 0
            self.optimizer = make_optimizer(cfg)
            self.optimizer.build(self.model.trainable_variables)
            # float16 needs loss scaling so small gradients do not flush to zero; checkpoints hold the inner
            # optimizer, so they do not depend on the precision.
            self.step_optimizer = (tf_keras.mixed_precision.LossScaleOptimizer(self.optimizer)
                                   if cfg["mixed_precision"] == "float16" else self.optimizer)
            self.train_loss = TrainLoss(cfg["loss"], mapping)
        # DeepLab's weight_decay, a loss term; optimizer.weight_decay is the decoupled kind, in the optimizer.
        self.l2 = cfg["optimizer"]["l2_regularization"]
        self.l2_kernels = l2_regularized(self.model.trainable_variables)
        # One trace per step function, whatever the batch size: a worker that traced again for a short batch (its
        # share of the last global batch) would pair its collectives with different ones on the other workers.
        self._train_step = tf.function(self._train_step_fn, input_signature=self.batches(True, 0).element_spec)
        self._val_step = tf.function(self._val_step_fn, input_signature=self.batches(False, 0).element_spec)
        # Every worker predicts (a model call can hold collective ops); each replica sees the whole batch.
        self._predict = tf.function(lambda images: self.strategy.run(self.model, (images,), {"training": False}))

    def _replica_train_step(self, images, labels):
        """Returns the data loss: the L2 penalty is differentiated but not logged, so train_loss compares with
        val_loss and with runs without it."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            loss = self.train_loss(self.model(images, training=True), labels)
            total = loss + l2_penalty(self.l2_kernels, self.l2) if self.l2 else loss
            scaled = self.step_optimizer.get_scaled_loss(total) if self.step_optimizer is not self.optimizer else total
        gradients = tape.gradient(scaled, variables)
        if self.step_optimizer is not self.optimizer:
            gradients = self.step_optimizer.get_unscaled_gradients(gradients)
        # tf-models-official's MobileNet also builds a final 1x1 conv that DeepLab never reads: it gets no data
        # gradient and is left out (graph pruning skips computing it too), unless l2_regularization shrinks it.
        self.step_optimizer.apply_gradients((g, v) for g, v in zip(gradients, variables) if g is not None)
        return loss

    def _train_step_fn(self, images, labels):
        losses = self.strategy.run(self._replica_train_step, (images, labels))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    def _replica_val_step(self, images, labels):
        logits = self.model(images, training=False)
        loss_sum, valid = cross_entropy_sum(logits, labels)
        return loss_sum, valid, batch_confusion(labels, logits, self.num_classes)

    def _val_step_fn(self, images, labels):
        results = self.strategy.run(self._replica_val_step, (images, labels))
        return [self.strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None) for r in results]

    def train_step(self, images, labels, step: int) -> tuple[float, float]:
        """One update at the schedule's rate for `step`; returns (loss, learning rate)."""
        lr = self.lr_at(step)
        self.optimizer.learning_rate.assign(lr)
        return float(self._train_step(images, labels)), lr

    def batches(self, train: bool, epoch: int, skip: int = 0):
        """An epoch's global batches, the first `skip` left out without being loaded. Each worker loads only its
        share of each (worker_dataset); tf.data's own sharding would have every worker load every image."""
        loader, num, batch = ((self.train_loader, self.num_train, self.train_batch) if train
                              else (self.val_loader, self.num_val, self.val_batch))
        order, seeds = epoch_order(num, self.cfg["seed"], epoch, shuffle=train)
        start = skip * batch
        workers = self.cfg["data_workers"]["train" if train else "val"]
        return self.strategy.distribute_datasets_from_function(
            lambda context: worker_dataset(loader, order[start:], seeds[start:], context, global_batch=batch,
                                           workers=workers, height=self.height, width=self.width))

    def validate(self) -> dict:
        loss_sum, valid_sum = 0.0, 0.0
        confusion = np.zeros((self.num_classes, self.num_classes), np.int64)
        for images, labels in self.batches(train=False, epoch=0):
            loss, valid, batch = self._val_step(images, labels)
            loss_sum += float(loss)
            valid_sum += float(valid)
            confusion += batch.numpy()
        metrics = summarize(confusion, self.mapping.titles)
        metrics["val_loss"] = loss_sum / valid_sum if valid_sum else None
        return metrics

    def _preview(self) -> np.ndarray:
        """The first validation images with their true and predicted masks, as TensorBoard strips."""
        samples = [self.val_loader.load(i, 0) for i in range(min(PREVIEW_IMAGES, self.num_val))]
        images = np.stack([image for image, _ in samples])
        labels = np.stack([mask for _, mask in samples])
        logits = self._predict(tf.constant(images, tf.float32))
        predictions = np.argmax(self.strategy.experimental_local_results(logits)[0].numpy(), axis=-1)
        return overlays(images, labels, predictions, palette(self.mapping.out_classes))

    def _start(self, state: RunState) -> str:
        """Load the starting weights: the run's own checkpoint when resuming, else init_weights."""
        if state.checkpoint is not None:
            restore_all(self.model, self.optimizer, state.checkpoint)
            return f"resumed from {state.checkpoint} (step {state.step}, {len(state.records)} validation(s) so far)"
        return initialise(self.model, self.optimizer, self.init)

    def _positions(self, step: int):
        """(iteration in its epoch, batch) from `step` on, skipping the batches an interrupted epoch consumed."""
        first_epoch, skip = divmod(step, self.iters_per_epoch)
        for epoch in range(first_epoch, self.cfg["epochs"]):
            start = skip if epoch == first_epoch else 0
            yield from enumerate(self.batches(train=True, epoch=epoch, skip=start), start=start)

    def run(self, state: RunState = RunState()) -> dict:
        """Train to cfg['epochs'] (or an early stop) from `state`; returns the best validation record."""
        say(self._start(state))
        if self.frozen:
            say(f"freeze_batchnorm: {self.frozen} BatchNorm layers keep their loaded statistics")
        elif self.cfg["freeze_batchnorm"]:
            say("freeze_batchnorm: ignored, there are no loaded statistics to keep (no init_weights)")
        patience = self.cfg["early_stopping"]["patience"]
        schedule = ValidationSchedule(self.cfg["val_every"], self.iters_per_epoch, self.cfg["epochs"])
        validation_number = {step: n for n, step in enumerate(schedule.steps, start=1)}
        log = RunLog(self.run_dir, state.records, state.step) if self.writes else None
        records = list(state.records)
        progress = Progress("step", self.total_steps - state.step, "img")
        step, images_seen, losses = state.step, 0, []
        for it, (images, labels) in [] if stop_early(records, patience) else self._positions(step):
            loss, lr = self.train_step(images, labels, step)
            step += 1
            images_seen += min(self.train_batch, self.num_train - it * self.train_batch)
            losses.append(loss)
            if log:
                log.train_step(step, loss, lr)
            progress.update(step - state.step, images_seen,
                            f"epoch {schedule.progress(step):.2f}  loss {loss:.4f}  lr {lr:.3g}")
            if step in validation_number:
                records.append(self._validation(step, schedule.progress(step), validation_number[step], losses, log,
                                                records))
                losses = []
                if stop_early(records, patience):
                    say(f"early stopping: mean IoU has not improved for {patience} validation(s) since epoch "
                        f"{best_record(records)['epoch']:g}")
                    break
        return best_record(records)

    def _validation(self, step: int, epoch: float, validations: int, losses: list[float], log: RunLog | None,
                    records: list[dict]) -> dict:
        started = time.monotonic()
        metrics = self.validate()
        record = {"epoch": round(epoch, 6), "step": step,
                  "train_loss": float(np.mean(losses)) if losses else None, **metrics}
        is_best = not records or (record["mean_iou"] or 0.0) > (best_record(records)["mean_iou"] or 0.0)
        where, preview = "", self._preview()
        if log:
            log.validation(record, preview)
            info = CheckpointInfo(self.cfg, self.mapping, step=step, epoch=record["epoch"], validations=validations,
                                  iters_per_epoch=self.iters_per_epoch, metrics=record)
            folder = write_checkpoint(self.run_dir, step, self.model, self.optimizer, info, is_best)
            where = f" → {folder.relative_to(self.run_dir)}"
        else:
            write_discarded(self.model, self.optimizer)
        say(f"validation at epoch {record['epoch']:g} (step {step}): val_loss {fmt_metric(record['val_loss'])}  "
            f"mean IoU {fmt_metric(record['mean_iou'])}  pixel accuracy {fmt_metric(record['pixel_accuracy'])}  "
            f"({time.monotonic() - started:.1f}s){where}")
        say(per_class_table(record["per_class_iou"]))
        return record
