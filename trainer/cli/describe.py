"""`python -m trainer.describe`: a model's size and cost for one image, as one JSON object on stdout."""
import json

from trainer.cli.common import ArgumentParser, add_set_argument, run_cli
from trainer.config.resolve import resolve_train_config
from trainer.config.validate import too_small
from trainer.errors import UserError


def _main(argv: list[str] | None) -> None:
    p = ArgumentParser(prog="python -m trainer.describe",
                description="Print a model's parameters, Multiply-Adds and output stride as JSON.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", metavar="NAME", help="a named preset")
    source.add_argument("--config", metavar="FILE", help="a train config (or a run's config.json)")
    p.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                   help="image height and width (default: the config's input_size)")
    p.add_argument("--num-classes", type=int, metavar="N",
                   help="output classes (default: 19 / 151 for *_cityscapes / *_ade20k presets, else 21)")
    add_set_argument(p)
    args = p.parse_args(argv)

    cfg = resolve_train_config(args.config, args.preset, args.overrides)
    height, width = args.input_size or (cfg["input_size"]["height"], cfg["input_size"]["width"])
    problem = too_small(min(height, width), cfg["model"]["output_stride"])
    if problem:
        raise UserError(f"--input-size: {height} {width} {problem}")
    if args.num_classes is not None and args.num_classes < 1:
        raise UserError(f"--num-classes: {args.num_classes} is less than 1")
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")   # the profiler's registry logs a deprecation warning
    from trainer.model.cost import default_classes, describe

    num_classes = default_classes(cfg.get("preset")) if args.num_classes is None else args.num_classes
    print(json.dumps(describe(cfg, height, width, num_classes)))


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
