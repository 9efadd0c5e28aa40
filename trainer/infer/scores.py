"""The scoring engine every mode shares: boxes of the image scored in batches, and their scores combined per pixel."""
from itertools import accumulate

import numpy as np

from trainer.data.types import Box

# Pixels no region reaches (outside the ROI or the boxes) have no prediction.
NO_PREDICTION = -1

# DeepLab pads with its mean pixel 127.5; as uint8 that is 128, what training's padding of uint8 images stores.
_PAD_VALUE = 128


def crop(image: np.ndarray, region: Box) -> np.ndarray:
    part = image[region.slices]
    pad = ((0, region.height - part.shape[0]), (0, region.width - part.shape[1]), (0, 0))
    return np.pad(part, pad, constant_values=_PAD_VALUE) if any(p[1] for p in pad) else part


def class_map(predictor, image: np.ndarray, regions: list[Box], batch_size: int) -> np.ndarray:
    """Class index per pixel: the mean of the scores of every region covering it, argmax; NO_PREDICTION elsewhere.

    Equal-size regions are scored together, `batch_size` at a time; a region is scored once however often it is
    listed. Score sums are kept only for the rows a region still to come may reach (a 10000×10000 image would need
    8 GB of them at once): sliding windows, listed row by row, finish rows as they go down the image.
    """
    unique = list(dict.fromkeys(regions))
    if len(unique) == 1:
        return _one_region(predictor, image, unique[0])
    height, width = image.shape[:2]
    by_size: dict[tuple[int, int], list[Box]] = {}
    for region in unique:
        by_size.setdefault((region.height, region.width), []).append(region)
    batches = [group[start:start + batch_size] for group in by_size.values()
               for start in range(0, len(group), batch_size)]
    # per region in scoring order, the highest top of it and the regions after it: rows above that are final
    order = [region for batch in batches for region in batch]
    reach = list(accumulate((r.top for r in reversed(order)), min))[::-1]
    canvas = _ScoreRows(height, width, len(predictor.classes.out_classes))
    done = 0
    for batch in batches:
        # no loop variable holds on to a batch's scores while the next batch is scored
        canvas.add(batch, predictor.scores(np.stack([crop(image, r) for r in batch])), reach[done:done + len(batch)])
        done += len(batch)
    canvas.finish(height)
    return canvas.classes


def _one_region(predictor, image: np.ndarray, region: Box) -> np.ndarray:
    """The class map of one region (full_image, roi): the scorer's argmax, no per-pixel sums needed."""
    classes = np.full(image.shape[:2], NO_PREDICTION, np.int32)
    part = region.clipped(*image.shape[:2])
    classes[part.slices] = predictor.labels(crop(image, region)[np.newaxis])[0, :part.height, :part.width]
    return classes


class _ScoreRows:
    """Per-pixel score sums and cover counts, kept only from the first row a later region may still reach to the
    lowest row reached so far. Rows above are final and get their class then: the argmax of the sum is the argmax
    of the mean.

    The rows live in a ring buffer (image row r at (r − origin) mod capacity), so sliding windows, whose rows
    never outgrow the first window row's, reuse it without copying.
    """

    def __init__(self, height: int, width: int, num_classes: int):
        self.shape = (height, width, num_classes)
        self.classes = np.full((height, width), NO_PREDICTION, np.int32)
        self.sums = np.empty((0, width, num_classes), np.float32)
        self.counts = np.empty((0, width), np.int32)
        self.origin = self.first = self.end = 0  # live rows: first .. end - 1

    def add(self, regions: list[Box], scores: np.ndarray, final_above: list[int]) -> None:
        """`final_above`: per region, the highest row it or a later region reaches; rows above are final."""
        for region, region_scores, row in zip(regions, scores, final_above):
            self.finish(row)
            self._add(region, region_scores)

    def _add(self, region: Box, scores: np.ndarray) -> None:
        part = region.clipped(*self.shape[:2])
        scores = scores[:part.height, :part.width]
        bottom = part.bottom + 1
        if self.first == self.end and scores.shape == self.shape:
            self.sums = scores  # one region over the whole image (full_image): no copy
            self.counts = np.ones(self.shape[:2], np.int32)
            self.origin, self.end = 0, bottom
            return
        self._reserve(bottom)
        for rows, _ in self._spans(self.end, bottom):  # rows entering the buffer start from nothing
            self.sums[rows] = 0
            self.counts[rows] = 0
        self.end = max(self.end, bottom)
        columns = part.slices[1]
        for rows, at in self._spans(part.top, bottom):
            self.sums[rows, columns] += scores[at]
            self.counts[rows, columns] += 1

    def finish(self, row: int) -> None:
        """Rows above `row` are final: no region still to come reaches them."""
        stop = min(row, self.end)
        for rows, at in self._spans(self.first, stop):
            self.classes[self.first:stop][at] = np.where(self.counts[rows] > 0, np.argmax(self.sums[rows], axis=-1),
                                                         NO_PREDICTION)
        self.first = row
        self.end = max(self.end, row)

    def _reserve(self, bottom: int) -> None:
        """Room for rows first .. bottom - 1; a new buffer at least doubles (up to the image's remaining rows), so
        boxes reaching ever lower are not copied over and over."""
        needed = bottom - self.first
        if needed <= len(self.counts):
            return
        capacity = min(max(needed, 2 * len(self.counts)), self.shape[0] - self.first)
        sums = np.empty((capacity, *self.shape[1:]), np.float32)
        counts = np.empty((capacity, self.shape[1]), np.int32)
        for rows, at in self._spans(self.first, self.end):
            sums[at] = self.sums[rows]
            counts[at] = self.counts[rows]
        self.sums, self.counts, self.origin = sums, counts, self.first

    def _spans(self, top: int, bottom: int):
        """(buffer rows, offset rows) slices for image rows top .. bottom - 1: at most two, where the ring wraps."""
        if bottom <= top:
            return
        start = (top - self.origin) % len(self.counts)
        length = min(bottom - top, len(self.counts) - start)
        yield slice(start, start + length), slice(0, length)
        if length < bottom - top:
            yield slice(0, bottom - top - length), slice(length, bottom - top)
