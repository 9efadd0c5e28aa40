"""What an inference session can run: a checkpoint (run or checkpoint folder), or a model this tool exported — a
SavedModel (the export folder or its saved_model/) or a .tflite file, each described by the export.json beside it.
Found and checked here without TensorFlow; loaded by `scorer`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.data.classes import ClassMapping
from trainer.errors import UserError
from trainer.io import read_json
from trainer.model.checkpoint_folders import ModelSource
from trainer.model.checkpoint_info import CheckpointInfo

EXPORT_METADATA = "export.json"
SAVED_MODEL = "saved_model"
_SINGLE_VIEW = {"scales": [1.0], "flip": False}


@dataclass(frozen=True)
class ExportedModel:
    """A SavedModel folder or a .tflite file written by `trainer.export`, with what its export.json says."""
    path: Path
    kind: str               # "saved_model" or "tflite"
    info: CheckpointInfo    # the training settings and classes the export recorded
    metadata: dict          # export.json

    @property
    def checkpoint(self) -> Path:
        """What messages name as the model."""
        return self.path

    @property
    def model(self) -> dict:
        """The network settings it runs: the trained ones, at the output stride built in."""
        return {**self.info.model, **{key: self.metadata[key] for key in ("output_stride", "atrous_rates")}}

    def change(self) -> None:
        return None   # an exported network runs as it was exported


def locate(path: Path, cfg: dict, what: str = "--model") -> ModelSource | ExportedModel:
    """The model at `path` for an inference config; the config may not ask an exported model for what is built
    into it (its output stride, its TTA)."""
    path = Path(path)
    if path.suffix == ".tflite" or (path / "saved_model.pb").is_file() or (path / SAVED_MODEL).is_dir():
        exported = _exported(path, what)
        _check_config(exported, cfg, what)
        return exported
    return ModelSource.locate(path, cfg["model"]["output_stride"], cfg["model"]["atrous_rates"], what=what)


def _exported(path: Path, what: str) -> ExportedModel:
    if path.suffix == ".tflite":
        kind, model, folder = "tflite", path, path.parent
    elif (path / SAVED_MODEL).is_dir():
        kind, model, folder = "saved_model", path / SAVED_MODEL, path
    else:
        kind, model, folder = "saved_model", path, path.parent
    if not model.exists():
        raise UserError(f"{what} {path}: no such file")
    metadata = read_json(folder / EXPORT_METADATA, f"{what} {path}: the export's")
    try:
        settings = metadata["training_settings"]
        classes = ClassMapping({c["title"]: c["index"] for c in metadata["classes"]},
                               [{k: c[k] for k in ("title", "shape", "color")} for c in metadata["classes"]],
                               metadata["neutral"])
    except (KeyError, TypeError) as missing:
        raise UserError(f"{what} {path}: {folder / EXPORT_METADATA} is not an export's metadata "
                        f"(no {missing})") from None
    return ExportedModel(model, kind, CheckpointInfo(settings, classes), metadata)


def _check_config(exported: ExportedModel, cfg: dict, what: str) -> None:
    built = {"output_stride": exported.metadata["output_stride"], "atrous_rates": exported.metadata["atrous_rates"]}
    problems = [f"model.{key}: {cfg['model'][key]} differs from the {built[key]} built into {what} {exported.path}"
                for key in built if cfg["model"][key] not in (None, built[key])]
    tta = _SINGLE_VIEW if exported.kind == "tflite" else exported.metadata["tta"]
    if cfg["tta"] != tta:
        problems.append(f"tta: {cfg['tta']} differs from what {what} {exported.path} runs ({tta}"
                        + ("; a TFLite file has one view)" if exported.kind == "tflite" else ", built in at export)"))
    if problems:
        raise UserError(*problems)


def scorer(source: ModelSource | ExportedModel, cfg: dict):
    """What scores crops for the session (`classes`, `source`, `scores(crops)`, `labels(crops)`): the checkpoint's
    network in the predictor, the SavedModel's own serving signature (the full_image step with the export's TTA), or
    the TFLite file in the predictor."""
    from trainer.infer.predictor import Predictor

    if isinstance(source, ModelSource):
        return Predictor.from_source(source, cfg["tta"])
    if source.kind == "tflite":
        from trainer.export.tflite import TfliteModel

        return Predictor(TfliteModel(source.path), source.info.classes, source.info.input_size, cfg["tta"],
                         str(source.path.resolve()))
    from trainer.export.graphs import SavedModelScorer

    return SavedModelScorer(source.path, source.info.classes)
