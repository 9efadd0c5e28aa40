"""full_image (the plugin's default): the whole image is the one region."""
from trainer.data.types import Box, ObjectAnn, ProjectMeta
from trainer.infer.modes.base import Plan


class FullImage:
    def __init__(self, cfg: dict):
        pass

    def classes(self, meta: ProjectMeta) -> list[dict]:
        return []

    def plan(self, height: int, width: int, objects: list[ObjectAnn]) -> Plan:
        return Plan([Box.sized(0, 0, height, width)], [])
