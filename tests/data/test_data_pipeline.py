"""The input pipeline: reproducible for a seed, DeepLab's augmentation, ignore-padding, plugin's val resize."""
import numpy as np
import pytest

from trainer.data import augment
from trainer.data.classes import IGNORE_LABEL, build_class_mapping
from trainer.data.pipeline import SampleLoader, epoch_order, make_dataset
from trainer.data.split import split_samples
from trainer.data.supervisely import read_project


@pytest.fixture(scope="module")
def parts(tiny_project):
    project = read_project(tiny_project)
    mapping = build_class_mapping(project.meta, "bg", "neutral")
    train, val = split_samples(project.samples, "train", "val")
    return mapping, train, val


def _batches(parts, seed, epoch, workers):
    mapping, train, _ = parts
    loader = SampleLoader(train, mapping, lambda: augment.build_transform(augment.default_spec("train", 48, 48)))
    order, seeds = epoch_order(len(train), seed, epoch, shuffle=True)
    ds = make_dataset(loader, order, seeds, batch_size=4, workers=workers, height=48, width=48)
    return [(x.numpy(), y.numpy()) for x, y in ds]


def test_same_seed_same_batches_whatever_the_workers(parts):
    a = _batches(parts, seed=3, epoch=1, workers=1)
    b = _batches(parts, seed=3, epoch=1, workers=2)
    assert len(a) == 2 and a[0][0].shape == (4, 48, 48, 3) and a[1][0].shape == (2, 48, 48, 3)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_other_seed_or_epoch_changes_the_batches(parts):
    base = _batches(parts, seed=3, epoch=1, workers=1)
    for other in (_batches(parts, seed=4, epoch=1, workers=1), _batches(parts, seed=3, epoch=2, workers=1)):
        assert any(not np.array_equal(x, y) for (x, _), (y, _) in zip(base, other))


def test_epoch_order_is_a_permutation():
    order, seeds = epoch_order(10, seed=0, epoch=0, shuffle=True)
    assert sorted(order) == list(range(10)) and len(set(seeds)) == 10
    assert list(epoch_order(10, 0, 0, shuffle=False)[0]) == list(range(10))


def _first_sample(parts, split: str, height: int, width: int, seed: int):
    """The first sample of `split` through the default pipeline; its labels must be classes or ignored."""
    mapping, train, val = parts
    samples = train if split == "train" else val
    loader = SampleLoader(samples, mapping,
                          lambda: augment.build_transform(augment.default_spec(split, height, width)))
    image, mask = loader.load(0, seed=seed)
    assert image.shape == (height, width, 3) and mask.shape == (height, width)
    assert set(np.unique(mask)) <= set(range(mapping.num_classes)) | {IGNORE_LABEL}
    return image, mask


def test_labels_stay_valid_and_padding_is_ignored(parts):
    image, mask = _first_sample(parts, "train", 200, 200, seed=1)   # 64×64 images: always padded
    # padded at the bottom and on the right (on the left after a flip), with the ignore label / mean pixel
    assert (mask[-1, :] == IGNORE_LABEL).all()
    assert (mask[:, -1] == IGNORE_LABEL).all() or (mask[:, 0] == IGNORE_LABEL).all()
    assert np.isin(image[-1, -1], [127, 128]).all()


def test_validation_resizes_with_nearest_masks(parts):
    _first_sample(parts, "val", 96, 80, seed=0)
