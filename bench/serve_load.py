"""Server load: a benchmark, not a test. Run `python bench/serve_load.py [--requests N] [--rounds N]
[--warm-up N] [--endurance N]`.

A real `python -m trainer.serve` process on 127.0.0.1 (a free port) with the mobilenetv2_deeplabv3 preset at
513×513 (random weights that label each image with 7–8 classes: see _model), called over HTTP (`/inference_image`,
full_image) with JPEGs of mixed sizes by 1, 4 and 16 concurrent clients on keep-alive connections, a bounded number
of requests each. It prints per client count the throughput, p50 / p95 / p99 latency and errors (must be 0), beside
- a bare batched model call at --max-batch on in-memory tensors (target: 16 clients ≥ 0.8× its images/s), with
  the server's allocator settings (trainer/serve/memory.py);
- a bare batch-1 model call plus decoding one image (target: 1 client's p50 ≤ 1.25× it);
both timed in this process with the server idle. This machine's speed drifts by ±15% within minutes, so after 32
requests that warm the server up, the clients run in --rounds rounds, each between two bare batched timings, and the
lone client's requests alternate with bare batch-1 calls and decodings; each ratio is the median of the rounds'
ratios (a round's against the mean of the batched timings around it, or the bare calls beside its requests);
then the server's RSS, read each time the server has been idle for a second longer than it waits before giving
freed memory back (trainer.serve.service.IDLE_TRIM_SECONDS), over --warm-up requests and over
--endurance more (target: the latter grows ≤ 5%; a leak would keep growing).
Timings depend on what else the machine runs: the load average is printed with them.
"""
import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trainer  # noqa: E402,F401 — sets TF_USE_LEGACY_KERAS before TensorFlow loads
from trainer.serve.memory import reuse_freed_memory  # noqa: E402

# The bare calls get the server's allocator settings (before TensorFlow starts its threads): the ratios compare
# what the server adds to the model, not two ways of allocating memory.
reuse_freed_memory()

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from tests.serve.server import Server  # noqa: E402
from trainer.config.resolve import resolve_train_config  # noqa: E402
from trainer.data.classes import ordered_mapping, voc_color  # noqa: E402
from trainer.data.images import decode_image_bytes  # noqa: E402
from trainer.model.zoo import class_titles  # noqa: E402

PRESET = "mobilenetv2_deeplabv3"
SIZES = [(513, 513), (480, 640), (375, 500), (600, 800), (333, 250)]   # (height, width)


def _model(folder: Path):
    """The preset with random weights and VOC's 21 classes, as a checkpoint folder.

    At initialisation MobileNetV2's activations fade to ~1e-12 by the logits, so every pixel's scores tie and one
    class fills every image: one object per response, the cheapest answer a server can write. Scaled up, the
    classifier's random projection labels the bench's smooth images with several classes in blobs, as a trained
    model labels a scene, so the server's share of the time (an object per class) is not understated."""
    from trainer.model.builder import build_model, classifier_variables
    from trainer.model.checkpoint_info import CheckpointInfo
    from trainer.model.checkpoints import write_folder

    cfg = resolve_train_config(None, PRESET, [])
    titles = class_titles("voc", cfg["special_classes"]["background"])
    info = CheckpointInfo(cfg, ordered_mapping(titles, {t: voc_color(i) for i, t in enumerate(titles)}, "neutral"))
    tf_keras.utils.set_random_seed(0)   # the same weights, so the same classes per image, on every run
    network = build_model(cfg["model"], len(titles))
    kernel = classifier_variables(network)[0]
    kernel.assign(kernel * 1e12)
    write_folder(folder, network, info)


