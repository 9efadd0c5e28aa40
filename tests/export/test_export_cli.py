"""`python -m trainer.export`: every format of a small trained model, each loaded and run in a fresh process and
compared with the checkpoint it came from (marked slow: .ci/run runs them); bad input exits 2 with one line and
writes nothing."""
import base64
import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import REPO, run_script
from tests.serve.server import (MODES, Server, annotate, assert_concurrent_answers_are_sequential,
                                assert_same_objects, predicted_labels)
from trainer.data.demo import write_synthetic_project
from trainer.data.images import read_image
from trainer.data.supervisely import read_project

QUANTIZE = ["float32", "float16", "int8", "uint8"]
# Tests on the one export of every format and type (about 4 minutes with its report and infer.py runs).
needs_export = pytest.mark.slow


def export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer.export", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    """Every format and type; int8 / uint8 calibrated on the run's own (recorded) training project."""
    out = tmp_path_factory.mktemp("export") / "out"
    result = export(str(trained_run), "--output", str(out), "--quantize", ",".join(QUANTIZE),
                    "--calibration-images", "6")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"output: {out}" in result.stdout and "calibrating on 6 image(s)" in result.stdout
    assert 'export report over 3 image(s) tagged "val"' in result.stdout
    return out


# Runs every exported file in a fresh interpreter that has never seen the checkpoint.
_RUN_EXPORTS = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    import tensorflow as tf
    from trainer.export.tflite import run_tflite

    out, images, pngs = Path(sys.argv[1]), np.load(sys.argv[2]), [Path(p).read_bytes() for p in sys.argv[3:]]
    results = {}
    served = tf.saved_model.load(str(out / "saved_model"))
    outputs = served.signatures["serving_default"](images=tf.constant(images))
    results["saved_model_labels"] = outputs["labels"].numpy()
    results["saved_model_probabilities"] = outputs["probabilities"].numpy()
    decoded = served.signatures["image_bytes"](image_bytes=tf.constant(pngs))
    results["bytes_labels"], results["bytes_sizes"] = decoded["labels"].numpy(), decoded["image_size"].numpy()
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((out / "frozen_inference_graph.pb").read_bytes())
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            results["frozen"] = np.stack([session.run("SemanticPredictions:0", {"ImageTensor:0": image[None]})[0]
                                          for image in images])
    for quantize in ("float32", "float16", "int8", "uint8"):
        results[quantize] = run_tflite(out / f"model_{quantize}.tflite", images.astype(np.float32))
    np.savez(out.parent / "results.npz", **results)
