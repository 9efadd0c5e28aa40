"""The plugin's four inference modes. Each turns an image into regions to score and rectangles to keep; the
scoring and combining is shared (scores.py)."""
from trainer.data.supervisely import ProjectMeta
from trainer.infer.modes.bboxes import Bboxes
from trainer.infer.modes.full_image import FullImage
from trainer.infer.modes.roi import Roi
from trainer.infer.modes.sliding_window import SlidingWindow

MODES = {"full_image": FullImage, "roi": Roi, "bboxes": Bboxes, "sliding_window": SlidingWindow}


def make_mode(cfg: dict, meta: ProjectMeta):
    """The mode object for a validated `mode` config: `.classes` (meta classes it adds) and `.plan(...)`."""
    return MODES[cfg["name"]](cfg, meta)
