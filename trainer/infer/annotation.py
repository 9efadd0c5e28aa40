"""What the output project gains: the model's classes (renamed, filtered), prediction bitmaps, mode rectangles."""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from trainer.data.geometry import encode_bitmap, mask_bbox
from trainer.errors import UserError

if TYPE_CHECKING:  # the modes import this module
    from trainer.infer.modes.scores import Region

# Rectangle classes a mode adds (roi, windows) get one fixed colour; box classes keep their source's colour.
RECTANGLE_COLOR = "#FF8C00"


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


def rectangle_class(title: str, color: str = RECTANGLE_COLOR) -> dict:
    return {"title": title, "shape": "rectangle", "color": color, "geometry_config": {}}


def output_meta(input_meta: dict, added: list[dict]) -> dict:
    """The input meta plus the added classes, whose titles must be new and distinct."""
    existing = {c["title"] for c in input_meta.get("classes", [])}
    clashes = sorted(c["title"] for c in added if c["title"] in existing)
    repeated = sorted(title for title, n in Counter(c["title"] for c in added).items() if n > 1)
    problems = [f"the output class titles {titles} {why}: choose another mode.model_classes.add_suffix (or, for "
                "the mode's rectangles, mode.class_name / mode.add_suffix)"
                for titles, why in ((clashes, "already exist in the input project"), (repeated, "would be added twice"))
                if titles]
    if problems:
        raise UserError(*problems)
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


def rectangle_object(title: str, region: Region) -> dict:
    """Supervisely rectangle: [[left, top], [right, bottom]], corners inclusive."""
    exterior = [[region.left, region.top], [region.left + region.width - 1, region.top + region.height - 1]]
    return {"classTitle": title, "description": "", "tags": [], "geometryType": "rectangle",
            "points": {"exterior": exterior, "interior": []}}
