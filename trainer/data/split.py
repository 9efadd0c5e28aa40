"""Train/val split by image tags, as the plugin did: a tag's presence (any value) puts an image in that split."""

from __future__ import annotations

from trainer.data.types import Sample
from trainer.errors import DataError


def split_members(samples: list[Sample], tag: str) -> list[Sample]:
    return [s for s in samples if tag in s.tags]


def split_samples(samples: list[Sample], train_tag: str, val_tag: str) -> tuple[list[Sample], list[Sample]]:
    """An image tagged with both lands in both splits, which the plugin allowed."""
    train, val = split_members(samples, train_tag), split_members(samples, val_tag)
    empty = [tag for tag, split in ((train_tag, train), (val_tag, val)) if not split]
    if empty:
        raise DataError(*(f'There are no annotations with tag "{tag}"' for tag in empty))
    return train, val
