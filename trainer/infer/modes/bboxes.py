"""bboxes: the model runs on the box of each source object, padded and clipped to the image. Where boxes
overlap, their scores are averaged (the plugin let the last box win). Source objects are kept; `save` adds
each box as a rectangle of the source class + `add_suffix`."""
from trainer.data.geometry import object_extent
from trainer.data.supervisely import AREA_SHAPES, ProjectMeta, Sample
from trainer.errors import UserError
from trainer.infer.annotation import rectangle_class, rectangle_object
from trainer.infer.modes.scores import Plan, Region
from trainer.infer.modes.sides import inset


class Bboxes:
    def __init__(self, cfg: dict, meta: ProjectMeta):
        colors = {c.title: c.color for c in meta.classes}
        chosen = cfg["from_classes"]
        if chosen != "__all__":
            unknown = [t for t in chosen if t not in colors]
            if unknown:
                raise UserError(f"mode.from_classes: {', '.join(map(repr, unknown))} not among the project's "
                                f"classes ({', '.join(colors)})")
        self.sources = set(colors) if chosen == "__all__" else set(chosen)
        self.padding = cfg["padding"]
        self.suffix = cfg["add_suffix"] if cfg["save"] else None
        self.classes = ([rectangle_class(title + self.suffix, color) for title, color in colors.items()
                         if title in self.sources] if self.suffix is not None else [])

    def plan(self, sample: Sample, height: int, width: int) -> Plan:
        regions, objects = [], []
        for obj in sample.objects:
            if obj.class_title not in self.sources or obj.shape not in AREA_SHAPES:
                continue
            region = self._box(obj, height, width)
            if region is None:
                continue
            regions.append(region)
            if self.suffix is not None:
                objects.append(rectangle_object(obj.class_title + self.suffix, region))
        return Plan(regions, objects)

    def _box(self, obj, height: int, width: int) -> Region | None:
        """The object's padded box clipped to the image; None if nothing of it is inside."""
        left, top, right, bottom = object_extent(obj)
        pad_top, pad_left, pad_bottom, pad_right = inset(self.padding, bottom - top + 1, right - left + 1, sign=-1)
        box_top, box_left = max(top + pad_top, 0), max(left + pad_left, 0)
        box_bottom, box_right = min(top + pad_bottom, height - 1), min(left + pad_right, width - 1)
        if box_bottom < box_top or box_right < box_left:
            return None
        return Region(box_top, box_left, box_bottom - box_top + 1, box_right - box_left + 1)
