"""Open a project in either input format, with every image file checked so no unreadable, cut or missized image
reaches training. The check reads headers (and each file's last bytes), not pixels: decoding every image at start-up
would cost as much as an epoch of loading; a file the header cannot vouch for is decoded."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from trainer.data import masks, supervisely
from trainer.data.images import decode_image, header_size
from trainer.data.types import Problem, Project, Sample
from trainer.errors import DataError

# The input formats, each recognised by its own marker file.
FORMATS = (supervisely.FORMAT, masks.FORMAT)


def open_project(root: Path, *, check_images: bool = True) -> Project:
    """The format follows the folder: meta.json = Supervisely, classes.txt = mask folders (README, Project format).
    Inference passes check_images=False: it decodes each image anyway and reports the unreadable ones itself."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: project folder not found")
    found = [f for f in FORMATS if f.detect(root)]
    if len(found) > 1:
        raise DataError(f"{root}: has both {' and '.join(f.marker for f in found)}: keep the one that describes "
                        "the project")
    if not found:
        raise DataError(f"{root}: not a project: expected {' or '.join(f.expects for f in FORMATS)}")
    project = found[0].read(root)
    if check_images:
        check_image_files(project)
    return project


def check_image_files(project: Project) -> None:
    """Moves samples whose image is unreadable or not the size its annotation gives to the project's problems
    (threads: file reads and decoding release the GIL)."""
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        found = list(pool.map(lambda sample: _image_problem(project.root, sample), project.samples))
    project.problems += [problem for problem in found if problem]
    project.samples = [sample for sample, problem in zip(project.samples, found) if not problem]


def _image_problem(root: Path, sample: Sample) -> Problem | None:
    if header_size(sample.image_path) == (sample.height, sample.width):
        return None
    try:  # what the header cannot vouch for, or a size it disagrees on: the decoder decides, as the loader will
        height, width = decode_image(sample.image_path).shape[:2]
    except ValueError as error:
        message = str(error)
    else:
        if (height, width) == (sample.height, sample.width):
            return None
        message = (f"image is {width}×{height} but the annotation ({_label(root, sample, sample.ann_path)}) "
                   f"gives {sample.width}×{sample.height}")
    return Problem(sample.dataset, _label(root, sample, sample.image_path), None, message, frozenset(sample.tags))


def _label(root: Path, sample: Sample, path: Path) -> str:
    """Files are named relative to their dataset folder where there is one (Supervisely), else to the project."""
    base = root / sample.dataset
    return (path.relative_to(base) if path.is_relative_to(base) else path.relative_to(root)).as_posix()
