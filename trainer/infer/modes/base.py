"""What a mode is: from an inference config's `mode` group, the classes it adds to the output meta and, per image,
the boxes to score. Scoring and combining them is the engine's (trainer.infer.scores), the same for every mode."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from trainer.data.types import Box, ObjectAnn, ProjectMeta


@dataclass
class Plan:
    """What a mode asks for one image: the boxes to score, and objects (rectangles) to add as they are."""
    regions: list[Box]
    objects: list[dict]


class Mode(Protocol):
    def __init__(self, cfg: dict): ...

    def classes(self, meta: ProjectMeta) -> list[dict]:
        """The meta classes the mode adds to the output (its rectangles); refuses a config that does not fit `meta`."""

    def plan(self, height: int, width: int, objects: list[ObjectAnn]) -> Plan:
        """The boxes of a height × width image to score; `objects` are the image's annotation objects."""
