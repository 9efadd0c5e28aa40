"""roi: only the part of each image left after cutting `bounds` from its sides; predictions land at full-image
coordinates, and `save` keeps the ROI as a rectangle of class `class_name`."""
from trainer.data.supervisely import ProjectMeta, Sample
from trainer.errors import DataError
from trainer.infer.annotation import rectangle_class, rectangle_object
from trainer.infer.modes.scores import Plan, Region
from trainer.infer.modes.sides import inset


class Roi:
    def __init__(self, cfg: dict, meta: ProjectMeta):
        self.bounds = cfg["bounds"]
        self.save_as = cfg["class_name"] if cfg["save"] else None
        self.classes = [rectangle_class(self.save_as)] if self.save_as else []

    def plan(self, sample: Sample, height: int, width: int) -> Plan:
        top, left, bottom, right = inset(self.bounds, height, width, sign=1)
        if bottom < top or right < left:  # pixel bounds can outgrow a small image
            raise DataError(f"mode.bounds leave nothing of this {width}×{height} image")
        region = Region(top, left, bottom - top + 1, right - left + 1)
        return Plan([region], [rectangle_object(self.save_as, region)] if self.save_as else [])
