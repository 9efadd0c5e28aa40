"""A checkpoint folder's config.json as one type: what the weights are (settings, classes) and, for a checkpoint
written by training, where the run stood. Read and validated here only, without TensorFlow, so bad --model, --resume
and init_weights input is refused before TensorFlow loads."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.config.resolve import saved_train_config
from trainer.data.classes import ClassMapping
from trainer.errors import UserError
from trainer.io import read_json, write_json

CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class CheckpointInfo:
    settings: dict                  # the train config the weights were made with (model, input_size, dataset_tags…)
    classes: ClassMapping
    source: str | None = None       # provenance of weights not trained here (a converted model-zoo checkpoint)
    # Where a training run stood at this checkpoint (None for a converted one: nothing was trained here).
    step: int | None = None
    epoch: float | None = None
    validations: int | None = None
    iters_per_epoch: int | None = None
    metrics: dict | None = None     # the validation record of this checkpoint
    # How the weights run unless told otherwise, where not as trained: {"output_stride", "atrous_rates"} of the
    # frozen graph a model-zoo conversion came from (exported at 8 from weights trained at 16). Weightless settings.
    inference_defaults: dict | None = None

    @property
    def model(self) -> dict:
        return self.settings["model"]

    @property
    def inference_model(self) -> dict:
        """The model settings inference starts from: the trained ones with the inference defaults."""
        return {**self.model, **(self.inference_defaults or {})}

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the network was trained at; inference resizes each crop to it."""
        return self.settings["input_size"]["height"], self.settings["input_size"]["width"]

    @classmethod
    def read(cls, folder: Path) -> CheckpointInfo:
        """Its settings completed with defaults of keys added since it was written, and validated."""
        path = folder / CONFIG_FILE
        raw = read_json(path, "checkpoint")
        if not isinstance(raw, dict) or not isinstance(raw.get("settings"), dict):
            raise UserError(f"checkpoint {path}: not a checkpoint's config.json (no settings object)")
        settings = saved_train_config(raw["settings"], f"checkpoint {path}: settings", pipelines=False)
        try:
            classes = ClassMapping(raw["class_title_to_idx"], raw["out_classes"], raw["neutral_class"])
        except KeyError as missing:
            raise UserError(f"checkpoint {path}: not a checkpoint's config.json (no {missing} key)") from None
        defaults = raw.get("inference_defaults")
        if defaults is not None and (not isinstance(defaults, dict)
                                     or set(defaults) != {"output_stride", "atrous_rates"}):
            raise UserError(f"checkpoint {path}: inference_defaults: expected an object with output_stride and "
                            f"atrous_rates, got {defaults!r}")
        return cls(settings, classes, raw.get("source"), raw.get("step"), raw.get("epoch"), raw.get("validations"),
                   raw.get("iters_per_epoch"), raw.get("metrics"), defaults)

    def to_json(self) -> dict:
        out = {"settings": self.settings}
        if self.source is not None:
            out["source"] = self.source
        if self.inference_defaults is not None:
            out["inference_defaults"] = self.inference_defaults
        out |= {"out_classes": self.classes.out_classes, "class_title_to_idx": self.classes.class_title_to_idx,
                "neutral_class": self.classes.neutral}
        if self.step is not None:
            out |= {"step": self.step, "epoch": self.epoch, "validations": self.validations,
                    "iters_per_epoch": self.iters_per_epoch, "metrics": self.metrics}
        return out

    def write(self, folder: Path) -> None:
        write_json(folder / CONFIG_FILE, self.to_json())
