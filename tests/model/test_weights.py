"""init_weights: transfer_learning keeps every weight but the classifier; continue_training restores the
optimizer and refuses other classes; freeze_batchnorm keeps BatchNorm as loaded."""
import numpy as np
import pytest
import tensorflow as tf

from trainer.config.resolve import resolve_train_config
from trainer.data.classes import ClassMapping
from trainer.errors import UserError
from trainer.model.builder import build_model, classifier_variables
from trainer.model.checkpoint_info import CheckpointInfo
from trainer.model.checkpoints import write_checkpoint
from trainer.model.weights import freeze_batchnorm, init_source, initialise
from trainer.train.optim import make_optimizer

MODEL = '{"depth_multiplier": 0.35, "decoder": true}'


def _mapping(*titles: str) -> ClassMapping:
    titles = ("bg", *titles)
    return ClassMapping({t: i for i, t in enumerate(titles)},
                        [{"title": t, "shape": "bitmap", "color": "#102030"} for t in titles], "neutral")


def _cfg(*sets: str) -> dict:
    return resolve_train_config(None, "demo", [f"model={MODEL}", *sets])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint for classes bg/cat/dog after two Adam steps, so weights and optimizer state are not initial."""
    cfg, mapping = _cfg(), _mapping("cat", "dog")
    model = build_model(cfg["model"], mapping.num_classes)
    optimizer = make_optimizer(cfg)
    optimizer.build(model.trainable_variables)   # as the trainer does: slots for every trainable weight
    images = tf.random.stateless_uniform([2, 64, 64, 3], [1, 2], maxval=255.0)
    labels = tf.random.stateless_uniform([2, 64, 64], [3, 4], maxval=3, dtype=tf.int32)
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
                labels, model(images, training=True), from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients((g, v) for g, v in zip(grads, model.trainable_variables) if g is not None)
    run = tmp_path_factory.mktemp("source-run")
    info = CheckpointInfo(cfg, mapping, step=2, epoch=1.0, validations=1, iters_per_epoch=2, metrics={})
    return write_checkpoint(run, 2, model, optimizer, info, True), model, optimizer


def _non_classifier(model):
    skip = {id(v) for v in classifier_variables(model)}
    return [v.numpy() for v in model.weights if id(v) not in skip]


@pytest.mark.parametrize("frozen", [False, True], ids=["trained-batchnorm", "frozen-batchnorm"])
def test_transfer_learning_keeps_every_weight_but_the_classifier(checkpoint, frozen):
    folder, source, _ = checkpoint
    cfg, mapping = _cfg(f"init_weights={folder.parent.parent}"), _mapping("a", "b", "c")  # a run folder: its best
    model, optimizer = build_model(cfg["model"], mapping.num_classes), make_optimizer(cfg)
    if frozen:
        freeze_batchnorm(model)   # as the trainer does, before the weights load
    fresh_classifier = [v.numpy() for v in classifier_variables(model)]
    summary = initialise(model, optimizer, init_source(cfg, mapping))
    for layer in model.submodules:   # trainable again: the source's order of weights, for the comparison
        layer.trainable = True
    for ours, theirs in zip(_non_classifier(model), _non_classifier(source)):
        np.testing.assert_array_equal(ours, theirs)
    for ours, fresh in zip(classifier_variables(model), fresh_classifier):
        assert ours.shape[-1] == 4
        np.testing.assert_array_equal(ours.numpy(), fresh)   # new classes: left as initialised
    assert int(optimizer.iterations) == 0 and not optimizer.variables[1:]   # no optimizer state
    assert "2 skipped" in summary and "2 missing" in summary and "transfer_learning" in summary


def test_continue_training_restores_weights_and_optimizer_state(checkpoint):
    folder, source, source_optimizer = checkpoint
    cfg, mapping = _cfg(f"init_weights={folder}", "weights_init_type=continue_training"), _mapping("cat", "dog")
    model, optimizer = build_model(cfg["model"], mapping.num_classes), make_optimizer(cfg)
    initialise(model, optimizer, init_source(cfg, mapping))
    for ours, theirs in zip(model.weights, source.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert int(optimizer.iterations) == 2
    assert len(optimizer.variables) == len(source_optimizer.variables) > 100   # Adam's m and v slots
    for ours, theirs in zip(optimizer.variables, source_optimizer.variables):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_continue_training_refuses_other_classes(checkpoint):
    folder = checkpoint[0]
    cfg = _cfg(f"init_weights={folder}", "weights_init_type=continue_training")
    with pytest.raises(UserError) as err:
        init_source(cfg, _mapping("cat", "emu"))
    assert err.value.lines == [
        f'init_weights {folder} (continue_training): class "dog" is in the checkpoint but not in the project',
        f'init_weights {folder} (continue_training): class "emu" is in the project but not in the checkpoint']


def test_refusals_before_anything_runs(checkpoint, tmp_path):
    folder = checkpoint[0]
    with pytest.raises(UserError, match="continue_training needs init_weights"):
        init_source(_cfg("weights_init_type=continue_training"), _mapping("cat", "dog"))
    with pytest.raises(UserError, match="not a checkpoint folder"):
        init_source(_cfg(f"init_weights={tmp_path}"), _mapping("cat", "dog"))
    with pytest.raises(UserError, match=r"model.decoder is True there but False in the config"):
        init_source(resolve_train_config(None, "demo", ['model={"depth_multiplier": 0.35, "decoder": false}',
                                                        f"init_weights={folder}"]), _mapping("cat"))
    with pytest.raises(UserError, match="optimizer.name is 'adam' there but 'sgd'"):
        init_source(_cfg(f"init_weights={folder}", "weights_init_type=continue_training", "optimizer.name=sgd"),
                    _mapping("cat", "dog"))
    assert init_source(_cfg(), _mapping("cat")) is None


def test_frozen_batchnorm_keeps_statistics_and_scale():
    model = build_model(_cfg()["model"], 3)
    frozen = freeze_batchnorm(model)
    assert frozen > 20
    before = [v.numpy() for v in model.non_trainable_weights]
    names = {v.name for v in model.trainable_weights}
    assert not any("gamma" in n or "beta" in n for n in names)
    model(tf.random.stateless_uniform([2, 64, 64, 3], [5, 6], maxval=255.0), training=True)
    for a, b in zip(before, model.non_trainable_weights):
        np.testing.assert_array_equal(a, b.numpy())
