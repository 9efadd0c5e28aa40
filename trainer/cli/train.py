"""`train.py`: resolve the config, read the project, train, report where the run went."""
from pathlib import Path

from trainer.cli.common import RUNS_ROOT, fresh_dir, parser, run_cli, timestamp
from trainer.config.resolve import resolve_train_config
from trainer.data.classes import build_class_mapping
from trainer.data.corrupted import check_corrupted, excess_lines, skipped_record
from trainer.data.demo import demo_project
from trainer.data.project import open_project
from trainer.data.split import split_samples
from trainer.data.summary import summary_lines, warning_lines
from trainer.errors import DataError, UserError
from trainer.io import require_empty_output, write_json
from trainer.progress import fmt_metric, say


def _check(project_root: Path, cfg: dict) -> None:
    """--check: read and validate everything training would, print what was found, train nothing."""
    project = open_project(project_root)
    mapping = build_class_mapping(project.meta, cfg["special_classes"]["background"],
                                  cfg["special_classes"]["neutral"])
    for line in summary_lines(project, mapping, cfg["dataset_tags"], cfg["allow_corrupted_samples"]):
        say(line)
    problems = excess_lines(project.problems, cfg["dataset_tags"], cfg["allow_corrupted_samples"])
    try:
        split_samples(project.samples, cfg["dataset_tags"]["train"], cfg["dataset_tags"]["val"])
    except DataError as error:
        problems += error.lines
    if problems:
        raise DataError(*problems)
    say("check passed: the project can be trained on")


def _main(argv: list[str] | None) -> None:
    p = parser("train.py", "Train a DeepLabV3/V3+ model on a Supervisely or PNG-mask project.")
    p.add_argument("--preset", metavar="NAME", help="named preset to start from (default: demo, when no --config)")
    p.add_argument("--check", action="store_true",
                   help="only read and validate the project and print a summary (no training, no run folder)")
    p.add_argument("--resume", metavar="RUN", help="continue the interrupted run RUN from its newest checkpoint, "
                                                    "with its own config and project (--project: the project's new place)")
    args = p.parse_args(argv)

    if args.resume:
        clashes = [flag for flag, given in (("--config", args.config), ("--preset", args.preset),
                                            ("--set", args.overrides), ("--output", args.output)) if given]
        if clashes:
            raise UserError(f"--resume continues a run with its own config and folder: not with {', '.join(clashes)}")
        from trainer.train.resume import read_run

        run_dir = Path(args.resume)
        cfg, project_root = read_run(run_dir)
        project_root = Path(args.project) if args.project else project_root
    else:
        cfg = resolve_train_config(args.config, args.preset, args.overrides)
        project_root = Path(args.project) if args.project else demo_project()
        name = cfg.get("preset") or (Path(args.config).stem if args.config else "run")
        run_dir = Path(args.output) if args.output else fresh_dir(RUNS_ROOT, f"{name}-{timestamp()}")
        if not args.check:  # --check writes nothing, so any --output is fine
            require_empty_output(run_dir, "output folder")

    if args.check:
        _check(project_root, cfg)
        return
    project = open_project(project_root)
    mapping = build_class_mapping(project.meta, cfg["special_classes"]["background"],
                                  cfg["special_classes"]["neutral"])
    skipped = check_corrupted(project, cfg["dataset_tags"], cfg["allow_corrupted_samples"])
    train_samples, val_samples = split_samples(project.samples, cfg["dataset_tags"]["train"],
                                               cfg["dataset_tags"]["val"])

    # TensorFlow loads only once the inputs are known to be good; the strategy comes first, as a
    # multi-worker one must be made before any other TensorFlow work.
    from trainer.train.strategy import make_strategy

    strategy, where = make_strategy(cfg["gpu_devices"])
    from trainer.model.weights import init_source
    from trainer.train.loop import Trainer
    from trainer.train.resume import RunState, resume_state, start_run

    say(where)
    trainer = Trainer(cfg, mapping, train_samples, val_samples, run_dir, strategy, init_source(cfg, mapping))
    if args.resume:
        state = resume_state(run_dir, trainer.iters_per_epoch)
    else:
        state = RunState()
        if trainer.writes:
            run_dir.mkdir(parents=True, exist_ok=True)
            start_run(run_dir, cfg, project_root)
    if trainer.writes:
        write_json(run_dir / "skipped_samples.json", skipped_record(skipped))
    say(f"project {project_root}: {len(train_samples)} train / {len(val_samples)} val images, "
        f"classes {mapping.class_title_to_idx} (neutral {mapping.neutral!r} ignored)")
    for (title, shape), count in sorted(project.skipped_shapes.items()):
        say(f"skipped {count} {shape} object(s) of class {title!r}: not an area")
    for line in warning_lines(project.warnings):
        say(line)
    say(f"run folder: {run_dir}")
    best = trainer.run(state)
    say(f"done: best mean IoU {fmt_metric(best['mean_iou'])} at epoch {best['epoch']:g} → {run_dir / 'best'}")
    say(f"output: {run_dir}")


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
