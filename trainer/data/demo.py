"""A synthetic Supervisely project, so the tool can be tried and tested end to end without downloading data.

Each class has its own colour family and geometry type (circle: bitmap, square: rectangle, ring: polygon with a
hole, triangle: polygon), so a small network learns it in a few hundred steps and every reader path is exercised.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from trainer.data import supervisely_writer as sly
from trainer.data.geometry import mask_bbox, rasterize
from trainer.data.masks import CLASSES_FILE, IGNORE_VALUE
from trainer.data.supervisely import read_project
from trainer.data.types import Box, ObjectAnn

DEMO_NAME = "demo-v1"
DATASETS = ("ds1", "ds2")
SHAPES = ("circle", "square", "ring", "triangle")
_META_COLORS = {
    "circle": "#E53935",
    "square": "#1E88E5",
    "ring": "#43A047",
    "triangle": "#FDD835",
    "neutral": "#9E9E9E",
    "marker": "#8E24AA",
    "bg": "#000000",
}
_CLASS_SHAPES = {"circle": "bitmap", "square": "rectangle", "ring": "polygon", "triangle": "polygon"}
_PAINT_RGB = {"circle": (225, 45, 40), "square": (40, 80, 225), "ring": (40, 200, 70), "triangle": (240, 205, 30)}
MASK_CLASSES = ("bg", *SHAPES)  # mask value = position in classes.txt; neutral patches become 255 (ignore)


def write_synthetic_project(
    root: Path,
    *,
    train: int,
    val: int,
    size: tuple[int, int] = (160, 160),
    seed: int = 0,
    with_neutral: bool = True,
    with_bg_class: bool = False,
    shapes: tuple[int, int] = (1, 4),
) -> Path:
    """`size` is (height, width); `shapes` the least and most shapes per image. The same arguments always give
    byte-identical files."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    _write_json(root / "meta.json", _meta(with_neutral, with_bg_class))
    for i in range(train + val):
        dataset_dir = root / DATASETS[i % len(DATASETS)]
        name = f"img_{i:04d}" + (".png" if i % 4 == 3 else ".jpg")
        image, objects = _draw_sample(rng, size, shapes, with_neutral=with_neutral and i % 3 == 0,
                                      markers=i % 5 == 0)
        ann = sly.annotation(size[0], size[1], ["train" if i < train else "val"], objects)
        _write_image(dataset_dir / "img" / name, image)
        _write_json(dataset_dir / "ann" / f"{name}.json", ann)
    return root


