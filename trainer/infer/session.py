"""An inference session: one model with one inference config, and the per-image step every consumer shares
(infer.py over a project, the exporter and its report, and next the server). TensorFlow loads when a model is opened,
not when this module is imported, so inputs are checked first."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.data.types import ObjectAnn, ProjectMeta
from trainer.infer.annotation import output_classes, output_meta, prediction_objects
from trainer.infer.backends import ExportedModel, locate, scorer
from trainer.infer.modes import make_mode
from trainer.infer.scores import class_map
from trainer.model.checkpoint_folders import ModelSource
from trainer.progress import say


@dataclass
class Prediction:
    class_map: np.ndarray   # int32 [H, W], the model's class index; scores.NO_PREDICTION where the mode scored nothing
    objects: list[dict]     # Supervisely objects: a bitmap per saved class predicted, then the mode's rectangles


class InferenceSession:
    """`predictor` scores crops (`classes`, `source`, `scores(crops)` and their argmax `labels(crops)`:
    trainer.infer.backends.scorer's, or any model in a trainer.infer.predictor.Predictor in tests); `cfg` is a
    resolved inference config."""

    def __init__(self, predictor, cfg: dict):
        self.predictor, self.cfg = predictor, cfg
        self.mode = make_mode(cfg["mode"])
        self.classes = _saved_classes(predictor.classes.out_classes, cfg)

    @staticmethod
    def locate(path, cfg: dict, what: str = "--model") -> ModelSource | ExportedModel:
        """A checkpoint (at the config's output stride) or an exported model, checked without TensorFlow, and
        the classes the config saves checked against its classes."""
        source = locate(path, cfg, what)
        _saved_classes(source.info.classes.out_classes, cfg)
        return source

    @classmethod
    def open(cls, source: ModelSource | ExportedModel, cfg: dict) -> InferenceSession:
        """The model on the config's device, saying where it runs and how."""
        from trainer.devices import use_gpus

        say(use_gpus([cfg["model"]["gpu_device"]], "model.gpu_device"))
        say(f"model: {source.checkpoint}")
        change = source.change()
        if change:
            say(change)
        return cls(scorer(source, cfg), cfg)

    def output_meta(self, meta: ProjectMeta) -> dict:
        """The input project's meta plus the model's classes and the mode's rectangle classes."""
        return output_meta(meta.raw, list(self.classes.values()) + self.mode.classes(meta))

    def predict_image(self, image: np.ndarray, objects: list[ObjectAnn] = ()) -> Prediction:
        """RGB uint8 [H, W, 3] → class map and Supervisely objects; `objects` (the image's annotation) are what the
        bboxes mode reads. An image the mode leaves nothing of is a DataError."""
        plan = self.mode.plan(*image.shape[:2], list(objects))
        predicted = class_map(self.predictor, image, plan.regions, self.cfg["batch_size"])
        return Prediction(predicted, prediction_objects(predicted, self.classes) + plan.objects)


def _saved_classes(out_classes: list[dict], cfg: dict) -> dict[int, dict]:
    saved = cfg["mode"]["model_classes"]
    return output_classes(out_classes, saved["save_classes"], saved["add_suffix"])
