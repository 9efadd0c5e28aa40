"""A real server process on a free loopback port, as a user starts it, an HTTP client for it, and the requests and
checks the server tests share."""
import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import requests

from tests.conftest import REPO
from trainer.data.geometry import decode_bitmap

STARTUP_SECONDS = 300
# A request's `mode` settings, one per inference mode, sized for the tiny project's 64×64 images.
MODES = {
    "full_image": {"name": "full_image"},
    "sliding_window": {"name": "sliding_window", "window": {"width": 40, "height": 40},
                       "min_overlap": {"x": 16, "y": 16}, "save": True, "class_name": "window"},
    "roi": {"name": "roi", "bounds": {"left": "8px", "top": "4px", "right": "12px", "bottom": "6px"}, "save": True,
            "class_name": "roi"},
    "bboxes": {"name": "bboxes", "save": True},
}


class Server:
    def __init__(self, model: Path, *args: str, token: str | None = None):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("DEEPLAB_TRAINER_TOKEN", None)
        if token:
            env["DEEPLAB_TRAINER_TOKEN"] = token
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.process = subprocess.Popen([sys.executable, "-m", "trainer.serve", "--model", str(model), "--port", "0",
                                         *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=lambda s=stream, l=lines: l.extend(s), daemon=True).start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not any(line.startswith("serving ") for line in self.out):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"server did not start: {''.join(self.out)}{''.join(self.err)}")
            time.sleep(0.1)
        line = next(line for line in self.out if line.startswith("serving "))
        self.base = line.split(" on ")[1].split(" ")[0]
        self.name = line.split(" ")[1]

    def url(self, path: str) -> str:
        return self.base + path

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url(path), headers={**self.headers, **kwargs.pop("headers", {})}, timeout=120,
                             **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url(path), headers={**self.headers, **kwargs.pop("headers", {})}, timeout=60,
                            **kwargs)

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM, and the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def annotate(server: Server, sample, mode: dict, with_annotation: bool = True) -> requests.Response:
    """/inference_image for a project sample in a mode, with the sample's annotation (as infer.py reads it) or not."""
    settings = {"mode": mode, **({"annotation": sample.raw_ann} if with_annotation else {})}
    return server.post("/inference_image", files={"files": (sample.name, sample.image_path.read_bytes())},
                       data={"settings": json.dumps(settings)})


def batches(server: Server) -> tuple[int, int]:
    """(model calls, crops scored) so far, from /metrics."""
    values = dict(line.rsplit(" ", 1) for line in server.get("/metrics").text.splitlines()
                  if line.startswith(("deeplab_batch_size_count", "deeplab_batch_size_sum")))
    return int(values["deeplab_batch_size_count"]), round(float(values["deeplab_batch_size_sum"]))


def predicted_labels(prediction: dict) -> np.ndarray:
    """The class index map of one of TF Serving's predictions (a base64 PNG)."""
    return cv2.imdecode(np.frombuffer(base64.b64decode(prediction["labels"]["b64"]), np.uint8), cv2.IMREAD_UNCHANGED)


def assert_same_objects(got: dict, expected: dict) -> None:
    """Two annotations' objects: the same classes in the same order, each bitmap the same mask at the same place
    (decoded, so a message names the object that differs), and then the same JSON altogether."""
    titles = [o["classTitle"] for o in got["objects"]]
    assert titles == [o["classTitle"] for o in expected["objects"]]
    for title, a, b in zip(titles, got["objects"], expected["objects"]):
        assert a["geometryType"] == b["geometryType"], title
        if a["geometryType"] == "bitmap":
            assert a["bitmap"]["origin"] == b["bitmap"]["origin"], title
            np.testing.assert_array_equal(decode_bitmap(a["bitmap"]["data"]), decode_bitmap(b["bitmap"]["data"]),
                                          err_msg=title)
    assert got == expected


def assert_concurrent_answers_are_sequential(server: Server, samples: list, clients: int) -> None:
    """`clients` requests (full_image and sliding_window in turn) started together are each answered as when sent
    alone, and crops of different requests shared model calls."""
    jobs = [(samples[i % len(samples)], MODES["full_image" if i % 2 else "sliding_window"]) for i in range(clients)]
    sequential = [annotate(server, s, m).json() for s, m in jobs]
    batched_before = batches(server)
    start = threading.Barrier(len(jobs))

    def call(job):
        start.wait()
        return annotate(server, *job)

    with ThreadPoolExecutor(len(jobs)) as pool:
        responses = list(pool.map(call, jobs))
    assert [r.status_code for r in responses] == [200] * len(jobs)
    assert [r.json() for r in responses] == sequential
    calls, crops = (after - before for after, before in zip(batches(server), batched_before))
    assert crops > calls
