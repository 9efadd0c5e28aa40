"""Class-index rules of the DeepLab plugin, so checkpoints and outputs keep the indices its users expect."""

from __future__ import annotations

from dataclasses import dataclass

from trainer.data.supervisely_writer import class_entry
from trainer.data.types import ProjectMeta

IGNORE_LABEL = 255
ADDED_BACKGROUND_COLOR = "#222222"


@dataclass(frozen=True)
class ClassMapping:
    class_title_to_idx: dict[str, int]
    out_classes: list[dict]
    neutral: str

    @property
    def num_classes(self) -> int:
        return len(self.class_title_to_idx)

    @property
    def titles(self) -> list[str]:
        return [c["title"] for c in self.out_classes]

    def pixel_values(self) -> dict[str, int]:
        """Ground-truth pixel values: neutral pixels get IGNORE_LABEL so the loss skips them."""
        return {**self.class_title_to_idx, self.neutral: IGNORE_LABEL}

    def differences(self, other: ClassMapping, ours: str, theirs: str) -> list[str]:
        """Human-readable differences of the class indices (empty if equal); `ours` / `theirs` name the two sides."""
        mine, others = self.class_title_to_idx, other.class_title_to_idx
        lines = [f'class "{t}" is in the {ours} but not in the {theirs}' for t in sorted(set(mine) - set(others))]
        lines += [f'class "{t}" is in the {theirs} but not in the {ours}' for t in sorted(set(others) - set(mine))]
        lines += [f'class "{t}" has index {mine[t]} in the {ours} but {others[t]} in the {theirs}'
                  for t in sorted(set(mine) & set(others)) if mine[t] != others[t]]
        return lines


def ordered_mapping(titles: list[str], colors: dict[str, str], neutral: str) -> ClassMapping:
    """Class i is titles[i], shown in its colour."""
    return ClassMapping(class_title_to_idx={title: idx for idx, title in enumerate(titles)},
                        out_classes=[class_entry(title, "bitmap", colors[title]) for title in titles], neutral=neutral)


def build_class_mapping(meta: ProjectMeta, background: str, neutral: str) -> ClassMapping:
    """Background is 0 even when the project lacks it; the rest sorted by title, so meta order cannot move indices."""
    colors = {c.title: c.color for c in meta.classes}
    others = sorted(title for title in colors if title not in (background, neutral))
    colors.setdefault(background, ADDED_BACKGROUND_COLOR)
    return ordered_mapping([background, *others], colors, neutral)


def project_mismatch(meta: ProjectMeta, classes: ClassMapping) -> list[str]:
    """How a project's classes, mapped with the same background and neutral rules, differ from a model's (empty if
    they match): what scoring a model against the project's annotations needs."""
    theirs = build_class_mapping(meta, classes.out_classes[0]["title"], classes.neutral)
    return classes.differences(theirs, "checkpoint", "project")


def voc_color(index: int) -> str:
    """PASCAL VOC's colour map: mask projects and converted model-zoo checkpoints show classes in VOC's colours."""
    r = g = b = 0
    for bit in range(8):
        r |= ((index >> (3 * bit)) & 1) << (7 - bit)
        g |= ((index >> (3 * bit + 1)) & 1) << (7 - bit)
        b |= ((index >> (3 * bit + 2)) & 1) << (7 - bit)
    return f"#{r:02X}{g:02X}{b:02X}"
