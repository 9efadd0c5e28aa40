"""The plugin's four inference modes, by config name (each implements trainer.infer.modes.base.Mode)."""
from trainer.infer.modes.base import Mode
from trainer.infer.modes.bboxes import Bboxes
from trainer.infer.modes.full_image import FullImage
from trainer.infer.modes.roi import Roi
from trainer.infer.modes.sliding_window import SlidingWindow

MODES: dict[str, type[Mode]] = {"full_image": FullImage, "roi": Roi, "bboxes": Bboxes, "sliding_window": SlidingWindow}


def make_mode(cfg: dict) -> Mode:
    """The mode of a validated `mode` config."""
    return MODES[cfg["name"]](cfg)
