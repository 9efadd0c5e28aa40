"""An export: the requested formats of one model, written into a new folder with export.json, its I/O contract."""
import hashlib
import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import tensorflow as tf

from trainer.data.images import read_image
from trainer.data.project import open_project
from trainer.data.split import split_members
from trainer.errors import DataError
from trainer.export.graphs import FROZEN_INPUT, FROZEN_OUTPUT, NO_PIXEL, write_frozen_graph, write_saved_model
from trainer.export.report import CheckImages, measure
from trainer.export.tflite import QUANTIZATIONS, io_contract, write_tflite
from trainer.infer.backends import EXPORT_METADATA, SAVED_MODEL
from trainer.infer.session import InferenceSession
from trainer.io import write_json
from trainer.model.checkpoint_folders import ModelSource
from trainer.model.tf1_source import FROZEN_GRAPH_FILE
from trainer.progress import say

# The layout infer.py's backends read back (trainer.infer.backends), plus the graph (named as the zoo's tarballs name
# theirs, which convert_zoo reads back) and the report.
FROZEN_GRAPH, REPORT = FROZEN_GRAPH_FILE, "export_report.json"


def tflite_name(quantize: str) -> str:
    return f"model_{quantize}.tflite"


@dataclass(frozen=True)
class ExportRequest:
    formats: tuple[str, ...]
    quantize: tuple[str, ...]   # TFLite types
    check: CheckImages          # the images the report runs on
    calibration: np.ndarray | None = None   # int8 / uint8: float32 RGB images at the input size


def calibration_images(project_root: Path, source: ModelSource, count: int) -> np.ndarray:
    """Up to `count` images of the project's train split (the model's train tag), through the model's validation
    pipeline (by default: resized to the input size), as validation sees them."""
    from trainer.data.augment import transform_factory

    project = open_project(project_root, check_images=False)
    tag = source.info.settings["dataset_tags"]["train"]
    samples = split_members(project.samples, tag)
    if not samples:
        raise DataError(f'--calibration {project_root}: no image tagged "{tag}" (the model\'s train split) to '
                        "calibrate on")
    transform = transform_factory(source.info.settings, "val")()
    transform.set_random_seed(0)
    images = []
    for sample in samples:
        if len(images) == count:
            break
        try:
            image = read_image(sample.image_path)
        except DataError:
            continue   # listed by train.py --check; calibration uses the readable ones
        images.append(transform(image=image)["image"].astype(np.float32))
    if not images:
        raise DataError(f'--calibration {project_root}: none of the {len(samples)} "{tag}" images is readable')
    return np.stack(images)


def export_model(source: ModelSource, cfg: dict, output: Path, request: ExportRequest) -> dict:
    """Write every requested file, export.json and the report into a hidden sibling of `output`, renamed into place
    when all are written; returns the report."""
    staging = output.with_name(f".{output.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        session = InferenceSession.open(source, cfg)
        files = {}
        if "saved_model" in request.formats:
            say("writing the SavedModel")
            write_saved_model(session.predictor, staging / SAVED_MODEL)
            files[SAVED_MODEL] = _saved_model_contract(session)
        if "frozen_graph" in request.formats:
            say("writing the frozen graph")
            write_frozen_graph(session.predictor, staging / FROZEN_GRAPH)
            files[FROZEN_GRAPH] = {"format": "frozen_graph", "input": {
                "name": f"{FROZEN_INPUT}:0", "dtype": "uint8", "shape": [1, None, None, 3], "values": "RGB 0..255"},
                "output": {"name": f"{FROZEN_OUTPUT}:0", "dtype": "int64", "shape": [1, None, None],
                           "values": "class index per pixel, at the input size"}}
        for quantize in request.quantize if "tflite" in request.formats else ():
            say(f"converting to TFLite ({quantize})")
            name = tflite_name(quantize)
            write_tflite(source.checkpoint, source.model, quantize, staging / name,
                         request.calibration if QUANTIZATIONS[quantize][0] else None)
            files[name] = {"format": "tflite", "quantize": quantize, **io_contract(staging / name)}
        write_json(staging / EXPORT_METADATA, _metadata(source, cfg, files, staging))
        say("measuring every file for the report")
        report = measure(staging, source.checkpoint, source.model, cfg, files, request.check)
        write_json(staging / REPORT, report)
        if output.is_dir():
            output.rmdir()   # only an empty folder gets here (checked before)
        os.replace(staging, output)
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _saved_model_contract(session: InferenceSession) -> dict:
    labels = {"dtype": "int32", "shape": [None, None, None], "values": "class index per pixel"}
    probabilities = {"dtype": "float32", "shape": [None, None, None, session.predictor.classes.num_classes],
                     "values": "softmax scores, averaged over the TTA views"}
    return {"format": "saved_model", "signatures": {
        "serving_default": {"inputs": {"images": {"dtype": "uint8", "shape": [None, None, None, 3],
                                                  "values": "RGB 0..255, any size"}},
                            "outputs": {"labels": labels, "probabilities": probabilities}},
        "image_bytes": {"inputs": {"image_bytes": {"dtype": "string", "shape": [None],
                                                   "values": "JPEG / PNG / BMP / GIF file bytes"}},
                        "outputs": {"labels": {**labels, "padding": NO_PIXEL}, "probabilities": probabilities,
                                    "image_size": {"dtype": "int32", "shape": [None, 2],
                                                   "values": "each image's (height, width): outputs are padded "
                                                             "to the largest of the batch"}}}}}


def _metadata(source: ModelSource, cfg: dict, files: dict, folder: Path) -> dict:
    classes = source.info.classes
    height, width = source.info.input_size
    for name, entry in files.items():
        entry["sha256"], entry["bytes"] = _digest(folder / name)
    return {
        "classes": [{"index": i, **c} for i, c in enumerate(classes.out_classes)],
        "background": classes.out_classes[0]["title"], "neutral": classes.neutral,
        "input_size": {"height": height, "width": width},
        "normalisation": "inside every file: pixels / 127.5 - 1 (DeepLab's)",
        "resize": ("SavedModel and frozen graph: any image size, resized (bilinear) to the input size and back, as "
                   "infer.py's full_image mode; TFLite: fixed input size, resize outside"),
        "output_stride": source.model["output_stride"], "atrous_rates": source.model["atrous_rates"],
        "tta": cfg["tta"], "checkpoint": str(source.checkpoint.resolve()), "training_settings": source.info.settings,
        "versions": {"deeplab-trainer": _version("deeplab-trainer"), "tensorflow": tf.__version__,
                     "tf-models-official": _version("tf-models-official")},
        "files": files,
    }


def _digest(path: Path) -> tuple[str | dict, int]:
    """sha256 and size of a file; of a folder, the sha256 of each file in it (by relative path) and the total size."""
    if path.is_file():
        data = path.read_bytes()
        return hashlib.sha256(data).hexdigest(), len(data)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return ({p.relative_to(path).as_posix(): _digest(p)[0] for p in files}, sum(p.stat().st_size for p in files))


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
