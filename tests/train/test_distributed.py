"""Several replicas train like one device: MirroredStrategy on 2 logical CPUs, and 2 workers on localhost."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO, read_jsonl

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


@pytest.mark.slow
def test_two_workers_on_localhost_train_together(tiny_project, tmp_path):
    """~2 minutes on 2 shared cores: most of it is the first step under MultiWorkerMirroredStrategy."""
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    run = tmp_path / "run"
    args = [sys.executable, str(REPO / "train.py"), "--project", str(tiny_project), "--output", str(run),
            "--set", 'input_size={"width": 64, "height": 64}', "--set", 'batch_size={"train": 3, "val": 3}',
            "--set", "epochs=2", "--set", "val_every=1", "--set", 'model={"depth_multiplier": 0.35}']
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CONFIG": json.dumps(tf_config)}
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [p.communicate(timeout=420)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    assert "2 replicas in all" in outputs[0] and "2 replicas in all" in outputs[1]
    # global batch 2 x 3 = the 6 train images: one step per epoch; only worker 0 writes the run folder
    records = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2]
    assert f"mean IoU {records[-1]['mean_iou']:.4f}" in outputs[1]   # worker 1 computed the same metrics
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["00000001", "00000002"]
