"""Supervisely JSON as this tool writes it (meta, annotations, objects), beside the reader: one spelling of the format
for the inference output, the demo generator, mask projects' meta and checkpoints' class lists."""
from __future__ import annotations

import numpy as np

from trainer.data.geometry import encode_bitmap
from trainer.data.types import Box


def class_entry(title: str, shape: str, color: str) -> dict:
    """A class as checkpoints list them (out_classes)."""
    return {"title": title, "shape": shape, "color": color}


def meta_class(title: str, shape: str, color: str) -> dict:
    """A class of a project's meta.json."""
    return {**class_entry(title, shape, color), "geometry_config": {}}


def meta_tag(name: str, color: str) -> dict:
    """An image tag of a project's meta.json (a tag without a value: a split)."""
    return {"name": name, "value_type": "none", "color": color}


def project_meta(classes: list[dict], tags: list[dict], **extra) -> dict:
    return {"classes": classes, "tags": tags, **extra}


def image_tag(name: str) -> dict:
    return {"name": name, "value": None}


def annotation(height: int, width: int, tags: list[str], objects: list[dict]) -> dict:
    return {"description": "", "size": {"height": height, "width": width}, "tags": [image_tag(t) for t in tags],
            "objects": objects}


def _object(title: str, shape: str, **geometry) -> dict:
    return {"classTitle": title, "description": "", "tags": [], "geometryType": shape, **geometry}


def bitmap_object(title: str, mask: np.ndarray, box: Box) -> dict:
    """`mask`: the object's pixels inside `box` (its tight box: Supervisely stores bitmaps cropped, with the origin)."""
    return _object(title, "bitmap", bitmap={"data": encode_bitmap(mask), "origin": [box.left, box.top]})


def rectangle_object(title: str, box: Box) -> dict:
    """Supervisely rectangle: [[left, top], [right, bottom]], corners inclusive."""
    return _object(title, "rectangle", points={"exterior": [[box.left, box.top], [box.right, box.bottom]],
                                               "interior": []})


def polygon_object(title: str, exterior: list, interior: list[list]) -> dict:
    return _object(title, "polygon", points={"exterior": exterior, "interior": interior})


def point_object(title: str, x: int, y: int) -> dict:
    return _object(title, "point", points={"exterior": [[x, y]], "interior": []})
