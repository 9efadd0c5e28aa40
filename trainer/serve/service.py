"""The model behind the server: one inference session's model, shared by every request through the batcher, and
the per-request step every route family (Supervisely's, the plugin's, TF Serving's) runs. The annotation of an image
is made exactly as infer.py makes it: the request's settings are an inference config laid over the server's, the
mode plans, the session scores and writes the objects."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from trainer.config.resolve import with_infer_settings
from trainer.data.images import decode_image_bytes, image_pixels
from trainer.data.supervisely import parse_area_objects, parse_meta
from trainer.data.supervisely_writer import annotation as blank_annotation
from trainer.data.supervisely_writer import class_entry, project_meta
from trainer.data.types import ProjectMeta
from trainer.errors import ConfigError, DataError, UserError
from trainer.infer.backends import ExportedModel
from trainer.infer.session import InferenceSession
from trainer.infer.visualize import index_png
from trainer.model.checkpoint_folders import ModelSource
from trainer.serve.batching import BatchedScorer, Batcher
from trainer.serve.memory import IdleTrimmer
from trainer.serve.metrics import Metrics

APP_NAME = "DeepLab Trainer"
# A class known only from an annotation's objects (no meta sent) has no colour; its box rectangles get this one.
_UNKNOWN_COLOR = "#808080"
# What a request's settings may not change: the network and its views are built when the server starts.
_FIXED = ("model", "tta")
# Seconds without a request before the server gives freed memory back (trainer/serve/memory.py). The heap grows back
# through page faults at the next burst, which cost the first seconds of a 16-client load 10% of their throughput
# (bench/serve_load.py), so a client's pause of a few seconds must not trigger it.
IDLE_TRIM_SECONDS = 10.0


@dataclass(frozen=True)
class Limits:
    """The server's limits, as its command line sets them (the defaults live there)."""
    max_batch: int
    batch_wait_ms: float
    queue: int
    max_request_mb: float
    max_image_pixels: int


class TooLarge(UserError):
    """A request or an image over its limit (HTTP 413)."""


class Busy(UserError):
    """The queue is full (HTTP 503)."""


