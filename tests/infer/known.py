"""Tiny models whose scores are known functions of the pixels, small projects to run them on, and the same
config → infer_project path the CLI takes, so each mode's geometry can be checked by hand."""
import json
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf
import tf_keras

from trainer.config.resolve import resolve_infer_config
from trainer.data.classes import ClassMapping
from trainer.data.geometry import decode_bitmap
from trainer.data.supervisely import read_project
from trainer.infer.predictor import Predictor
from trainer.infer.run import Options, infer_project
from trainer.infer.session import InferenceSession

TITLES = ["bg", "a", "b", "c"]  # model class indices 0..3; "c" is never predicted
COLORS = ["#000000", "#FF0000", "#00FF00", "#0000FF"]
_NEVER = -1e4  # logit of a class that gets no probability


def classes() -> ClassMapping:
    return ClassMapping({t: i for i, t in enumerate(TITLES)},
                        [{"title": t, "shape": "bitmap", "color": c} for t, c in zip(TITLES, COLORS)], "neutral")


def channel_model() -> tf_keras.Model:
    """Pointwise: class k (k < 3) scores 0.5 × channel k, so each pixel's class is its largest channel (R→bg,
    G→a, B→b). Its scores do not depend on where a pixel sits in the crop."""
    def logits(images):
        return tf.concat([images * 0.5, tf.fill(tf.shape(images[..., :1]), _NEVER)], axis=-1)
    return _model(logits)


def column_model(table: list[float]) -> tf_keras.Model:
    """Positional: probability of class a at crop column x is table[x · len(table) // crop width], bg has the
    rest. Where crops overlap, what each one says about a pixel differs, so combining them is visible."""
    probabilities = tf.constant(table, tf.float32)

    def logits(images):
        width = tf.shape(images)[2]
        p = tf.gather(probabilities, tf.range(width) * len(table) // width)
        p = tf.broadcast_to(p[tf.newaxis, tf.newaxis, :], tf.shape(images)[:3])
        never = tf.fill(tf.shape(p), _NEVER)
        return tf.stack([tf.math.log(1.0 - p), tf.math.log(p), never, never], axis=-1)
    return _model(logits)


def _model(logits) -> tf_keras.Model:
    """Built for any image size: a Sequential left to build on its first call would keep that call's graph, and
    fail in the predictor's other tf.functions."""
    return tf_keras.Sequential([tf_keras.Input((None, None, 3)), tf_keras.layers.Lambda(logits)])


def predictor(model, input_size: tuple[int, int], tta: dict | None = None) -> Predictor:
    return Predictor(model, classes(), input_size, tta or {"scales": [1.0], "flip": False}, "known model")


def class_image(class_map: np.ndarray, seed: int = 0) -> np.ndarray:
    """An RGB image whose largest channel at each pixel is class_map's class (0..2), other channels random."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 150, (*class_map.shape, 3)).astype(np.uint8)
    np.put_along_axis(image, class_map[..., None].astype(np.int64), 220, axis=-1)
    return image


def random_classes(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 3, (height, width))


def write_project(root: Path, images: dict, meta_classes: list[tuple[str, str]] | None = None) -> Path:
    """`images`: {(dataset, name): (RGB uint8 pixels, objects, tags)}; PNG so the pixels survive exactly."""
    meta_classes = meta_classes or [("a", "bitmap"), ("b", "bitmap"), ("c", "bitmap"), ("neutral", "bitmap")]
    root.mkdir(parents=True)
    (root / "meta.json").write_text(json.dumps(
        {"classes": [{"title": t, "shape": s, "color": "#123456", "geometry_config": {}} for t, s in meta_classes],
         "tags": [{"name": "val", "value_type": "none", "color": "#FFFFFF"}]}))
    for (dataset, name), (pixels, objects, tags) in images.items():
        for sub in ("img", "ann"):
            (root / dataset / sub).mkdir(parents=True, exist_ok=True)
        ok, png = cv2.imencode(".png", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
        (root / dataset / "img" / name).write_bytes(png.tobytes())
        ann = {"description": "", "size": {"height": pixels.shape[0], "width": pixels.shape[1]},
               "tags": [{"name": t, "value": None} for t in tags], "objects": objects}
        (root / dataset / "ann" / f"{name}.json").write_text(json.dumps(ann))
    return root


def rectangle(title: str, left: int, top: int, right: int, bottom: int) -> dict:
    return {"classTitle": title, "description": "", "tags": [], "geometryType": "rectangle",
            "points": {"exterior": [[left, top], [right, bottom]], "interior": []}}


def run(project_root: Path, output: Path, model, input_size, mode: dict, tta: dict | None = None,
        options: Options = Options(), model_wrapper=None) -> list[str]:
    """Resolve the config exactly as infer.py does (`--set mode=…`), then run infer.py's inference session."""
    sets = [f"mode={json.dumps(mode)}"] + ([f"tta={json.dumps(tta)}"] if tta else [])
    cfg = resolve_infer_config(None, sets)
    p = predictor(model, input_size, cfg["tta"])
    session = InferenceSession(model_wrapper(p) if model_wrapper else p, cfg)
    return infer_project(session, read_project(project_root), output, options)


def annotation(output: Path, dataset: str, name: str) -> dict:
    return json.loads((output / dataset / "ann" / f"{name}.json").read_text())


def predicted_map(output: Path, dataset: str, name: str, shape: tuple[int, int], suffix: str = "_deeplab") -> np.ndarray:
    """Class index per pixel from the output annotation's prediction bitmaps; -1 where there is none."""
    out = np.full(shape, -1)
    for obj in annotation(output, dataset, name)["objects"]:
        title = obj["classTitle"]
        if obj.get("geometryType") == "bitmap" and title.endswith(suffix):
            mask = decode_bitmap(obj["bitmap"]["data"])
            left, top = obj["bitmap"]["origin"]
            view = out[top:top + mask.shape[0], left:left + mask.shape[1]]
            assert (view[mask] == -1).all(), "prediction bitmaps overlap"
            view[mask] = TITLES.index(title[:-len(suffix)])
    return out


def rectangles(output: Path, dataset: str, name: str) -> list[tuple[str, list]]:
    return [(o["classTitle"], o["points"]["exterior"]) for o in annotation(output, dataset, name)["objects"]
            if o.get("geometryType") == "rectangle"]
