"""Where a run stands, so an interrupted one continues as if never stopped.

Checkpoints are written only at validations, so the newest complete checkpoint fixes everything: its step
gives the epoch and the batches already consumed (the data order is a pure function of seed and epoch),
and its record ends metrics.jsonl (later lines came from the lost stretch and would be duplicated).
"""
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from trainer.config.resolve import saved_train_config
from trainer.errors import UserError
from trainer.io import point_link, read_json_lines, write_json, write_json_lines, writing
from trainer.model.checkpoint_folders import newest_checkpoint
from trainer.model.checkpoint_info import CheckpointInfo

RUN_FILE = "run.json"  # what a run needs besides its config to be resumed: the project it reads


@dataclass(frozen=True)
class RunState:
    step: int = 0
    records: list[dict] = field(default_factory=list)
    checkpoint: Path | None = None   # restore model and optimizer from here (None: start as a new run)


def start_run(run_dir: Path, cfg: dict, project: Path) -> None:
    write_json(run_dir / "config.json", cfg)
    write_json(run_dir / RUN_FILE, {"project": str(project.resolve())})


def recorded_project(checkpoint: Path) -> Path | None:
    """The project a checkpoint's run trained on, where the checkpoint sits in a run folder that records it."""
    run_file = checkpoint.parent.parent / RUN_FILE
    if checkpoint.parent.name != "checkpoints" or not run_file.is_file():
        return None
    try:
        return Path(json.loads(run_file.read_text(encoding="utf-8"))["project"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_run(run_dir: Path) -> tuple[dict, Path]:
    """The run's resolved config and project, refused if RUN is not a run folder this tool wrote."""
    try:
        cfg = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        project = Path(json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))["project"])
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"--resume {run_dir}: not a run folder of this tool (config.json and {RUN_FILE}): {e}") from None
    if not isinstance(cfg, dict):
        raise UserError(f"--resume {run_dir}: config.json is not a train config (not a JSON object)")
    return saved_train_config(cfg, f"--resume {run_dir}: config.json"), project


def resume_state(run_dir: Path, iters_per_epoch: int, writes: bool) -> RunState:
    """Where training continues: the run folder's newest complete checkpoint. The worker that `writes` the run
    folder also tidies it to that checkpoint; the others of a multi-worker run only read it."""
    if writes:
        with writing(run_dir / "checkpoints"):
            for leftover in (run_dir / "checkpoints").glob(".tmp-*"):
                shutil.rmtree(leftover)
    checkpoint = newest_checkpoint(run_dir)
    if checkpoint is None:
        records, state = [], RunState()
    else:
        info = CheckpointInfo.read(checkpoint)
        if info.iters_per_epoch != iters_per_epoch:
            raise UserError(f"--resume {run_dir}: the run had {info.iters_per_epoch} iterations per epoch, the "
                            f"project and devices now give {iters_per_epoch}: its images or devices have changed")
        step = info.step
        records = [r for r in read_json_lines(run_dir / "metrics.jsonl") if r["step"] < step] + [info.metrics]
        state = RunState(step=step, records=records, checkpoint=checkpoint)
        if writes:
            with writing(run_dir):
                point_link(run_dir / "last", checkpoint)
                point_link(run_dir / "best", run_dir / "checkpoints" / f"{best_record(records)['step']:08d}")
    if writes:
        with writing(run_dir / "metrics.jsonl"):
            write_json_lines(run_dir / "metrics.jsonl", records)
    return state


def best_record(records: list[dict]) -> dict:
    """The first record with the highest mean IoU (a later equal one is not better)."""
    return max(records, key=lambda r: r["mean_iou"] or 0.0)
