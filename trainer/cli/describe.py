"""`python -m trainer.describe`: a model's size and cost for one image, as one JSON object on stdout."""
import json

from trainer.cli.common import ArgumentParser, add_set_argument, run_cli
from trainer.config.resolve import resolve_train_config
from trainer.errors import UserError

# Classes of the datasets the model-zoo presets are named after (background included); the zoo's figures use them.
DATASET_CLASSES = {"voc": 21, "cityscapes": 19, "ade20k": 151}
DEFAULT_CLASSES = DATASET_CLASSES["voc"]
CONVENTION = ("Multiply-Adds for one image: TensorFlow profiler float ops of the ops the logits depend on, "
              "halved (one multiply-add = one MAC); no softmax")


def default_classes(preset: str | None) -> int:
    """A preset named `<model>_<dataset>` has that dataset's classes; anything else PASCAL VOC's 21."""
    return DATASET_CLASSES.get((preset or "").rpartition("_")[2], DEFAULT_CLASSES)


def describe(cfg: dict, height: int, width: int, num_classes: int) -> dict:
    """Build the configured model (run once at 64×64 to create its variables) and trace it at height × width."""
    from trainer.model.builder import build_model
    from trainer.model.cost import multiply_adds

    model = build_model(cfg["model"], num_classes)
    madds = multiply_adds(model, height, width)
    trainable = sum(int(v.shape.num_elements()) for v in model.trainable_variables)
    return {"preset": cfg.get("preset"), "backbone": cfg["model"]["backbone"],
            "implementation": cfg["model"].get("implementation"), "input_size": [height, width],
            "num_classes": num_classes, "output_stride": cfg["model"]["output_stride"],
            "params": int(model.count_params()), "trainable_params": trainable, "madds": madds,
            "madds_billions": round(madds / 1e9, 3), "madds_convention": CONVENTION}


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
    if min(height, width) < 2 * cfg["model"]["output_stride"]:
        raise UserError(f"--input-size: {height} {width} is too small for model.output_stride "
                        f"{cfg['model']['output_stride']} (minimum {2 * cfg['model']['output_stride']})")
    num_classes = default_classes(cfg.get("preset")) if args.num_classes is None else args.num_classes
    if num_classes < 1:
        raise UserError(f"--num-classes: {num_classes} is less than 1")
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")   # the profiler's registry logs a deprecation warning
    print(json.dumps(describe(cfg, height, width, num_classes)))


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
