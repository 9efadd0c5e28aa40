"""Inference speed: a benchmark, not a test. Run `python bench/infer_speed.py [--images N] [--tta-images N]`.

On a generated project of mixed image sizes, with the mobilenetv2_deeplabv3 preset at 513×513 (random weights:
speed does not depend on them), it prints
- full_image images/s end to end (decode, score, write the project) against a bare compiled model call on
  in-memory 513×513 tensors (target ≥ 0.8×: decoding, resizing and writing overlap the model);
- the cost per image of sliding_window and of research DeepLab's TTA (scales 0.5…1.75 + flip) relative to
  full_image;
- how many times the model graph was traced (1 each: image sizes and batch sizes do not retrace);
- the peak memory of combining sliding_window scores on a 4000×3000 image with 21 classes (fake scores, no model),
  against a full-image score buffer (rows are dropped once no window reaches them).
Timings depend on what else the machine runs: the load average is printed with them.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trainer  # noqa: E402,F401 — sets TF_USE_LEGACY_KERAS before TensorFlow loads

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from trainer.config.resolve import resolve_infer_config, resolve_train_config  # noqa: E402
from trainer.data.classes import build_class_mapping  # noqa: E402
from trainer.data.demo import write_synthetic_project  # noqa: E402
from trainer.data.supervisely import read_project  # noqa: E402
from trainer.infer.scores import class_map  # noqa: E402
from trainer.infer.modes.sliding_window import SlidingWindow  # noqa: E402
from trainer.infer.predictor import Predictor  # noqa: E402
from trainer.infer.run import infer_project  # noqa: E402
from trainer.infer.session import InferenceSession  # noqa: E402
from trainer.model.builder import build_model  # noqa: E402

PRESET = "mobilenetv2_deeplabv3"
SIZES = [(375, 500), (480, 640), (600, 800), (768, 1024), (512, 384)]  # (height, width)
SLIDING_WINDOW = {"name": "sliding_window", "window": {"width": 513, "height": 513}, "min_overlap": {"x": 64, "y": 64}}
DEEPLAB_TTA = {"scales": [0.5, 0.75, 1.0, 1.25, 1.5, 1.75], "flip": True}


def _project(root: Path, images: int) -> Path:
    """`images` images spread over SIZES, one dataset per size (write_synthetic_project makes one size each)."""
    project = root / "project"
    per_size = -(-images // len(SIZES))
    for height, width in SIZES:
        part = write_synthetic_project(root / f"part-{height}x{width}", train=per_size - 1, val=1,
                                       size=(height, width), seed=height)
        for dataset in part.iterdir():
            if dataset.is_dir():
                shutil.copytree(dataset, project / f"{dataset.name}-{height}x{width}")
        shutil.copy(part / "meta.json", project / "meta.json")
    return project


def _load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def _bare_model_rate(model, height: int, width: int, calls: int) -> float:
    call = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([1, height, width, 3])])
    images = tf.random.uniform([1, height, width, 3], 0, 255)
    for _ in range(3):
        call(images).numpy()
    start = time.perf_counter()
    for _ in range(calls):
        call(images).numpy()
    return calls / (time.perf_counter() - start)


def _run(model, mapping, size, project, output: Path, sets: list[str]) -> tuple[float, int]:
    """Images/s of infer_project (after one warm-up crop, so tracing is not timed) and the trace count."""
    cfg = resolve_infer_config(None, sets)
    predictor = Predictor(model, mapping, size, cfg["tta"], PRESET)
    predictor.scores(tf.zeros([1, 64, 64, 3], tf.uint8).numpy())
    start = time.perf_counter()
    infer_project(InferenceSession(predictor, cfg), project, output)
    return len(project.samples) / (time.perf_counter() - start), predictor.traces


def _score_rows_peak(height: int, width: int, classes: int, batch_size: int = 8) -> float:
    """MiB traced at most by class_map in sliding_window mode. The fake scores are one batch made beforehand, so
    the figure is the combining's own: score rows, counts, crops and the class map."""
    window = SLIDING_WINDOW["window"]
    scores = np.random.default_rng(0).random((batch_size, window["height"], window["width"], classes), np.float32)
    predictor = SimpleNamespace(classes=SimpleNamespace(out_classes=[{}] * classes),
                                scores=lambda crops: scores[:len(crops)])
    mode = resolve_infer_config(None, [f"mode={json.dumps(SLIDING_WINDOW)}"])["mode"]
    regions = SlidingWindow(mode).plan(height, width, []).regions
    image = np.zeros((height, width, 3), np.uint8)
    tracemalloc.start()
    try:
        class_map(predictor, image, regions, batch_size)
        return tracemalloc.get_traced_memory()[1] / 2 ** 20
    finally:
        tracemalloc.stop()


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--images", type=int, default=105, help="project size (at least 100 for the figures)")
    args.add_argument("--tta-images", type=int, default=20, help="images for the (slow) TTA figure")
    args = args.parse_args()

    train_cfg = resolve_train_config(None, PRESET, [])
    size = (train_cfg["input_size"]["height"], train_cfg["input_size"]["width"])
    with tempfile.TemporaryDirectory(prefix="infer-speed-") as tmp:
        tmp = Path(tmp)
        project = read_project(_project(tmp, args.images))
        subset = read_project(project.root)
        subset.samples = subset.samples[::max(1, len(subset.samples) // args.tta_images)][:args.tta_images]
        mapping = build_class_mapping(project.meta, "bg", "neutral")
        model = build_model(train_cfg["model"], mapping.num_classes)
        print(f"{os.cpu_count()} CPUs, {_load()}; {len(project.samples)} images of sizes "
              f"{', '.join(f'{w}×{h}' for h, w in SIZES)}; {PRESET} at {size[1]}×{size[0]}, random weights", flush=True)

        # measured on both sides of the end-to-end run: a second of timing alone varied by 20% between runs
        bare_before = _bare_model_rate(model, *size, calls=50)
        full, full_traces = _run(model, mapping, size, project, tmp / "full", [])
        bare_after = _bare_model_rate(model, *size, calls=50)
        bare = (bare_before + bare_after) / 2
        print(f"bare model call, 1×{size[0]}×{size[1]} in memory: {bare:.2f} images/s ({bare_before:.2f} before "
              f"the end-to-end run, {bare_after:.2f} after)", flush=True)
        windows, window_traces = _run(model, mapping, size, project, tmp / "windows",
                                      [f"mode={json.dumps(SLIDING_WINDOW)}"])
        base, _ = _run(model, mapping, size, subset, tmp / "base", [])
        tta, tta_traces = _run(model, mapping, size, subset, tmp / "tta", [f"tta={json.dumps(DEEPLAB_TTA)}"])

        print()
        print(f"full_image end to end: {full:.2f} images/s = {full / bare:.2f}× the bare model call (target ≥ 0.8×)")
        print(f"sliding_window 513×513, overlap 64: {windows:.2f} images/s, {full / windows:.2f}× full_image's time "
              "per image")
        print(f"TTA scales 0.5…1.75 + flip ({len(subset.samples)} images): {tta:.2f} images/s, {base / tta:.2f}× "
              f"full_image's time per image ({base:.2f} images/s on the same images)")
        print(f"model traces: full_image {full_traces}, sliding_window {window_traces}, TTA {tta_traces} "
              f"(over {len(SIZES)} image sizes)")
        height, width, classes = 4000, 3000, 21
        print(f"sliding_window score combining on {width}×{height}, {classes} classes (fake scores): peak "
              f"{_score_rows_peak(height, width, classes):.0f} MiB traced (the class map alone is "
              f"{height * width * 4 / 2 ** 20:.0f} MiB), against a full-image score buffer of "
              f"{height * width * classes * 4 / 2 ** 20:.0f} MiB + {height * width * 4 / 2 ** 20:.0f} MiB of counts")
        print(f"after: {_load()}")


if __name__ == "__main__":
    main()
