"""infer.py end to end: output project layout, suffixed classes, save_classes, bitmaps = predictions."""
import json

import numpy as np
import pytest

from tests.conftest import COMPAT, run_script
from trainer.data.geometry import decode_bitmap
from trainer.data.images import read_image
from trainer.data.supervisely import read_project
from trainer.model.checkpoints import find_checkpoint

TITLES = ["bg", "circle", "marker", "ring", "square", "triangle"]


@pytest.fixture(scope="module")
def predictions(trained_run, tiny_project):
    from trainer.infer.predictor import Predictor
    predictor = Predictor(find_checkpoint(trained_run))
    return {(s.dataset, s.name): predictor.class_map(read_image(s.image_path))
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


def test_sliding_window_is_not_implemented_yet(trained_run, tiny_project, tmp_path):
    config = COMPAT / "supervisely_sliding_window_config.json"
    if not config.is_file():
        pytest.skip("shared/compat is not next to the repository")
    result = run_script("infer.py", "--config", str(config), "--model", str(trained_run),
                        "--project", str(tiny_project), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "mode.name" in lines[0] and "not implemented yet" in lines[0]
    assert not (tmp_path / "out").exists()


def test_unknown_save_class_is_a_user_error(trained_run, tiny_project, tmp_path):
    result = run_script("infer.py", "--model", str(trained_run), "--project", str(tiny_project),
                        "--output", str(tmp_path / "out"), "--set", 'mode.model_classes.save_classes=["dog"]')
    assert result.returncode == 2 and "'dog'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.tmp-*"))