""")


@pytest.fixture(scope="module")
def inputs(tiny_project, tmp_path_factory) -> tuple[np.ndarray, Path, list[str]]:
    """The project's images (64×64, the input size), the same saved as .npy, and two of them as PNG files of two
    sizes (one batch of the image_bytes signature: its outputs padded to the largest)."""
    images = np.stack([read_image(s.image_path) for s in read_project(tiny_project).samples])
    work = tmp_path_factory.mktemp("inputs")
    np.save(work / "images.npy", images)
    pngs = []
    for i, size in enumerate([(64, 64), (40, 56)]):
        path = work / f"{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(cv2.resize(images[i], size[::-1]), cv2.COLOR_RGB2BGR))
        pngs.append(str(path))
    return images, work / "images.npy", pngs


@pytest.fixture(scope="module")
def results(exported, inputs):
    """Outputs of every exported file on the project's images (64×64, the input size), and the checkpoint's own."""
    from trainer.infer.predictor import Predictor
    from trainer.model.checkpoint_folders import ModelSource
    from trainer.model.checkpoints import load_checkpoint_model

    images, npy, pngs = inputs
    child = subprocess.run([sys.executable, "-c", _RUN_EXPORTS, str(exported), str(npy), *pngs],
                           cwd=REPO, capture_output=True, text=True, timeout=600)
    assert child.returncode == 0, child.stderr[-3000:]
    source = ModelSource.locate(json.loads((exported / "export.json").read_text())["checkpoint"])
    predictor = Predictor.from_source(source, {"scales": [1.0], "flip": False})
    reference = {"scores": predictor.scores(images), "logits": load_checkpoint_model(source)(images).numpy(),
                 "bytes": [predictor.scores(read_image(p)[None])[0].argmax(-1) for p in pngs]}
    return dict(np.load(exported.parent / "results.npz")), reference


@needs_export
def test_saved_model_gives_infer_py_labels_and_probabilities(results):
    outputs, reference = results
    np.testing.assert_array_equal(outputs["saved_model_labels"], reference["scores"].argmax(-1))
    np.testing.assert_allclose(outputs["saved_model_probabilities"], reference["scores"], atol=1e-6)


@needs_export
def test_image_bytes_signature_decodes_each_image_at_its_size(results):
    outputs, reference = results
    np.testing.assert_array_equal(outputs["bytes_sizes"], [[64, 64], [40, 56]])
    for labels, (height, width), expected in zip(outputs["bytes_labels"], outputs["bytes_sizes"], reference["bytes"]):
        np.testing.assert_array_equal(labels[:height, :width], expected)
        assert (labels[height:] == -1).all() and (labels[:, width:] == -1).all()


@needs_export
def test_frozen_graph_runs_under_tf1_by_research_deeplabs_names(results):
    outputs, reference = results
    assert outputs["frozen"].dtype == np.int64
    np.testing.assert_array_equal(outputs["frozen"], reference["scores"].argmax(-1))


@needs_export
@pytest.mark.parametrize("quantize, agreement, logit_error", [
    ("float32", 1.0, 1e-4), ("float16", 0.999, 1e-2), ("int8", 0.97, None), ("uint8", 0.97, None)])
def test_tflite_files_reproduce_the_logits(results, quantize, agreement, logit_error):
    outputs, reference = results
    logits = reference["logits"]
    assert outputs[quantize].shape == logits.shape
    assert (outputs[quantize].argmax(-1) == logits.argmax(-1)).mean() >= agreement
    if logit_error is not None:
        assert np.abs(outputs[quantize] - logits).max() <= logit_error * np.abs(logits).max()


@needs_export
def test_metadata_states_the_contract_and_the_digests(exported, trained_run):
    info = json.loads((exported / "export.json").read_text())
    assert [c["title"] for c in info["classes"]][0] == info["background"] == "bg" and info["neutral"] == "neutral"
    assert info["input_size"] == {"height": 64, "width": 64} and info["output_stride"] == 16
    assert info["versions"]["tensorflow"] and info["training_settings"]["input_size"] == info["input_size"]
    files = info["files"]
    assert sorted(files) == sorted(["saved_model", "frozen_inference_graph.pb",
                                    *(f"model_{q}.tflite" for q in QUANTIZE)])
    for name, entry in files.items():
        if entry["format"] == "tflite":
            assert hashlib.sha256((exported / name).read_bytes()).hexdigest() == entry["sha256"]
            assert entry["input"]["shape"] == [1, 64, 64, 3]
            assert entry["output"]["shape"] == [1, 64, 64, len(info["classes"])]
    assert files["model_uint8.tflite"]["input"]["dtype"] == files["model_uint8.tflite"]["output"]["dtype"] == "uint8"
    assert files["model_int8.tflite"]["input"]["dtype"] == "float32"
    assert files["model_int8.tflite"]["input"]["quantization"] is None
    saved = files["saved_model"]["sha256"]
    assert saved["saved_model.pb"] == hashlib.sha256((exported / "saved_model" / "saved_model.pb").read_bytes()).hexdigest()


@needs_export
def test_report_scores_every_file_beside_the_original(exported, checkpoint_inference):
    report = json.loads((exported / "export_report.json").read_text())
    assert (report["images"], report["tag"], report["accuracy"]) == (3, "val", True)
    rows = {row["file"]: row for row in report["rows"]}
    assert list(rows) == ["checkpoint", "saved_model", "frozen_inference_graph.pb",
                          *(f"model_{q}.tflite" for q in QUANTIZE)]
    evaluated = json.loads((checkpoint_inference / "metrics.json").read_text())   # infer.py --evaluate's figures
    assert rows["checkpoint"]["mean_iou"] == pytest.approx(evaluated["mean_iou"], abs=1e-9)
    for name in ("saved_model", "frozen_inference_graph.pb", "model_float32.tflite"):
        assert rows[name]["agreement"] == 1.0 and rows[name]["mean_iou"] == pytest.approx(evaluated["mean_iou"])
    assert rows["saved_model"]["max_probability_difference"] <= 1e-6
    assert rows["frozen_inference_graph.pb"]["max_probability_difference"] is None   # labels only
    assert rows["model_int8.tflite"]["max_probability_difference"] is None and rows["model_int8.tflite"]["agreement"] >= 0.97
    for row in rows.values():
        assert set(row["ms_per_image"]) == {"1", "2"} and all(ms > 0 for ms in row["ms_per_image"].values())
        assert (row["bytes"] is None) == (row["file"] == "checkpoint")


@needs_export
def test_saved_model_cli_lists_both_signatures(exported):
    result = subprocess.run([sys.executable, "-c", "from tensorflow.python.tools.saved_model_cli import main; main()",
                             "show", "--dir", str(exported / "saved_model"), "--all"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "signature_def['serving_default']" in result.stdout and "signature_def['image_bytes']" in result.stdout
    assert "labels" in result.stdout and "probabilities" in result.stdout


@pytest.fixture(scope="module")
def unusable_calibration(tmp_path_factory):
    """A project without the train split, one whose train images are unreadable, one with a class more (sorted
    last, so no index moves)."""
    root = tmp_path_factory.mktemp("calibration")
    no_train = write_synthetic_project(root / "no-train", train=0, val=2, size=(32, 32))
    broken = write_synthetic_project(root / "broken", train=2, val=1, size=(32, 32))
    for image in broken.glob("*/img/*"):
        image.write_bytes(b"not an image")
    other = write_synthetic_project(root / "other-classes", train=1, val=1, size=(32, 32))
    meta = json.loads((other / "meta.json").read_text())
    meta["classes"].append({"title": "zebra", "shape": "bitmap", "color": "#123456", "geometry_config": {}})
    (other / "meta.json").write_text(json.dumps(meta))
    return no_train, broken, other


@pytest.mark.parametrize("case", ["not a model", "unknown format", "unknown type", "no train split",
                                  "no readable image", "existing output", "tta into tflite", "quantize without tflite",
                                  "check without the tag", "check with other classes",
                                  "check with no readable image"])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, trained_run, tiny_project, unusable_calibration,
                                                            tmp_path):
    no_train, broken, other = unusable_calibration
    out = tmp_path / "out"
    args, message = {
        "not a model": ([str(tmp_path), "--output", str(out)], f"error: MODEL {tmp_path}: not a checkpoint folder"),
        "unknown format": ([str(trained_run), "--output", str(out), "--formats", "onnx"],
                           "error: --formats: 'onnx' is not one of saved_model, frozen_graph, tflite"),
        "unknown type": ([str(trained_run), "--output", str(out), "--quantize", "int4"],
                         "error: --quantize: 'int4' is not one of float32, float16, int8, uint8"),
        "no train split": ([str(trained_run), "--output", str(out), "--quantize", "int8", "--calibration", str(no_train)],
                           f'error: --calibration {no_train}: no image tagged "train"'),
        "no readable image": ([str(trained_run), "--output", str(out), "--formats", "tflite", "--quantize", "uint8",
                               "--calibration", str(broken)], f'error: --calibration {broken}: none of the 2 "train"'),
        "existing output": ([str(trained_run), "--output", str(trained_run)], f"error: --output {trained_run} already"),
        "tta into tflite": ([str(trained_run), "--output", str(out), "--set", "tta.flip=true"],
                            "error: --config: tta"),
        "quantize without tflite": ([str(trained_run), "--output", str(out), "--formats", "saved_model",
                                     "--quantize", "int8"], "error: --quantize: only applies to TFLite files"),
        "check without the tag": ([str(trained_run), "--output", str(out), "--check", str(tiny_project), "--tag", "x"],
                                  f'error: --check {tiny_project}: no image tagged "x"'),
        "check with other classes": ([str(trained_run), "--output", str(out), "--check", str(other)],
                                     f"error: --check {other}: the model's classes do not match the project's: "
                                     'class "zebra" is in the project but not in the checkpoint'),
        "check with no readable image": ([str(trained_run), "--output", str(out), "--formats", "saved_model",
                                          "--check", str(broken)],
                                         f'error: --check {broken}: none of the 1 images tagged "val" is readable '
                                         f"({next(broken.glob('*/img/*'))}: not a readable image"),
    }[case]
    result = export(*args)
    assert result.returncode == 2 and result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def _annotations(output) -> dict:
    return {path.relative_to(output).as_posix(): json.loads(path.read_text()) for path in output.glob("*/ann/*.json")}


@pytest.fixture(scope="module")
def checkpoint_inference(trained_run, tiny_project, tmp_path_factory):
    out = tmp_path_factory.mktemp("infer") / "checkpoint"
    result = run_script("infer.py", "--model", str(trained_run), "--project", str(tiny_project), "--output", str(out),
                        "--evaluate")
    assert result.returncode == 0, result.stderr
    return out


def _infer_py(model: Path, project: Path, out: Path, *args: str) -> Path:
    result = run_script("infer.py", "--model", str(model), "--project", str(project), "--output", str(out), *args)
    assert result.returncode == 0, result.stderr
    assert f"model: {model}" in result.stdout
    return out


@pytest.fixture(scope="module")
def saved_model_inference(exported, tiny_project, tmp_path_factory):
    """infer.py --evaluate with the exported SavedModel as --model, in its default mode (full_image)."""
    return _infer_py(exported / "saved_model", tiny_project, tmp_path_factory.mktemp("infer") / "saved_model",
                     "--evaluate")


@pytest.fixture(scope="module")
def tflite_inference(exported, tiny_project, tmp_path_factory):
    """infer.py with the exported float32 TFLite file as --model, in its default mode (full_image)."""
    return _infer_py(exported / "model_float32.tflite", tiny_project, tmp_path_factory.mktemp("infer") / "tflite")


@needs_export
def test_infer_py_runs_the_saved_model_as_the_checkpoint(saved_model_inference, checkpoint_inference):
    out = saved_model_inference
    assert _annotations(out) == _annotations(checkpoint_inference)
    assert (out / "metrics.json").read_text() == (checkpoint_inference / "metrics.json").read_text()
    assert (out / "meta.json").read_text() == (checkpoint_inference / "meta.json").read_text()


@needs_export
def test_infer_py_evaluates_a_tflite_file(exported, checkpoint_inference, tiny_project, tmp_path):
    out = tmp_path / "tflite"
    result = run_script("infer.py", "--model", str(exported / "model_float32.tflite"), "--project", str(tiny_project),
                        "--output", str(out), "--evaluate", "--set", "mode.name=sliding_window",
                        "--set", 'mode.window={"width": 48, "height": 48}')
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 3 and 0 <= metrics["mean_iou"] <= 1
    assert sorted(_annotations(out)) == sorted(_annotations(checkpoint_inference))


@needs_export
@pytest.mark.parametrize("model, sets, message", [
    ("model_int8.tflite", ["tta.flip=true"], "error: tta: "),
    ("saved_model", ["model.output_stride=8"], "error: model.output_stride: 8 differs from the 16 built into"),
])
def test_infer_py_refuses_what_an_export_cannot_change(exported, tiny_project, tmp_path, model, sets, message):
    result = run_script("infer.py", "--model", str(exported / model), "--project", str(tiny_project),
                        "--output", str(tmp_path / "out"), *(arg for s in sets for arg in ("--set", s)))
    assert result.returncode == 2 and result.stderr.startswith(message), result.stderr
    assert not (tmp_path / "out").exists()


# The server on each exported model (`--model` as infer.py takes it): one process per model for the module, stopped
# (SIGTERM, exit status 0) when the module's tests are done. The SavedModel's waits for company (as
# tests/serve/test_serve_cli.py's), so concurrent clients' crops share its signature's calls.
SERVED = {   # the file → what its server reports as model_format (ExportedModel.kind), its fixtures
    "saved_model": ("saved_model", "saved_model_server", "saved_model_inference"),
    "model_float32.tflite": ("tflite", "tflite_server", "tflite_inference"),
}


@pytest.fixture(scope="module")
def saved_model_server(exported):
    server = Server(exported / "saved_model", "--batch-wait-ms", "50")
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="module")
def tflite_server(exported):
    server = Server(exported / "model_float32.tflite")
    yield server
    assert server.stop() == 0


@needs_export
@pytest.mark.parametrize("model", SERVED)
def test_server_on_an_export_reports_its_format_and_classes(model, request, exported):
    kind, server, _ = SERVED[model]
    info = request.getfixturevalue(server).post("/get_session_info").json()
    metadata = json.loads((exported / "export.json").read_text())
    assert info["model_format"] == kind and info["model_files"] == str(exported / model)
    titles = [c["title"] for c in metadata["classes"]]
    assert info["classes"] == titles == ["bg", "circle", "marker", "ring", "square", "triangle"]
    assert info["number_of_classes"] == 6 and info["input_size"] == metadata["input_size"]
    assert info["output_stride"] == metadata["output_stride"]


@needs_export
@pytest.mark.parametrize("model", SERVED)
def test_server_on_an_export_answers_what_infer_py_writes_with_it(model, request, tiny_project):
    _, server, inference = SERVED[model]
    server, written = request.getfixturevalue(server), request.getfixturevalue(inference)
    for sample in read_project(tiny_project).samples:
        response = annotate(server, sample, MODES["full_image"])
        assert response.status_code == 200, response.text
        expected = json.loads((written / sample.dataset / "ann" / f"{sample.name}.json").read_text())
        assert any(o["classTitle"].endswith("_deeplab") for o in expected["objects"])   # predictions, not only input
        assert_same_objects(response.json()["annotation"], expected)


@needs_export
def test_concurrent_clients_of_a_served_saved_model_get_their_sequential_answers(saved_model_server, tiny_project):
    assert_concurrent_answers_are_sequential(saved_model_server, read_project(tiny_project).samples, 8)


@needs_export
def test_tf_serving_predict_on_a_served_saved_model_is_its_image_bytes_signature(saved_model_server, inputs, results):
    """The PNGs of two sizes the image_bytes signature labelled in one batch; each answered at its own size."""
    server, (_, _, pngs), (outputs, _) = saved_model_server, inputs, results
    assert server.name == "out"   # the export folder's name
    assert server.get("/v1/models/out").json()["model_version_status"][0]["state"] == "AVAILABLE"
    encoded = [{"b64": base64.b64encode(Path(p).read_bytes()).decode()} for p in pngs]
    response = server.post("/v1/models/out:predict", json={"instances": [encoded[0], {"image_bytes": encoded[1]}]})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == len(pngs)
    for prediction, labels, (height, width) in zip(predictions, outputs["bytes_labels"], outputs["bytes_sizes"]):
        np.testing.assert_array_equal(predicted_labels(prediction), labels[:height, :width])
