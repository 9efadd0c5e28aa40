"""What every mode shares: rectangles of the image scored in batches, and their scores combined per pixel."""
from dataclasses import dataclass

import numpy as np

# Pixels no region reaches (outside the ROI or the boxes) have no prediction.
NO_PREDICTION = -1

# DeepLab pads with its mean pixel 127.5; as uint8 that is 128, what training's padding of uint8 images stores.
_PAD_VALUE = 128


@dataclass(frozen=True)
class Region:
    """A rectangle in image pixels; it may reach past the bottom/right edge, where the crop is padded."""
    top: int
    left: int
    height: int
    width: int

    def clipped(self, height: int, width: int) -> "Region":
        return Region(self.top, self.left, min(self.height, height - self.top), min(self.width, width - self.left))


@dataclass
class Plan:
    """What a mode asks for one image: the regions to score, and objects (rectangles) to add as they are."""
    regions: list[Region]
    objects: list[dict]


def crop(image: np.ndarray, region: Region) -> np.ndarray:
    part = image[region.top:region.top + region.height, region.left:region.left + region.width]
    pad = ((0, region.height - part.shape[0]), (0, region.width - part.shape[1]), (0, 0))
    return np.pad(part, pad, constant_values=_PAD_VALUE) if any(p[1] for p in pad) else part


def class_map(predictor, image: np.ndarray, regions: list[Region], batch_size: int) -> np.ndarray:
    """Class index per pixel: the mean of the scores of every region covering it, argmax; NO_PREDICTION elsewhere.

    Equal-size regions are scored together, `batch_size` at a time; a region is scored once however often
    it is listed.
    """
    height, width = image.shape[:2]
    canvas = _ScoreCanvas(height, width, len(predictor.classes.out_classes))
    by_size: dict[tuple[int, int], list[Region]] = {}
    for region in dict.fromkeys(regions):
        by_size.setdefault((region.height, region.width), []).append(region)
    for group in by_size.values():
        for start in range(0, len(group), batch_size):
            batch = group[start:start + batch_size]
            for region, scores in zip(batch, predictor.scores(np.stack([crop(image, r) for r in batch]))):
                canvas.add(region, scores)
    return canvas.class_map()


class _ScoreCanvas:
    """Per-pixel score sums and cover counts; the argmax of the sum is the argmax of the mean."""

    def __init__(self, height: int, width: int, num_classes: int):
        self.shape = (height, width, num_classes)
        self.sums: np.ndarray | None = None
        self.counts = np.zeros((height, width), np.int32)

    def add(self, region: Region, scores: np.ndarray) -> None:
        part = region.clipped(*self.shape[:2])
        scores = scores[:part.height, :part.width]
        if self.sums is None and scores.shape == self.shape:
            self.sums = scores  # one region over the whole image (full_image): no copy
        else:
            if self.sums is None:
                self.sums = np.zeros(self.shape, np.float32)
            self.sums[part.top:part.top + part.height, part.left:part.left + part.width] += scores
        self.counts[part.top:part.top + part.height, part.left:part.left + part.width] += 1

    def class_map(self) -> np.ndarray:
        if self.sums is None:
            return np.full(self.shape[:2], NO_PREDICTION, np.int32)
        return np.where(self.counts > 0, np.argmax(self.sums, axis=-1), NO_PREDICTION).astype(np.int32)
