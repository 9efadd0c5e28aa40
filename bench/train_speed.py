"""Training speed and memory: our loop vs a bare compiled step vs tf-models-official's task step.

    python bench/train_speed.py [--steps N] [--memory-epochs N]

For the MobileNetV2 preset at 321x321 batch 4 and the ResNet-101 DeepLabV3+ preset at 321x321 batch 2, on a
generated project, prints images/s of:
  loop  the real training loop (data pipeline, logging and progress included; validation excluded),
  bare  the same model's compiled train step on in-memory tensors,
  task  tf-models-official's SemanticSegmentationTask.train_step for the same model and batch.
The first step of each (tracing) is not timed. Then the RSS at the end of epochs 2 and --memory-epochs (20) of a
small run, and the peak RSS of the process. Each preset and the memory run get a fresh process: measured after another
model in the same process, ResNet-101's loop and bare step ran 25% slower while the task step did not.
Timings on a shared machine are noisy: run it alone to compare.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trainer  # noqa: E402,F401 — sets TF_USE_LEGACY_KERAS before TensorFlow loads

import psutil  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from official.vision.configs import semantic_segmentation as seg_cfg  # noqa: E402
from official.vision.tasks.semantic_segmentation import SemanticSegmentationTask  # noqa: E402

from trainer.config.resolve import resolve_train_config  # noqa: E402
from trainer.data.classes import IGNORE_LABEL, build_class_mapping  # noqa: E402
from trainer.data.demo import write_synthetic_project  # noqa: E402
from trainer.data.split import split_samples  # noqa: E402
from trainer.data.supervisely import read_project  # noqa: E402
from trainer.model.builder import segmentation_config  # noqa: E402
from trainer.progress import say  # noqa: E402
from trainer.train.loop import Trainer  # noqa: E402

CASES = [("mobilenetv2_deeplabv3", 4), ("resnet101_deeplabv3plus", 2)]
SIZE = 321


def _parts(root: Path, train: int, size: int):
    project = read_project(write_synthetic_project(root, train=train, val=2, size=(size, size), seed=3))
    mapping = build_class_mapping(project.meta, "bg", "neutral")
    return (mapping, *split_samples(project.samples, "train", "val"))


def _trainer(preset: str, batch: int, parts, run_dir: Path, *sets: str) -> Trainer:
    cfg = resolve_train_config(None, preset, [f'input_size={{"width": {SIZE}, "height": {SIZE}}}',
                                              f'batch_size={{"train": {batch}, "val": 2}}', "data_workers.train=2", *sets])
    run_dir.mkdir(parents=True)
    return Trainer(cfg, *parts, run_dir)


class StepClock:
    """Wraps Trainer.train_step: the time each step ends, and the RSS at the end of each epoch."""

    def __init__(self, trainer: Trainer):
        self.ends, self.rss = [], {}
        inner, iters = trainer.train_step, trainer.iters_per_epoch

        def timed(images, labels, step):
            out = inner(images, labels, step)
            self.ends.append(time.perf_counter())
            if (step + 1) % iters == 0:
                self.rss[(step + 1) // iters] = psutil.Process().memory_info().rss
            return out

        trainer.train_step = timed


def loop_speed(trainer: Trainer) -> float:
    clock = StepClock(trainer)
    trainer.run()
    return (len(clock.ends) - 1) * trainer.train_batch / (clock.ends[-1] - clock.ends[0])


def bare_speed(trainer: Trainer, steps: int) -> float:
    images, labels = next(iter(trainer.batches(train=True, epoch=0)))
    trainer.train_step(images, labels, 0)
    started = time.perf_counter()
    for step in range(steps):
        float(trainer._train_step(images, labels))  # noqa: SLF001 — the compiled step itself is what is measured
    return steps * trainer.train_batch / (time.perf_counter() - started)


def task_speed(trainer: Trainer, steps: int) -> float:
    cfg = trainer.cfg
    task = SemanticSegmentationTask(seg_cfg.SemanticSegmentationTask(
        model=segmentation_config(cfg["model"], trainer.num_classes),
        losses=seg_cfg.Losses(ignore_label=IGNORE_LABEL, use_groundtruth_dimension=True)))
    model = task.build_model()
    optimizer = tf_keras.optimizers.Adam(cfg["lr"])
    images, labels = next(iter(trainer.batches(train=True, epoch=0)))
    features = images * (2.0 / 255.0) - 1.0
    targets = {"masks": labels[..., tf.newaxis], "valid_masks": tf.not_equal(labels, IGNORE_LABEL)[..., tf.newaxis]}
    step = tf.function(lambda f, t: task.train_step((f, t), model, optimizer)[task.loss])
    float(step(features, targets))
    started = time.perf_counter()
    for _ in range(steps):
        float(step(features, targets))
    return steps * trainer.train_batch / (time.perf_counter() - started)


def _speeds(preset: str, batch: int, steps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        parts = _parts(tmp / "data", train=batch * (steps + 1), size=400)
        trainer = _trainer(preset, batch, parts, tmp / "run", "epochs=1", "val_every=1")
        loop = loop_speed(trainer)
        bare = bare_speed(trainer, steps)
        task = task_speed(trainer, steps)
    say(f"{preset} {SIZE}x{SIZE} batch {batch}: loop {loop:.2f} img/s, bare step {bare:.2f} img/s, "
        f"tf-models task step {task:.2f} img/s; loop/bare {loop / bare:.2f}, loop/task {loop / task:.2f}")


def _memory(epochs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        parts = _parts(tmp / "data", train=16, size=160)
        cfg = resolve_train_config(None, "demo", [f"epochs={epochs}", "val_every=1"])
        (tmp / "run").mkdir()
        trainer = Trainer(cfg, *parts, tmp / "run")
        clock = StepClock(trainer)
        trainer.run()
    rss2, rss_last = clock.rss[2], clock.rss[epochs]
    say(f"memory (demo preset, 16 images, {epochs} epochs): RSS after epoch 2 {rss2 / 2**20:.0f} MiB, "
        f"after epoch {epochs} {rss_last / 2**20:.0f} MiB ({(rss_last / rss2 - 1) * 100:+.1f}%); "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=6, help="timed steps per measurement (default 6)")
    p.add_argument("--memory-epochs", type=int, default=20, help="epochs of the memory run (default 20)")
    p.add_argument("--only", choices=[preset for preset, _ in CASES] + ["memory"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.only == "memory":
        _memory(args.memory_epochs)
    elif args.only:
        _speeds(args.only, dict(CASES)[args.only], args.steps)
    else:
        say(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start, "
            f"GPUs: {len(tf.config.list_physical_devices('GPU'))}")
        for only in [preset for preset, _ in CASES] + ["memory"]:
            result = subprocess.run([sys.executable, __file__, "--only", only, "--steps", str(args.steps),
                                     "--memory-epochs", str(args.memory_epochs)], capture_output=True, text=True)
            figures = [line for line in result.stdout.splitlines() if line.startswith((only, "memory"))]
            print(*(figures or [result.stdout[-2000:], result.stderr[-2000:]]), sep="\n", flush=True)
        say(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
