"""--evaluate on a project whose predictions are known (each pixel's class is its largest channel): the IoUs
worked out by hand, with training's rules (neutral ignored, a class absent from both sides left out)."""
import json

import numpy as np
import pytest

from tests.infer.known import channel_model, rectangle, run, write_project
from trainer.errors import DataError, UserError
from trainer.infer.run import Options

RED, GREEN, BLUE = (200, 0, 0), (0, 200, 0), (0, 0, 200)  # predicted bg, a, b


def _project(tmp_path, extra_classes=()):
    one = np.zeros((4, 6, 3), np.uint8)
    one[:, :3], one[:, 3:] = RED, GREEN  # predicted: columns 0..2 bg, 3..5 a
    two = np.full((2, 4, 3), BLUE, np.uint8)  # predicted: b everywhere
    three = np.full((3, 5, 3), GREEN, np.uint8)
    return write_project(tmp_path / "p", {
        # truth: a in columns 2..5, bg elsewhere; row 3 neutral (ignored)
        ("ds", "one.png"): (one, [rectangle("a", 2, 0, 5, 3), rectangle("neutral", 0, 3, 5, 3)], ["val"]),
        # truth: b in columns 0..1, bg in 2..3
        ("ds", "two.png"): (two, [rectangle("b", 0, 0, 1, 1)], ["val"]),
        # not tagged val: would count as 15 wrong pixels
        ("ds", "three.png"): (three, [], []),
    }, [("a", "rectangle"), ("b", "rectangle"), ("c", "rectangle"), ("neutral", "rectangle"),
        *[(t, "rectangle") for t in extra_classes]])


def _metrics(tmp_path, mode):
    problems = run(_project(tmp_path), tmp_path / "out", channel_model(), (4, 6), mode,
                   options=Options(evaluate_tag="val"))
    assert problems == []
    return json.loads((tmp_path / "out" / "metrics.json").read_text())


def test_full_image_ious_by_hand(tmp_path, capsys):
    metrics = _metrics(tmp_path, {"name": "full_image"})
    # [truth, predicted] pixels: one.png rows 0..2 → (bg,bg) 6, (a,bg) 3, (a,a) 9; two.png → (b,b) 4, (bg,b) 4
    assert metrics["tag"] == "val" and metrics["images"] == 2
    assert metrics["per_class_iou"] == pytest.approx({"bg": 6 / (10 + 9 - 6), "a": 9 / 12, "b": 4 / 8, "c": None})
    assert metrics["mean_iou"] == pytest.approx((6 / 13 + 9 / 12 + 4 / 8) / 3)
    assert metrics["pixel_accuracy"] == pytest.approx(19 / 26)
    out = capsys.readouterr().out
    assert 'evaluation on 2 image(s) tagged "val"' in out and "  c   n/a" in out


def test_pixels_outside_the_roi_are_not_evaluated(tmp_path):
    metrics = _metrics(tmp_path, {"name": "roi", "bounds": {"left": "3px"}})
    # one.png columns 3..5, rows 0..2 → (a,a) 9; two.png column 3 → (bg,b) 2
    assert metrics["per_class_iou"] == pytest.approx({"bg": 0.0, "a": 1.0, "b": 0.0, "c": None})
    assert metrics["pixel_accuracy"] == pytest.approx(9 / 11)


def test_model_and_project_classes_must_match(tmp_path):
    with pytest.raises(UserError) as info:
        run(_project(tmp_path, extra_classes=["d"]), tmp_path / "out", channel_model(), (4, 6),
            {"name": "full_image"}, options=Options(evaluate_tag="val"))
    assert info.value.lines == ['--evaluate: the model\'s classes do not match the project\'s: '
                                'class "d" is in the project but not in the checkpoint']
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.partial").exists()


def test_a_tag_no_image_has_is_refused(tmp_path):
    with pytest.raises(DataError, match='There are no annotations with tag "test"'):
        run(_project(tmp_path), tmp_path / "out", channel_model(), (4, 6), {"name": "full_image"},
            options=Options(evaluate_tag="test"))
