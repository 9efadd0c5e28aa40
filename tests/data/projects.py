"""Supervisely projects written by hand for the reader tests: a 6×4 image per sample, annotations as given."""
import json

import cv2
import numpy as np

from trainer.data.geometry import encode_bitmap

CLASSES = [
    {"title": "cat", "shape": "bitmap", "color": "#FF0000", "geometry_config": {}},
    {"title": "box", "shape": "rectangle", "color": "#00FF00"},
    {"title": "poly", "shape": "polygon", "color": "#0000FF"},
    {"title": "kp", "shape": "point", "color": "#ABCDEF"},
    {"title": "anything", "shape": "any", "color": "#123456"},
]
MASK = np.array([[0, 1, 1], [1, 1, 0]], bool)


def write_meta(root, **meta):
    root.mkdir(parents=True, exist_ok=True)
    meta.setdefault("classes", CLASSES)
    (root / "meta.json").write_text(json.dumps(meta))


def write_sample(root, dataset, image_name, ann, ann_name=None):
    """`ann` as a dict is dumped as JSON, as a str written verbatim, None writes no annotation."""
    (root / dataset / "img").mkdir(parents=True, exist_ok=True)
    (root / dataset / "ann").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / dataset / "img" / "tmp.png"), np.zeros((4, 6, 3), np.uint8))
    (root / dataset / "img" / "tmp.png").rename(root / dataset / "img" / image_name)
    if ann is not None:
        text = ann if isinstance(ann, str) else json.dumps(ann)
        (root / dataset / "ann" / (ann_name or f"{image_name}.json")).write_text(text)


def ann(*objects, tags=(), height=4, width=6):
    return {"description": "", "size": {"height": height, "width": width}, "tags": list(tags), "objects": list(objects)}


def bitmap_obj(title="cat", origin=(1, 2), data=None, **extra):
    data = encode_bitmap(MASK) if data is None else data
    return {"classTitle": title, "geometryType": "bitmap", "bitmap": {"data": data, "origin": list(origin)}, **extra}


def points_obj(title, shape, exterior, interior=(), key="geometryType"):
    obj = {"classTitle": title, "points": {"exterior": exterior, "interior": list(interior)}}
    if key:
        obj[key] = shape
    return obj


def snapshot(root):
    """Every path under root with its modification time and bytes: equal before and after = not touched."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}
