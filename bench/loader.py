"""Input-pipeline benchmark: does the train pipeline keep the model busy, and does reading annotations scale?

    python bench/loader.py

On a generated project of 200 VOC-sized images (500×375, 3-6 polygon/rectangle/bitmap objects each; every
fourth image is a PNG, the rest JPEG) it prints: images/s delivered by the train pipeline at 513×513 (batch 4,
DeepLab's augmentation) with data_workers 1 and 2; the train-step rate of the mobilenetv2_deeplabv3 preset at the
same size and batch on in-memory tensors, and the ratio (target ≥ 5); the time to parse and rasterize the
annotations of 1,000 and 10,000 images (target: linear); the start-up time of training on 1,000 and 10,000 images
(open the project and check it, then the first train batch; target: about the annotations' parse time) next to the
parse time and to what decoding every image (the check before it read headers only) costs; and how many images each
worker decodes in an epoch with 1 and 2 workers. Timings depend on what else runs on the machine: the load average is
printed with them.
"""
import os
import shutil
import tempfile
import time
from pathlib import Path

from trainer.config.resolve import resolve_train_config
from trainer.data import pipeline
from trainer.data.augment import transform_factory
from trainer.data.classes import build_class_mapping
from trainer.data.demo import write_synthetic_project
from trainer.data.geometry import rasterize
from trainer.data.images import decode_image
from trainer.data.project import check_image_files, open_project
from trainer.data.split import split_members
from trainer.data.supervisely import read_project

PRESET = "mobilenetv2_deeplabv3"
IMAGES = 200
VOC_SIZE = (375, 500)  # height, width


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def pipeline_rate(cfg: dict, samples: list, mapping, workers: int) -> float:
    """Images/s of whole train epochs (decode, rasterize, augment, batch), after one warm-up batch."""
    from trainer.data.pipeline import SampleLoader, epoch_order, make_dataset

    loader = SampleLoader(samples, mapping, transform_factory(cfg, "train"))
    size = cfg["input_size"]
    order, seeds = epoch_order(len(samples), cfg["seed"], 0, shuffle=True)
    dataset = make_dataset(loader, order, seeds, batch_size=cfg["batch_size"]["train"], workers=workers,
                           height=size["height"], width=size["width"])
    batches = iter(dataset)
    next(batches)
    started, count = time.perf_counter(), 0
    for images, _ in batches:
        count += int(images.shape[0])
    return count / (time.perf_counter() - started)


def train_step_rate(cfg: dict, num_classes: int, steps: int = 4) -> float:
    """Images/s of the preset's compiled train step (Adam, DeepLab's loss) on in-memory tensors."""
    import tensorflow as tf
    import tf_keras
    from official.vision.losses.segmentation_losses import SegmentationLoss

    from trainer.data.classes import IGNORE_LABEL
    from trainer.model.builder import build_model

    model = build_model(cfg["model"], num_classes)
    optimizer = tf_keras.optimizers.Adam(cfg["lr"])
    loss_fn = SegmentationLoss(label_smoothing=0.0, class_weights=[], ignore_label=IGNORE_LABEL,
                               use_groundtruth_dimension=True)

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(model(images, training=True), labels[..., tf.newaxis])
        pairs = [(g, v) for g, v in zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
                 if g is not None]
        optimizer.apply_gradients(pairs)
        return loss

    batch, size = cfg["batch_size"]["train"], cfg["input_size"]
    images = tf.random.uniform([batch, size["height"], size["width"], 3], 0, 255)
    labels = tf.random.uniform([batch, size["height"], size["width"]], 0, num_classes, dtype=tf.int32)
    step(images, labels).numpy()  # trace and warm up
    started = time.perf_counter()
    for _ in range(steps):
        step(images, labels).numpy()
    return steps * batch / (time.perf_counter() - started)


def copied_project(base: Path, count: int, work: Path) -> Path:
    """A project of `count` samples: the base project's, copied under new names (images hard-linked)."""
    root = work / f"copy{count}"
    for folder in ("img", "ann"):
        (root / "ds" / folder).mkdir(parents=True)
    shutil.copyfile(base / "meta.json", root / "meta.json")
    sources = sorted(base.glob("ds*/img/*"))
    for i in range(count):
        image = sources[i % len(sources)]
        name = f"{i:05d}{image.suffix}"
        os.link(image, root / "ds" / "img" / name)
        shutil.copyfile(image.parent.parent / "ann" / f"{image.name}.json", root / "ds" / "ann" / f"{name}.json")
    return root


