"""How a lost worker is reported, from the errors TensorFlow 2.20 raised on a 2-worker localhost run when the other
worker was killed (the end-to-end run is test_distributed.py's, in the slow set)."""
import json

import pytest
import tensorflow as tf

from trainer.train.strategy import lost_worker

WORKERS = ["hostA:2222", "hostB:2222"]
# worker 0 (the coordination service's leader) after worker 1 was killed
HEARTBEATS = ("{{function_node __wrapped__CollectiveReduceV2_Nordering_token_1_device_/job:worker/replica:0/task:0/"
              "device:CPU:0}} Collective ops is aborted by: Error reported from /job:worker/task:1: The following "
              "tasks are unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have "
              "crashed. Check the task logs for an earlier error, or scheduler events (e.g. preemption, eviction) to "
              "debug further.")
# worker 1 after worker 0 was killed
SOCKET = ("{{function_node __wrapped__CollectiveReduceV2_Nordering_token_1_device_/job:worker/replica:0/task:1/"
          "device:CPU:0}} Collective ops is aborted by: Socket closed\nAdditional GRPC error information from remote "
          "target /job:worker/replica:0/task:0")


def _as_worker(monkeypatch, index: int) -> None:
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": WORKERS},
                                                "task": {"type": "worker", "index": index}}))


@pytest.mark.parametrize("me, message, expected", [
    (0, HEARTBEATS, "lost worker 1 (hostB:2222): no heartbeat for 7 s; training stopped. Start every worker again "
                    "with `train.py --resume runs/x`: the run continues from its newest checkpoint"),
    (1, SOCKET, "lost worker 0 (hostA:2222): Socket closed; training stopped. Start every worker again with "
                "`train.py --resume runs/x`: the run continues from its newest checkpoint"),
])
def test_the_lost_worker_is_named_with_its_address_and_how_to_go_on(monkeypatch, me, message, expected):
    _as_worker(monkeypatch, me)
    assert str(lost_worker(tf.errors.UnavailableError(None, None, message), "runs/x", 7)) == expected


def test_other_failures_are_not_a_lost_worker(monkeypatch):
    _as_worker(monkeypatch, 0)
    assert lost_worker(tf.errors.InvalidArgumentError(None, None, "bad image"), "runs/x", 7) is None
    monkeypatch.delenv("TF_CONFIG")
    assert lost_worker(tf.errors.UnavailableError(None, None, HEARTBEATS), "runs/x", 7) is None
