"""Read a Supervisely project into memory, validating every annotation up front so training never meets a bad file."""

from __future__ import annotations

import gc
import json
import math
import re
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.data.geometry import decode_bitmap, outside_image
from trainer.data.images import IMAGE_EXTENSIONS, list_files
from trainer.data.types import AREA_SHAPES, MetaClass, ObjectAnn, Problem, Project, ProjectFormat, ProjectMeta, Sample
from trainer.errors import DataError, and_list

SKIPPED_SHAPES = frozenset({"point", "line", "graph"})
_GEOMETRY_KEYS = ("geometryType", "shape", "type")
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
_MAX_COORDINATE = 1e9  # keeps rounded coordinates inside int32 for cv2


@dataclass
class _Found:
    samples: list[Sample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


class _Invalid(Exception):
    """One problem inside an annotation; raised where it is found, labelled with the file where that is known."""


def read_meta(root: Path) -> ProjectMeta:
    path = Path(root) / "meta.json"
    if not path.is_file():
        raise DataError(f"{path}: not found (a Supervisely project needs meta.json)")
    try:
        raw = _load_json(path)
    except ValueError as error:
        raise DataError(f"{path}: {error}") from None
    return parse_meta(raw, str(path))


def parse_meta(raw: object, where: str) -> ProjectMeta:
    """A project meta from its JSON (meta.json, or one sent to the server); errors start with `where`."""
    if not isinstance(raw, dict):
        raise DataError(f"{where}: must be a JSON object")
    errors: list[str] = []
    classes = _parse_classes(raw.get("classes", []), errors)
    tags = _parse_meta_tags(raw, errors)
    if errors:
        raise DataError(*(f"{where}: {error}" for error in errors))
    return ProjectMeta(classes=classes, raw=raw, tags=tags)


def parse_area_objects(raw: object, meta: ProjectMeta, where: str) -> list[ObjectAnn]:
    """The objects covering pixels of one image's annotation JSON (the ones inference modes read), or a DataError
    naming each bad object."""
    if not isinstance(raw, dict) or not isinstance(raw.get("objects", []), list):
        raise DataError(f'{where}: must be a JSON object with an "objects" list')
    parsed, errors = _parse_objects(raw.get("objects", []), {c.title: c for c in meta.classes})
    if errors:
        raise DataError(*(f"{where}: objects[{index}]: {message}" for index, message in errors))
    return [o for o in parsed if o.shape in AREA_SHAPES]


def read_project(root: Path) -> Project:
    """Bad samples become Problems rather than errors: allow_corrupted_samples lets the caller decide. Images sharing
    a legacy annotation are a DataError, like files sharing a stem in a mask project."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: project folder not found")
    meta = read_meta(root)
    classes = {c.title: c for c in meta.classes}
    datasets = [(d, {image: _annotation_path(d, image) for image in list_files(d / "img")})
                for d in _dataset_dirs(root)]
    clashes = [line for dataset_dir, pairs in datasets for line in _shared_annotations(root, dataset_dir, pairs)]
    if clashes:
        raise DataError(*clashes)
    found = _Found()
    with _collector_paused():
        for dataset_dir, pairs in datasets:
            for image_path, ann_path in pairs.items():
                _read_sample(dataset_dir, image_path, ann_path, classes, found)
            _find_orphan_annotations(dataset_dir, pairs, found)
    found.samples.sort(key=lambda s: (s.dataset, s.name))
    return Project(root=root, meta=meta, samples=found.samples, skipped_shapes=dict(found.skipped),
                   problems=found.problems, warnings=found.warnings)


def is_supervisely_project(root: Path) -> bool:
    return (Path(root) / "meta.json").is_file()


FORMAT = ProjectFormat("supervisely", "meta.json (Supervisely)", "meta.json (Supervisely)", is_supervisely_project,
                       read_project)


@contextmanager
def _collector_paused():
    """Annotations become millions of small objects that all stay alive; Python's cyclic collector would scan the
    growing heap again and again, making reading superlinear. They form no cycles, so collecting can wait."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))  # tolerate a BOM from Windows tools
    except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ValueError(f"cannot be parsed as JSON ({error})") from None


def _parse_classes(entries: object, errors: list[str]) -> list[MetaClass]:
    if not isinstance(entries, list):
        errors.append('"classes" must be a list')
        return []
    classes = []
    for i, entry in enumerate(entries):
        meta_class = _parse_class(entry)
        if isinstance(meta_class, str):
            errors.append(f"classes[{i}]: {meta_class}")
        else:
            classes.append(meta_class)
    for title, count in Counter(c.title for c in classes).items():
        if count > 1:
            errors.append(f'class title "{title}" appears {count} times')
    return classes


def _parse_class(entry: object) -> MetaClass | str:
    """The class, or the reason it is unusable."""
    if not isinstance(entry, dict):
        return "must be an object with title, shape and color"
    title, shape, color = entry.get("title"), entry.get("shape"), entry.get("color")
    if not isinstance(title, str) or not title:
        return '"title" must be a non-empty string'
    if not isinstance(shape, str) or not shape:
        return f'class "{title}": "shape" must be a non-empty string'
    if not isinstance(color, str) or not _COLOR.fullmatch(color):
        return f'class "{title}": "color" must look like "#RRGGBB", got {color!r}'
    return MetaClass(title=title, shape=shape, color=color)


def _parse_meta_tags(raw: dict, errors: list[str]) -> list[str]:
    """Tag names from `tags`, or from the legacy `tags_images` + `tags_objects` (entries may be bare names)."""
    legacy = [key for key in ("tags_images", "tags_objects") if key in raw]
    if "tags" in raw and legacy:
        errors.append(f'has both "tags" and legacy {" and ".join(repr(k) for k in legacy)}: use one form')
        return []
    names: list[str] = []
    for key in ["tags"] if "tags" in raw else legacy:
        entries = raw[key]
        if not isinstance(entries, list):
            errors.append(f'"{key}" must be a list')
            continue
        for i, entry in enumerate(entries):
            name = _tag_name(entry)
            if name is None:
                errors.append(f'{key}[{i}]: must be a tag name or an object with "name"')
            elif name not in names:
                names.append(name)
    return names


def _tag_name(entry: object) -> str | None:
    name = entry.get("name") if isinstance(entry, dict) else entry
    return name if isinstance(name, str) and name else None


def _dataset_dirs(root: Path) -> list[Path]:
    candidates = sorted(p for p in root.iterdir() if (p / "img").is_dir() or (p / "ann").is_dir())
    if not candidates:
        raise DataError(f"{root}: no datasets found (a dataset is a folder with img/ and ann/)")
    missing = [
        f'dataset "{d.name}": {sub}/ folder missing'
        for d in candidates
        for sub in ("img", "ann")
        if not (d / sub).is_dir()
    ]
    if missing:
        raise DataError(*missing)
    return candidates


def _annotation_path(dataset_dir: Path, image_path: Path) -> Path | None:
    for name in (image_path.name + ".json", image_path.stem + ".json"):
        candidate = dataset_dir / "ann" / name
        if candidate.is_file():
            return candidate
    return None


def _shared_annotations(root: Path, dataset_dir: Path, pairs: dict[Path, Path | None]) -> list[str]:
    """Only a legacy ann/<stem>.json can fit two images (a.jpg, a.png), and which one it annotates would be a guess:
    as with mask folders, a naming mistake in the whole dataset, not a corrupted sample to skip."""
    images: dict[Path, list[str]] = defaultdict(list)
    for image_path, ann_path in pairs.items():
        if ann_path is not None:
            images[ann_path].append(image_path.name)
    return [f'{dataset_dir / "img"}: {and_list(names)} share the stem "{ann_path.stem}"; their '
            f"legacy annotation {ann_path.relative_to(root).as_posix()} would be ambiguous: rename or remove all but "
            "one, or give each its own ann/<file name>.json"
            for ann_path, names in sorted(images.items()) if len(names) > 1]


def _read_sample(dataset_dir: Path, image_path: Path, ann_path: Path | None, classes: dict[str, MetaClass],
                 found: _Found) -> None:
    """Adds the sample (with its skipped shapes and clipping warnings), or every problem of its annotation."""
    dataset = dataset_dir.name
    if ann_path is None:
        message = f"no annotation (looked for ann/{image_path.name}.json and ann/{image_path.stem}.json)"
        found.problems.append(Problem(dataset, f"img/{image_path.name}", None, message))
        return
    file = f"ann/{ann_path.name}"
    tags = None
    try:
        raw = _annotation_json(ann_path)
        tags = _image_tags(raw.get("tags", []))
        height, width = _image_size(raw.get("size"))
        raw_objects = raw.get("objects", [])
        if not isinstance(raw_objects, list):
            raise _Invalid('"objects" must be a list')
    except _Invalid as error:
        found.problems.append(Problem(dataset, file, None, str(error), _frozen(tags)))
        return
    parsed, errors = _parse_objects(raw_objects, classes)
    if errors:
        found.problems.extend(Problem(dataset, file, index, message, frozenset(tags)) for index, message in errors)
        return
    objects = [o for o in parsed if o.shape in AREA_SHAPES]
    found.samples.append(Sample(dataset, image_path.name, image_path, ann_path, height, width, tags, objects, raw))
    found.skipped.update((o.class_title, o.shape) for o in parsed if o.shape in SKIPPED_SHAPES)
    for obj in objects:
        message = outside_image(obj, height, width)
        if message:
            found.warnings.append(Problem(dataset, file, obj.index, message, frozenset(tags)))


def _find_orphan_annotations(dataset_dir: Path, pairs: dict[Path, Path | None], found: _Found) -> None:
    """An annotation matching no image (by full name or, legacy, by stem) is a sample whose image is missing. A
    legacy ann/<stem>.json beside the image's own ann/<file name>.json is never read: said, as it may hold the
    annotation the user meant."""
    used = {ann_path for ann_path in pairs.values() if ann_path is not None}
    by_name = {p.name: p for p in pairs} | {p.stem: p for p in pairs}
    for path in list_files(dataset_dir / "ann", {".json"}):
        base = path.name[: -len(".json")]
        if path in used:
            continue
        if base in by_name:
            own = pairs[by_name[base]]
            if own is not None:
                found.warnings.append(Problem(dataset_dir.name, f"ann/{path.name}", None,
                                              f"not used: img/{by_name[base].name} has its own ann/{own.name}"))
            continue
        wanted = base if Path(base).suffix.lower() in IMAGE_EXTENSIONS else f"{base}.*"
        try:
            tags = _image_tags(_annotation_json(path).get("tags", []))
        except _Invalid:
            tags = None
        found.problems.append(
            Problem(dataset_dir.name, f"ann/{path.name}", None, f"no image img/{wanted} for this annotation",
                    _frozen(tags)))


def _frozen(tags: set[str] | None) -> frozenset[str] | None:
    return None if tags is None else frozenset(tags)


def _annotation_json(path: Path) -> dict:
    try:
        raw = _load_json(path)
    except ValueError as error:
        raise _Invalid(str(error)) from None
    if not isinstance(raw, dict):
        raise _Invalid("must be a JSON object")
    return raw


def _parse_objects(raw_objects: list, classes: dict[str, MetaClass]) -> tuple[list[ObjectAnn], list[tuple[int, str]]]:
    objects, errors = [], []
    for index, raw_object in enumerate(raw_objects):
        try:
            objects.append(_parse_object(index, raw_object, classes))
        except _Invalid as error:
            errors.append((index, str(error)))
    return objects, errors


def _image_size(size: object) -> tuple[int, int]:
    if isinstance(size, dict):
        height, width = size.get("height"), size.get("width")
        if all(_is_int(v) and v > 0 for v in (height, width)):
            return height, width
    raise _Invalid('"size" must be {"height": positive int, "width": positive int}')


def _image_tags(entries: object) -> set[str]:
    if not isinstance(entries, list):
        raise _Invalid('"tags" must be a list')
    names = set()
    for i, entry in enumerate(entries):
        name = _tag_name(entry)
        if name is None:
            raise _Invalid(f'tags[{i}]: must be a tag name or an object with "name"')
        names.add(name)
    return names


def _parse_object(index: int, raw: object, classes: dict[str, MetaClass]) -> ObjectAnn:
    """Skipped shapes come back with data None: only their class and shape are counted."""
    if not isinstance(raw, dict):
        raise _Invalid("must be a JSON object")
    title = raw.get("classTitle")
    if not isinstance(title, str):
        raise _Invalid('"classTitle" missing')
    if title not in classes:
        raise _Invalid(f'unknown classTitle "{title}"')
    shape = _object_shape(raw, classes[title])
    data = None if shape in SKIPPED_SHAPES else _GEOMETRY_PARSERS[shape](raw)
    return ObjectAnn(index=index, class_title=title, shape=shape, data=data)


def _object_shape(raw: dict, meta_class: MetaClass) -> str:
    key = next((k for k in _GEOMETRY_KEYS if k in raw), None)
    shape = raw[key] if key else meta_class.shape
    if isinstance(shape, str) and (shape in AREA_SHAPES or shape in SKIPPED_SHAPES):
        return shape
    if key:
        raise _Invalid(f'unsupported geometry {key} "{shape}"')
    raise _Invalid(f'no geometryType, and class "{meta_class.title}" has shape "{shape}", which does not name one')


def _parse_bitmap(raw: dict) -> tuple[np.ndarray, int, int]:
    bitmap = raw.get("bitmap")
    if not isinstance(bitmap, dict) or not isinstance(bitmap.get("data"), str):
        raise _Invalid('bitmap: "bitmap.data" must be a string')
    origin = bitmap.get("origin")
    if not (_is_point(origin) and all(float(v).is_integer() for v in origin)):
        raise _Invalid(f'bitmap: bad coordinates: "origin" must be [x, y] integers, got {origin!r}')
    try:
        mask = decode_bitmap(bitmap["data"])
    except ValueError as error:
        raise _Invalid(str(error)) from None
    return mask, int(origin[0]), int(origin[1])


def _parse_polygon(raw: dict) -> tuple[np.ndarray, list[np.ndarray]]:
    exterior, interior = _points(raw, "polygon")
    if not isinstance(interior, list):
        raise _Invalid('polygon: "points.interior" must be a list of rings')
    return _ring(exterior, "polygon exterior"), [_ring(r, f"polygon interior {i}") for i, r in enumerate(interior)]


def _ring(value: object, where: str) -> np.ndarray:
    points = _coordinates(value, where)
    if len(points) < 3:
        raise _Invalid(f"{where} has {len(points)} points, needs at least 3")
    return points


def _parse_rectangle(raw: dict) -> tuple[float, float, float, float]:
    exterior, _ = _points(raw, "rectangle")
    corners = _coordinates(exterior, "rectangle exterior")
    if len(corners) != 2:
        raise _Invalid(f"rectangle exterior has {len(corners)} points, needs exactly 2 ([left, top], [right, bottom])")
    (left, top), (right, bottom) = corners.tolist()
    return left, top, right, bottom


def _points(raw: dict, shape: str) -> tuple[object, object]:
    points = raw.get("points")
    if not isinstance(points, dict) or "exterior" not in points:
        raise _Invalid(f'{shape}: "points.exterior" missing')
    return points["exterior"], points.get("interior", [])


def _coordinates(value: object, where: str) -> np.ndarray:
    if not isinstance(value, list) or not all(_is_point(p) for p in value):
        raise _Invalid(f"{where}: bad coordinates: expected a list of [x, y] finite numbers")
    return np.array(value, dtype=np.float64).reshape(-1, 2)


def _is_point(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_is_coordinate(v) for v in value)


def _is_coordinate(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= _MAX_COORDINATE
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_GEOMETRY_PARSERS = {"bitmap": _parse_bitmap, "polygon": _parse_polygon, "rectangle": _parse_rectangle}
