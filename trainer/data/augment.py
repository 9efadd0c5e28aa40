"""Albumentations pipelines from the config, in albumentations' own serialization (A.to_dict / A.from_dict).

Masks hold class indices, so whatever a pipeline says, mask resampling is nearest-neighbour and any mask fill
(padding, rotation corners) is the ignore label; a transform's `fill_mask: null` ("leave the mask") is kept.
"""

from __future__ import annotations

import inspect
from typing import Callable

import albumentations as A
import cv2
import numpy as np
from albumentations.core.serialization import SERIALIZABLE_REGISTRY, shorten_class_name

from trainer.data.classes import IGNORE_LABEL

# DeepLab pads images with the mean pixel value; masks are padded with the ignore label.
_PAD_VALUE = 127.5
_CLASS_KEY = "__class_fullname__"


def default_spec(split: str, height: int, width: int) -> dict:
    """Train: research DeepLab's random scale 0.5–2.0, pad bottom/right, random crop, left-right flip.
    Val: the plugin resized images (and, nearest-neighbour, their masks) to the input size."""
    if split == "train":
        transforms = [
            A.RandomScale(scale_limit=(-0.5, 1.0), interpolation=cv2.INTER_LINEAR,
                          mask_interpolation=cv2.INTER_NEAREST, p=1.0),
            A.PadIfNeeded(min_height=height, min_width=width, position="top_left",
                          border_mode=cv2.BORDER_CONSTANT, fill=_PAD_VALUE, fill_mask=IGNORE_LABEL),
            A.RandomCrop(height=height, width=width, fill_mask=IGNORE_LABEL),
            A.HorizontalFlip(p=0.5),
        ]
    else:
        transforms = [A.Resize(height=height, width=width, interpolation=cv2.INTER_LINEAR,
                               mask_interpolation=cv2.INTER_NEAREST)]
    return A.to_dict(A.Compose(transforms))


def transform_factory(cfg: dict, split: str) -> Callable[[], A.Compose]:
    """Builds the split's pipeline (the config's, else the default for input_size); one per loader thread."""
    spec = cfg["augmentations"][split] or default_spec(split, cfg["input_size"]["height"], cfg["input_size"]["width"])
    return lambda: build_transform(spec)


def build_transform(spec: dict) -> A.Compose:
    transform = A.from_dict({"transform": _mask_safe(spec["transform"])})
    return transform if isinstance(transform, A.Compose) else A.Compose([transform])


def pipeline_problems(spec: object, height: int, width: int) -> list[tuple[list, str]]:
    """(key path inside the pipeline, message) for a serialized pipeline that cannot run or does not make
    height×width uint8 images and masks; the sizes are tried on test images smaller and larger than the input."""
    if not isinstance(spec, dict) or not isinstance(spec.get("transform"), dict):
        return [([], 'expected albumentations\' serialization: {"__version__": ..., "transform": {...}}')]
    problems = [([key], "unknown key (allowed: __version__, transform)")
                for key in spec if key not in ("__version__", "transform")]
    problems += _node_problems(spec["transform"], ["transform"])
    if problems:
        return problems
    try:
        transform = build_transform(spec)
    except (ValueError, TypeError, KeyError) as error:
        return [(["transform"], f"cannot be built: {error}")]
    return _output_problems(transform, height, width)


def _mask_safe(node: dict) -> dict:
    """The transform with nearest-neighbour mask resampling, ignore-label mask fills and, where `p` is left out,
    the class's own default (from_dict would use 0.5). Serialized arguments the class ignores (a parent's, such
    as PadIfNeeded's `padding`) are left out rather than warned about by every loader thread."""
    params = _parameters(SERIALIZABLE_REGISTRY[shorten_class_name(node[_CLASS_KEY])])
    node = {key: value for key, value in node.items() if key in params or key in (_CLASS_KEY, "strict")}
    if "p" in params and "p" not in node:
        node["p"] = params["p"].default
    if "mask_interpolation" in params:
        node["mask_interpolation"] = cv2.INTER_NEAREST
    if "fill_mask" in params and node.get("fill_mask", params["fill_mask"].default) is not None:
        node["fill_mask"] = IGNORE_LABEL
    if isinstance(node.get("transforms"), list):
        node["transforms"] = [_mask_safe(child) for child in node["transforms"]]
    return node


def _node_problems(node: object, path: list) -> list[tuple[list, str]]:
    if not isinstance(node, dict):
        return [(path, f"expected a transform (an object with {_CLASS_KEY})")]
    name = node.get(_CLASS_KEY)
    cls = SERIALIZABLE_REGISTRY.get(shorten_class_name(name)) if isinstance(name, str) else None
    if cls is None:
        return [(path + [_CLASS_KEY], f"unknown transform {name!r}" if name else "missing: the transform's name")]
    params = _parameters(cls)
    known = _serialized_arguments(cls)
    problems = [(path + [key], f"unknown argument of {cls.__name__} (allowed: {', '.join(sorted(known))})")
                for key in node if key != _CLASS_KEY and key not in known]
    if "transforms" in params:
        children = node.get("transforms")
        if not isinstance(children, list):
            return problems + [(path + ["transforms"], "expected a list of transforms")]
        for i, child in enumerate(children):
            problems += _node_problems(child, path + ["transforms", i])
    if problems or "transforms" in params:
        return problems
    try:
        A.from_dict({"transform": _mask_safe(node)})
    except (ValueError, TypeError) as error:
        return _argument_problems(error, path, cls.__name__)
    return []


def _argument_problems(error: Exception, path: list, name: str) -> list[tuple[list, str]]:
    """Albumentations checks arguments with pydantic: one problem per rejected argument."""
    details = getattr(error.__cause__, "errors", None)
    if not callable(details):
        return [(path, f"{name}: {error}")]
    return [(path + [str(part) for part in d["loc"][:1]], f"{name}: {d['msg']}") for d in details()]


def _output_problems(transform: A.Compose, height: int, width: int) -> list[tuple[list, str]]:
    rng = np.random.default_rng(0)
    for in_height, in_width in ((height // 2 + 1, width // 3 + 1), (height, width), (2 * height + 7, width + 13)):
        image = rng.integers(0, 256, (in_height, in_width, 3), dtype=np.uint8)
        mask = rng.integers(0, 3, (in_height, in_width), dtype=np.uint8)
        for seed in range(3):
            transform.set_random_seed(seed)
            try:
                out = transform(image=image, mask=mask)
            except Exception as error:  # noqa: BLE001 — any failure of a user pipeline is a config problem
                return [(["transform"], f"fails on a {in_width}×{in_height} test image: {error}")]
            got = out["image"]
            if got.shape != (height, width, 3) or out["mask"].shape != (height, width):
                return [(["transform"], f"turns a {in_width}×{in_height} test image into {got.shape[1]}×{got.shape[0]}, "
                         f"but input_size is {width}×{height}: the pipeline must end at that size "
                         "(e.g. PadIfNeeded + RandomCrop, or Resize)")]
            if got.dtype != np.uint8:
                return [(["transform"], f"makes {got.dtype} images: the model takes uint8 0-255 "
                         "(leave out Normalize / ToFloat)")]
    return []


def _parameters(cls: type) -> dict[str, inspect.Parameter]:
    return {name: p for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _serialized_arguments(cls: type) -> set[str]:
    """What A.to_dict may write for the class: the arguments of every __init__ along its MRO (so a parent's
    argument, such as PadIfNeeded's `padding`, is accepted as albumentations itself writes it) plus `strict`."""
    names = {"strict"}
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and klass is not object:
            names |= set(_parameters(klass))
    return names