def annotation_seconds(root: Path, count: int, repeats: int = 2) -> float:
    """Parse + rasterize the annotations of `root`. The best of `repeats` runs, as the machine is shared."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        project = read_project(root)
        values = build_class_mapping(project.meta, "bg", "neutral").pixel_values()
        for sample in project.samples:
            rasterize(sample.objects, sample.height, sample.width, values)
        best = min(best, time.perf_counter() - started)
        assert len(project.samples) == count and not project.problems
    return best


def startup_seconds(root: Path, cfg: dict) -> dict[str, float]:
    """Training's start-up on `root` (as TrainSession reads the data, then the first train batch), with the
    annotation parse alone and a decode of every image for comparison. The images are hard links to the base
    project's 200 files, in the page cache: reading them from disk is not measured."""
    started = time.perf_counter()
    read_project(root)
    parse = time.perf_counter() - started
    started = time.perf_counter()
    project = open_project(root)
    mapping = build_class_mapping(project.meta, "bg", "neutral")
    train = split_members(project.samples, "train")
    opened = time.perf_counter() - started
    size, batch = cfg["input_size"], cfg["batch_size"]["train"]
    loader = pipeline.SampleLoader(train, mapping, transform_factory(cfg, "train"))
    order, seeds = pipeline.epoch_order(len(train), cfg["seed"], 0, shuffle=True)
    import tensorflow as tf

    dataset = pipeline.worker_dataset(loader, order, seeds, tf.distribute.InputContext(), global_batch=batch,
                                      workers=cfg["data_workers"]["train"], height=size["height"], width=size["width"])
    next(iter(dataset))
    first_batch = time.perf_counter() - started
    assert not project.problems
    started = time.perf_counter()
    for sample in project.samples:
        decode_image(sample.image_path)
    return {"parse": parse, "open": opened, "first batch": first_batch, "decode all": time.perf_counter() - started}


def decoded_per_worker(root: Path, cfg: dict, workers: int, global_batch: int = 8) -> list[int]:
    """Images each of `workers` input pipelines decodes in one train epoch (read_image calls, counted)."""
    import tensorflow as tf

    project = read_project(root)
    mapping = build_class_mapping(project.meta, "bg", "neutral")
    order, seeds = pipeline.epoch_order(len(project.samples), cfg["seed"], 0, shuffle=True)
    counts = []
    read_image = pipeline.read_image
    try:
        for index in range(workers):
            calls = []
            pipeline.read_image = lambda path: calls.append(path) or read_image(path)
            context = tf.distribute.InputContext(workers, index, workers)
            loader = pipeline.SampleLoader(project.samples, mapping, transform_factory(cfg, "train"))
            for _ in pipeline.worker_dataset(loader, order, seeds, context, global_batch=global_batch, workers=2,
                                             height=cfg["input_size"]["height"], width=cfg["input_size"]["width"]):
                pass
            counts.append(len(calls))
    finally:
        pipeline.read_image = read_image
    return counts


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    cfg = resolve_train_config(None, PRESET, [])
    size = cfg["input_size"]
    print(f"{load()} at start")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        root = write_synthetic_project(work / "voc", train=IMAGES, val=0, size=VOC_SIZE, seed=0, shapes=(3, 6))
        project = read_project(root)
        print(f"generated {len(project.samples)} images of {VOC_SIZE[1]}×{VOC_SIZE[0]} "
              f"({sum(len(s.objects) for s in project.samples) / len(project.samples):.1f} area objects each) "
              f"in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        check_image_files(project)
        print(f"checking every image (open_project's header check): {IMAGES / (time.perf_counter() - started):.0f} "
              "images/s")
        mapping = build_class_mapping(project.meta, "bg", "neutral")

        rates = {w: pipeline_rate(cfg, project.samples, mapping, w) for w in (1, 2)}
        step = train_step_rate(cfg, mapping.num_classes)
        print(f"train step, {PRESET} at {size['width']}×{size['height']}, batch {cfg['batch_size']['train']}: "
              f"{step:.2f} images/s")
        for workers, rate in rates.items():
            print(f"train pipeline, data_workers {workers}: {rate:.1f} images/s = {rate / step:.1f}× the train step "
                  f"({'meets' if rate / step >= 5 else 'misses'} the 5× target)")

        base = work / "voc"
        copies = {count: copied_project(base, count, work) for count in (1000, 10000)}
        times = {count: annotation_seconds(root, count) for count, root in copies.items()}
        per = {count: seconds / count * 1000 for count, seconds in times.items()}
        print(f"parse + rasterize annotations (best of 2): 1,000 in {times[1000]:.1f}s ({per[1000]:.2f} ms each), "
              f"10,000 in {times[10000]:.1f}s ({per[10000]:.2f} ms each): 10k/1k time ratio "
              f"{times[10000] / times[1000]:.1f} (linear = 10)")
        for count, root in copies.items():
            t = startup_seconds(root, cfg)
            print(f"start-up, {count:,} images: project opened and checked in {t['open']:.1f}s, first train batch "
                  f"at {t['first batch']:.1f}s = {t['first batch'] / t['parse']:.2f}× the annotation parse "
                  f"({t['parse']:.1f}s); decoding every image (the former check) alone: {t['decode all']:.1f}s")
        small = {**cfg, "input_size": {"height": 64, "width": 64}}
        for workers in (1, 2):
            counts = decoded_per_worker(copies[1000], small, workers)
            print(f"images decoded in one epoch of 1,000 (global batch 8), {workers} worker(s): "
                  f"{', '.join(f'worker {i}: {n}' for i, n in enumerate(counts))} "
                  f"(each worker decoded every image before: {workers * 1000} in all)")
    print(f"{load()} at end")


if __name__ == "__main__":
    main()
