"""Inference memory over a long job: a benchmark, not a test. Run `python bench/infer_memory.py [--images N]`.

infer.py (full_image, the demo preset with random weights) over a project of N images (default 10,000: 50
generated 320×240 images under new names), in its own process, its RSS read every second. Prints the RSS at 10%,
25%, 50%, 75% and 100% of the run and the growth from 10% to the end (target: flat, ≤ 5%), with images/s.
"""
import argparse
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

from bench.loader import copied_project  # noqa: E402
from trainer.config.resolve import resolve_train_config  # noqa: E402
from trainer.data.classes import build_class_mapping  # noqa: E402
from trainer.data.demo import write_synthetic_project  # noqa: E402
from trainer.data.supervisely import read_project  # noqa: E402


def _model(folder: Path, project: Path) -> None:
    """The demo preset with random weights for the project's classes, as a checkpoint folder."""
    from trainer.model.builder import build_model
    from trainer.model.checkpoint_info import CheckpointInfo
    from trainer.model.checkpoints import write_folder

    cfg = resolve_train_config(None, "demo", [])
    mapping = build_class_mapping(read_project(project).meta, "bg", "neutral")
    write_folder(folder, build_model(cfg["model"], mapping.num_classes), CheckpointInfo(cfg, mapping))


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=10000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        base = write_synthetic_project(work / "base", train=50, val=0, size=(240, 320), seed=5)
        project = copied_project(base, args.images, work)
        _model(work / "model", project)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        started = time.monotonic()
        job = subprocess.Popen([sys.executable, str(REPO / "infer.py"), "--model", str(work / "model"), "--project",
                                str(project), "--output", str(work / "out")], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        samples = []   # (seconds, MB)
        while job.poll() is None:
            rss = _rss_mb(job.pid)
            if rss is not None:
                samples.append((time.monotonic() - started, rss))
            time.sleep(1)
        elapsed = time.monotonic() - started
        if job.returncode != 0:
            raise SystemExit(f"infer.py failed ({job.returncode}):\n{job.stderr.read()[-3000:]}")
    at = {share: next(rss for seconds, rss in samples if seconds >= share * samples[-1][0])
          for share in (0.1, 0.25, 0.5, 0.75, 1.0)}
    print(f"load average {os.getloadavg()[0]:.2f}; infer.py full_image, demo preset, {args.images} images 320×240: "
          f"{args.images / elapsed:.1f} images/s ({elapsed:.0f} s with start-up)")
    print("RSS at " + ", ".join(f"{share:.0%} {rss:.0f} MB" for share, rss in at.items())
          + f"; 10% → end {100 * (at[1.0] / at[0.1] - 1):+.1f}% (target: flat, ≤ +5%); peak "
          f"{max(rss for _, rss in samples):.0f} MB")


if __name__ == "__main__":
    main()