class ModelService:
    def __init__(self, session: InferenceSession, source: ModelSource | ExportedModel, layer: dict, where: str,
                 limits: Limits, name: str):
        self.source, self.layer, self.where, self.limits, self.name = source, layer, where, limits, name
        self.cfg = session.cfg
        self._lock = threading.Lock()
        self._queued = self._working = 0
        self.metrics = Metrics(limits.max_batch, lambda: self._queued)
        self.batcher = Batcher(session.predictor.probabilities, limits.max_batch, limits.batch_wait_ms / 1000,
                               lambda: self._working, self.metrics.batch)
        self.predictor = BatchedScorer(session.predictor, self.batcher)
        self.session = InferenceSession(self.predictor, self.cfg)
        # TF Serving's predict: what the exported SavedModel's serving signature computes, the full image
        self._full_image = InferenceSession(
            self.predictor, with_infer_settings({k: v for k, v in layer.items() if k != "mode"}, where))
        self._images = ThreadPoolExecutor(limits.max_batch, "image")   # a batch request's images, scored together
        self.trimmer = IdleTrimmer(IDLE_TRIM_SECONDS)
        self.ready = False

    @classmethod
    def open(cls, source: ModelSource | ExportedModel, cfg: dict, layer: dict, where: str, limits: Limits,
             name: str) -> ModelService:
        """The model loaded and warmed up: the first request is as fast as the next. `cfg` is `layer` resolved."""
        service = cls(InferenceSession.open(source, cfg), source, layer, where, limits, name)
        height, width = source.info.input_size
        for size in ((height, width), (height // 2 + 1, width // 2 + 3)):
            image = np.full((*size, 3), 128, np.uint8)
            service.session.predict_image(image)                  # alone: full_image and roi use the one call
            service.predictor.shared_labels(image[np.newaxis])    # requests that share model calls: the stages
        service.ready = True
        return service

    def close(self) -> None:
        self.trimmer.close()
        self._images.shutdown()
        self.batcher.close()

    @contextmanager
    def admitted(self):
        """A place in the queue for one request, or Busy."""
        with self._lock:
            if self._queued >= self.limits.queue:
                raise Busy(f"the server is busy: {self._queued} requests queued (--queue {self.limits.queue}); "
                           "retry shortly")
            self._queued += 1
        self.trimmer.started()
        try:
            yield
        finally:
            with self._lock:
                self._queued -= 1
            self.trimmer.finished()

    @contextmanager
    def _scoring(self):
        with self._lock:
            self._working += 1
        try:
            yield
        finally:
            with self._lock:
                self._working -= 1

    def session_for(self, settings: object = None) -> InferenceSession:
        """The session for a request's settings (keys of an inference config, laid over the server's)."""
        if not settings:
            return self.session
        cfg = with_infer_settings(self.layer, "settings", settings)
        fixed = [f"settings: {key}: fixed when the server started (it runs {self.cfg[key]}); start a server with "
                 "this setting in its --config instead" for key in _FIXED if cfg[key] != self.cfg[key]]
        if fixed:
            raise ConfigError(*fixed)
        return InferenceSession(self.predictor, cfg)

    def decode(self, data: bytes, what: str = "image") -> np.ndarray:
        """The RGB image of an uploaded file; its size is checked from the header before anything is decoded."""
        try:
            pixels = image_pixels(data)
            if pixels > self.limits.max_image_pixels:
                raise TooLarge(f"{what}: {pixels} pixels, more than the server's --max-image-pixels "
                               f"{self.limits.max_image_pixels}")
            return decode_image_bytes(data)
        except ValueError as error:
            raise DataError(f"{what}: {error}") from None

    def annotate(self, data: bytes, settings: object = None, annotation: object = None, meta: object = None,
                 what: str = "image") -> dict:
        """The Supervisely annotation infer.py would write for this image: the given annotation's objects (what
        the bboxes mode reads) followed by the predictions."""
        session = self.session_for(settings)
        image = self.decode(data, what)
        input_meta = self._input_meta(meta, annotation)
        session.output_meta(input_meta)   # refuses what infer.py refuses for this meta (clashing output titles …)
        if annotation is None:
            annotation, objects = blank_annotation(*image.shape[:2], [], []), []
        else:
            objects = parse_area_objects(annotation, input_meta, "annotation")
        with self._scoring():
            prediction = session.predict_image(image, objects)
        return {**annotation, "objects": list(annotation.get("objects", [])) + prediction.objects}

    def annotate_many(self, files: list[bytes], settings: object = None) -> list[dict]:
        """Each file's annotation, in order; the images are scored concurrently, so their crops share batches."""
        self.session_for(settings)   # a bad setting fails once, before any image
        jobs = [self._images.submit(self.annotate, data, settings, what=f"files[{i}]") for i, data in enumerate(files)]
        return [job.result() for job in jobs]

    def labels_png(self, data: bytes, what: str) -> bytes:
        """The full-image class index map of an image as a PNG (TF Serving's predict)."""
        image = self.decode(data, what)
        with self._scoring():
            return index_png(self._full_image.predict_image(image).class_map)

    def output_meta(self, settings: object = None, meta: object = None) -> dict:
        """The project meta of the output: the input meta (if any) with the model's classes and the mode's."""
        return self.session_for(settings).output_meta(self._input_meta(meta, None))

    def info(self) -> dict:
        """Supervisely's session info, plus what a user needs to know about the network."""
        classes = self.predictor.classes.out_classes
        model = self.source.model
        height, width = self.source.info.input_size
        return {"app_name": APP_NAME, "model_name": self.name, "model_files": str(self.source.checkpoint),
                "number_of_classes": len(classes), "classes": [c["title"] for c in classes],
                "task type": "semantic segmentation", "sliding_window_support": "advanced",
                "batch_inference_support": True, "max_batch_size": self.limits.max_batch,
                "videos_support": False, "async_video_inference_support": False,
                "implementation": model["implementation"], "backbone": model["backbone"],
                "input_size": {"height": height, "width": width}, "output_stride": model["output_stride"],
                "atrous_rates": model["atrous_rates"], "decoder": model["decoder"],
                "model_format": getattr(self.source, "kind", "checkpoint")}

    @staticmethod
    def _input_meta(meta: object, annotation: object) -> ProjectMeta:
        """The meta sent, or one made of the annotation's own object classes and shapes."""
        if meta is not None:
            return parse_meta(meta, "meta")
        objects = annotation.get("objects", []) if isinstance(annotation, dict) else []
        shapes = {o["classTitle"]: o["geometryType"] for o in objects if isinstance(o, dict)
                  and isinstance(o.get("classTitle"), str) and isinstance(o.get("geometryType"), str)}
        return parse_meta(project_meta([class_entry(t, s, _UNKNOWN_COLOR) for t, s in shapes.items()], []), "meta")
