"""What each exported file costs, beside the model it came from: mean IoU and pixel accuracy on checked images, label
agreement and probability difference with the original, size, and latency per image at 1 and 2 threads.

Latencies are measured in child processes, one per thread count: TensorFlow fixes its thread pools when it starts.
Every model runs infer.py's full_image step on each image (resize to the input size, softmax, resize back)."""
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.export.child import run_child

THREADS = (1, 2)


@dataclass(frozen=True)
class CheckImages:
    """The images a report runs on: a project's images with one tag (with ground truth), or, when no project is
    reachable, a few demo images (latency only)."""
    project: Path
    tag: str | None   # None: no ground truth, no accuracy columns


def measure(export_dir: Path, checkpoint: Path, model_cfg: dict, cfg: dict, files: dict, images: CheckImages) -> dict:
    """The report over every file of an export folder (written or being written), from one child per thread count."""
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for threads in THREADS:
            out = Path(tmp) / f"{threads}.json"
            job = {"export_dir": str(export_dir), "checkpoint": str(checkpoint), "model": model_cfg, "cfg": cfg,
                   "files": {name: entry.get("quantize") for name, entry in files.items()}, "project": str(images.project), "tag": images.tag, "threads": threads,
                   "quality": threads == THREADS[-1], "output": str(out)}
            run_child("trainer.export.report", job, f"export report ({threads} thread(s))")
            runs[threads] = json.loads(out.read_text())
    rows = runs[THREADS[-1]]["rows"]
    for i, row in enumerate(rows):
        row["bytes"] = files[row["file"]]["bytes"] if row["file"] in files else None
        row["ms_per_image"] = {str(t): runs[t]["rows"][i]["ms_per_image"] for t in THREADS}
    return {"images": runs[THREADS[-1]]["images"], "unreadable": runs[THREADS[-1]]["unreadable"], "tag": images.tag,
            "project": str(images.project), "accuracy": images.tag is not None, "rows": rows}


def check_project(root: Path, tag: str, classes) -> None:
    """A project the report can score: images with `tag`, and exactly the model's classes (as --evaluate needs)."""
    from trainer.data.classes import project_mismatch
    from trainer.data.images import decode_image
    from trainer.data.project import open_project
    from trainer.errors import DataError, UserError

    project = open_project(root, check_images=False)
    tagged = [s for s in project.samples if tag in s.tags]
    if not tagged:
        raise DataError(f'--check {root}: no image tagged "{tag}" to check the exports on')
    unreadable = []
    for sample in tagged:   # up to the first readable one: found before minutes of conversion, not after
        try:
            decode_image(sample.image_path)
            break
        except ValueError as error:
            unreadable.append(f"{sample.image_path}: {error}")
    else:
        raise DataError(_none_readable(root, tag, unreadable))
    differences = project_mismatch(project.meta, classes)
    if differences:
        raise UserError(*(f"--check {root}: the model's classes do not match the project's: {line}"
                          for line in differences))


def _none_readable(root, tag: str, unreadable: list[str]) -> str:
    return f'--check {root}: none of the {len(unreadable)} images tagged "{tag}" is readable ({unreadable[0]})'


# Images a report without ground truth is timed on.
_DEMO_IMAGES = 5


