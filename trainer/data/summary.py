"""`train.py --check`: the project as training would see it, in a few lines a user can read."""

from __future__ import annotations

from collections import Counter

import numpy as np

from trainer.data.classes import IGNORE_LABEL, ClassMapping
from trainer.data.corrupted import SPLITS, corrupted_counts
from trainer.data.geometry import rasterize
from trainer.data.split import split_members
from trainer.data.types import Problem, Project


def summary_lines(project: Project, mapping: ClassMapping, split_tags: dict[str, str],
                  allowed: dict[str, int]) -> list[str]:
    members = {split: split_members(project.samples, split_tags[split]) for split in SPLITS}
    in_none = sum(not s.tags & set(split_tags.values()) for s in project.samples)
    lines = [f"project {project.root} ({project.format}): {len(project.samples)} readable images",
             "splits: " + ", ".join(f'{split} (tag "{split_tags[split]}") {len(members[split])} images'
                                    for split in SPLITS) + f", in no split {in_none}"]
    lines += _class_table(project, mapping, members)
    lines += [f"skipped {count} {shape} object(s) of class {title!r}: not an area"
              for (title, shape), count in sorted(project.skipped_shapes.items())]
    lines += [f"warning: {warning}" for warning in project.warnings]
    lines += [f"problem: {problem}" for problem in project.problems]
    counts = corrupted_counts(project.problems, split_tags)
    lines.append("corrupted samples: " + ", ".join(
        f"{split} {counts[split][0]} (allowed {allowed[split]})" for split in SPLITS))
    return lines


def warning_lines(warnings: list[Problem], limit: int = 10) -> list[str]:
    """The first few warnings for a training log; --check lists them all."""
    lines = [f"warning: {warning}" for warning in warnings[:limit]]
    if len(warnings) > limit:
        lines.append(f"… and {len(warnings) - limit} more warning(s) (train.py --check lists them all)")
    return lines


def _class_table(project: Project, mapping: ClassMapping, members: dict[str, list]) -> list[str]:
    """Objects (vector annotations; mask projects have none) and ground-truth pixels per class and split."""
    values = mapping.pixel_values()
    pixels = {split: np.zeros(256, np.int64) for split in SPLITS}
    for split, samples in members.items():
        for sample in samples:
            pixels[split] += np.bincount(rasterize(sample.objects, sample.height, sample.width, values).ravel(),
                                         minlength=256)
    objects = Counter(o.class_title for s in project.samples for o in s.objects if o.class_title is not None)
    rows = [("class", "index", "objects", *(f"{split} pixels" for split in SPLITS))]
    for title, value in sorted(values.items(), key=lambda item: item[1]):
        index = "ignore" if value == IGNORE_LABEL else str(value)
        count = "-" if project.format == "masks" else str(objects[title])
        rows.append((title, index, count, *(str(pixels[split][value]) for split in SPLITS)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
            for row in rows]
