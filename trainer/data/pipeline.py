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

from trainer.data.classes import ClassMapping
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


def worker_positions(num_samples: int, global_batch: int, context: tf.distribute.InputContext) -> tuple[np.ndarray, int]:
    """The epoch positions one input pipeline (worker) loads, in order, and how many empty per-replica batches end its
    stream. Global batch s is positions [s·B, (s+1)·B), exactly as one worker batches them; replica r (numbered
    worker-major, as the strategies number replicas) takes its b = B / replicas of them from s·B + r·b, those that
    exist. So a worker's share of every global batch is contiguous, and only the last global batch can be short:
    its replicas fill in order, later ones get a partial or an empty batch. Every worker still yields one batch per
    local replica and step, empty ones included, so all run the same steps and meet at every collective."""
    per_replica = context.get_per_replica_batch_size(global_batch)
    local = context.num_replicas_in_sync // context.num_input_pipelines
    steps = math.ceil(num_samples / global_batch)
    replicas = context.input_pipeline_id * local + np.arange(local)
    starts = np.arange(steps)[:, None] * global_batch + replicas[None, :] * per_replica
    positions = (starts[..., None] + np.arange(per_replica)).reshape(-1)
    positions = positions[positions < num_samples]
    return positions, steps * local - math.ceil(len(positions) / per_replica)


def worker_dataset(loader: SampleLoader, order: np.ndarray, seeds: np.ndarray, context: tf.distribute.InputContext, *,
                   global_batch: int, workers: int, height: int, width: int) -> tf.data.Dataset:
    """This worker's per-replica batches of the epoch (`order`, `seeds`), for distribute_datasets_from_function:
    only its own share is decoded and augmented, each sample with its own seed, so together the workers' batches
    are the global batches one worker would make."""
    positions, empty = worker_positions(len(order), global_batch, context)
    ds = make_dataset(loader, order[positions], seeds[positions], batch_size=context.get_per_replica_batch_size(global_batch),
                      workers=workers, height=height, width=width)
    nothing = (tf.zeros([0, height, width, 3], tf.float32), tf.zeros([0, height, width], tf.int32))
    return ds.concatenate(tf.data.Dataset.from_tensors(nothing).repeat(empty))
