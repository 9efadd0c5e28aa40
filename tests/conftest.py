"""Shared fixtures: small generated projects, a trained tiny run, and CLI runners."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from trainer.data.demo import write_synthetic_project  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
COMPAT = REPO.parent / "shared" / "compat"

# A tiny but real training setting: 64×64 inputs, 6 train images in batches of 3 = 2 iterations per epoch.
TINY_OVERRIDES = [
    "--set", 'input_size={"width": 64, "height": 64}',
    "--set", 'batch_size={"train": 3, "val": 3}',
    "--set", "epochs=2", "--set", "val_every=0.5", "--set", "lr=0.003",
    "--set", 'data_workers={"train": 1, "val": 1}',
]


def run_script(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run train.py / infer.py as a user would, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=900)


def tensorboard_values(run: Path) -> dict[str, list[tuple[int, object]]]:
    """{tag: [(step, value)]} of RUN/tensorboard as TensorBoard's Python loader serves them (purging orphaned data,
    its default), every value kept."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

    events = EventMultiplexer({"run": str(run / "tensorboard")}, size_guidance={"tensors": 0})
    events.Reload()
    return {tag: [(e.step, tf.make_ndarray(e.tensor_proto)) for e in events.Tensors("run", tag)]
            for tag in events.Runs()["run"]["tensors"]}


def run_cli_reporting_tensorflow(cli: str, *args: str) -> subprocess.CompletedProcess:
    """trainer.cli.<cli>.main in a fresh interpreter whose last stdout line says whether TensorFlow got imported."""
    code = (f"import sys; from trainer.cli.{cli} import main; status = main(sys.argv[1:]); "
            "print('tensorflow loaded:', 'tensorflow' in sys.modules); sys.exit(status)")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory) -> Path:
    return write_synthetic_project(tmp_path_factory.mktemp("data") / "tiny", train=6, val=3, size=(64, 64), seed=1)


@pytest.fixture(scope="session")
def trained_run(tiny_project, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "tiny"
    result = run_script("train.py", "--project", str(tiny_project), "--output", str(run), *TINY_OVERRIDES)
    assert result.returncode == 0, result.stdout + result.stderr
    return run


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def kept_checkpoints(records: list[dict], keep_last: int = 3) -> list[str]:
    """The checkpoint folders a run with these validation records keeps (checkpoints.keep_last, default 3): the
    newest `keep_last` and the best (the first with the highest mean IoU)."""
    best = max(records, key=lambda r: r["mean_iou"] or 0.0)["step"]
    return sorted(f"{step:08d}" for step in {r["step"] for r in records[-keep_last:]} | {best})