def table(report: dict) -> list[str]:
    """The report as aligned lines for the console."""
    head = ("file", "mean IoU", "pixel acc", "agreement", "max |Δp|", "MiB", "ms 1 thr", "ms 2 thr")
    lines = [head]
    for row in report["rows"]:
        lines.append((row["file"], _fmt(row.get("mean_iou")), _fmt(row.get("pixel_accuracy")), _fmt(row["agreement"]),
                      _fmt(row["max_probability_difference"], ".2e"),
                      "-" if row["bytes"] is None else f"{row['bytes'] / 2 ** 20:.2f}",
                      *(f"{row['ms_per_image'][str(t)]:.1f}" for t in THREADS)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
           for line in lines]
    what = (f'{report["images"]} image(s) tagged "{report["tag"]}" of {report["project"]}' if report["accuracy"] else
            f"{report['images']} demo image(s): no project with ground truth reachable, sizes and speeds only")
    unreadable = [f"  (not readable, left out: {line})" for line in report["unreadable"]]
    return [f"export report over {what}:", *out, *unreadable]


def _fmt(value, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def _run(job: dict) -> None:
    """The child process: every model on every image, timed at the job's thread count."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(job["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(job["threads"])
    from trainer.data.images import decode_image
    from trainer.data.project import open_project
    from trainer.export.graphs import SavedModelScorer, frozen_labels
    from trainer.export.tflite import QUANTIZATIONS, TfliteModel
    from trainer.infer.backends import SAVED_MODEL
    from trainer.infer.evaluate import Evaluation
    from trainer.infer.predictor import Predictor
    from trainer.model.checkpoint_folders import ModelSource
    from trainer.model.checkpoint_info import CheckpointInfo
    from trainer.errors import DataError

    export_dir, checkpoint = Path(job["export_dir"]), Path(job["checkpoint"])
    source = ModelSource(checkpoint, CheckpointInfo.read(checkpoint), job["model"])
    classes, tta = source.info.classes, job["cfg"]["tta"]
    project = open_project(Path(job["project"]), check_images=False)
    samples, images, unreadable = [], [], []
    for sample in (s for s in project.samples if job["tag"] is None or job["tag"] in s.tags):
        try:
            images.append(decode_image(sample.image_path))
            samples.append(sample)
        except ValueError as error:
            unreadable.append(f"{sample.image_path}: {error}")
        if job["tag"] is None and len(images) == _DEMO_IMAGES:
            break
    if not images:
        raise DataError(_none_readable(job["project"], job["tag"], unreadable))
    evaluation = Evaluation(project, classes, job["tag"]) if job["quality"] and job["tag"] else None

    def probabilities(scorer):
        return lambda image: scorer.scores(image[np.newaxis])[0]

    models = [("checkpoint", probabilities(Predictor.from_source(source, tta)))]
    for name in job["files"]:
        if name == SAVED_MODEL:
            models.append((name, probabilities(SavedModelScorer(export_dir / name, classes))))
        elif name.endswith(".pb"):
            models.append((name, frozen_labels(export_dir / name, job["threads"])))
        else:
            model = TfliteModel(export_dir / name, threads=job["threads"])
            models.append((name, probabilities(Predictor(model, classes, source.info.input_size, tta, name))))
    rows, original = [], None
    for name, run in models:
        run(images[0])   # warm-up: tracing and allocation are not timed
        started = time.perf_counter()
        outputs = [run(image) for image in images]
        elapsed = time.perf_counter() - started
        row = {"file": name, "ms_per_image": 1000 * elapsed / len(images)}
        if job["quality"]:
            labels = [o if o.ndim == 2 else o.argmax(-1) for o in outputs]
            original = original or (labels, outputs)
            row["agreement"] = float(sum((a == b).sum() for a, b in zip(labels, original[0]))
                                     / sum(a.size for a in labels))
            integer = name in job["files"] and QUANTIZATIONS.get(job["files"][name], (False,))[0]
            float_probabilities = outputs[0].ndim == 3 and not integer
            row["max_probability_difference"] = (float(max(np.abs(a - b).max() for a, b in zip(outputs, original[1])))
                                                 if float_probabilities else None)
            if evaluation is not None:
                report = evaluation.report([evaluation.confusion(s, l) for s, l in zip(samples, labels)])
                row["mean_iou"], row["pixel_accuracy"] = report["mean_iou"], report["pixel_accuracy"]
        rows.append(row)
    Path(job["output"]).write_text(json.dumps({"images": len(images), "unreadable": unreadable, "rows": rows}))


if __name__ == "__main__":   # `python -m trainer.export.report JOB`
    from trainer.cli.common import run_cli

    sys.exit(run_cli(lambda argv: _run(json.loads(argv[0])), sys.argv[1:]))
