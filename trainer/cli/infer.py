"""`infer.py`: apply a trained run or checkpoint to a project and write a new annotated project."""
from pathlib import Path

from trainer.cli.common import fresh_dir, parser, run_cli
from trainer.cli.train import RUNS_ROOT
from trainer.config.resolve import resolve_infer_config
from trainer.data.demo import demo_project
from trainer.data.supervisely import read_project
from trainer.errors import DataError
from trainer.io import require_empty_output
from trainer.progress import say


def _default_output(model_dir: Path) -> Path:
    """Next to the run (a checkpoint folder inside a run counts as that run)."""
    owner = model_dir.resolve().parent.parent if model_dir.resolve().parent.name == "checkpoints" else model_dir
    return fresh_dir(owner.parent, f"{owner.name}-inference")


def _main(argv: list[str] | None) -> None:
    p = parser("infer.py", "Apply a trained DeepLab model to a Supervisely project.")
    p.add_argument("--model", metavar="RUN_OR_CHECKPOINT_DIR",
                   help="a run folder (its best checkpoint is used) or a checkpoint folder "
                        "(default: the newest run under ./runs/)")
    args = p.parse_args(argv)

    cfg = resolve_infer_config(args.config, args.overrides)
    from trainer.model.checkpoints import find_checkpoint, newest_run  # TensorFlow loads from here on

    model_dir = Path(args.model) if args.model else newest_run(RUNS_ROOT)
    checkpoint = find_checkpoint(model_dir)
    project_root = Path(args.project) if args.project else demo_project()
    output = Path(args.output) if args.output else _default_output(model_dir)
    require_empty_output(output, "output folder")
    project = read_project(project_root)
    if project.problems:
        raise DataError(*map(str, project.problems))

    from trainer.devices import use_gpus
    from trainer.infer.run import infer_project

    say(use_gpus([cfg["model"]["gpu_device"]], "model.gpu_device"))
    say(f"model: {checkpoint}")
    infer_project(cfg["mode"], checkpoint, project, output)
    say(f"output: {output}")


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
