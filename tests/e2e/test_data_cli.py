"""The data layer through the CLIs: bad data refused before TensorFlow loads, --check, allowed corrupted samples
skipped and listed, and a PNG-mask project trained and annotated end to end."""
import json
import shutil

import numpy as np
import pytest

from tests.conftest import read_jsonl, run_cli_reporting_tensorflow, run_script
from trainer.cli import train as train_cli
from trainer.data.demo import write_synthetic_mask_project
from trainer.data.geometry import encode_bitmap
from trainer.data.supervisely import read_project

QUICK = ["--set", 'input_size={"width": 64, "height": 64}', "--set", 'batch_size={"train": 3, "val": 3}',
         "--set", "epochs=1", "--set", 'model={"depth_multiplier": 0.35}']


@pytest.fixture
def project(tiny_project, tmp_path):
    """A copy of the tiny project (train img_0000-0005, val img_0006-0008; even numbers in ds1) to damage."""
    return shutil.copytree(tiny_project, tmp_path / "project")


def edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def set_objects(*objects):
    return lambda ann: ann.update(objects=list(objects))


ANN = "ds1/ann/img_0000.jpg.json"
IMG = "ds1/img/img_0000.jpg"
BAD_DATA = {
    "unreadable-image": (lambda p: (p / IMG).write_bytes(b"not a jpeg"),
                         'dataset "ds1", img/img_0000.jpg: not a readable image'),
    "truncated-image": (lambda p: (p / IMG).write_bytes((p / IMG).read_bytes()[:-100]),
                        'dataset "ds1", img/img_0000.jpg: not a readable image (unknown format, truncated or corrupted)'),
    "json": (lambda p: (p / ANN).write_text('{"size": '), 'dataset "ds1", ann/img_0000.jpg.json: cannot be parsed as JSON'),
    "no-annotation": (lambda p: (p / ANN).unlink(), 'dataset "ds1", img/img_0000.jpg: no annotation'),
    "no-image": (lambda p: (p / IMG).unlink(),
                 'dataset "ds1", ann/img_0000.jpg.json: no image img/img_0000.jpg for this annotation'),
    "size": (lambda p: edit_json(p / ANN, lambda a: a["size"].update(height=65)),
             'dataset "ds1", img/img_0000.jpg: image is 64×64 but the annotation (ann/img_0000.jpg.json) gives 64×65'),
    "class": (lambda p: edit_json(p / ANN, set_objects({"classTitle": "dog", "geometryType": "bitmap"})),
              'dataset "ds1", ann/img_0000.jpg.json: object 0: unknown classTitle "dog"'),
    "empty-bitmap": (lambda p: edit_json(p / ANN, set_objects({"classTitle": "circle", "bitmap": {
        "data": encode_bitmap(np.zeros((2, 2), bool)), "origin": [0, 0]}})), "object 0: bitmap mask is empty"),
    "bad-bitmap": (lambda p: edit_json(p / ANN, set_objects({"classTitle": "circle", "bitmap": {
        "data": "%%%", "origin": [0, 0]}})), "object 0: bitmap data cannot be decoded"),
    "short-polygon": (lambda p: edit_json(p / ANN, set_objects({"classTitle": "ring", "points": {
        "exterior": [[0, 0], [5, 5]], "interior": []}})), "object 0: polygon exterior has 2 points, needs at least 3"),
    "text-coordinates": (lambda p: edit_json(p / ANN, set_objects({"classTitle": "square", "points": {
        "exterior": [[0, 0], ["5", 5]], "interior": []}})), "object 0: rectangle exterior: bad coordinates"),
    "duplicate-class": (lambda p: edit_json(p / "meta.json", lambda m: m["classes"].append(m["classes"][0])),
                        'meta.json: class title "circle" appears 2 times'),
}


