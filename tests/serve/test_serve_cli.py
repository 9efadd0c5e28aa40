"""The server end to end: a real process on a free loopback port, called over HTTP as clients call it."""
import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from PIL import Image

from tests.conftest import run_cli_reporting_tensorflow
from tests.serve.server import MODES, Server, annotate, assert_concurrent_answers_are_sequential, predicted_labels
from trainer.config.resolve import resolve_infer_config
from trainer.data.geometry import decode_bitmap
from trainer.data.supervisely import read_project
from trainer.errors import ConfigError

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def server(trained_run):
    started = Server(trained_run, "--max-request-mb", "1", "--max-image-pixels", "100000", "--batch-wait-ms", "50",
                     token=TOKEN)
    yield started
    assert started.stop() == 0


@pytest.fixture(scope="module")
def samples(tiny_project):
    return read_project(tiny_project).samples


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def infer_py_predictor(trained_run):
    from trainer.infer.predictor import Predictor
    from trainer.model.checkpoint_folders import ModelSource

    return Predictor.from_source(ModelSource.locate(trained_run), resolve_infer_config(None, [])["tta"])


def test_the_model_is_warmed_up_for_lone_and_shared_requests(trained_run):
    """Before the port opens, the model is traced for both ways a request is scored (alone in one call, or in
    stages sharing the batcher's calls): the first request of either kind does not wait for a trace."""
    from trainer.infer.session import InferenceSession
    from trainer.serve.service import Limits, ModelService

    cfg = resolve_infer_config(None, [])
    service = ModelService.open(InferenceSession.locate(trained_run, cfg), cfg, {}, "--config",
                                Limits(8, 5, 64, 32, 40_000_000), "tiny")
    try:
        scorer, traced = service.predictor.scorer, []
        model = scorer.model
        # the traced graphs hold the model they were traced with; only a new trace would call this one
        scorer.model = lambda images, training=False: traced.append(images.shape) or model(images, training=training)
        image = np.random.default_rng(0).integers(0, 256, (1, 37, 53, 3), np.uint8)
        np.testing.assert_array_equal(service.predictor.labels(image), service.predictor.shared_labels(image))
        assert traced == []
    finally:
        service.close()


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_inference_image_is_what_infer_py_writes(server, infer_py_predictor, tiny_project, samples, tmp_path, mode):
    """infer.py's own job (its config resolution, session and project writer), run here to spare a TensorFlow start
    per mode."""
    from trainer.infer.run import infer_project
    from trainer.infer.session import InferenceSession

    cfg = resolve_infer_config(None, [f"mode={json.dumps(MODES[mode])}"])
    assert not infer_project(InferenceSession(infer_py_predictor, cfg), read_project(tiny_project), tmp_path / "out")
    for sample in samples:
        response = annotate(server, sample, MODES[mode])
        assert response.status_code == 200, response.text
        written = json.loads((tmp_path / "out" / sample.dataset / "ann" / f"{sample.name}.json").read_text())
        assert response.json()["annotation"] == written, sample.name


def test_responses_read_back_as_a_supervisely_project(server, samples, tmp_path):
    """/get_output_classes_and_tags and /inference_image together are a project our reader takes without loss."""
    mode = MODES["sliding_window"]
    meta = server.post("/get_output_classes_and_tags", json={"state": {"settings": {"mode": mode}}, "context": {}})
    assert meta.status_code == 200, meta.text
    root = tmp_path / "project"
    (root / "ds" / "img").mkdir(parents=True)
    (root / "ds" / "ann").mkdir()
    (root / "meta.json").write_text(meta.text)
    sent = {}
    for sample in samples:
        annotation = annotate(server, sample, mode, with_annotation=False).json()["annotation"]
        (root / "ds" / "img" / sample.name).write_bytes(sample.image_path.read_bytes())
        (root / "ds" / "ann" / f"{sample.name}.json").write_text(json.dumps(annotation))
        sent[sample.name] = annotation
    project = read_project(root)
    assert not project.problems and len(project.samples) == len(samples)
    titles = {c.title for c in project.meta.classes}
    assert {"bg_deeplab", "window"} <= titles
    for sample in project.samples:
        objects = sent[sample.name]["objects"]
        assert [o.class_title for o in sample.objects] == [o["classTitle"] for o in objects]
        bitmaps = [o for o in objects if o["geometryType"] == "bitmap"]
        covered = sum(int(decode_bitmap(o["bitmap"]["data"]).sum()) for o in bitmaps)
        assert covered == sample.height * sample.width   # one class per pixel, every pixel (windows cover it all)


