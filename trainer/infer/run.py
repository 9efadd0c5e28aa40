"""Inference over a project: each image planned by the mode, scored, and written into a new Supervisely project.

Images are decoded ahead of the model and written behind it in other threads, and two are scored at once, so the
cores rarely wait.
"""
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from trainer.data.images import decode_image
from trainer.data.types import Project, Sample
from trainer.errors import DataError, WriteError
from trainer.infer.evaluate import Evaluation
from trainer.infer.pipeline import Behind, ahead
from trainer.infer.session import InferenceSession, Prediction
from trainer.infer.visualize import index_png, overlay_png
from trainer.infer.writer import ProjectWriter
from trainer.metrics import per_class_table
from trainer.progress import Progress, fmt_metric, say

_LOADERS = 2  # decoding threads
_DEPTH = 4  # images decoded ahead of the model, and results queued behind it
# Images scored at once: one call's serial stretches (TensorFlow's op dispatch, resizing, softmax, building the
# bitmaps) overlap the other's model work, so the cores stay busy. A TFLite model shares its threads between them.
_IN_FLIGHT = 2


@dataclass(frozen=True)
class Options:
    save_masks: bool = False
    evaluate_tag: str | None = None  # None: no evaluation
    resume: bool = False


def infer_project(session: InferenceSession, project: Project, output, options: Options = Options()) -> list[str]:
    """Annotate every readable image into `output`; returns one line per image skipped or failed."""
    classes = session.predictor.classes
    meta = session.output_meta(project.meta)
    evaluation = None if options.evaluate_tag is None else Evaluation(project, classes, options.evaluate_tag)
    run = {"config": session.cfg, "model": session.predictor.source, "project": str(project.root.resolve()),
           "save_masks": options.save_masks, "evaluate_tag": options.evaluate_tag}
    try:
        writer = ProjectWriter(output, run, meta, options.resume)
    except WriteError as error:
        raise error.advising("run the same command again") from None
    earlier = sum("failed" not in r for r in writer.finished.values())
    todo = [s for s in project.samples if (s.dataset, s.name) not in writer.finished]
    if options.resume:
        say(f"resuming: {earlier} image(s) finished earlier, {len(todo)} to go")

    def load(sample: Sample):
        """The image, or why it cannot be read."""
        try:
            return decode_image(sample.image_path)
        except ValueError as error:
            return str(error)

    def write(sample: Sample, image, prediction: Prediction) -> None:
        objects = list(sample.raw_ann.get("objects", [])) + prediction.objects
        files = {}
        if options.save_masks:
            files[f"{sample.dataset}/masks_machine/{sample.name}.png"] = index_png(prediction.class_map)
            files[f"{sample.dataset}/masks_human/{sample.name}.png"] = overlay_png(
                image, prediction.class_map, classes.out_classes)
        record = ({"confusion": evaluation.confusion(sample, prediction.class_map)}
                  if evaluation and evaluation.covers(sample) else {})
        writer.add(sample, {**sample.raw_ann, "objects": objects}, files, record)

    progress = Progress("image", len(todo), "img")
    try:
        def predict(loaded):
            sample, image = loaded
            return image if isinstance(image, str) else _predict(session, image, sample)

        with ThreadPoolExecutor(_LOADERS) as loaders, ThreadPoolExecutor(_IN_FLIGHT) as models, \
                ThreadPoolExecutor(1) as disk:
            behind = Behind(disk, _DEPTH)
            loaded = ahead(loaders, load, todo, _DEPTH)
            for done, ((sample, image), prediction) in enumerate(ahead(models, predict, loaded, _IN_FLIGHT), start=1):
                if isinstance(prediction, str):
                    behind.submit(writer.fail, sample, prediction)
                else:
                    behind.submit(write, sample, image, prediction)
                progress.update(done, done)
            behind.drain()
        return _finish(project, writer, evaluation, earlier)
    except BaseException as error:
        say(f"stopped with {len(writer.finished)} image(s) finished, kept in {writer.partial}: rerun the same "
            "command with --resume to continue")
        if isinstance(error, WriteError):
            raise error.advising("rerun the same command with --resume") from None
        raise


def _predict(session: InferenceSession, image, sample: Sample) -> Prediction | str:
    """The prediction, or why the mode cannot make one (an ROI that leaves nothing of the image)."""
    try:
        return session.predict_image(image, sample.objects)
    except DataError as error:
        return "; ".join(error.lines)


def _finish(project: Project, writer: ProjectWriter, evaluation: Evaluation | None, earlier: int) -> list[str]:
    """The summary (and evaluation) over every finished image, this run's and earlier ones'; then the rename."""
    records = list(writer.finished.values())
    failed = [f'failed: dataset "{r["dataset"]}", img/{r["name"]}: {r["failed"]}' for r in records if "failed" in r]
    skipped = [f"skipped: {problem}" for problem in project.problems]
    skipped_images = len({(p.dataset, p.file) for p in project.problems})
    say(f"summary: {len(records) - len(failed)} image(s) annotated ({earlier} of them in the earlier run), "
        f"{skipped_images} skipped, {len(failed)} failed")
    files = {}
    if evaluation is not None:
        report = evaluation.report([r["confusion"] for r in records if "confusion" in r])
        say(f'evaluation on {report["images"]} image(s) tagged "{report["tag"]}": mean IoU '
            f'{fmt_metric(report["mean_iou"])}  pixel accuracy {fmt_metric(report["pixel_accuracy"])}')
        say(per_class_table(report["per_class_iou"]))
        files["metrics.json"] = (json.dumps(report, indent=2) + "\n").encode("utf-8")
    writer.finish(files)
    return skipped + failed