def _images(count: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    images = []
    for i in range(count):
        height, width = SIZES[i % len(SIZES)]
        smooth = cv2.resize(rng.integers(0, 256, (height // 16 + 1, width // 16 + 1, 3), np.uint8), (width, height))
        images.append(cv2.imencode(".jpg", smooth)[1].tobytes())
    return images


def _predictor(folder: Path):
    from trainer.infer.predictor import Predictor
    from trainer.model.checkpoint_folders import ModelSource

    return Predictor.from_source(ModelSource.locate(folder), {"scales": [1.0], "flip": False})


def _seconds(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _bare_batched(predictor, max_batch: int) -> float:
    """Images/s of the model stage at max_batch, as a mean over calls (the clients' throughput is a mean)."""
    height, width = predictor.input_size
    batch = tf.constant(np.random.default_rng(1).uniform(0, 255, (max_batch, height, width, 3)), tf.float32)
    predictor.probabilities(batch)
    return max_batch / statistics.mean(_seconds(lambda: predictor.probabilities(batch)) for _ in range(8))


class _Uploads:
    """Each image's multipart body for /inference_image, encoded once, ahead, and sent over keep-alive connections
    (one per client and load): the figures are the server's, not a client library's. The clients share the server's
    cores, and python-requests spent 2.7 ms more per request than this (paired, against the same server)."""

    BOUNDARY = "deeplab-trainer-bench"

    def __init__(self, server: Server, images: list[bytes]):
        self.address = server.base.split("//")[1]
        self.bodies = [f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{i}.jpg"\r\n'
                       f"Content-Type: image/jpeg\r\n\r\n".encode() + data + f"\r\n--{self.BOUNDARY}--\r\n".encode()
                       for i, data in enumerate(images)]

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.address, timeout=120)

    def answer(self, connection: http.client.HTTPConnection, i: int) -> tuple[int, bytes]:
        """The i-th request's (image i mod the images') status and body."""
        connection.request("POST", "/inference_image", self.bodies[i % len(self.bodies)],
                           {"Content-Type": f"multipart/form-data; boundary={self.BOUNDARY}"})
        response = connection.getresponse()
        return response.status, response.read()

    def call(self, connection: http.client.HTTPConnection, i: int) -> tuple[float, int]:
        """The i-th request's seconds and status."""
        started = time.perf_counter()
        status, _ = self.answer(connection, i)
        return time.perf_counter() - started, status

    def objects(self) -> list[int]:
        """How many objects (predicted classes) the answer for each image size has."""
        connection = self.connect()
        return [len(json.loads(self.answer(connection, i)[1])["annotation"]["objects"]) for i in range(len(SIZES))]


def _rss_mb(pid: int) -> float:
    """Once the server has given freed memory back (trainer/serve/memory.py)."""
    from trainer.serve.service import IDLE_TRIM_SECONDS

    time.sleep(IDLE_TRIM_SECONDS + 1)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _load(uploads: _Uploads, clients: int, requests: int) -> dict:
    """`requests` calls by `clients` concurrent clients: their durations in seconds, statuses and wall time."""
    local = threading.local()

    def call(i: int) -> tuple[float, int]:
        if not hasattr(local, "connection"):
            local.connection = uploads.connect()
        return uploads.call(local.connection, i)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(call, range(requests)))
    return {"seconds": [seconds for seconds, _ in results], "errors": sum(status != 200 for _, status in results),
            "elapsed": time.perf_counter() - started}


def _lone(uploads: _Uploads, predictor, images: list[bytes], requests: int) -> tuple[dict, float]:
    """One client's `requests` calls (as `_load`), each followed by a bare batch-1 model call and the decoding of
    its image, timed in this process while the server is idle: side by side, so both see the machine at the same
    speed. Also the seconds of bare call plus decoding: the call's median plus the mean over image sizes of each
    size's median decoding (medians, against the client's p50)."""
    height, width = predictor.input_size
    single = tf.constant(np.random.default_rng(1).uniform(0, 255, (1, height, width, 3)), tf.float32)
    predictor.probabilities(single)
    results, bare, decode, connection = [], [], {}, uploads.connect()
    for i in range(requests):
        results.append(uploads.call(connection, i))
        bare.append(_seconds(lambda: predictor.probabilities(single)))
        data = images[i % len(images)]
        decode.setdefault(i % len(SIZES), []).append(_seconds(lambda: decode_image_bytes(data)))
    seconds = [seconds for seconds, _ in results]
    load = {"seconds": seconds, "errors": sum(status != 200 for _, status in results), "elapsed": sum(seconds)}
    return load, statistics.median(bare) + statistics.mean(statistics.median(d) for d in decode.values())


def _percentile(seconds: list[float], p: float) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def _rounds(uploads: _Uploads, predictor, images: list[bytes], args) -> None:
    """The clients in rounds, each between two bare batched timings; per client count its figures over all rounds,
    and the two ratios per round and their median."""
    counts = (1, 4, 16)
    _load(uploads, 16, 32)   # not measured: the server's heap grows to a full batch's peak
    batched, single, loads = [_bare_batched(predictor, args.max_batch)], [], []
    for _ in range(args.rounds):
        lone, bare = _lone(uploads, predictor, images, args.requests)
        loads.append({1: lone, **{clients: _load(uploads, clients, args.requests) for clients in counts[1:]}})
        single.append(bare)
        batched.append(_bare_batched(predictor, args.max_batch))
    print(f"bare model call: batch {args.max_batch} between the rounds {' / '.join(f'{b:.2f}' for b in batched)} "
          f"img/s; batch 1 + decoding beside the lone client's requests "
          f"{' / '.join(f'{s * 1000:.0f}' for s in single)} ms")
    for clients in counts:
        seconds = [s for load in loads for s in load[clients]["seconds"]]
        elapsed = sum(load[clients]["elapsed"] for load in loads)
        errors = sum(load[clients]["errors"] for load in loads)
        print(f"{clients:>2} client(s): {len(seconds) / elapsed:.2f} img/s  p50 {_percentile(seconds, 50):.0f} ms  "
              f"p95 {_percentile(seconds, 95):.0f} ms  p99 {_percentile(seconds, 99):.0f} ms  "
              f"errors {errors}/{len(seconds)}")
    throughput = [len(load[16]["seconds"]) / load[16]["elapsed"] / ((before + after) / 2)
                  for load, before, after in zip(loads, batched, batched[1:])]
    latency = [_percentile(load[1]["seconds"], 50) / 1000 / bare for load, bare in zip(loads, single)]
    print(f"16 clients / bare batched: {statistics.median(throughput):.2f} (target ≥ 0.8; rounds "
          f"{', '.join(f'{r:.2f}' for r in throughput)}); 1 client p50 / (bare batch 1 + decoding): "
          f"{statistics.median(latency):.2f} (target ≤ 1.25; rounds {', '.join(f'{r:.2f}' for r in latency)})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=96,
                   help="requests per client count and round (default 96: six waves of 16 clients, past the ramp-up)")
    p.add_argument("--rounds", type=int, default=5, help="rounds of the clients between bare timings (default 5)")
    p.add_argument("--warm-up", type=int, default=1000,
                   help="requests of 16 clients before the measured ones (default 1000)")
    p.add_argument("--endurance", type=int, default=2000, help="requests between the RSS readings (default 2000)")
    p.add_argument("--max-batch", type=int, default=8)
    args = p.parse_args()
    images = _images(40)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / PRESET
        _model(folder)
        print(f"load average {os.getloadavg()[0]:.2f}; {PRESET} at 513², 21 classes, JPEGs of {len(SIZES)} sizes")
        predictor = _predictor(folder)
        server = Server(folder, "--max-batch", str(args.max_batch))
        try:
            uploads = _Uploads(server, images)
            print(f"objects per answer, by image size: {', '.join(map(str, uploads.objects()))}")
            _rounds(uploads, predictor, images, args)
            errors = 0
            for phase, requests in (("warm-up", args.warm_up), ("measured", args.endurance)):
                rss = [_rss_mb(server.process.pid)]
                for _ in range(4):   # the trajectory tells a plateau from a leak
                    errors += _load(uploads, 16, requests // 4)["errors"]
                    rss.append(_rss_mb(server.process.pid))
                print(f"{phase}: RSS every {requests // 4} requests of 16 clients: "
                      f"{' → '.join(f'{r:.0f}' for r in rss)} MB ({100 * (rss[-1] / rss[0] - 1):+.1f}% over {requests})")
            print(f"target: the measured phase grows ≤ +5%; errors {errors}")
        except BaseException:
            print("the load failed; the server's last output:\n" + "".join(server.out[-20:] + server.err[-40:]))
            raise
        finally:
            print(f"server stopped with status {server.stop()}")


if __name__ == "__main__":
    main()
