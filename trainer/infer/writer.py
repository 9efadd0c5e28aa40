"""The output Supervisely project: input meta and annotations kept, model predictions added as bitmaps."""
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from trainer.data.geometry import encode_bitmap, mask_bbox
from trainer.data.supervisely import Sample
from trainer.errors import UserError
from trainer.io import write_json


def output_classes(out_classes: list[dict], save_classes, suffix: str) -> dict[int, dict]:
    """Model class index → output meta class (renamed with the suffix), for the classes to save."""
    titles = [c["title"] for c in out_classes]
    if save_classes != "__all__":
        unknown = [t for t in save_classes if t not in titles]
        if unknown:
            raise UserError(f"mode.model_classes.save_classes: {', '.join(map(repr, unknown))} not among "
                            f"the model's classes ({', '.join(titles)})")
    return {i: {"title": c["title"] + suffix, "shape": "bitmap", "color": c["color"], "geometry_config": {}}
            for i, c in enumerate(out_classes) if save_classes == "__all__" or c["title"] in save_classes}


def output_meta(input_meta: dict, added: list[dict]) -> dict:
    existing = {c["title"] for c in input_meta.get("classes", [])}
    clashes = sorted(c["title"] for c in added if c["title"] in existing)
    if clashes:
        raise UserError(f"mode.model_classes.add_suffix: the output class titles {clashes} already exist in "
                        "the input project: choose another suffix")
    return {**input_meta, "classes": list(input_meta.get("classes", [])) + added}


def prediction_objects(class_map: np.ndarray, classes: dict[int, dict]) -> list[dict]:
    """One bitmap object per saved class present in the prediction, tightly cropped, with its origin."""
    objects = []
    for index, cls in classes.items():
        mask = class_map == index
        box = mask_bbox(mask)
        if box is None:
            continue
        top, left, bottom, right = box
        objects.append({"classTitle": cls["title"], "description": "", "tags": [], "geometryType": "bitmap",
                        "bitmap": {"data": encode_bitmap(mask[top:bottom + 1, left:right + 1]),
                                   "origin": [int(left), int(top)]}})
    return objects


class ProjectWriter:
    """Builds the project in a hidden sibling folder and renames it into place when complete."""

    def __init__(self, output: Path, meta: dict):
        self.output = output
        output.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.tmp-"))
        write_json(self.tmp / "meta.json", meta)

    def add(self, sample: Sample, objects: list[dict]) -> None:
        dataset = self.tmp / sample.dataset
        (dataset / "img").mkdir(parents=True, exist_ok=True)
        (dataset / "ann").mkdir(exist_ok=True)
        shutil.copyfile(sample.image_path, dataset / "img" / sample.name)
        ann = dict(sample.raw_ann)
        ann["objects"] = list(ann.get("objects", [])) + objects
        write_json(dataset / "ann" / f"{sample.name}.json", ann)

    def finish(self) -> None:
        if self.output.is_dir():
            self.output.rmdir()  # only an empty folder gets here (checked before the run)
        os.replace(self.tmp, self.output)

    def abandon(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
