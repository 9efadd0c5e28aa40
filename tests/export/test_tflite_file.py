"""What a written TFLite file holds: identical arrays (the per-channel zero points) are stored once, and LiteRT
computes with it exactly what it computes with the converter's own layout (each array separate)."""
import numpy as np
import pytest

from trainer.config.resolve import resolve_train_config
from trainer.data.classes import ordered_mapping
from trainer.export.tflite import TfliteModel, write_tflite
from trainer.model.builder import build_model
from trainer.model.checkpoint_folders import ModelSource
from trainer.model.checkpoint_info import CheckpointInfo
from trainer.model.checkpoints import write_folder


@pytest.fixture(scope="module")
def int8_file(tmp_path_factory):
    """A small research-DeepLab MobileNetV2 (the zoo's kind: per-channel quantised convs) as an int8 file."""
    work = tmp_path_factory.mktemp("tflite")
    cfg = resolve_train_config(None, "mobilenetv2_dm05_voc", ['input_size={"width": 48, "height": 48}'])
    titles = ["bg", "a", "b"]
    info = CheckpointInfo(cfg, ordered_mapping(titles, dict.fromkeys(titles, "#102030"), "neutral"))
    write_folder(work / "checkpoint", build_model(cfg["model"], len(titles)), info)
    source = ModelSource.locate(work / "checkpoint")
    calibration = np.random.default_rng(0).uniform(0, 255, (4, 48, 48, 3)).astype(np.float32)
    write_tflite(source.checkpoint, source.model, "int8", work / "model.tflite", calibration)
    return work / "model.tflite"


def test_int8_file_stores_shared_zero_points_once_and_computes_the_same(int8_file, tmp_path):
    from tensorflow.lite.tools import flatbuffer_utils

    written = int8_file.read_bytes()
    model = flatbuffer_utils.convert_bytearray_to_object(written)
    zero_points = [t.quantization.zeroPoint for t in model.subgraphs[0].tensors
                   if t.quantization is not None and t.quantization.zeroPoint is not None
                   and len(t.quantization.zeroPoint) > 1]
    assert len(zero_points) > 10 and not any(z.any() for z in zero_points)   # per-channel, all zero
    separate = tmp_path / "separate.tflite"   # packed as the converter packs it: every array its own copy
    separate.write_bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    saved = len(separate.read_bytes()) - len(written)
    assert saved >= 0.8 * sum(z.nbytes for z in zero_points)
    images = np.random.default_rng(1).uniform(0, 255, (3, 48, 48, 3)).astype(np.float32)
    assert np.array_equal(TfliteModel(int8_file).logits(images), TfliteModel(separate).logits(images))
