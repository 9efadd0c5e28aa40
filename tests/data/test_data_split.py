from pathlib import Path

import pytest

from trainer.data.split import split_samples
from trainer.data.types import Sample
from trainer.errors import DataError


def sample(name, *tags):
    return Sample("ds", name, Path(name), Path(name + ".json"), 4, 4, set(tags), [], {})


def test_split_by_tag_presence_and_both_tags_means_both_splits():
    samples = [sample("a", "train"), sample("b", "val"), sample("c", "train", "val"), sample("d"), sample("e", "x")]
    train, val = split_samples(samples, "train", "val")
    assert [s.name for s in train] == ["a", "c"]
    assert [s.name for s in val] == ["b", "c"]


def test_custom_tag_names():
    train, val = split_samples([sample("a", "fit"), sample("b", "check")], "fit", "check")
    assert ([s.name for s in train], [s.name for s in val]) == (["a"], ["b"])


def test_empty_val_split():
    with pytest.raises(DataError) as error:
        split_samples([sample("a", "train")], "train", "val")
    assert error.value.lines == ['There are no annotations with tag "val"']


def test_both_splits_empty_one_line_each():
    with pytest.raises(DataError) as error:
        split_samples([sample("a", "other")], "train", "val")
    assert error.value.lines == ['There are no annotations with tag "train"', 'There are no annotations with tag "val"']
