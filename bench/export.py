"""Export: a benchmark, not a test. Run `python bench/export.py [--model RUN]`.

Exports a trained model (default: the demo preset, trained here first, as the quick start does) to every format and
TFLite type, and prints
- the export report (mean IoU, pixel accuracy, label agreement, probability difference, size, ms per image at 1 and
  2 threads) over the demo project's validation images, against the targets: float32 formats agree with the original
  on ≥ 99.99% of pixels with max |logit difference| ≤ 1e-4 of the largest logit; int8 within 1.5 mean-IoU points of
  float32, ≥ 97% agreement, ≤ 0.6× the float32 TFLite latency;
- infer.py's full_image throughput with the checkpoint, the SavedModel, the float32 and the int8 TFLite file, and
  the CPU time each spends per image (target: float32 TFLite ≥ 1.6× the checkpoint; with the cores busy the ratio
  cannot exceed the ratio of the CPU times);
- int8 file sizes of the zoo's MobileNetV2 shapes at 513² with 21 classes (random weights): ×0.5 ≤ 1.0 MB, ×1.0 ≤ 2.3 MB.
Timings depend on what else the machine runs: the load average is printed with them.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import trainer  # noqa: E402,F401 — sets TF_USE_LEGACY_KERAS before TensorFlow loads
from trainer.config.resolve import resolve_infer_config, resolve_train_config  # noqa: E402
from trainer.data.demo import demo_project  # noqa: E402
from trainer.data.images import read_image  # noqa: E402
from trainer.data.project import open_project  # noqa: E402
from trainer.export.report import table  # noqa: E402


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def _command(*args: str) -> None:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args[:2])} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")


def _logit_error(export_dir: Path, checkpoint_run: Path) -> float:
    """Max |logit difference| of the float32 TFLite file against the checkpoint, relative to the largest logit, on
    the validation images resized to the input size."""
    import cv2
    import numpy as np

    from trainer.export.tflite import run_tflite
    from trainer.model.checkpoint_folders import ModelSource
    from trainer.model.checkpoints import load_checkpoint_model

    source = ModelSource.locate(checkpoint_run)
    height, width = source.info.input_size
    images = np.stack([cv2.resize(read_image(s.image_path), (width, height)).astype(np.float32)
                       for s in open_project(demo_project(), check_images=False).samples if "val" in s.tags])
    reference = load_checkpoint_model(source)(images).numpy()
    return float(np.abs(run_tflite(export_dir / "model_float32.tflite", images) - reference).max()
                 / np.abs(reference).max())


def _infer_rate(model: Path, out: Path) -> tuple[float, float]:
    """Images/s of infer.py's full_image run over the demo project (model loading and tracing excluded), and the
    CPU time it took per image (all threads): once the cores are busy, images/s follow the CPU time, not the
    latency of a model call."""
    from trainer.infer.run import infer_project
    from trainer.infer.session import InferenceSession

    cfg = resolve_infer_config(None, [])
    session = InferenceSession.open(InferenceSession.locate(model, cfg), cfg)
    project = open_project(demo_project(), check_images=False)
    session.predict_image(read_image(project.samples[0].image_path))   # warm-up
    started, cpu = time.perf_counter(), time.process_time()
    infer_project(session, project, out)
    images = len(project.samples)
    return images / (time.perf_counter() - started), 1000 * (time.process_time() - cpu) / images


def _zoo_sizes(work: Path) -> list[str]:
    """int8 sizes of the zoo's MobileNetV2 shapes (random weights suffice for size), calibrated on demo images."""
    from trainer.data.classes import ordered_mapping, voc_color
    from trainer.export.run import calibration_images
    from trainer.export.tflite import write_tflite
    from trainer.model.builder import build_model
    from trainer.model.checkpoint_folders import ModelSource
    from trainer.model.checkpoint_info import CheckpointInfo
    from trainer.model.checkpoints import write_folder
    from trainer.model.zoo import class_titles

    lines = []
    for preset, limit in (("mobilenetv2_dm05_voc", 1.0), ("mobilenetv2_voc", 2.3)):
        cfg = resolve_train_config(None, preset, [])
        titles = class_titles("voc", cfg["special_classes"]["background"])
        info = CheckpointInfo(cfg, ordered_mapping(titles, {t: voc_color(i) for i, t in enumerate(titles)}, "neutral"))
        folder = work / preset
        write_folder(folder, build_model(cfg["model"], len(titles)), info)
        source = ModelSource.locate(folder)
        images = calibration_images(demo_project(), source, 10)
        write_tflite(folder, source.model, "int8", work / f"{preset}.tflite", images)
        size = (work / f"{preset}.tflite").stat().st_size / 1e6
        lines.append(f"  {preset} int8 at {cfg['input_size']['height']}²: {size:.2f} MB (target ≤ {limit} MB)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a trained run or checkpoint folder (default: train the demo)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        work = Path(tmp)
        run = args.model
        if run is None:
            run = work / "demo-run"
            print("training the demo preset on the demo project…", flush=True)
            _command("train.py", "--output", str(run))
        export_dir = work / "export"
        print(f"exporting {run} ({_load()})…", flush=True)
        _command("-m", "trainer.export", str(run), "--output", str(export_dir), "--quantize",
                 "float32,float16,int8,uint8", "--check", str(demo_project()))
        report = json.loads((export_dir / "export_report.json").read_text())
        print("\n".join(table(report)))
        rows = {row["file"]: row for row in report["rows"]}
        float_agreement = min(rows[f]["agreement"] for f in ("saved_model", "frozen_inference_graph.pb",
                                                             "model_float32.tflite"))
        int8, float32 = rows["model_int8.tflite"], rows["model_float32.tflite"]
        print(f"float32 formats: label agreement ≥ {float_agreement:.6f} (target ≥ 0.9999); float32 TFLite max |logit "
              f"difference| {_logit_error(export_dir, run):.2e} of the largest logit (target ≤ 1e-4)")
        print(f"int8: mean IoU {100 * (int8['mean_iou'] - float32['mean_iou']):+.2f} points against float32 (target "
              f"within 1.5), agreement {int8['agreement']:.4f} (target ≥ 0.97), latency "
              + ", ".join(f"{int8['ms_per_image'][t] / float32['ms_per_image'][t]:.2f}× float32 at {t} thread(s)"
                          for t in ("1", "2")) + " (target ≤ 0.6×)")
        rates = {name: _infer_rate(model, work / f"infer-{name}") for name, model in (
            ("checkpoint", run), ("SavedModel", export_dir), ("float32 TFLite", export_dir / "model_float32.tflite"),
            ("int8 TFLite", export_dir / "model_int8.tflite"))}
        base = rates["checkpoint"][0]
        print("infer.py full_image on the demo project, images/s (CPU ms per image): "
              + ", ".join(f"{name} {rate:.1f} ({rate / base:.2f}×; {cpu:.0f} ms)"
                          for name, (rate, cpu) in rates.items())
              + f"; target: float32 TFLite ≥ 1.6× the checkpoint ({_load()})")
        print("zoo-shaped int8 sizes:")
        print("\n".join(_zoo_sizes(work)))


if __name__ == "__main__":
    main()
