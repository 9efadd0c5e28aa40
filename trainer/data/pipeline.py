"""Samples → tf.data batches: parallel decode, rasterize and augment, reproducible for a seed.

Each sample gets its own augmentation seed derived from (config seed, epoch, position), and each
loader thread its own albumentations pipeline, so the result does not depend on thread timing.
"""
import threading
from typing import Callable

import albumentations as A
import numpy as np
import tensorflow as tf

from trainer.data.classes import ClassMapping
from trainer.data.geometry import rasterize
from trainer.data.images import read_image
from trainer.data.types import Sample


class SampleLoader:
    """Loads sample i as (image uint8 [H, W, 3], mask uint8 [H, W]) after augmentation."""

    def __init__(self, samples: list[Sample], mapping: ClassMapping, make_transform: Callable[[], A.Compose]):
        self._samples = samples
        self._values = mapping.pixel_values()
        self._make_transform = make_transform
        self._local = threading.local()

    def _transform(self) -> A.Compose:
        if not hasattr(self._local, "transform"):
            self._local.transform = self._make_transform()
        return self._local.transform

    def load(self, index: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        sample = self._samples[index]
        image = read_image(sample.image_path)
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