def test_concurrent_clients_get_their_sequential_answers(server, samples):
    assert_concurrent_answers_are_sequential(server, samples, 16)


def _refused(response: requests.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and all(w in body["message"] for w in words), body
    assert "Traceback" not in response.text and response.headers["x-request-id"]
    return body["message"]


def test_bad_input_gets_its_status_and_message_and_the_server_stays_healthy(server, samples):
    sample = samples[0]
    image = sample.image_path.read_bytes()
    _refused(server.post("/inference_image", files={"files": ("big.bin", b"\0" * (2 << 20))}), 413,
             "--max-request-mb")
    bomb = _png(np.zeros((400, 400, 3), np.uint8))   # a few kilobytes, 160000 pixels
    assert len(bomb) < 2 ** 20
    _refused(server.post("/inference_image", files={"files": ("bomb.png", bomb)}), 413, "160000 pixels",
             "--max-image-pixels")
    _refused(server.post("/inference_image", files={"files": ("notes.txt", b"hello")}), 400, "notes.txt",
             "not a readable image")
    _refused(server.post("/inference_image", files={"files": ("cut.jpg", image[:len(image) // 3])}), 400,
             "cut.jpg", "not a readable image")
    _refused(server.post("/inference_image", files=[("files", ("a.jpg", image)), ("files", ("b.jpg", image))]), 400,
             "Only one file expected")
    _refused(server.post("/inference_image", data={"settings": "{}"}), 422, "files")
    _refused(server.post("/inference_image", files={"files": ("a.jpg", image)}, data={"settings": "{mode"}), 400,
             "settings", "not JSON")
    # the settings are checked as infer.py checks its config, with its messages
    mode = {"name": "sliding_window", "window": {"width": 0, "height": 40}}
    with pytest.raises(ConfigError) as infer_py:
        resolve_infer_config(None, [f"mode={json.dumps(mode)}"])
    expected = infer_py.value.lines[0].split(": ", 1)[1]
    assert "mode.window.width" in expected
    message = _refused(annotate(server, sample, mode), 422, "mode.window.width")
    assert expected in message
    _refused(server.post("/inference_image", files={"files": ("a.jpg", image)},
                         data={"settings": json.dumps({"model": {"output_stride": 8}})}), 422, "model",
             "fixed when the server started")
    _refused(annotate(server, sample, {"name": "roi", "bounds": {"left": "70px"}}), 400, "leave nothing")
    _refused(server.get("/no/such/route"), 404)
    assert server.get("/healthz").json() == {"status": "alive"}
    assert server.get("/readyz").status_code == 200
    assert annotate(server, sample, MODES["full_image"]).status_code == 200


def test_token_is_required_on_every_route_but_healthz(server):
    for method, path in (("post", "/get_session_info"), ("get", "/metrics"), ("get", "/readyz"), ("get", "/docs"),
                         ("post", "/inference_image")):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = getattr(requests, method)(server.url(path), headers=headers, timeout=30)
            _refused(response, 401, "token")
    assert requests.get(server.url("/healthz"), timeout=30).status_code == 200
    assert server.post("/get_session_info").status_code == 200


def test_info_meta_and_settings_routes(server, trained_run):
    info = server.post("/get_session_info", json={"state": {}, "context": {}}).json()
    assert info["task type"] == "semantic segmentation" and info["batch_inference_support"] is True
    assert info["classes"] == ["bg", "circle", "marker", "ring", "square", "triangle"]
    assert info["number_of_classes"] == 6 and info["input_size"] == {"height": 64, "width": 64}
    assert info["sliding_window_support"] == "advanced" and info["max_batch_size"] == 8
    settings = server.post("/get_custom_inference_settings").json()["settings"]
    assert settings == resolve_infer_config(None, [])
    meta = server.post("/get_model_meta").json()
    assert meta == server.post("/get_output_classes_and_tags").json()
    assert [(c["title"], c["shape"]) for c in meta["classes"]] == [(t + "_deeplab", "bitmap") for t in info["classes"]]
    paths = server.get("/openapi.json").json()["paths"]
    for route in ("/get_session_info", "/get_output_classes_and_tags", "/get_model_meta",
                  "/get_custom_inference_settings", "/inference_image", "/inference_batch", "/model/inference",
                  "/model/get_out_meta", "/v1/models/{name}", "/v1/models/{name}:predict", "/healthz", "/readyz",
                  "/metrics"):
        assert route in paths
    metrics = server.get("/metrics").text
    assert 'deeplab_requests_total{route="/get_session_info",status="200"}' in metrics
    assert "deeplab_images_served_total" in metrics and "deeplab_queue_depth" in metrics


def test_batch_and_plugin_routes_answer_as_inference_image(server, samples, tiny_project):
    single = [annotate(server, s, MODES["full_image"], with_annotation=False).json() for s in samples[:3]]
    batch = server.post("/inference_batch", files=[("files", (s.name, s.image_path.read_bytes())) for s in samples[:3]])
    assert batch.status_code == 200 and batch.json() == single
    sample = samples[1]
    meta = (tiny_project / "meta.json").read_text()
    plugin = server.post("/model/inference", files={"image": (sample.name, sample.image_path.read_bytes())},
                         data={"annotation": json.dumps(sample.raw_ann), "meta": meta,
                               "mode": json.dumps(MODES["bboxes"])})
    assert plugin.status_code == 200, plugin.text
    assert plugin.json() == annotate(server, sample, MODES["bboxes"]).json()["annotation"]
    out_meta = server.post("/model/get_out_meta", data={"meta": meta, "mode": json.dumps(MODES["bboxes"])}).json()
    titles = [c["title"] for c in out_meta["classes"]]
    assert titles[:6] == [c["title"] for c in json.loads(meta)["classes"]] and "square_input_bbox" in titles


def test_tf_serving_predict_gives_the_full_image_labels(server, samples):
    status = server.get(f"/v1/models/{server.name}").json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    _refused(server.get("/v1/models/other"), 404, "other")
    body = {"instances": [{"b64": base64.b64encode(s.image_path.read_bytes()).decode()} for s in samples[:2]]}
    response = server.post(f"/v1/models/{server.name}:predict", json=body)
    assert response.status_code == 200, response.text
    for sample, prediction in zip(samples, response.json()["predictions"]):
        labels = predicted_labels(prediction)
        expected = np.full(labels.shape, -1)
        titles = ["bg", "circle", "marker", "ring", "square", "triangle"]
        for obj in annotate(server, sample, MODES["full_image"], with_annotation=False).json()["annotation"]["objects"]:
            mask = decode_bitmap(obj["bitmap"]["data"])
            left, top = obj["bitmap"]["origin"]
            expected[top:top + mask.shape[0], left:left + mask.shape[1]][mask] = titles.index(obj["classTitle"][:-8])
        np.testing.assert_array_equal(labels, expected)
    _refused(server.post(f"/v1/models/{server.name}:predict", json={"instances": [{"b64": "%%%"}]}), 400, "base64")


@pytest.mark.slow   # a second server process
def test_full_queue_answers_503_and_sigterm_drains_requests_in_flight(trained_run, samples):
    server = Server(trained_run, "--queue", "2", "--max-batch", "1", "--batch-wait-ms", "0")
    slow = {"name": "sliding_window", "window": {"width": 8, "height": 8}, "min_overlap": {"x": 4, "y": 4}}
    try:
        with ThreadPoolExecutor(8) as clients:
            responses = list(clients.map(lambda s: annotate(server, s, slow), samples[:8]))
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(503) >= 1 and statuses.count(200) >= 2, statuses
        busy = next(r for r in responses if r.status_code == 503)
        assert busy.headers["Retry-After"] == "1"
        _refused(busy, 503, "--queue 2")
        with ThreadPoolExecutor(2) as clients:
            in_flight = [clients.submit(annotate, server, s, slow) for s in samples[:2]]
            while "deeplab_queue_depth 2" not in server.get("/metrics").text:
                assert not any(f.done() for f in in_flight)
            assert server.stop() == 0
            assert [f.result().status_code for f in in_flight] == [200, 200]
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url("/healthz"), timeout=10)
    finally:
        server.process.kill()


def test_bad_model_config_or_port_exit_2_before_loading_tensorflow(tmp_path, trained_run):
    result = run_cli_reporting_tensorflow("serve", "--model", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "not a checkpoint folder" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout.endswith("tensorflow loaded: False\n")
    result = run_cli_reporting_tensorflow("serve", "--model", str(trained_run), "--set", "mode.name=nope")
    assert result.returncode == 2 and "mode.name" in result.stderr, result.stderr
    with __import__("socket").socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_cli_reporting_tensorflow("serve", "--model", str(trained_run), "--port", port)
    assert result.returncode == 2 and f"--port {port}: cannot listen there" in result.stderr, result.stderr
    assert result.stdout.endswith("tensorflow loaded: False\n")
