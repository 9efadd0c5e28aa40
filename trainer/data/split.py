"""Train/val split by image tags, as the plugin did: a tag's presence (any value) puts an image in that split."""

from __future__ import annotations

from trainer.data.supervisely import Sample
from trainer.errors import DataError


def split_samples(samples: list[Sample], train_tag: str, val_tag: str) -> tuple[list[Sample], list[Sample]]:
    """An image tagged with both lands in both splits, which the plugin allowed."""
    train = [s for s in samples if train_tag in s.tags]
    val = [s for s in samples if val_tag in s.tags]
    empty = [tag for tag, split in ((train_tag, train), (val_tag, val)) if not split]
    if empty:
        raise DataError(*(f'There are no annotations with tag "{tag}"' for tag in empty))
    return train, val
