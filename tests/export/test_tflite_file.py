"""What a written TFLite file holds: identical arrays (the per-channel zero points) are stored once, and LiteRT
computes with it exactly what it computes with the converter's own layout (each array separate)."""
import threading

import numpy as np
import pytest

from trainer.config.resolve import resolve_train_config
from trainer.data.classes import ordered_mapping
from trainer.export.tflite import TfliteModel, write_tflite
from trainer.model.builder import build_model
from trainer.model.checkpoint_folders import ModelSource
from trainer.model.checkpoint_info import CheckpointInfo
from trainer.model.checkpoints import write_folder

pytestmark = pytest.mark.slow   # ~25 s: converts a 513² MobileNetV2 twice


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


def test_concurrent_callers_share_the_threads_and_get_the_same_logits(int8_file):
    """infer.py scores two images at once: each call gets an interpreter of its own, with half the threads."""
    images = np.random.default_rng(2).uniform(0, 255, (8, 48, 48, 3)).astype(np.float32)
    model = TfliteModel(int8_file, threads=2)
    alone = model.logits(images)
    assert [threads for threads, _ in model.idle] == [2]
    held = model._acquire()   # a call in progress  # noqa: SLF001
    assert np.array_equal(model.logits(images), alone)
    model._release(held)  # noqa: SLF001
    assert model.callers == 2 and model.active == 0 and [threads for threads, _ in model.idle] == [1]

    results = {}
    workers = [threading.Thread(target=lambda i=i: results.__setitem__(i, model.logits(images))) for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all(np.array_equal(results[i], alone) for i in range(3))
    assert model.active == 0 and all(threads == 1 for threads, _ in model.idle)
