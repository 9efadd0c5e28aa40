"""allow_corrupted_samples: how many unreadable samples each split may skip before the run is refused.

A corrupted sample counts against the split(s) its image tags put it in; one whose tags cannot be read (its
annotation is unreadable or missing) could belong to either split, so it counts against both.
"""

from __future__ import annotations

from trainer.data.types import Problem, Project
from trainer.errors import DataError
from trainer.progress import say

SPLITS = ("train", "val")


def corrupted_counts(problems: list[Problem], split_tags: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Per split: (corrupted samples in it, of which of unknown split). A sample is one file with problems."""
    samples = {(p.dataset, p.file): p.tags for p in problems}
    unknown = sum(tags is None for tags in samples.values())
    return {split: (unknown + sum(tags is not None and split_tags[split] in tags for tags in samples.values()), unknown)
            for split in SPLITS}


def excess_lines(problems: list[Problem], split_tags: dict[str, str], allowed: dict[str, int]) -> list[str]:
    """One line per split with more corrupted samples than it allows; empty when the run may go on."""
    lines = []
    for split, (count, unknown) in corrupted_counts(problems, split_tags).items():
        if count > allowed[split]:
            of_unknown = f", {unknown} of them of unknown split" if unknown else ""
            lines.append(f'{count} corrupted sample(s) in split {split} (tag "{split_tags[split]}"{of_unknown}), '
                         f"more than allow_corrupted_samples.{split} permits ({allowed[split]})")
    return lines


def check_corrupted(project: Project, split_tags: dict[str, str], allowed: dict[str, int]) -> list[Problem]:
    """The problems of the samples to skip, each listed; DataError with all of them if a split allows fewer."""
    excess = excess_lines(project.problems, split_tags, allowed)
    if excess:
        raise DataError(*map(str, project.problems), *excess)
    for problem in project.problems:
        say(f"skipped corrupted sample: {problem}")
    return project.problems


def skipped_record(problems: list[Problem]) -> list[dict]:
    """RUN/skipped_samples.json: what was left out and why, one entry per problem."""
    return [{"dataset": p.dataset, "file": p.file, "object": p.object_index, "message": p.message,
             "tags": None if p.tags is None else sorted(p.tags)} for p in problems]
