"""`python -m trainer.convert_zoo`: a research/deeplab model-zoo checkpoint or frozen graph as one of our checkpoint
folders, optionally verified against the frozen graph."""
from pathlib import Path

from trainer.cli.common import ArgumentParser, add_set_argument, run_cli
from trainer.config.resolve import resolve_train_config
from trainer.errors import UserError
from trainer.io import require_empty_output
from trainer.model.tf1_source import Tf1Target
from trainer.model.zoo import class_titles, convert, tf1_source, verify_graph, verify_images, zoo_classes
from trainer.progress import say


def _main(argv: list[str] | None) -> None:
    p = ArgumentParser(prog="python -m trainer.convert_zoo",
                description="Convert a research/deeplab model-zoo checkpoint or frozen graph to a checkpoint folder "
                            "for infer.py.")
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a model.ckpt… prefix, a frozen_inference_graph.pb, or the unpacked zoo folder")
    p.add_argument("--preset", metavar="NAME", required=True,
                   help='the architecture: a preset with model.implementation "deeplab" (e.g. xception65_voc)')
    p.add_argument("--classes", metavar="voc|cityscapes|ade20k|FILE", required=True,
                   help="the checkpoint's classes in logit order: a dataset name or a file of titles, one a line")
    p.add_argument("--output", metavar="DIR", required=True, help="the checkpoint folder to write (new or empty)")
    p.add_argument("--verify", metavar="IMAGE", nargs="*",
                   help="run the original frozen graph beside the converted model on these images (default: a few "
                        "demo images); exit 2 if their logits differ by more than 1e-4 of the largest")
    add_set_argument(p)
    args = p.parse_args(argv)

    cfg = resolve_train_config(None, args.preset, args.overrides)
    source = tf1_source(cfg, Path(args.checkpoint), args.preset)
    classes = zoo_classes(cfg, class_titles(args.classes, cfg["special_classes"]["background"]))
    output = Path(args.output)
    require_empty_output(output, "--output")
    graph = verify_graph(source) if args.verify is not None else None
    images = verify_images(args.verify) if graph else None
    output.parent.mkdir(parents=True, exist_ok=True)
    config = f"preset {args.preset}" + (" (with --set)" if args.overrides else "")
    for line in convert(source, cfg, classes, output,
                        Tf1Target(cfg["model"], "CHECKPOINT", config, f"--classes {args.classes}")):
        say(line)
    say(f"checkpoint folder: {output} ({classes.num_classes} classes)")
    if graph:
        from trainer.model.zoo_graph import verify

        result = verify(graph, output, images)
        say(result.line())
        if not result.passed:
            raise UserError(f"--verify: the converted model's logits differ from the frozen graph's by "
                            f"{result.relative:.2e} of the largest logit (more than 1e-4): {output} does not "
                            f"reproduce {graph} (check --preset and --set)")


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
