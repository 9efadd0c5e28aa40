"""sliding_window: windows where the plugin put them (stride = window − min_overlap, the last window clamped to
the image edge), scores averaged where windows overlap. A window larger than the image is padded (the plugin
failed); `save` keeps the windows, clipped to the image, as rectangles of class `class_name`."""
from trainer.data.supervisely_writer import rectangle_object
from trainer.data.types import Box, ObjectAnn, ProjectMeta
from trainer.infer.annotation import rectangle_class
from trainer.infer.modes.base import Plan


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """0, stride, 2·stride… while the window fits, plus one flush with the far edge (the plugin's positions)."""
    limit = size - window
    if limit <= 0:
        return [0]
    return [min(start, limit) for start in range(0, limit + stride, stride)]


class SlidingWindow:
    def __init__(self, cfg: dict):
        self.height, self.width = cfg["window"]["height"], cfg["window"]["width"]
        self.stride_y = self.height - cfg["min_overlap"]["y"]
        self.stride_x = self.width - cfg["min_overlap"]["x"]
        self.save_as = cfg["class_name"] if cfg["save"] else None

    def classes(self, meta: ProjectMeta) -> list[dict]:
        return [rectangle_class(self.save_as)] if self.save_as else []

    def plan(self, height: int, width: int, objects: list[ObjectAnn]) -> Plan:
        regions = [Box.sized(top, left, self.height, self.width)
                   for top in window_starts(height, self.height, self.stride_y)
                   for left in window_starts(width, self.width, self.stride_x)]
        objects = [rectangle_object(self.save_as, r.clipped(height, width)) for r in regions] if self.save_as else []
        return Plan(regions, objects)
