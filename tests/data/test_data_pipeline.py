"""The input pipeline: reproducible for a seed, DeepLab's augmentation, ignore-padding, plugin's val resize."""
import numpy as np
import pytest
import tensorflow as tf

from trainer.data import augment, pipeline
from trainer.data.classes import IGNORE_LABEL, build_class_mapping
from trainer.data.images import read_image
from trainer.data.pipeline import SampleLoader, epoch_order, make_dataset, worker_dataset, worker_positions
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


# --- several workers: each loads only its share of every global batch --------------------------------------------


def _counted_batches(parts, monkeypatch, make):
    """The batches `make(loader, order, seeds)` yields, as arrays, and the images it decoded."""
    mapping, train, _ = parts
    decoded = []
    monkeypatch.setattr(pipeline, "read_image", lambda path: decoded.append(path.name) or read_image(path))
    loader = SampleLoader(train, mapping, lambda: augment.build_transform(augment.default_spec("train", 48, 48)))
    order, seeds = epoch_order(len(train), 5, 0, shuffle=True)
    return [(x.numpy(), y.numpy()) for x, y in make(loader, order, seeds)], sorted(decoded)


def _is_blank(images, labels):
    return images.shape[0] == 1 and not images.any() and (labels == IGNORE_LABEL).all()


@pytest.mark.parametrize("replicas_per_worker, global_batch", [(1, 4), (2, 4), (1, 6), (1, 8), (2, 8)])
def test_workers_load_their_shares_of_the_one_worker_global_batches(parts, monkeypatch, replicas_per_worker,
                                                                    global_batch):
    """6 samples in global batches of 4 (the last one short: 2), 6 and 8 (one short batch); with 2 replicas per
    worker and batch 4, the last 2 images go to worker 0's replicas and worker 1's get a blank image each."""
    one, one_decoded = _counted_batches(parts, monkeypatch, lambda loader, order, seeds: make_dataset(
        loader, order, seeds, batch_size=global_batch, workers=2, height=48, width=48))
    shares, decoded = [], []
    for index in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=index,
                                             num_replicas_in_sync=2 * replicas_per_worker)
        batches, names = _counted_batches(parts, monkeypatch, lambda loader, order, seeds: worker_dataset(
            loader, order, seeds, context, global_batch=global_batch, workers=2, height=48, width=48))
        shares.append(batches)
        decoded.append(names)
    steps = len(one)
    assert [len(s) for s in shares] == [steps * replicas_per_worker] * 2    # one batch per replica and step
    assert all(len(x) for s in shares for x, _ in s)                         # none empty
    for step, (images, labels) in enumerate(one):
        of_step = [b for s in shares for b in s[step * replicas_per_worker:(step + 1) * replicas_per_worker]]
        real = [b for b in of_step if not _is_blank(*b)]
        assert len(real) == len(of_step) or step == steps - 1
        np.testing.assert_array_equal(np.concatenate([x for x, _ in real]), images)
        np.testing.assert_array_equal(np.concatenate([y for _, y in real]), labels)
    # each image decoded once in all, by the worker whose share holds it
    assert sorted(decoded[0] + decoded[1]) == one_decoded and len(one_decoded) == 6
    assert [len(names) for names in decoded] == [sum(len(x) for x, y in s if not _is_blank(x, y)) for s in shares]


def test_worker_positions_split_a_short_last_batch_evenly():
    context = tf.distribute.InputContext(num_input_pipelines=3, input_pipeline_id=2, num_replicas_in_sync=6)
    positions, last = worker_positions(29, 12, context)   # b = 2: worker 2 holds replicas 4, 5 of each batch
    assert positions.tolist() == [8, 9, 10, 11, 20, 21, 22, 23]
    assert [share.tolist() for share in last] == [[28], []]   # 24-28 over 6 replicas: one each for replicas 0-4
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2)
    assert [share.tolist() for share in worker_positions(29, 12, context)[1]] == [[27, 28]]   # 24-26 | 27-28
    positions, last = worker_positions(24, 12, tf.distribute.InputContext())   # one worker, one replica, no short
    assert positions.tolist() == list(range(24)) and last == []
