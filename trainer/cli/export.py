"""`python -m trainer.export` / `deeplab-trainer export`: a trained model as SavedModel, frozen graph and TFLite."""
from pathlib import Path

from trainer.cli.common import ArgumentParser, add_set_argument, run_cli
from trainer.config.resolve import resolve_infer_config
from trainer.data.demo import demo_project
from trainer.errors import UserError
from trainer.export.report import CheckImages, check_project, table
from trainer.export.tflite import QUANTIZATIONS
from trainer.infer.session import InferenceSession
from trainer.io import require_empty_output
from trainer.model.checkpoint_folders import ModelSource
from trainer.progress import say
from trainer.train.resume import recorded_project

FORMATS = ("saved_model", "frozen_graph", "tflite")


def _choices(value: str, known: tuple[str, ...], flag: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    unknown = [v for v in chosen if v not in known]
    if unknown or not chosen:
        raise UserError(f"{flag}: {', '.join(map(repr, unknown)) or 'nothing'} is not one of {', '.join(known)} "
                        "(a comma-separated list)")
    return chosen


def _check_images(args, source: ModelSource) -> CheckImages:
    """What the report scores the files on: --check PROJECT (or the training project, if still there) with --tag (or
    the validation tag); else demo images, for sizes and speeds only."""
    project = Path(args.check) if args.check else recorded_project(source.checkpoint)
    if args.check is None and (project is None or not project.is_dir()):
        if args.tag is not None:
            raise UserError("--tag: give --check PROJECT too (the model's training project is not reachable)")
        return CheckImages(demo_project(), None)
    tag = args.tag or source.info.settings["dataset_tags"]["val"]
    check_project(project, tag, source.info.classes)
    return CheckImages(project, tag)


def _main(argv: list[str] | None) -> None:
    p = ArgumentParser(prog="python -m trainer.export",
                       description="Export a trained model: SavedModel, frozen TF1 graph, TFLite files, export.json.")
    p.add_argument("model", metavar="MODEL", help="a run folder (its best checkpoint) or a checkpoint folder")
    p.add_argument("--output", metavar="DIR", required=True, help="the folder to write (new or empty)")
    p.add_argument("--config", metavar="FILE", help="inference config: its model.output_stride / atrous_rates and "
                                                    "tta are built into the SavedModel and the frozen graph")
    p.add_argument("--formats", default=",".join(FORMATS), metavar="LIST",
                   help=f"comma-separated, of {', '.join(FORMATS)} (default: all)")
    p.add_argument("--quantize", metavar="LIST", help=f"TFLite types, comma-separated, of "
                                                      f"{', '.join(QUANTIZATIONS)} (default: float32)")
    p.add_argument("--calibration", metavar="PROJECT", help="int8 / uint8: the project whose train split calibrates "
                                                            "(default: the model's training project, if still there)")
    p.add_argument("--calibration-images", type=int, default=100, metavar="N",
                   help="int8 / uint8: how many train images calibrate (default 100)")
    p.add_argument("--check", metavar="PROJECT", help="the project whose images the report scores every file on "
                                                      "(default: the model's training project, if still there)")
    p.add_argument("--tag", metavar="TAG", help="(report) the image tag of the images to score (default: the model's "
                                                "validation tag)")
    add_set_argument(p)
    args = p.parse_args(argv)

    formats = _choices(args.formats, FORMATS, "--formats")
    if args.quantize is not None and "tflite" not in formats:
        raise UserError("--quantize: only applies to TFLite files, and --formats has no tflite")
    quantize = _choices(args.quantize or "float32", tuple(QUANTIZATIONS), "--quantize")
    if args.calibration_images < 1:
        raise UserError(f"--calibration-images: {args.calibration_images} is less than 1")
    cfg = resolve_infer_config(args.config, args.overrides)
    if "tflite" in formats and (cfg["tta"]["scales"] != [1.0] or cfg["tta"]["flip"]):
        raise UserError(f"--config: tta {cfg['tta']} cannot go into a TFLite file (one fixed input size, one view): "
                        "drop tflite from --formats or export with a config without tta")
    source = InferenceSession.locate(Path(args.model), cfg, what="MODEL")
    if not isinstance(source, ModelSource):
        raise UserError(f"MODEL {args.model}: an exported model; export from its run or checkpoint folder")
    calibrated = [q for q in quantize if QUANTIZATIONS[q][0]] if "tflite" in formats else []
    calibration = Path(args.calibration) if args.calibration and calibrated else None
    if calibrated and calibration is None:
        calibration = recorded_project(source.checkpoint)
        if calibration is None or not calibration.is_dir():
            raise UserError(f"--calibration: needed for {' and '.join(calibrated)}: the model's training project is "
                            "not at its recorded place" + (f" ({calibration})" if calibration else ""))
    check = _check_images(args, source)
    output = Path(args.output)
    require_empty_output(output, "--output")

    # TensorFlow loads only once the inputs are known to be good.
    from trainer.export.run import ExportRequest, calibration_images, export_model

    images = calibration_images(calibration, source, args.calibration_images) if calibration else None
    if images is not None:
        say(f"calibrating on {len(images)} image(s) of {calibration}")
    request = ExportRequest(formats, quantize if "tflite" in formats else (), check, calibration=images)
    report = export_model(source, cfg, output, request)
    for line in table(report):
        say(line)
    say(f"output: {output}")


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
