"""Several replicas train like one device: MirroredStrategy on 2 logical CPUs, and 2 workers on localhost."""
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY_OVERRIDES, read_jsonl, run_script

# Runs in a fresh interpreter: the CPU must be split before TensorFlow initialises.
_PARITY = textwrap.dedent("""
    import json, os, sys
    import trainer  # sets TF_USE_LEGACY_KERAS before TensorFlow loads
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from trainer.config.resolve import resolve_train_config
    from trainer.data.classes import build_class_mapping
    from trainer.data.split import split_samples
    from trainer.data.supervisely import read_project
    from trainer.train.loop import Trainer

    project = read_project(sys.argv[1])
    mapping = build_class_mapping(project.meta, "bg", "neutral")
    train, val = split_samples(project.samples, "train", "val")
    def trainer(per_device, strategy):
        cfg = resolve_train_config(None, "demo", ['input_size={"width": 64, "height": 64}',
                                                  f'batch_size={{"train": {per_device}, "val": 2}}',
                                                  'model={"depth_multiplier": 0.35, "batchnorm_momentum": 0.9}'])
        return Trainer(cfg, mapping, train, val, None, strategy)
    one = trainer(4, None)
    two = trainer(2, tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    assert two.strategy.num_replicas_in_sync == 2 and two.train_batch == one.train_batch == 4
    two.model.set_weights(one.model.get_weights())
    out = {}
    for name, t in (("one", one), ("two", two)):
        images, labels = next(iter(t.batches(train=True, epoch=0)))
        out[name + "_loss"] = t.train_step(images, labels, 0)[0]
        out[name + "_weights"] = [w.tolist() for w in t.model.get_weights()[-2:]]
        out[name + "_moving_mean"] = t.model.get_weights()[3].tolist()
    print(json.dumps(out))
""")


@pytest.mark.slow   # about a minute: the default run keeps the single-process checks
def test_two_replicas_give_the_loss_and_update_of_one_device(tiny_project):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", _PARITY, str(tiny_project)], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["two_loss"] == pytest.approx(out["one_loss"], rel=1e-4)
    # same update (batch statistics are synchronised across replicas, gradients summed)
    import numpy as np
    for a, b in zip(out["one_weights"], out["two_weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(out["one_moving_mean"], out["two_moving_mean"], rtol=1e-4, atol=1e-6)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(args: list[str], workers: list[str], outputs: list | None = None) -> list[subprocess.Popen]:
    """train.py with `args` as one worker per address of `workers` on localhost (TF_CONFIG), started; each writes
    to its file of `outputs` (default: a pipe)."""
    procs = []
    for index in range(len(workers)):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CONFIG": json.dumps(tf_config)}
        procs.append(subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], env=env, text=True,
                                      stdout=outputs[index] if outputs else subprocess.PIPE, stderr=subprocess.STDOUT))
    return procs


def _run_workers(args: list[str], count: int = 2) -> list[str]:
    """train.py with `args` as `count` workers on localhost; their outputs, once all exited 0."""
    procs = _start_workers(args, [f"localhost:{port}" for port in _free_ports(count)])
    try:
        outputs = [p.communicate(timeout=420)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0] * count, "\n".join(o[-3000:] for o in outputs)
    return outputs


@pytest.mark.slow
def test_two_workers_on_localhost_train_together(tiny_project, tmp_path):
    """~2 minutes on 2 shared cores: most of it is the first step under MultiWorkerMirroredStrategy."""
    run = tmp_path / "run"
    outputs = _run_workers(["--project", str(tiny_project), "--output", str(run),
                            "--set", 'input_size={"width": 64, "height": 64}',
                            "--set", 'batch_size={"train": 3, "val": 3}',
                            "--set", "epochs=2", "--set", "val_every=1", "--set", 'model={"depth_multiplier": 0.35}'])
    assert "2 replicas in all" in outputs[0] and "2 replicas in all" in outputs[1]
    # global batch 2 x 3 = the 6 train images: one step per epoch; only worker 0 writes the run folder
    records = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2]
    assert f"mean IoU {records[-1]['mean_iou']:.4f}" in outputs[1]   # worker 1 computed the same metrics
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["00000001", "00000002"]


