"""`python -m trainer.convert_zoo`: a research/deeplab model-zoo checkpoint as one of our checkpoint folders."""
from pathlib import Path

from trainer.cli.common import ArgumentParser, add_set_argument, run_cli
from trainer.config.resolve import resolve_train_config
from trainer.io import require_empty_output
from trainer.model.zoo import class_titles, convert, tf1_prefix, zoo_classes
from trainer.progress import say


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

    cfg = resolve_train_config(None, args.preset, args.overrides)
    prefix = tf1_prefix(cfg, Path(args.checkpoint), args.preset)
    classes = zoo_classes(cfg, class_titles(args.classes, cfg["special_classes"]["background"]))
    output = Path(args.output)
    require_empty_output(output, "--output")
    output.parent.mkdir(parents=True, exist_ok=True)
    say(convert(prefix, cfg, classes, output))
    say(f"checkpoint folder: {output} ({classes.num_classes} classes)")


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
