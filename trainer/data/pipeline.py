"""Samples → tf.data batches: parallel decode, rasterize and augment, reproducible for a seed.

Each sample gets its own augmentation seed derived from (config seed, epoch, position), and each
loader thread its own albumentations pipeline, so the result does not depend on thread timing, nor on which
worker loads the sample: with several workers each loads only its share of every global batch (worker_dataset).
"""
import math
import threading
from typing import Callable

import albumentations as A
import numpy as np
import tensorflow as tf

from trainer.data.classes import IGNORE_LABEL, ClassMapping
from trainer.data.geometry import rasterize
from trainer.data.images import read_image
from trainer.data.types import Sample
from trainer.errors import DataError


class SampleLoader:
    """Loads sample i as (image uint8 [H, W, 3], mask uint8 [H, W]) after augmentation."""

    def __init__(self, samples: list[Sample], mapping: ClassMapping, make_transform: Callable[[], A.Compose]):
        self._samples = samples
        self._values = mapping.pixel_values()
        self._make_transform = make_transform
        self._local = threading.local()
        # An image that passed the start-up check (headers only) but cannot be decoded: the loop reports it.
        self.failure: DataError | None = None

    def _transform(self) -> A.Compose:
        if not hasattr(self._local, "transform"):
            self._local.transform = self._make_transform()
        return self._local.transform

    def load(self, index: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        sample = self._samples[index]
        try:
            image = read_image(sample.image_path)
        except DataError as error:
            self.failure = error
            raise
        mask = rasterize(sample.objects, image.shape[0], image.shape[1], self._values)
        transform = self._transform()
        transform.set_random_seed(int(seed))
        out = transform(image=image, mask=mask)
        return out["image"], out["mask"]


def epoch_order(num_samples: int, seed: int, epoch: int, shuffle: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sample order and per-sample augmentation seeds of one epoch, a pure function of (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(num_samples) if shuffle else np.arange(num_samples)
    seeds = rng.integers(0, 2**31 - 1, size=num_samples)
    return order, seeds


def make_dataset(loader: SampleLoader, order: np.ndarray, seeds: np.ndarray, *, batch_size: int,
                 workers: int, height: int, width: int) -> tf.data.Dataset:
    """Batches of (float32 images 0..255 [B, H, W, 3], int32 labels [B, H, W])."""

    def load(index, seed):
        image, mask = tf.numpy_function(loader.load, [index, seed], [tf.uint8, tf.uint8], stateful=False)
        image.set_shape([height, width, 3])
        mask.set_shape([height, width])
        return tf.cast(image, tf.float32), tf.cast(mask, tf.int32)

    ds = tf.data.Dataset.from_tensor_slices((order.astype(np.int64), seeds.astype(np.int64)))
    ds = ds.map(load, num_parallel_calls=workers if workers > 0 else None, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def worker_positions(num_samples: int, global_batch: int,
                     context: tf.distribute.InputContext) -> tuple[np.ndarray, list[np.ndarray]]:
    """The epoch positions one input pipeline (worker) loads: those of its per-replica batches of every full global
    batch, in order, then its replicas' shares of a last, short global batch (one array per local replica, none if
    the last batch is full). Global batch s is positions [s·B, (s+1)·B), exactly as one worker batches them; replica r
    of R (numbered worker by worker, as the strategies number replicas) takes b = B / R of them from s·B + r·b. A
    short last batch of n is split as evenly as possible, in order: no replica gets an empty batch while n ≥ R."""
    per_replica = context.get_per_replica_batch_size(global_batch)
    local = context.num_replicas_in_sync // context.num_input_pipelines
    replicas = context.input_pipeline_id * local + np.arange(local)
    full_steps, short = divmod(num_samples, global_batch)
    starts = np.arange(full_steps)[:, None] * global_batch + replicas[None, :] * per_replica
    positions = (starts[..., None] + np.arange(per_replica)).reshape(-1)
    if not short:
        return positions, []
    size, extra = divmod(short, context.num_replicas_in_sync)
    first = full_steps * global_batch
    return positions, [first + r * size + min(r, extra) + np.arange(size + (r < extra)) for r in replicas]


def worker_dataset(loader: SampleLoader, order: np.ndarray, seeds: np.ndarray, context: tf.distribute.InputContext, *,
                   global_batch: int, workers: int, height: int, width: int) -> tf.data.Dataset:
    """This worker's per-replica batches of the epoch (`order`, `seeds`), for distribute_datasets_from_function:
    only its own share is decoded and augmented, each sample with its own seed, so together the workers' batches
    are the global batches one worker would make. Every worker yields one batch per local replica and step, so all
    run the same steps and meet at every collective. A replica left without an image (a last global batch shorter
    than the replicas) gets one blank image whose pixels are all ignored: TensorFlow's CPU convolution mishandles an
    empty batch, and the collectives of a step need every replica. It adds nothing to the loss, the gradients or the
    metrics; only that step's training BatchNorm statistics see it."""
    positions, last = worker_positions(len(order), global_batch, context)

    def batches(picked: np.ndarray, size: int) -> tf.data.Dataset:
        return make_dataset(loader, order[picked], seeds[picked], batch_size=size, workers=workers, height=height,
                            width=width)

    ds = batches(positions, context.get_per_replica_batch_size(global_batch))
    blank = (tf.zeros([1, height, width, 3], tf.float32), tf.fill([1, height, width], IGNORE_LABEL))
    for share in last:
        ds = ds.concatenate(batches(share, len(share)) if len(share) else tf.data.Dataset.from_tensors(blank))
    return ds
