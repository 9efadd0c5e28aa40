"""`python -m trainer.convert_zoo`: a research/deeplab model-zoo checkpoint as one of our checkpoint folders.

The folder (config.json + weights/) is what training writes, so infer.py, load_model and init_weights use it as is.
"""
import os
import shutil
from importlib import resources
from pathlib import Path

from trainer.cli.common import ArgumentParser, add_set_argument, run_cli
from trainer.config.resolve import resolve_train_config
from trainer.data.classes import voc_color
from trainer.errors import UserError
from trainer.io import require_empty_output, write_json
from trainer.progress import say

# Datasets whose class lists ship in trainer/data/zoo_classes; index 0 of VOC ("background") and ADE20K ("other",
# DeepLab's ignored label) becomes the config's background title, as our index 0 always is.
ZOO_DATASETS = ("voc", "cityscapes", "ade20k")
_BACKGROUND_FIRST = ("voc", "ade20k")


def class_titles(classes: str, background: str) -> list[str]:
    """The titles of a named dataset, or of FILE (one title per line, in logit order)."""
    if classes in ZOO_DATASETS:
        text = resources.files("trainer.data").joinpath(f"zoo_classes/{classes}.txt").read_text(encoding="utf-8")
        titles = text.splitlines()
        return [background, *titles[1:]] if classes in _BACKGROUND_FIRST else titles
    try:
        titles = [line.strip() for line in Path(classes).read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as err:
        raise UserError(f"--classes {classes}: not one of {', '.join(ZOO_DATASETS)} nor a readable file "
                        f"({err.strerror})") from None
    duplicates = sorted({t for t in titles if titles.count(t) > 1})
    if not titles or duplicates:
        raise UserError(f"--classes {classes}: " + (f"titles repeated: {', '.join(duplicates)}" if titles
                                                    else "no class titles (one per line expected)"))
    return titles


def checkpoint_info(cfg: dict, titles: list[str], source: str) -> dict:
    """config.json as a training checkpoint has it (no step, epoch or metrics: nothing was trained here)."""
    neutral = cfg["special_classes"]["neutral"]
    if neutral in titles:
        raise UserError(f'--classes: "{neutral}" is the neutral class title (special_classes.neutral): '
                        "rename it or set another neutral title")
    return {"settings": {**cfg, "init_weights": source}, "source": f"research/deeplab TF1 checkpoint {source}",
            "out_classes": [{"title": t, "shape": "bitmap", "color": voc_color(i)} for i, t in enumerate(titles)],
            "class_title_to_idx": {t: i for i, t in enumerate(titles)}, "neutral_class": neutral}


def convert(prefix: str, cfg: dict, titles: list[str], output: Path) -> str:
    """Import the TF1 checkpoint (every variable, classifier included) and write the folder atomically."""
    import tensorflow as tf

    from trainer.model.builder import build_model
    from trainer.model.checkpoint_folders import WEIGHTS_PREFIX
    from trainer.model.tf1_import import load_tf1

    info = checkpoint_info(cfg, titles, str(Path(prefix).resolve()))   # provenance that survives a cd
    model = build_model(cfg["model"], len(titles))
    loaded = load_tf1(model, prefix, skip_classifier=False)
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    try:
        tf.train.Checkpoint(model=model).write(str(tmp / WEIGHTS_PREFIX))
        write_json(tmp / "config.json", info)
        os.replace(tmp, output)   # an empty existing folder is replaced too
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return loaded.summary(prefix, "all variables")


def _main(argv: list[str] | None) -> None:
    p = ArgumentParser(prog="python -m trainer.convert_zoo",
                description="Convert a research/deeplab model-zoo checkpoint to a checkpoint folder for infer.py.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a model.ckpt… prefix or the unpacked zoo folder")
    p.add_argument("--preset", metavar="NAME", required=True,
                   help='the architecture: a preset with model.implementation "deeplab" (e.g. xception65_voc)')
    p.add_argument("--classes", metavar="voc|cityscapes|ade20k|FILE", required=True,
                   help="the checkpoint's classes in logit order: a dataset name or a file of titles, one a line")
    p.add_argument("--output", metavar="DIR", required=True, help="the checkpoint folder to write (new or empty)")
    add_set_argument(p)
    args = p.parse_args(argv)

    from trainer.model.builder import is_research_deeplab
    from trainer.model.tf1_import import find_tf1_checkpoint

    cfg = resolve_train_config(None, args.preset, args.overrides)
    if not is_research_deeplab(cfg["model"]):
        raise UserError(f'--preset {args.preset}: model.implementation is not "deeplab": '
                        "only research/deeplab's architectures take its checkpoints")
    prefix = find_tf1_checkpoint(Path(args.checkpoint))
    if prefix is None:
        raise UserError(f"CHECKPOINT {args.checkpoint}: no TF1 checkpoint there (a model.ckpt… prefix with its "
                        ".index file, or a folder holding one)")
    titles = class_titles(args.classes, cfg["special_classes"]["background"])
    output = Path(args.output)
    require_empty_output(output, "--output")
    output.parent.mkdir(parents=True, exist_ok=True)
    say(convert(prefix, cfg, titles, output))
    say(f"checkpoint folder: {output} ({len(titles)} classes)")


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
