"""Read a mask-folder project (images plus PNG class-index masks, VOC style) as the same Project a Supervisely one gives.

    PROJECT/classes.txt            one class title per line; line i (from 0) is mask value i; 255 = ignore
    PROJECT/images/a.jpg           + PROJECT/masks/a.png       (mask named by the image's stem)
    PROJECT/splits/<tag>.txt       image names (with or without extension), one per line: the images of a split
or, instead of lists, one sub-folder per split: images/<tag>/a.jpg + masks/<tag>/a.png.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from trainer.data import supervisely_writer as sly
from trainer.data.classes import voc_color
from trainer.data.geometry import LABEL_MASK, LabelMask
from trainer.data.images import IMAGE_EXTENSIONS, list_files, read_index_mask
from trainer.data.types import MetaClass, ObjectAnn, Problem, Project, ProjectFormat, ProjectMeta, Sample
from trainer.errors import DataError, and_list

CLASSES_FILE = "classes.txt"
IGNORE_VALUE = 255
_TAG_COLOR = "#808080"


def is_mask_project(root: Path) -> bool:
    return (Path(root) / CLASSES_FILE).is_file()


def read_mask_project(root: Path) -> Project:
    """Bad samples become Problems, as in the Supervisely reader; a broken layout (files sharing a stem included)
    or class list is a DataError."""
    root = Path(root)
    titles = _read_classes(root / CLASSES_FILE)
    for folder in ("images", "masks"):
        if not (root / folder).is_dir():
            raise DataError(f"{root}: {folder}/ folder missing (a mask project has {CLASSES_FILE}, images/, masks/)")
    datasets = _datasets(root)
    clashes = [line for _, folder, splits in datasets for line in _stem_clashes(root, folder, splits)]
    if clashes:
        raise DataError(*clashes)
    reader = _Reader(root, titles)
    for dataset, folder, splits in datasets:
        reader.read_folder(dataset, folder, splits)
    reader.refuse_binary_masks()
    split_tags = sorted({tag for s in reader.samples for tag in s.tags} | {t for p in reader.problems for t in p.tags})
    meta = _meta(titles, split_tags)
    reader.samples.sort(key=lambda s: (s.dataset, s.name))
    return Project(root=root, meta=meta, samples=reader.samples, skipped_shapes={}, problems=reader.problems,
                   format="masks")


def _read_lines(path: Path) -> list[str]:
    """Stripped lines; a BOM and Windows line ends from the tools these files come from are tolerated."""
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot be read ({error})") from None


def _read_classes(path: Path) -> tuple[str, ...]:
    titles = _read_lines(path)
    while titles and not titles[-1]:
        titles.pop()
    errors = [f"{path}: line {i + 1} is empty (line i names mask value i - 1)" for i, t in enumerate(titles) if not t]
    errors += [f'{path}: class title "{t}" appears {titles.count(t)} times'
               for t in sorted(set(titles)) if t and titles.count(t) > 1]
    if not titles:
        errors.append(f"{path}: lists no classes")
    if len(titles) > IGNORE_VALUE:
        errors.append(f"{path}: {len(titles)} classes, at most {IGNORE_VALUE} (mask value {IGNORE_VALUE} means ignore)")
    if errors:
        raise DataError(*errors)
    return tuple(titles)


def _datasets(root: Path) -> list[tuple[str, str, _FolderSplit | _SplitLists]]:
    """(dataset name, folder under images/ and masks/, what gives an image its split tags) for each dataset."""
    entries = [p for p in (root / "images").iterdir() if not p.name.startswith(".")]
    folders = sorted(p.name for p in entries if p.is_dir())
    has_images = any(p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS for p in entries)
    if folders and has_images:
        raise DataError(f"{root / 'images'}: holds both images and sub-folders: use one layout "
                        "(images/ + splits/<tag>.txt, or one sub-folder per split)")
    if folders:
        return [(name, name, _FolderSplit(name)) for name in folders]
    lists = sorted((root / "splits").glob("*.txt")) if (root / "splits").is_dir() else []
    if not lists:
        raise DataError(f"{root}: no splits/<tag>.txt lists and no split sub-folders in images/: "
                        "nothing says which images are train and which val")
    dataset = root.resolve().name
    return [(dataset, "", _SplitLists(dataset, lists))]


def _stem_clashes(root: Path, folder: str, splits: _FolderSplit | _SplitLists) -> list[str]:
    """Files are paired by stem, so two images (or masks) with one stem leave the pairing to chance: a naming
    mistake in the whole dataset (often a folder converted to a second format), not a corrupted sample to skip."""
    image_dir, mask_dir = root / "images" / folder, root / "masks" / folder
    lines = []
    for stem, images in _by_stem(list_files(image_dir)):
        entries = f' and split entries "{stem}"' if isinstance(splits, _SplitLists) else ""
        lines.append(f'{image_dir}: {and_list(images)} share the stem "{stem}"; their mask '
                     f"{(mask_dir / stem).relative_to(root).as_posix()}.png{entries} would be ambiguous: "
                     "rename or remove all but one")
    masks = list_files(mask_dir, {".png"}) if mask_dir.is_dir() else []
    for stem, same in _by_stem(masks):
        lines.append(f'{mask_dir}: {and_list(same)} share the stem "{stem}"; which is the mask of '
                     f"{(image_dir / stem).relative_to(root).as_posix()}.* would be ambiguous: rename or remove all "
                     "but one")
    return lines


def _by_stem(files: list[Path]) -> list[tuple[str, list[str]]]:
    """(stem, file names) for each stem more than one of the files has."""
    names: dict[str, list[str]] = defaultdict(list)
    for path in files:
        names[path.stem].append(path.name)
    return [(stem, sorted(same)) for stem, same in sorted(names.items()) if len(same) > 1]


class _FolderSplit:
    """Sub-folder layout: the folder is the split."""

    def __init__(self, tag: str):
        self.tag = tag

    def __call__(self, _file: Path) -> set[str]:
        return {self.tag}

    def unmatched(self, _images: list[Path]) -> list[Problem]:
        return []


class _SplitLists:
    """Image (or mask) → the tags of the lists naming it by file name or stem; entries naming no image are Problems."""

    def __init__(self, dataset: str, lists: list[Path]):
        self.dataset = dataset
        self.entries = {path: [(n, entry) for n, entry in enumerate(_read_lines(path), start=1) if entry]
                        for path in lists}
        self.tags: dict[str, set[str]] = defaultdict(set)
        for path, entries in self.entries.items():
            for _, entry in entries:
                self.tags[entry].add(path.stem)

    def __call__(self, file: Path) -> set[str]:
        return self.tags.get(file.name, set()) | self.tags.get(file.stem, set())

    def unmatched(self, images: list[Path]) -> list[Problem]:
        names = {p.name for p in images} | {p.stem for p in images}
        return [Problem(self.dataset, f"splits/{path.name}", None,
                        f'line {number}: "{entry}" names no image in images/', frozenset({path.stem}))
                for path, entries in self.entries.items() for number, entry in entries if entry not in names]


class _Reader:
    def __init__(self, root: Path, titles: tuple[str, ...]):
        self.root, self.titles = root, titles
        self.samples: list[Sample] = []
        self.problems: list[Problem] = []
        self.values_seen = np.zeros(256, bool)

    def read_folder(self, dataset: str, folder: str, splits: _FolderSplit | _SplitLists) -> None:
        image_dir, mask_dir = self.root / "images" / folder, self.root / "masks" / folder
        images = list_files(image_dir)
        masks = {p.stem: p for p in list_files(mask_dir, {".png"})} if mask_dir.is_dir() else {}
        stems = {p.stem for p in images}
        for image in images:
            self._read_sample(dataset, image, masks.get(image.stem), mask_dir, splits(image))
        for stem, mask in masks.items():
            if stem not in stems:
                self._problem(dataset, mask, f"no image {self._label(image_dir / stem)}.* for this mask", splits(mask))
        self.problems += splits.unmatched(images)

    def _read_sample(self, dataset: str, image: Path, mask_path: Path | None, mask_dir: Path, tags: set[str]) -> None:
        if mask_path is None:
            self._problem(dataset, image, f"no mask {self._label(mask_dir / image.stem)}.png", tags)
            return
        try:
            mask = read_index_mask(mask_path)
        except ValueError as error:
            self._problem(dataset, mask_path, str(error), tags)
            return
        present = np.bincount(mask.ravel(), minlength=256) > 0
        unknown = [int(v) for v in np.flatnonzero(present[len(self.titles):IGNORE_VALUE]) + len(self.titles)]
        if unknown:
            self._problem(dataset, mask_path, f"values {', '.join(map(str, unknown))} are not classes "
                          f"({CLASSES_FILE} lists {len(self.titles)}: 0-{len(self.titles) - 1}; "
                          f"{IGNORE_VALUE} = ignore)", tags)
            return
        self.values_seen |= present
        height, width = mask.shape
        raw = sly.annotation(height, width, sorted(tags), [])
        objects = [ObjectAnn(0, None, LABEL_MASK, LabelMask(mask_path, self.titles))]
        self.samples.append(Sample(dataset, image.name, image, mask_path, height, width, tags, objects, raw))

    def refuse_binary_masks(self) -> None:
        """0/255 masks: 255 reads as "ignore", so the objects would vanish and the model learn background only."""
        if self.values_seen[IGNORE_VALUE] and not self.values_seen[1:IGNORE_VALUE].any():
            raise DataError(f"{self.root / 'masks'}: every mask holds only 0 and 255, and 255 means ignore: these look "
                            "like binary masks saved as 0/255. Save the object as 1 (mask // 255) and list two "
                            f"classes in {CLASSES_FILE} (background, then the object)")

    def _problem(self, dataset: str, path: Path, message: str, tags: set[str]) -> None:
        self.problems.append(Problem(dataset, self._label(path), None, message, frozenset(tags)))

    def _label(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def _meta(titles: tuple[str, ...], split_tags: list[str]) -> ProjectMeta:
    """A Supervisely meta for the classes, so inference can write its output as a Supervisely project."""
    classes = [MetaClass(title, "bitmap", voc_color(value)) for value, title in enumerate(titles)]
    raw = sly.project_meta([sly.meta_class(c.title, c.shape, c.color) for c in classes],
                           [sly.meta_tag(tag, _TAG_COLOR) for tag in split_tags])
    return ProjectMeta(classes=classes, raw=raw, tags=split_tags)


FORMAT = ProjectFormat("masks", f"{CLASSES_FILE} (mask folders)", f"{CLASSES_FILE} with images/ and masks/ (mask folders)",
                       is_mask_project, read_mask_project)
