"""--evaluate: predictions against ground truth with training's validation code and rules (trainer.metrics):
neutral pixels ignored, classes absent from both sides left out of the mean."""
import numpy as np

from trainer.data.classes import IGNORE_LABEL, ClassMapping, project_mismatch
from trainer.data.geometry import rasterize
from trainer.data.types import Project, Sample
from trainer.errors import DataError, UserError
from trainer.infer.scores import NO_PREDICTION
from trainer.metrics import prediction_confusion, summarize


class Evaluation:
    """Confusion matrices of the images with one tag; pixels the mode did not predict (outside ROI/boxes) are
    ignored like neutral ones."""

    def __init__(self, project: Project, classes: ClassMapping, tag: str):
        differences = project_mismatch(project.meta, classes)
        if differences:
            raise UserError(*(f"--evaluate: the model's classes do not match the project's: {line}"
                              for line in differences))
        if not any(tag in s.tags for s in project.samples):
            raise DataError(f'--evaluate: There are no annotations with tag "{tag}"')
        self.tag, self.classes = tag, classes

    def covers(self, sample: Sample) -> bool:
        return self.tag in sample.tags

    def confusion(self, sample: Sample, class_map: np.ndarray) -> list[list[int]]:
        labels = rasterize(sample.objects, *class_map.shape, self.classes.pixel_values())
        labels = np.where(class_map == NO_PREDICTION, IGNORE_LABEL, labels).astype(np.int32)
        return prediction_confusion(labels, class_map, self.classes.num_classes).numpy().tolist()

    def report(self, confusions: list[list[list[int]]]) -> dict:
        size = self.classes.num_classes
        total = np.sum(confusions, axis=0) if confusions else np.zeros((size, size), np.int64)
        return {"tag": self.tag, "images": len(confusions), **summarize(total, self.classes.titles)}
