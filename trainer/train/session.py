"""A training run's steps in one place: read and check the project, then (TensorFlow only once the inputs are known
to be good) the strategy, the starting weights, the loop and the run folder; started fresh or resumed."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.data.classes import ClassMapping, build_class_mapping
from trainer.data.corrupted import check_corrupted, excess_lines, skipped_record
from trainer.data.project import open_project
from trainer.data.split import split_samples
from trainer.data.summary import summary_lines, warning_lines
from trainer.data.types import Problem, Project, Sample
from trainer.errors import DataError, WriteError
from trainer.io import write_json, writing
from trainer.model.init_mode import require_init_weights
from trainer.progress import say


@dataclass
class TrainData:
    """The project as a run uses it."""
    project: Project
    mapping: ClassMapping
    train: list[Sample]
    val: list[Sample]
    skipped: list[Problem]   # refused samples left out (allow_corrupted_samples)


def _classes(project: Project, cfg: dict) -> ClassMapping:
    return build_class_mapping(project.meta, cfg["special_classes"]["background"], cfg["special_classes"]["neutral"])


@dataclass
class ProjectCheck:
    """train.py --check: what training would find, as lines to print, and every reason it could not start."""
    lines: list[str]
    problems: list[str]


def check_project(project_root: Path, cfg: dict) -> ProjectCheck:
    project = open_project(project_root)
    lines = summary_lines(project, _classes(project, cfg), cfg["dataset_tags"], cfg["allow_corrupted_samples"])
    problems = excess_lines(project.problems, cfg["dataset_tags"], cfg["allow_corrupted_samples"])
    try:
        split_samples(project.samples, cfg["dataset_tags"]["train"], cfg["dataset_tags"]["val"])
    except DataError as error:
        problems += error.lines
    return ProjectCheck(lines, problems)


def read_data(project_root: Path, cfg: dict) -> TrainData:
    """The project read, its classes mapped, refused samples skipped (or the run refused), split by tags."""
    project = open_project(project_root)
    mapping = _classes(project, cfg)
    skipped = check_corrupted(project, cfg["dataset_tags"], cfg["allow_corrupted_samples"])
    train, val = split_samples(project.samples, cfg["dataset_tags"]["train"], cfg["dataset_tags"]["val"])
    return TrainData(project, mapping, train, val, skipped)


class TrainSession:
    """One run: `cfg` is its resolved config, `project_root` where its project is now, `run_dir` its folder; `resume`
    continues the run in `run_dir` from its newest checkpoint."""

    def __init__(self, cfg: dict, project_root: Path, run_dir: Path, resume: bool = False):
        self.cfg, self.project_root, self.run_dir, self.resume = cfg, project_root, run_dir, resume

    @classmethod
    def resumed(cls, run_dir: Path, project_root: Path | None = None) -> TrainSession:
        """The run in `run_dir` with its own config and project (`project_root`: where the project is now)."""
        from trainer.train.resume import read_run

        cfg, recorded = read_run(run_dir)
        return cls(cfg, project_root or recorded, run_dir, resume=True)

    def run(self) -> dict:
        """Train to the end (or an early stop); returns the best validation record."""
        cfg, run_dir = self.cfg, self.run_dir
        data = read_data(self.project_root, cfg)
        require_init_weights(cfg)   # before TensorFlow loads
        # The strategy comes first: a multi-worker one must be made before any other TensorFlow work.
        from trainer.train.strategy import make_strategy

        strategy, where = make_strategy(cfg["gpu_devices"], cfg["multi_worker"])
        from trainer.model.weights import init_source
        from trainer.train.loop import Trainer

        say(where)
        trainer = Trainer(cfg, data.mapping, data.train, data.val, run_dir, strategy, init_source(cfg, data.mapping))
        try:
            return self._train(trainer, data)
        except WriteError as error:
            raise error.advising(self._after_failed_write()) from None

    def _train(self, trainer, data: TrainData) -> dict:
        from trainer.train.resume import RunState, resume_state, start_run

        cfg, run_dir = self.cfg, self.run_dir
        if self.resume:
            state = resume_state(run_dir, trainer.iters_per_epoch, trainer.writes)
        else:
            state = RunState()
            if trainer.writes:
                with writing(run_dir):
                    run_dir.mkdir(parents=True, exist_ok=True)
                    start_run(run_dir, cfg, self.project_root)
        if trainer.writes:
            with writing(run_dir / "skipped_samples.json"):
                write_json(run_dir / "skipped_samples.json", skipped_record(data.skipped))
        say(f"project {self.project_root}: {len(data.train)} train / {len(data.val)} val images, "
            f"classes {data.mapping.class_title_to_idx} (neutral {data.mapping.neutral!r} ignored)")
        for (title, shape), count in sorted(data.project.skipped_shapes.items()):
            say(f"skipped {count} {shape} object(s) of class {title!r}: not an area")
        for line in warning_lines(data.project.warnings):
            say(line)
        say(f"run folder: {run_dir}")
        import tensorflow as tf

        try:
            return trainer.run(state)
        except tf.errors.OpError as error:
            from trainer.train.strategy import lost_worker

            lost = lost_worker(error, run_dir, cfg["multi_worker"]["heartbeat_timeout"])
            if lost is not None:
                raise lost from None
            failure = trainer.train_loader.failure or trainer.val_loader.failure
            if failure is None:
                raise
            raise DataError(f"{failure.lines[0]} (found while training: the start-up check reads image headers "
                            f"only); replace the file, then train.py --resume {run_dir} continues the run") from None

    def _after_failed_write(self) -> str:
        """How to go on once the cause of a failed write is fixed: a run folder that records its project resumes."""
        from trainer.train.resume import RUN_FILE

        if (self.run_dir / RUN_FILE).is_file():
            return f"run `train.py --resume {self.run_dir}`"
        return f"delete {self.run_dir} and start the run again"
