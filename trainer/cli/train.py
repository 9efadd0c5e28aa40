"""`train.py`: resolve the config, read the project, train, report where the run went."""
from pathlib import Path

from trainer.cli.common import fresh_dir, parser, run_cli, timestamp
from trainer.config.resolve import resolve_train_config
from trainer.data.classes import build_class_mapping
from trainer.data.corrupted import check_corrupted
from trainer.data.demo import demo_project
from trainer.data.split import split_samples
from trainer.data.supervisely import read_project
from trainer.errors import UserError
from trainer.io import require_empty_output, write_json
from trainer.progress import fmt_metric, say

RUNS_ROOT = Path("runs")


def _check_weights_init(cfg: dict) -> None:
    # Loading weights to start from comes with `init_weights` (training issue); until then there is
    # nothing to continue from, and transfer learning starts from random weights as the plugin did
    # with an empty model folder.
    if cfg["weights_init_type"] == "continue_training":
        raise UserError("weights_init_type: continue_training needs a checkpoint to continue from, and loading "
                        "checkpoints (init_weights) is not implemented yet: use transfer_learning")
    say("weights_init_type transfer_learning: no weights to start from, initialising randomly")


def _main(argv: list[str] | None) -> None:
    p = parser("train.py", "Train a DeepLabV3/V3+ model on a Supervisely project.")
    p.add_argument("--preset", metavar="NAME", help="named preset to start from (default: demo, when no --config)")
    args = p.parse_args(argv)

    cfg = resolve_train_config(args.config, args.preset, args.overrides)
    _check_weights_init(cfg)
    project_root = Path(args.project) if args.project else demo_project()
    name = cfg.get("preset") or (Path(args.config).stem if args.config else "run")
    run_dir = Path(args.output) if args.output else fresh_dir(RUNS_ROOT, f"{name}-{timestamp()}")
    require_empty_output(run_dir, "output folder")

    project = read_project(project_root)
    mapping = build_class_mapping(project.meta, cfg["special_classes"]["background"],
                                  cfg["special_classes"]["neutral"])
    train_samples, val_samples = split_samples(project.samples, cfg["dataset_tags"]["train"],
                                               cfg["dataset_tags"]["val"])
    check_corrupted(project, cfg["allow_corrupted_samples"]["train"] + cfg["allow_corrupted_samples"]["val"])

    from trainer.devices import use_gpus  # TensorFlow loads only once the inputs are known to be good
    from trainer.train.loop import Trainer

    say(use_gpus(cfg["gpu_devices"], "gpu_devices"))
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", cfg)
    say(f"project {project_root}: {len(train_samples)} train / {len(val_samples)} val images, "
        f"classes {mapping.class_title_to_idx} (neutral {mapping.neutral!r} ignored)")
    for (title, shape), count in sorted(project.skipped_shapes.items()):
        say(f"skipped {count} {shape} object(s) of class {title!r}: not an area")
    say(f"run folder: {run_dir}")
    best = Trainer(cfg, mapping, train_samples, val_samples, run_dir).run()
    say(f"done: best mean IoU {fmt_metric(best['mean_iou'])} at epoch {best['epoch']:g} → {run_dir / 'best'}")
    say(f"output: {run_dir}")


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
