"""tf-models-official backbone checkpoints (root `backbone`, its `init_checkpoint_modules: backbone` convention) as
init_weights of a `tf_models` model: the backbone loads, the rest starts fresh, the file's other objects are ignored."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from trainer.errors import UserError
from trainer.model.builder import build_model
from trainer.model.weights import init_source, initialise

MODEL = {"backbone": "mobilenet_v2", "implementation": "tf_models", "depth_multiplier": 0.5, "output_stride": 16,
         "atrous_rates": [], "decoder": True, "dense_prediction_cell": False, "batchnorm_momentum": 0.997}


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory):
    """A classification model's checkpoint: its backbone (checkpoint_items) beside an ImageNet classifier."""
    donor = build_model(MODEL, 3)
    backbone = donor.network.backbone
    classifier = tf_keras.layers.Dense(1001)
    classifier.build([None, 1280])
    folder = tmp_path_factory.mktemp("tf_models_imagenet")
    tf.train.CheckpointManager(tf.train.Checkpoint(backbone=backbone, classifier=classifier), str(folder), 1).save()
    return folder, [v.numpy() for v in backbone.weights]


def _cfg(path, mode="transfer_learning", **model):
    return {"init_weights": str(path), "weights_init_type": mode, "model": {**MODEL, **model}}


def test_backbone_loads_and_the_rest_is_fresh(imagenet):
    folder, expected = imagenet
    model = build_model(MODEL, 4)
    backbone_ids = {id(v) for v in model.network.backbone.weights}
    rest = [(v, v.numpy()) for v in model.weights if id(v) not in backbone_ids]
    source = init_source(_cfg(folder), mapping=None)   # a folder: its latest checkpoint, as tf-models reads one
    assert source.tf2_backbone and source.checkpoint.name == "ckpt-1"
    summary = initialise(model, tf_keras.optimizers.SGD(), source)
    for ours, theirs in zip(model.network.backbone.weights, expected):
        np.testing.assert_array_equal(ours.numpy(), theirs, err_msg=ours.name)
    for variable, initial in rest:
        np.testing.assert_array_equal(variable.numpy(), initial, err_msg=variable.name)
    assert summary == (f"weights from tf-models-official backbone checkpoint {folder / 'ckpt-1'} (transfer_learning): "
                       f"{len(expected)} loaded (the backbone), 3 ignored (not the backbone: classifier, "
                       "save_counter), "
                       f"{len(rest)} fresh (a backbone-only checkpoint; ASPP, decoder and classifier start from their "
                       "initialisers)")


def test_another_width_is_an_error_and_continue_training_is_refused(imagenet):
    folder, _ = imagenet
    cfg = _cfg(folder / "ckpt-1", depth_multiplier=1.0)
    with pytest.raises(UserError, match=rf"init_weights {folder / 'ckpt-1'}: its `backbone` does not fit "
                                        r"model.backbone of the config \(.*shape"):
        initialise(build_model(cfg["model"], 4), tf_keras.optimizers.SGD(), init_source(cfg, mapping=None))
    with pytest.raises(UserError, match="holds no head to continue: use weights_init_type transfer_learning"):
        init_source(_cfg(folder, mode="continue_training"), mapping=None)
