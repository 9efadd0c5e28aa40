"""What --check prints: splits, objects and ground-truth pixels per class and split, skipped shapes, problems."""
from tests.data.projects import ann, bitmap_obj, points_obj, write_meta, write_sample
from trainer.data.classes import build_class_mapping
from trainer.data.project import open_project
from trainer.data.summary import summary_lines, warning_lines

CLASSES = [
    {"title": "cat", "shape": "bitmap", "color": "#FF0000"},
    {"title": "box", "shape": "rectangle", "color": "#00FF00"},
    {"title": "kp", "shape": "point", "color": "#0000FF"},
    {"title": "neutral", "shape": "rectangle", "color": "#888888"},
]


def test_summary_counts_by_hand(tmp_path):
    root = tmp_path / "p"
    write_meta(root, classes=CLASSES)
    # 6×4 images. a: a 3×2 box and a 4-pixel cat bitmap (rows 2-3), a point; b: all neutral, in both splits
    write_sample(root, "ds", "a.jpg", ann(points_obj("box", "rectangle", [[2, 1], [0, 0]]), bitmap_obj(origin=(1, 2)),
                                          points_obj("kp", "point", [[1, 1]]), tags=["train"]))
    write_sample(root, "ds", "b.jpg", ann(points_obj("neutral", "rectangle", [[0, 0], [5, 3]]), tags=["train", "val"]))
    write_sample(root, "ds", "c.jpg", ann(points_obj("box", "rectangle", [[0, 0], [9, 9]]), tags=["other"]))
    write_sample(root, "ds", "d.jpg", ann({"classTitle": "dog"}, tags=["val"]))
    project = open_project(root)
    mapping = build_class_mapping(project.meta, "bg", "neutral")
    lines = summary_lines(project, mapping, {"train": "train", "val": "val"}, {"train": 0, "val": 2})
    assert lines[:2] == [f"project {root} (supervisely): 3 readable images",
                         'splits: train (tag "train") 2 images, val (tag "val") 1 images, in no split 1']
    assert [line.split() for line in lines[2:8]] == [
        ["class", "index", "objects", "train", "pixels", "val", "pixels"],
        ["bg", "0", "0", "14", "0"],
        ["box", "1", "2", "6", "0"],       # c's box counts as an object, but c is in no split
        ["cat", "2", "1", "4", "0"],
        ["kp", "3", "0", "0", "0"],
        ["neutral", "ignore", "1", "24", "24"],
    ]
    assert lines[8:] == [
        "skipped 1 point object(s) of class 'kp': not an area",
        'warning: dataset "ds", ann/c.jpg.json: object 0: partly outside the 6×4 image: clipped',
        'problem: dataset "ds", ann/d.jpg.json: object 0: unknown classTitle "dog"',
        "corrupted samples: train 0 (allowed 0), val 1 (allowed 2)",
    ]


def test_training_log_shows_the_first_warnings_only():
    assert warning_lines(list("abc"), limit=2) == [
        "warning: a", "warning: b", "… and 1 more warning(s) (train.py --check lists them all)"]
