"""full_image (the plugin's default): the whole image is the one region."""
from trainer.data.supervisely import ProjectMeta, Sample
from trainer.infer.modes.scores import Plan, Region


class FullImage:
    def __init__(self, cfg: dict, meta: ProjectMeta):
        self.classes: list[dict] = []

    def plan(self, sample: Sample, height: int, width: int) -> Plan:
        return Plan([Region(0, 0, height, width)], [])
