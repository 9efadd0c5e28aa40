"""The same checks over every entry of the backbone registry (trainer.model.backbones), as keras-hub's shared
TestCase runs over every model: a new entry is tested by being declared. Each entry's network is built once (a
module-scoped fixture), at tiny sizes: Xception-65 and ResNet-101 are big for a 2-core CPU."""
import gc
import math
import re

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from trainer.config.resolve import resolve_train_config
from trainer.config.validate import load_schema
from trainer.model.backbones import BACKBONES, backbone, implementations, names, names_by_implementation
from trainer.model.builder import build_model, classifier_variables, is_research_deeplab
from trainer.model.checkpoint_folders import WEIGHTS_PREFIX
from trainer.model.checkpoints import restore_model
from trainer.model.cost import describe
from trainer.model.deeplab_layers import tf1_scope
from trainer.model.stride import at_output_stride
from trainer.train.optim import make_optimizer

CLASSES = 3
SIZES = [(64, 64), (96, 80)]
# research/deeplab's head scopes (trainer.model.deeplab_head): everything else of a deeplab network is the backbone's.
_HEAD_SCOPE = re.compile(r"(image_pooling|aspp\d+(_depthwise|_pointwise)?|concat_projection|decoder|logits)(/|$)")


def _id(entry) -> str:
    return f"{entry.implementation}-{entry.name}"


def _images(shape, seed):
    return tf.random.stateless_uniform(shape, seed=[seed, 1], maxval=255.0)


def entry_config(entry) -> dict:
    """The demo setting with this backbone (×0.5 where it takes a depth multiplier), one ASPP rate, no decoder."""
    multiplier = 0.5 if "depth_multiplier" in entry.options else 1.0
    return resolve_train_config(None, None, [
        f'model.implementation="{entry.implementation}"', f'model.backbone="{entry.name}"',
        f"model.depth_multiplier={multiplier}", "model.atrous_rates=[6]", "model.decoder=false"])


class Built:
    """One entry's model, with a checkpoint of it and what it computed when written."""

    def __init__(self, entry, folder):
        self.entry, self.cfg = entry, entry_config(entry)
        self.model = build_model(self.cfg["model"], CLASSES)
        self.model(_images([2, 64, 64, 3], 0), training=True)   # BatchNorm statistics other than their initial values
        self.images = _images([1, 64, 64, 3], 1)
        self.logits = self.model(self.images).numpy()
        self.weights = [v.numpy() for v in self.model.weights]
        self.folder = folder
        tf.train.Checkpoint(model=self.model).write(str(folder / WEIGHTS_PREFIX))


@pytest.fixture(scope="module", params=BACKBONES, ids=_id)
def built(request, tmp_path_factory):
    yield Built(request.param, tmp_path_factory.mktemp(_id(request.param)))
    tf_keras.backend.clear_session()
    gc.collect()


def test_schema_enums_are_the_registry():
    model = load_schema("train")["properties"]["model"]["properties"]
    assert model["backbone"]["enum"] == list(names())
    assert model["implementation"]["enum"] == list(implementations())
    assert [_id(entry) for entry in BACKBONES] == [f"{impl}-{name}" for impl, backbones in
                                                   names_by_implementation().items() for name in backbones]


def test_config_chooses_the_entry(built):
    assert backbone(built.cfg["model"]) is built.entry
    assert is_research_deeplab(built.cfg["model"]) == (built.entry.implementation == "deeplab")
    assert callable(built.entry.builder())


@pytest.mark.parametrize("height,width", SIZES)
def test_logits_at_input_size_and_output_stride(built, height, width):
    images = _images([2, height, width, 3], height)
    logits = built.model(images)
    assert logits.shape == (2, height, width, CLASSES) and logits.dtype == tf.float32
    assert np.isfinite(logits.numpy()).all()
    stride = built.cfg["model"]["output_stride"]
    raw = built.model.network(images * (2.0 / 255.0) - 1.0)["logits"]
    assert raw.shape[1:3] == (math.ceil(height / stride), math.ceil(width / stride))


def test_tf1_names(built):
    """research/deeplab entries name every backbone variable under their TF1 scope (TF1 checkpoints load by it)."""
    scope = built.entry.tf1_scope
    if scope is None:
        assert built.entry.implementation == "tf_models"
        return
    tops = {tf1_scope(layer.name) for layer in built.model.network.layers if layer.weights}
    backbone_scopes = {name.split("/")[0] for name in tops if not _HEAD_SCOPE.match(name)}
    assert backbone_scopes == {scope}


def test_checkpoint_round_trip(built):
    fresh = build_model(built.cfg["model"], CLASSES)
    assert not np.allclose(fresh(built.images), built.logits)
    restore_model(fresh, built.folder)
    np.testing.assert_array_equal(fresh(built.images).numpy(), built.logits)


def test_describe(built):
    description = describe(built.cfg, 64, 64, CLASSES)
    assert description["madds"] > 0
    assert description["params"] == sum(w.size for w in built.weights) > 0


def test_same_weights_at_output_stride_8(built):
    dense_cfg = at_output_stride(built.cfg["model"], 8, None)
    dense = build_model(dense_cfg, CLASSES)
    restore_model(dense, built.folder)
    assert len(dense.weights) == len(built.weights)   # tf-models-official's names are numbered per build: by order
    for variable, trained in zip(dense.weights, built.weights):
        np.testing.assert_array_equal(variable.numpy(), trained, err_msg=variable.name)
    logits = dense(built.images)
    assert logits.shape == (1, 64, 64, CLASSES) and np.isfinite(logits.numpy()).all()
    assert dense.network(built.images * (2.0 / 255.0) - 1.0)["logits"].shape[1:3] == (8, 8)


def test_one_training_step(built):
    """Gradients reach the images through the whole network and move every weight they reach. (Not every weight:
    tf-models-official's MobileNetV2 builds its final 1280-channel conv, which no segmentation head reads.)"""
    model, optimizer = built.model, make_optimizer(built.cfg)
    images = _images([2, 64, 64, 3], 2)
    labels = tf.random.stateless_uniform([2, 64, 64], seed=[3, 4], maxval=CLASSES, dtype=tf.int32)
    before = [v.numpy() for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = model(images, training=True)
        loss = tf.reduce_mean(tf_keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    *gradients, to_images = tape.gradient(loss, [*model.trainable_variables, images])
    assert np.isfinite(loss.numpy()) and np.abs(to_images.numpy()).max() > 0
    assert all(np.isfinite(g.numpy()).all() for g in gradients if g is not None)
    by_variable = {v.ref(): g for v, g in zip(model.trainable_variables, gradients)}
    assert all(by_variable[v.ref()] is not None for v in classifier_variables(model))
    reached = [(v, old) for v, old, g in zip(model.trainable_variables, before, gradients) if g is not None]
    optimizer.apply_gradients((g, v) for g, v in zip(gradients, model.trainable_variables) if g is not None)
    assert [v.name for v, old in reached if np.array_equal(v.numpy(), old)] == []
