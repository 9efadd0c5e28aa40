"""bboxes: the model runs on the box of each source object, padded and clipped to the image. Where boxes
overlap, their scores are averaged (the plugin let the last box win). Source objects are kept; `save` adds
each box as a rectangle of the source class + `add_suffix`."""
from trainer.data.geometry import object_extent
from trainer.data.supervisely_writer import rectangle_object
from trainer.data.types import AREA_SHAPES, Box, ObjectAnn, ProjectMeta
from trainer.errors import UserError
from trainer.infer.annotation import rectangle_class
from trainer.infer.modes.base import Plan
from trainer.infer.modes.sides import inset


class Bboxes:
    def __init__(self, cfg: dict):
        self.chosen = cfg["from_classes"]
        self.padding = cfg["padding"]
        self.suffix = cfg["add_suffix"] if cfg["save"] else None

    def classes(self, meta: ProjectMeta) -> list[dict]:
        colors = {c.title: c.color for c in meta.classes}
        if self.chosen != "__all__":
            unknown = [t for t in self.chosen if t not in colors]
            if unknown:
                raise UserError(f"mode.from_classes: {', '.join(map(repr, unknown))} not among the project's "
                                f"classes ({', '.join(colors)})")
        if self.suffix is None:
            return []
        return [rectangle_class(title + self.suffix, color) for title, color in colors.items() if self._source(title)]

    def _source(self, title: str) -> bool:
        return self.chosen == "__all__" or title in self.chosen

    def plan(self, height: int, width: int, objects: list[ObjectAnn]) -> Plan:
        regions, rectangles = [], []
        for obj in objects:
            if not self._source(obj.class_title) or obj.shape not in AREA_SHAPES:
                continue
            region = self._box(obj, height, width)
            if region.empty:
                continue
            regions.append(region)
            if self.suffix is not None:
                rectangles.append(rectangle_object(obj.class_title + self.suffix, region))
        return Plan(regions, rectangles)

    def _box(self, obj: ObjectAnn, height: int, width: int) -> Box:
        """The object's padded box clipped to the image (empty if nothing of it is inside)."""
        extent = object_extent(obj)
        return inset(self.padding, extent.height, extent.width, sign=-1).offset(extent.top, extent.left).clipped(
            height, width)