def _one_and_two_workers(project, runs, *settings: str) -> tuple[list[dict], list[dict]]:
    """metrics.jsonl of one run on 1 worker (batch 4) and on 2 workers (2 each), validating after each step. Global
    batch 4 of the 6 train images: step 1 is full (2 + 2), step 2 short (1 + 1); validation is 4 of 3 (2 + 1). The
    same seed gives both the same initial weights. SGD, as Adam's first steps (update ≈ ±lr whatever the gradient's
    size) turn float noise in near-zero gradients into whole updates."""
    common = ["--project", str(project), *TINY_OVERRIDES, "--set", "epochs=1", "--set", 'optimizer={"name": "sgd"}',
              *settings]
    one = run_script("train.py", *common, "--output", str(runs / "one"), "--set", 'batch_size={"train": 4, "val": 4}')
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]
    _run_workers([*common, "--output", str(runs / "two"), "--set", 'batch_size={"train": 2, "val": 2}'])
    one_records, two_records = (read_jsonl(runs / name / "metrics.jsonl") for name in ("one", "two"))
    assert [r["step"] for r in one_records] == [r["step"] for r in two_records] == [1, 2]
    return one_records, two_records


@pytest.fixture(scope="module")
def workers_runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("workers")


@pytest.fixture(scope="module")
def one_and_two_workers(tiny_project, workers_runs) -> tuple[list[dict], list[dict]]:
    """From random weights, BatchNorm training."""
    return _one_and_two_workers(tiny_project, workers_runs / "trained-batchnorm")


@pytest.mark.slow
def test_two_workers_give_the_losses_of_one_worker_with_the_same_global_batch(one_and_two_workers):
    """Each worker loads only its share, yet the first step's loss and update are one worker's: the validation
    after it (each worker validating its share) gives the same loss. The validation loss reads the moving variance,
    which one device's fused BatchNorm updates with Bessel's correction and the synchronised one without."""
    (one, _), (two, _) = one_and_two_workers
    assert two["train_loss"] == pytest.approx(one["train_loss"], rel=1e-5)
    assert two["val_loss"] == pytest.approx(one["val_loss"], rel=1e-4)


@pytest.mark.slow
def test_two_workers_give_one_workers_losses_after_updates_and_for_the_short_last_batch(
        tiny_project, workers_runs, one_and_two_workers):
    """Both steps, the short last batch (1 + 1) included, and both validations agree to 1e-5, fine-tuning with
    BatchNorm frozen as the presets do. With BatchNorm training from random weights the losses after an update
    differ by about 0.4%, and that is float noise, not the split: there the gradient is ill-conditioned (BatchNorm's
    backward pass subtracts near-equal terms), so on one worker alone a 1e-6 relative change of the input images
    moves it by up to 9%, and one device's fused BatchNorm kernel and the synchronised one differ by 1–2%."""
    one, two = _one_and_two_workers(tiny_project, workers_runs / "frozen-batchnorm", "--set", "freeze_batchnorm=true",
                                    "--set", f'init_weights="{workers_runs / "trained-batchnorm" / "one" / "best"}"')
    for a, b in zip(one, two):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-5)


@pytest.mark.slow
def test_a_lost_worker_stops_the_others_and_both_resume(tiny_project, tmp_path):
    """Worker 1 killed after the first checkpoint: worker 0 stops within the heartbeat timeout with one line naming
    it; both started again with --resume finish the run with every planned validation. About 4 minutes."""
    run = tmp_path / "run"
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    files = [log.open("w") for log in logs]
    procs = _start_workers(["--project", str(tiny_project), "--output", str(run), *TINY_OVERRIDES,
                            "--set", 'batch_size={"train": 3, "val": 3}', "--set", "epochs=4", "--set", "val_every=1",
                            "--set", 'multi_worker={"heartbeat_timeout": 5}'],
                           workers, files)
    try:
        deadline = time.monotonic() + 420
        while "→ checkpoints/" not in logs[0].read_text():   # a complete checkpoint to resume from
            assert time.monotonic() < deadline and procs[0].poll() is None, logs[0].read_text()[-3000:]
            time.sleep(0.2)
        procs[1].kill()
        killed = time.monotonic()
        assert procs[0].wait(timeout=120) == 2, logs[0].read_text()[-3000:]
        stopped_after = time.monotonic() - killed
    finally:
        for proc in procs:
            proc.kill()
        for file in files:
            file.close()
    out = logs[0].read_text()
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: lost worker 1 ({workers[1]})"), out[-3000:]
    assert f"train.py --resume {run}" in errors[0] and "Traceback" not in out
    assert stopped_after < 60
    assert 1 <= len(read_jsonl(run / "metrics.jsonl")) < 4

    outputs = _run_workers(["--resume", str(run)])
    assert all("resumed from" in output for output in outputs)
    assert [r["step"] for r in read_jsonl(run / "metrics.jsonl")] == [1, 2, 3, 4]
    assert (run / "last").resolve().name == "00000004"
