"""What the output project gains: the model's classes (renamed, filtered), prediction bitmaps, mode rectangles."""
from collections import Counter

import numpy as np

from trainer.data.geometry import mask_bbox
from trainer.data.supervisely_writer import bitmap_object, meta_class
from trainer.errors import UserError

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
    return {i: meta_class(c["title"] + suffix, "bitmap", c["color"])
            for i, c in enumerate(out_classes) if save_classes == "__all__" or c["title"] in save_classes}


def rectangle_class(title: str, color: str = RECTANGLE_COLOR) -> dict:
    return meta_class(title, "rectangle", color)


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
    # one count of every class (and of unpredicted pixels, -1) instead of a scan of the map per absent class
    present = np.flatnonzero(np.bincount(class_map.ravel() + 1)) - 1
    objects = []
    for index, cls in classes.items():
        if index in present:
            mask = class_map == index
            box = mask_bbox(mask)
            objects.append(bitmap_object(cls["title"], mask[box.slices], box))
    return objects