def write_synthetic_mask_project(root: Path, *, train: int, val: int, size: tuple[int, int] = (160, 160),
                                 seed: int = 0, layout: str = "lists") -> Path:
    """The same images and ground truth in the mask-folder format; `layout` "lists" (splits/<tag>.txt) or
    "folders" (one sub-folder per split)."""
    root = Path(root)
    values = {title: value for value, title in enumerate(MASK_CLASSES)} | {"neutral": IGNORE_VALUE}
    lists: dict[str, list[str]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        source = read_project(write_synthetic_project(Path(tmp), train=train, val=val, size=size, seed=seed))
        for sample in source.samples:
            [split] = sample.tags
            folder = split if layout == "folders" else ""
            (root / "images" / folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sample.image_path, root / "images" / folder / sample.name)
            mask = rasterize(sample.objects, sample.height, sample.width, values)
            _write_image(root / "masks" / folder / f"{Path(sample.name).stem}.png", mask)
            lists[split].append(Path(sample.name).stem)
    (root / CLASSES_FILE).write_text("\n".join(MASK_CLASSES) + "\n", encoding="utf-8")
    if layout == "lists":
        (root / "splits").mkdir()
        for split, stems in lists.items():
            (root / "splits" / f"{split}.txt").write_text("\n".join(stems) + "\n", encoding="utf-8")
    return root


def demo_project() -> Path:
    """Generated once per cache folder; written aside and renamed into place so readers never see half a project."""
    cache = Path(os.environ.get("DEEPLAB_TRAINER_CACHE") or Path.home() / ".cache" / "deeplab-trainer")
    final = cache / DEMO_NAME
    if final.is_dir():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{DEMO_NAME}-", dir=cache))
    try:
        write_synthetic_project(staging, train=64, val=16)
        os.rename(staging, final)
    except OSError:
        if not final.is_dir():  # not a lost race with a concurrent writer
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _meta(with_neutral: bool, with_bg_class: bool) -> dict:
    titles = [*SHAPES, *(["neutral"] if with_neutral else []), "marker", *(["bg"] if with_bg_class else [])]
    shapes = {**_CLASS_SHAPES, "neutral": "rectangle", "marker": "point", "bg": "bitmap"}
    return sly.project_meta([sly.meta_class(t, shapes[t], _META_COLORS[t]) for t in titles],
                            [sly.meta_tag("train", "#0F8A5F"), sly.meta_tag("val", "#8A0F2E")], projectType="images")


def _draw_sample(
    rng: np.random.Generator, size: tuple[int, int], shapes: tuple[int, int], *, with_neutral: bool, markers: bool
) -> tuple[np.ndarray, list[dict]]:
    """Paints each object through the same rasterizer that builds ground truth, so pixels and labels agree."""
    height, width = size
    image = _background(rng, height, width)
    objects = []
    if with_neutral:
        objects.append(_neutral(rng, image))
    for _ in range(rng.integers(shapes[0], shapes[1] + 1)):
        title = SHAPES[rng.integers(len(SHAPES))]
        raw, obj = _GENERATORS[title](rng, height, width)
        mask = rasterize([obj], height, width, {title: 1}).astype(bool)
        _paint(rng, image, mask, _PAINT_RGB[title])
        objects.append(raw)
    if markers:
        objects += [_marker(rng, height, width) for _ in range(rng.integers(1, 3))]
    return image, objects


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Muted smooth colour blobs plus a gradient and fine grain: texture to ignore, never a class colour."""
    coarse = rng.uniform(70, 170, (4, 4, 1)) + rng.uniform(-18, 18, (4, 4, 3))
    smooth = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    ramp = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :, None] * rng.uniform(-25, 25)
    grain = rng.normal(0, 5, (height, width, 3))
    return np.clip(smooth + ramp + grain, 0, 255).astype(np.uint8)


def _paint(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, rgb: tuple[int, int, int]) -> None:
    color = np.clip(np.array(rgb) + rng.integers(-20, 21, 3), 0, 255)
    noise = rng.normal(0, 6, (int(mask.sum()), 3))
    image[mask] = np.clip(color + noise, 0, 255).astype(np.uint8)


def _extent(rng: np.random.Generator, height: int, width: int) -> tuple[float, float, float]:
    """Centre and half-size of a shape 20-45% of the image side, kept inside the image."""
    half = rng.uniform(0.20, 0.45) * min(height, width) / 2
    return rng.uniform(half, width - 1 - half), rng.uniform(half, height - 1 - half), half


def _circle(rng: np.random.Generator, height: int, width: int) -> tuple[dict, ObjectAnn]:
    cx, cy, radius = _extent(rng, height, width)
    canvas = np.zeros((height, width), np.uint8)
    cv2.circle(canvas, (round(cx), round(cy)), round(radius), 1, thickness=-1)
    box = mask_bbox(canvas)
    crop = canvas[box.slices].astype(bool)
    return sly.bitmap_object("circle", crop, box), ObjectAnn(0, "circle", "bitmap", (crop, box.left, box.top))


def _square(rng: np.random.Generator, height: int, width: int) -> tuple[dict, ObjectAnn]:
    cx, cy, half = _extent(rng, height, width)
    box = Box(round(cy - half), round(cx - half), round(cy + half), round(cx + half))
    return sly.rectangle_object("square", box), ObjectAnn(0, "square", "rectangle", (box.left, box.top, box.right,
                                                                                       box.bottom))


def _ring(rng: np.random.Generator, height: int, width: int) -> tuple[dict, ObjectAnn]:
    cx, cy, radius = _extent(rng, height, width)
    outer = _regular_polygon(cx, cy, radius, 24, 0.0)
    inner = _regular_polygon(cx, cy, radius * rng.uniform(0.45, 0.6), 24, 0.0)[::-1]
    raw = sly.polygon_object("ring", outer.tolist(), [inner.tolist()])
    return raw, ObjectAnn(0, "ring", "polygon", (outer.astype(float), [inner.astype(float)]))


def _triangle(rng: np.random.Generator, height: int, width: int) -> tuple[dict, ObjectAnn]:
    cx, cy, radius = _extent(rng, height, width)
    points = _regular_polygon(cx, cy, radius, 3, rng.uniform(0, 2 * np.pi))
    raw = sly.polygon_object("triangle", points.tolist(), [])
    return raw, ObjectAnn(0, "triangle", "polygon", (points.astype(float), []))


def _neutral(rng: np.random.Generator, image: np.ndarray) -> dict:
    """A hatched grey patch: pixels the loss must ignore, drawn first so shapes may cover it."""
    height, width = image.shape[:2]
    box_h, box_w = (int(rng.uniform(0.15, 0.3) * side) for side in (height, width))
    top, left = int(rng.integers(0, height - box_h)), int(rng.integers(0, width - box_w))
    rows, cols = np.mgrid[top : top + box_h, left : left + box_w]
    image[top : top + box_h, left : left + box_w] = np.where((((rows + cols) // 4) % 2)[..., None] == 1, 60, 150)
    return sly.rectangle_object("neutral", Box.sized(top, left, box_h, box_w))


def _marker(rng: np.random.Generator, height: int, width: int) -> dict:
    return sly.point_object("marker", int(rng.integers(0, width)), int(rng.integers(0, height)))


def _regular_polygon(cx: float, cy: float, radius: float, corners: int, angle: float) -> np.ndarray:
    angles = angle + np.arange(corners) * 2 * np.pi / corners
    return np.rint(np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)).astype(int)


def _write_image(path: Path, pixels: np.ndarray) -> None:
    """RGB, or one channel (a mask) as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if path.suffix == ".jpg" else []
    ok, data = cv2.imencode(path.suffix, cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR) if pixels.ndim == 3 else pixels,
                            params)
    if not ok:
        raise RuntimeError(f"cannot encode {path.name}")
    path.write_bytes(data.tobytes())


def _write_json(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


_GENERATORS = {"circle": _circle, "square": _square, "ring": _ring, "triangle": _triangle}