@pytest.mark.parametrize("damage, line", BAD_DATA.values(), ids=BAD_DATA.keys())
def test_bad_data_exits_2_naming_the_file_before_any_run(project, tmp_path, capsys, damage, line):
    damage(project)
    status = train_cli.main(["--project", str(project), "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2, err
    assert line in err and "Traceback" not in err
    assert all(text.startswith("error: ") for text in err.splitlines())
    assert not (tmp_path / "run").exists()


def test_image_damaged_past_its_header_stops_training_with_one_line(project, tmp_path, capsys):
    """The start-up check reads headers: a PNG whose pixel data is damaged passes it, and the loader reports it."""
    png = project / "ds2" / "img" / "img_0003.png"
    data = bytearray(png.read_bytes())
    data[len(data) // 2 - 20:len(data) // 2 + 20] = bytes(40)
    png.write_bytes(data)
    status = train_cli.main(["--project", str(project), "--output", str(tmp_path / "run"), *QUICK])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.splitlines() == [
        f"error: {png}: not a readable image (unknown format, truncated or corrupted) (found while training: the "
        f"start-up check reads image headers only); replace the file, then train.py --resume {tmp_path / 'run'} "
        "continues the run"]


def check(project, *args):
    """train.py --check in a fresh interpreter that reports whether TensorFlow got imported."""
    return run_cli_reporting_tensorflow("train", "--check", "--project", str(project), *args)


def test_check_prints_the_summary_without_tensorflow_or_a_run_folder(tiny_project, tmp_path):
    result = check(tiny_project, "--output", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"project {tiny_project} (supervisely): 9 readable images"
    assert lines[1] == 'splits: train (tag "train") 6 images, val (tag "val") 3 images, in no split 0'
    assert lines[2].split() == ["class", "index", "objects", "train", "pixels", "val", "pixels"]
    assert [line.split()[:2] for line in lines[3:10]] == [
        ["bg", "0"], ["circle", "1"], ["marker", "2"], ["ring", "3"], ["square", "4"], ["triangle", "5"],
        ["neutral", "ignore"]]
    assert sum(int(line.split()[3]) for line in lines[3:10]) == 6 * 64 * 64   # every train pixel in one class
    assert "corrupted samples: train 0 (allowed 0), val 0 (allowed 0)" in lines
    assert lines[-2:] == ["check passed: the project can be trained on", "tensorflow loaded: False"]
    assert not (tmp_path / "run").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert check(tiny_project, "--output", str(tmp_path / "full")).returncode == 0   # --check writes nothing
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_check_counts_corrupted_samples_against_their_splits(project):
    (project / ANN).write_text("{")                                         # split unknown: counts in both
    (project / "ds1/img/img_0006.jpg").write_bytes(b"")                     # a val image
    refused = check(project, "--set", 'allow_corrupted_samples={"train": 1, "val": 1}')
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        'error: 2 corrupted sample(s) in split val (tag "val", 1 of them of unknown split), '
        "more than allow_corrupted_samples.val permits (1)"]
    assert 'problem: dataset "ds1", img/img_0006.jpg: not a readable image' in refused.stdout
    passed = check(project, "--set", 'allow_corrupted_samples={"train": 1, "val": 2}')
    assert passed.returncode == 0, passed.stderr
    assert "corrupted samples: train 1 (allowed 1), val 2 (allowed 2)" in passed.stdout


@pytest.mark.slow   # 17 s; the check's refusal stays in the default run
def test_allowed_corrupted_samples_are_skipped_and_listed_in_the_run(project, tmp_path):
    (project / ANN).write_text("{")
    (project / "ds1/img/img_0006.jpg").write_bytes(b"")
    run = tmp_path / "run"
    result = run_script("train.py", "--project", str(project), "--output", str(run), *QUICK,
                        "--set", 'allow_corrupted_samples={"train": 1, "val": 2}')
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped corrupted sample: dataset \"ds1\", img/img_0006.jpg: not a readable image" in result.stdout
    assert "5 train / 2 val images" in result.stdout   # img_0000 (train, unknown split) and img_0006 (val) left out
    skipped = json.loads((run / "skipped_samples.json").read_text())
    assert [(s["file"], s["tags"]) for s in skipped] == [("ann/img_0000.jpg.json", None), ("img/img_0006.jpg", ["val"])]


def test_mask_images_sharing_a_stem_exit_2_with_check_and_without(tmp_path, capsys):
    masks = write_synthetic_mask_project(tmp_path / "masks", train=2, val=1, size=(32, 32), seed=1)
    shutil.copyfile(masks / "images/img_0000.jpg", masks / "images/img_0000.png")   # the same images converted
    expected = [f'error: {masks / "images"}: img_0000.jpg and img_0000.png share the stem "img_0000"; their mask '
                'masks/img_0000.png and split entries "img_0000" would be ambiguous: rename or remove all but one']
    result = check(masks)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == expected
    assert train_cli.main(["--project", str(masks), "--output", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.splitlines() == expected
    assert not (tmp_path / "run").exists()


@pytest.mark.slow   # 26 s
def test_png_mask_project_trains_and_is_annotated(tmp_path):
    masks = write_synthetic_mask_project(tmp_path / "masks", train=6, val=3, size=(64, 64), seed=1)
    run, out = tmp_path / "run", tmp_path / "annotated"
    trained = run_script("train.py", "--project", str(masks), "--output", str(run), *QUICK)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "6 train / 3 val images" in trained.stdout
    [record] = read_jsonl(run / "metrics.jsonl")
    assert set(record["per_class_iou"]) == {"bg", "circle", "ring", "square", "triangle"}
    info = json.loads((run / "best" / "config.json").read_text())
    assert info["class_title_to_idx"] == {"bg": 0, "circle": 1, "ring": 2, "square": 3, "triangle": 4}

    inferred = run_script("infer.py", "--model", str(run), "--project", str(masks), "--output", str(out))
    assert inferred.returncode == 0, inferred.stdout + inferred.stderr
    annotated = read_project(out)
    assert annotated.problems == []
    assert sorted(s.name for s in annotated.samples) == sorted(p.name for p in (masks / "images").iterdir())
    assert {s.dataset for s in annotated.samples} == {"masks"}
    assert all(s.tags and s.raw_ann["objects"] for s in annotated.samples)   # split tags kept, predictions added
    assert {o["classTitle"] for s in annotated.samples for o in s.raw_ann["objects"]} <= {
        f"{t}_deeplab" for t in info["class_title_to_idx"]}


def test_images_sharing_a_legacy_annotation_exit_2_with_check(project):
    (project / ANN).rename(project / "ds1/ann/img_0000.json")                    # legacy ann/<stem>.json
    shutil.copyfile(project / IMG, project / "ds1/img/img_0000.png")             # the same image converted
    result = check(project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f'error: {project / "ds1/img"}: img_0000.jpg and img_0000.png share the stem "img_0000"; their legacy '
        "annotation ds1/ann/img_0000.json would be ambiguous: rename or remove all but one, or give each its own "
        "ann/<file name>.json"]
    assert "tensorflow loaded: False" in result.stdout
