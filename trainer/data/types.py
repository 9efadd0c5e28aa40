"""The data every project format gives and every consumer reads: a reader fills these, whatever the files look like,
so training, --check and inference never depend on one format's reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# Object shapes that cover pixels; points, lines and graphs are counted and skipped.
AREA_SHAPES = frozenset({"bitmap", "polygon", "rectangle"})


@dataclass(frozen=True)
class Box:
    """A rectangle of pixels with inclusive bounds (Supervisely's rectangle convention). A box may reach past the
    image's bottom/right edge: a crop there is padded."""
    top: int
    left: int
    bottom: int
    right: int

    @classmethod
    def sized(cls, top: int, left: int, height: int, width: int) -> Box:
        return cls(top, left, top + height - 1, left + width - 1)

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    @property
    def empty(self) -> bool:
        return self.bottom < self.top or self.right < self.left

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, columns) of an array this box lies inside."""
        return slice(self.top, self.bottom + 1), slice(self.left, self.right + 1)

    def offset(self, top: int, left: int) -> Box:
        return Box(self.top + top, self.left + left, self.bottom + top, self.right + left)

    def clipped(self, height: int, width: int) -> Box:
        """The part inside a height × width image (empty if none)."""
        return Box(max(self.top, 0), max(self.left, 0), min(self.bottom, height - 1), min(self.right, width - 1))


@dataclass(frozen=True)
class MetaClass:
    title: str
    shape: str
    color: str


@dataclass
class ProjectMeta:
    classes: list[MetaClass]
    raw: dict
    tags: list[str] = field(default_factory=list)


@dataclass
class ObjectAnn:
    index: int
    class_title: str | None  # None for a label mask, whose values name the classes (geometry.LabelMask)
    shape: str
    data: object


@dataclass
class Sample:
    dataset: str
    name: str
    image_path: Path
    ann_path: Path
    height: int
    width: int
    tags: set[str]
    objects: list[ObjectAnn]
    raw_ann: dict


@dataclass
class Problem:
    dataset: str
    file: str
    object_index: int | None
    message: str
    tags: frozenset[str] | None = None  # the sample's image tags (its splits); None when they cannot be read

    def __str__(self) -> str:
        where = f'dataset "{self.dataset}", {self.file}'
        if self.object_index is not None:
            where += f": object {self.object_index}"
        return f"{where}: {self.message}"


@dataclass
class Project:
    """What a reader gives: bad samples are Problems (allow_corrupted_samples decides), usable samples with something
    to tell are warnings; a layout that cannot be read at all is a DataError instead."""
    root: Path
    meta: ProjectMeta
    samples: list[Sample]
    skipped_shapes: dict[tuple[str, str], int]
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)
    format: str = "supervisely"


@dataclass(frozen=True)
class ProjectFormat:
    """One input format: how a folder is recognised, and its reader (the contract every format implements)."""
    name: str
    marker: str    # what says a folder is of this format, for messages: `meta.json (Supervisely)`
    expects: str   # what a folder of this format holds, for messages when nothing is recognised
    detect: Callable[[Path], bool]
    read: Callable[[Path], Project]
