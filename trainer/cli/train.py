"""`train.py`: resolve the config, check the paths, run the training session, report where the run went."""
from pathlib import Path

from trainer.cli.common import RUNS_ROOT, fresh_dir, parser, run_cli, timestamp
from trainer.config.resolve import resolve_train_config
from trainer.data.demo import demo_project
from trainer.errors import DataError, UserError
from trainer.io import require_empty_output
from trainer.progress import fmt_metric, say
from trainer.train.session import TrainSession, check_project


def _main(argv: list[str] | None) -> None:
    p = parser("train.py", "Train a DeepLabV3/V3+ model on a Supervisely or PNG-mask project.")
    p.add_argument("--preset", metavar="NAME", help="named preset to start from (default: demo, when no --config)")
    p.add_argument("--check", action="store_true",
                   help="only read and validate the project and print a summary (no training, no run folder)")
    p.add_argument("--resume", metavar="RUN", help="continue the interrupted run RUN from its newest checkpoint, "
                                                    "with its own config and project (--project: the project's new place)")
    args = p.parse_args(argv)

    project = Path(args.project) if args.project else None
    if args.resume:
        clashes = [flag for flag, given in (("--config", args.config), ("--preset", args.preset),
                                            ("--set", args.overrides), ("--output", args.output)) if given]
        if clashes:
            raise UserError(f"--resume continues a run with its own config and folder: not with {', '.join(clashes)}")
        session = TrainSession.resumed(Path(args.resume), project)
    else:
        cfg = resolve_train_config(args.config, args.preset, args.overrides)
        name = cfg.get("preset") or (Path(args.config).stem if args.config else "run")
        run_dir = Path(args.output) if args.output else fresh_dir(RUNS_ROOT, f"{name}-{timestamp()}")
        if not args.check:  # --check writes nothing, so any --output is fine
            require_empty_output(run_dir, "output folder")
        session = TrainSession(cfg, project or demo_project(), run_dir)

    if args.check:
        check = check_project(session.project_root, session.cfg)
        for line in check.lines:
            say(line)
        if check.problems:
            raise DataError(*check.problems)
        say("check passed: the project can be trained on")
        return
    best = session.run()
    say(f"done: best mean IoU {fmt_metric(best['mean_iou'])} at epoch {best['epoch']:g} → {session.run_dir / 'best'}")
    say(f"output: {session.run_dir}")


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
