"""roi: only the part of each image left after cutting `bounds` from its sides; predictions land at full-image
coordinates, and `save` keeps the ROI as a rectangle of class `class_name`."""
from trainer.data.supervisely_writer import rectangle_object
from trainer.data.types import ObjectAnn, ProjectMeta
from trainer.errors import DataError
from trainer.infer.annotation import rectangle_class
from trainer.infer.modes.base import Plan
from trainer.infer.modes.sides import inset


class Roi:
    def __init__(self, cfg: dict):
        self.bounds = cfg["bounds"]
        self.save_as = cfg["class_name"] if cfg["save"] else None

    def classes(self, meta: ProjectMeta) -> list[dict]:
        return [rectangle_class(self.save_as)] if self.save_as else []

    def plan(self, height: int, width: int, objects: list[ObjectAnn]) -> Plan:
        region = inset(self.bounds, height, width, sign=1)
        if region.empty:  # pixel bounds can outgrow a small image
            raise DataError(f"mode.bounds leave nothing of this {width}×{height} image")
        return Plan([region], [rectangle_object(self.save_as, region)] if self.save_as else [])
