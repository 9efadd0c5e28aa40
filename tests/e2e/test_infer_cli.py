"""infer.py end to end: output project layout, suffixed classes, save_classes, bitmaps = predictions."""
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import COMPAT, REPO, run_cli_reporting_tensorflow, run_script
from trainer.data.geometry import decode_bitmap
from trainer.data.images import read_image
from trainer.data.supervisely import read_project
from trainer.model.checkpoint_folders import ModelSource, find_checkpoint

TITLES = ["bg", "circle", "marker", "ring", "square", "triangle"]


@pytest.fixture(scope="module")
def predictions(trained_run, tiny_project):
    from trainer.infer.predictor import Predictor
    predictor = Predictor.from_source(ModelSource.locate(trained_run), {"scales": [1.0], "flip": False})
    return {(s.dataset, s.name): np.argmax(predictor.scores(read_image(s.image_path)[np.newaxis])[0], axis=-1)
            for s in read_project(tiny_project).samples}


def _infer(trained_run, tiny_project, output, *extra):
    result = run_script("infer.py", "--model", str(trained_run), "--project", str(tiny_project),
                        "--output", str(output), *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(output) in result.stdout
    return read_project(output)


def test_all_classes_with_suffix(trained_run, tiny_project, tmp_path, predictions):
    out = _infer(trained_run, tiny_project, tmp_path / "out", "--set", "mode.model_classes.add_suffix=_dl")
    source = read_project(tiny_project)
    input_titles = [c.title for c in source.meta.classes]
    assert [c.title for c in out.meta.classes] == input_titles + [t + "_dl" for t in TITLES]
    assert all(c.shape == "bitmap" for c in out.meta.classes[len(input_titles):])
    assert [(s.dataset, s.name) for s in out.samples] == [(s.dataset, s.name) for s in source.samples]
    for src, dst in zip(source.samples, out.samples):
        assert dst.image_path.read_bytes() == src.image_path.read_bytes()
        kept = dst.raw_ann["objects"][:len(src.raw_ann["objects"])]
        assert kept == src.raw_ann["objects"] and dst.raw_ann["tags"] == src.raw_ann["tags"]
        added = dst.raw_ann["objects"][len(src.raw_ann["objects"]):]
        class_map = predictions[(src.dataset, src.name)]
        present = [TITLES[i] + "_dl" for i in np.unique(class_map)]
        assert [o["classTitle"] for o in added] == present
        for obj in added:
            index = TITLES.index(obj["classTitle"][:-3])
            mask = decode_bitmap(obj["bitmap"]["data"])
            left, top = obj["bitmap"]["origin"]
            full = np.zeros(class_map.shape, bool)
            full[top:top + mask.shape[0], left:left + mask.shape[1]] = mask
            np.testing.assert_array_equal(full, class_map == index)
            assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()  # tight crop


def test_save_classes_filters(trained_run, tiny_project, tmp_path, predictions):
    out = _infer(trained_run, tiny_project, tmp_path / "out",
                 "--set", 'mode.model_classes={"save_classes": ["circle", "bg"], "add_suffix": "_p"}')
    added_meta = [c.title for c in out.meta.classes if c.title.endswith("_p")]
    assert added_meta == ["bg_p", "circle_p"]
    for sample in out.samples:
        titles = {o["classTitle"] for o in sample.raw_ann["objects"] if o["classTitle"].endswith("_p")}
        class_map = predictions[(sample.dataset, sample.name)]
        assert titles == {TITLES[i] + "_p" for i in np.unique(class_map) if TITLES[i] in ("bg", "circle")}


def test_compat_inference_config(trained_run, tiny_project, tmp_path):
    config = COMPAT / "supervisely_inference_config.json"
    if not config.is_file():
        pytest.skip("shared/compat is not next to the repository")
    out = _infer(trained_run, tiny_project, tmp_path / "out", "--config", str(config))
    assert "circle_dl" in [c.title for c in out.meta.classes]
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["classes"][-1]["shape"] == "bitmap"


def test_compat_sliding_window_config_runs_unchanged(trained_run, tiny_project, tmp_path):
    config = COMPAT / "supervisely_sliding_window_config.json"
    if not config.is_file():
        pytest.skip("shared/compat is not next to the repository")
    # 400×400 windows on 64×64 images: one window each, padded (the plugin failed here)
    out = _infer(trained_run, tiny_project, tmp_path / "out", "--config", str(config))
    assert [c.title for c in out.meta.classes][-len(TITLES):] == [t + "_dl" for t in TITLES]
    assert all(any(o["classTitle"].endswith("_dl") for o in s.raw_ann["objects"]) for s in out.samples)


def test_evaluate_agrees_with_training_validation_and_saves_masks(trained_run, tiny_project, tmp_path, predictions):
    out = _infer(trained_run, tiny_project, tmp_path / "out", "--evaluate", "--save-masks")
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    # full_image on 64×64 images with a 64×64 model input sees what validation saw: the same numbers
    validation = json.loads((find_checkpoint(trained_run) / "config.json").read_text())["metrics"]
    assert metrics["tag"] == "val" and metrics["images"] == 3
    for key in ("mean_iou", "pixel_accuracy"):
        assert metrics[key] == pytest.approx(validation[key], abs=1e-4)
    assert metrics["per_class_iou"].keys() == validation["per_class_iou"].keys()
    for sample in out.samples:
        stem = tmp_path / "out" / sample.dataset
        index = cv2.imread(str(stem / "masks_machine" / f"{sample.name}.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(index, predictions[(sample.dataset, sample.name)])
        overlay = cv2.imread(str(stem / "masks_human" / f"{sample.name}.png"))
        assert overlay.shape[0] >= 64 and overlay.shape[1] > 64  # the image, and the legend on its right


@pytest.mark.slow   # the same interrupt and resume run in-process in tests/infer/test_resume.py
def test_interrupted_cli_run_resumes_to_the_same_output(trained_run, tiny_project, tmp_path, monkeypatch, capsys):
    from trainer.cli import infer as infer_cli
    from trainer.infer.predictor import Predictor

    args = ["--model", str(trained_run), "--project", str(tiny_project), "--set", "mode.name=sliding_window",
            "--set", 'mode.window={"width": 48, "height": 48}', "--save-masks"]
    assert infer_cli.main([*args, "--output", str(tmp_path / "reference")]) == 0
    scores, calls = Predictor.scores, []

    def interrupted(self, crops):
        calls.append(1)
        if len(calls) > 4:
            raise KeyboardInterrupt
        return scores(self, crops)

    monkeypatch.setattr(Predictor, "scores", interrupted)
    assert infer_cli.main([*args, "--output", str(tmp_path / "out")]) == 130  # Ctrl-C
    assert "rerun the same command with --resume" in capsys.readouterr().out
    assert infer_cli.main([*args, "--output", str(tmp_path / "out")]) == 2  # not without --resume
    assert "add --resume to continue it" in capsys.readouterr().err
    monkeypatch.setattr(Predictor, "scores", scores)
    assert infer_cli.main([*args, "--output", str(tmp_path / "out"), "--resume"]) == 0
    # images are decoded ahead and scored two at a time, so how many finished before the 5th call is thread timing
    done, left = map(int, re.search(r"resuming: (\d+) image\(s\) finished earlier, (\d+) to go",
                                    capsys.readouterr().out).groups())
    assert done <= 4 and done + left == 9
    files = sorted(p.relative_to(tmp_path / "reference") for p in (tmp_path / "reference").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*") if p.is_file())
    for path in files:
        assert (tmp_path / "out" / path).read_bytes() == (tmp_path / "reference" / path).read_bytes(), path


def test_unknown_save_class_is_a_user_error_before_tensorflow(trained_run, tiny_project, tmp_path):
    result = run_cli_reporting_tensorflow("infer", "--model", str(trained_run), "--project", str(tiny_project),
                                          "--output", str(tmp_path / "out"),
                                          "--set", 'mode.model_classes.save_classes=["dog", "circle"]')
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == ["error: mode.model_classes.save_classes: 'dog' not among the model's classes "
                                          f"({', '.join(TITLES)})"]
    assert result.stdout.splitlines()[-1] == "tensorflow loaded: False"
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_damaged_checkpoint_config_is_a_user_error(trained_run, tiny_project, tmp_path, capsys):
    import shutil

    from trainer.cli import infer as infer_cli

    run = tmp_path / "run"
    shutil.copytree(trained_run, run, symlinks=True)
    (run / "best" / "config.json").write_text('{"settings": ')   # cut short
    status = infer_cli.main(["--model", str(run), "--project", str(tiny_project), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and "config.json cannot be read" in err and "Traceback" not in err


@pytest.mark.slow   # 12 s
def test_os8_multiscale_flip_config_runs_the_trained_weights_at_output_stride_8(trained_run, tiny_project, tmp_path):
    result = run_script("infer.py", "--model", str(trained_run), "--project", str(tiny_project),
                        "--output", str(tmp_path / "out"), "--config", str(REPO / "configs/infer_os8_multiscale_flip.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "model run at output stride 8 with ASPP rates [] (trained at 16 with []; same weights)" in result.stdout
    assert len(read_project(tmp_path / "out").samples) == 9


def test_atrous_rates_the_model_lacks_are_a_user_error_before_tensorflow(trained_run, tiny_project, tmp_path):
    result = run_cli_reporting_tensorflow("infer", "--model", str(trained_run), "--project", str(tiny_project),
                                          "--output", str(tmp_path / "out"), "--set", "model.atrous_rates=[12, 24, 36]")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == ["error: model.atrous_rates: [12, 24, 36] has 3 rates, the model was trained "
                                          "with 0 ([]): the number of ASPP branches fixes the weights"]
    assert result.stdout.splitlines()[-1] == "tensorflow loaded: False" and not (tmp_path / "out").exists()


def test_default_output_sits_beside_the_run_or_the_export_folder(tmp_path, monkeypatch):
    from trainer.cli.infer import _default_output

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "r" / "checkpoints" / "00000001").mkdir(parents=True)
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "model_int8.tflite").write_bytes(b"")
    assert _default_output(Path("runs/r")) == Path("runs/r-inference")   # as given: printed as the user wrote it
    assert _default_output(Path("runs/r/checkpoints/00000001")) == tmp_path / "runs" / "r-inference"
    assert _default_output(Path("exp/model_int8.tflite")) == Path("exp-model_int8-inference")   # not inside the export
    (tmp_path / "exp-model_int8-inference").mkdir()
    assert _default_output(Path("exp/model_int8.tflite")) == Path("exp-model_int8-inference-2")
