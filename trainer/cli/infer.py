"""`infer.py`: apply a trained run or checkpoint to a project and write a new annotated project."""
from pathlib import Path

from trainer.cli.common import RUNS_ROOT, fresh_dir, parser, run_cli
from trainer.config.resolve import resolve_infer_config
from trainer.data.demo import demo_project
from trainer.data.project import open_project
from trainer.errors import DataError, UserError
from trainer.infer.session import InferenceSession
from trainer.io import require_empty_output
from trainer.model.checkpoint_folders import newest_run
from trainer.progress import say


def _default_output(model: Path) -> Path:
    """Next to the run (a checkpoint folder inside a run counts as that run), or next to the export folder of an
    exported file."""
    if model.is_file():
        folder = model.parent if model.parent.name else model.resolve().parent
        return fresh_dir(folder.parent, f"{folder.name}-{model.stem}-inference")
    owner = model.resolve().parent.parent if model.resolve().parent.name == "checkpoints" else model
    return fresh_dir(owner.parent, f"{owner.name}-inference")


def _main(argv: list[str] | None) -> None:
    p = parser("infer.py", "Apply a trained DeepLab model to a Supervisely project.")
    p.add_argument("--model", metavar="MODEL",
                   help="a run folder (its best checkpoint is used), a checkpoint folder, or an exported SavedModel "
                        "folder or .tflite file (default: the newest run under ./runs/)")
    p.add_argument("--evaluate", action="store_true",
                   help="compare the predictions with the project's annotations: metrics.json and a per-class table")
    p.add_argument("--tag", metavar="TAG",
                   help="(--evaluate) the image tag of the images to evaluate (default: the model's validation tag)")
    p.add_argument("--save-masks", action="store_true",
                   help="also write per image a PNG of class indices and a colour overlay")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted run of this same command into the same --output")
    args = p.parse_args(argv)
    if args.tag is not None and not args.evaluate:
        raise UserError("--tag: only used with --evaluate")

    cfg = resolve_infer_config(args.config, args.overrides)
    model_dir = Path(args.model) if args.model else newest_run(RUNS_ROOT)
    source = InferenceSession.locate(model_dir, cfg)
    project_root = Path(args.project) if args.project else demo_project()
    output = Path(args.output) if args.output else _default_output(model_dir)
    require_empty_output(output, "output folder")
    project = open_project(project_root, check_images=False)
    if not project.samples:
        raise DataError(*map(str, project.problems), f"{project_root}: no readable image to annotate")
    tag = (args.tag or source.info.settings["dataset_tags"]["val"]) if args.evaluate else None

    # TensorFlow loads only once the inputs are known to be good.
    from trainer.infer.run import Options, infer_project

    session = InferenceSession.open(source, cfg)
    problems = infer_project(session, project, output, Options(args.save_masks, tag, args.resume))
    say(f"output: {output}")
    if problems:
        raise DataError(*problems)


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
