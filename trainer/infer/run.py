"""Inference over a whole project (full_image mode), written as a new Supervisely project."""
from pathlib import Path

from trainer.data.images import read_image
from trainer.data.supervisely import Project
from trainer.infer.predictor import Predictor
from trainer.infer.writer import ProjectWriter, output_classes, output_meta, prediction_objects
from trainer.progress import Progress


def infer_project(mode: dict, checkpoint: Path, project: Project, output: Path) -> None:
    predictor = Predictor(checkpoint)
    model_classes = mode["model_classes"]
    classes = output_classes(predictor.out_classes, model_classes["save_classes"], model_classes["add_suffix"])
    writer = ProjectWriter(output, output_meta(project.meta.raw, list(classes.values())))
    progress = Progress("image", len(project.samples), "img")
    try:
        for done, sample in enumerate(project.samples, start=1):
            class_map = predictor.class_map(read_image(sample.image_path))
            writer.add(sample, prediction_objects(class_map, classes))
            progress.update(done, done)
        writer.finish()
    except BaseException:
        writer.abandon()
        raise
