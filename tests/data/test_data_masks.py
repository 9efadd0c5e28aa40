"""The mask-folder format: layout, split lists or folders, class list, the classic mask traps."""
import json
from operator import attrgetter

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.data.projects import snapshot
from trainer.data.classes import IGNORE_LABEL, build_class_mapping
from trainer.data.demo import MASK_CLASSES, write_synthetic_mask_project, write_synthetic_project
from trainer.data.geometry import rasterize
from trainer.data.classes import voc_color
from trainer.data.masks import read_mask_project
from trainer.data.project import open_project
from trainer.data.supervisely import read_project
from trainer.errors import DataError

MASK = np.array([[0, 1, 1, 255], [3, 3, 0, 2]], np.uint8)


def make(root, classes=("bg", "cat", "neutral", "dog"), lists=None, masks=None, images=("a.jpg",)):
    """images/ + masks/ (+ splits/ when `lists` is given); `masks` maps a mask file name to its values."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    for name in images:
        path = root / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.full((2, 4, 3), 90, np.uint8))
    for name, values in (masks if masks is not None else {"a.png": MASK}).items():
        path = root / "masks" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), values)
    for tag, entries in (lists or {}).items():
        (root / "splits").mkdir(exist_ok=True)
        (root / "splits" / f"{tag}.txt").write_text("".join(f"{e}\n" for e in entries))
    return root


def lines(project):
    return [str(p) for p in project.problems]


def test_lists_layout_reads_classes_tags_and_exact_labels(tmp_path):
    root = make(tmp_path / "voc", lists={"train": ["a", "b.png"], "val": ["a.jpg"]}, images=("a.jpg", "b.png"),
                masks={"a.png": MASK, "b.png": np.zeros((2, 4), np.uint8)})
    project = open_project(root)
    assert project.format == "masks" and project.problems == [] and project.skipped_shapes == {}
    assert [(s.dataset, s.name, s.tags, s.height, s.width) for s in project.samples] == [
        ("voc", "a.jpg", {"train", "val"}, 2, 4), ("voc", "b.png", {"train"}, 2, 4)]
    assert [(c.title, c.color) for c in project.meta.classes] == [
        ("bg", "#000000"), ("cat", "#800000"), ("neutral", "#008000"), ("dog", "#808000")]
    assert project.meta.tags == ["train", "val"]
    assert project.samples[0].raw_ann == {"description": "", "size": {"height": 2, "width": 4},
                                          "tags": [{"name": "train", "value": None}, {"name": "val", "value": None}],
                                          "objects": []}
    # the same class-index rules as Supervisely: bg 0, the rest sorted by title, neutral ignored
    mapping = build_class_mapping(project.meta, "bg", "neutral")
    assert mapping.class_title_to_idx == {"bg": 0, "cat": 1, "dog": 2}
    labels = rasterize(project.samples[0].objects, 2, 4, mapping.pixel_values())
    np.testing.assert_array_equal(labels, [[0, 1, 1, IGNORE_LABEL], [2, 2, 0, IGNORE_LABEL]])


def test_folders_layout_gives_the_folder_as_dataset_and_split(tmp_path):
    root = make(tmp_path / "p", images=("train/x.jpg", "val/y.jpg"),
                masks={"train/x.png": MASK, "val/y.png": MASK})
    project = open_project(root)
    assert [(s.dataset, s.name, s.tags) for s in project.samples] == [("train", "x.jpg", {"train"}),
                                                                      ("val", "y.jpg", {"val"})]
    assert project.samples[0].ann_path == root / "masks" / "train" / "x.png"


def test_generated_mask_project_matches_the_supervisely_one(tmp_path):
    masks = read_mask_project(write_synthetic_mask_project(tmp_path / "m", train=3, val=2, size=(32, 40), seed=4))
    source = read_project(write_synthetic_project(tmp_path / "s", train=3, val=2, size=(32, 40), seed=4))
    assert [c.title for c in masks.meta.classes] == list(MASK_CLASSES)
    mapping = build_class_mapping(masks.meta, "bg", "neutral")
    name = attrgetter("name")
    for a, b in zip(sorted(masks.samples, key=name), sorted(source.samples, key=name), strict=True):
        assert (a.name, a.tags) == (b.name, b.tags)
        np.testing.assert_array_equal(rasterize(a.objects, 32, 40, mapping.pixel_values()),
                                      rasterize(b.objects, 32, 40, mapping.pixel_values()))


def test_palette_is_pascal_vocs():
    assert [voc_color(i) for i in (0, 1, 2, 3, 4, 15, 255)] == [
        "#000000", "#800000", "#008000", "#808000", "#000080", "#C08080", "#E0E0C0"]  # 15: person


# --- per-sample problems (counted against allow_corrupted_samples) -----------------------------------------------


def test_missing_and_orphan_files_and_unlisted_entries(tmp_path):
    root = make(tmp_path / "p", lists={"train": ["a", "b", "ghost"]}, images=("a.jpg", "b.jpg"),
                masks={"a.png": MASK, "c.png": MASK})
    project = read_mask_project(root)
    assert [s.name for s in project.samples] == ["a.jpg"]
    assert lines(project) == [
        'dataset "p", images/b.jpg: no mask masks/b.png',
        'dataset "p", masks/c.png: no image images/c.* for this mask',
        'dataset "p", splits/train.txt: line 3: "ghost" names no image in images/',
    ]
    assert [p.tags for p in project.problems] == [frozenset({"train"}), frozenset(), frozenset({"train"})]


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p: cv2.imwrite(str(p), np.array([[0, 4, 9], [254, 255, 1]], np.uint8)),
         "values 4, 9, 254 are not classes (classes.txt lists 4: 0-3; 255 = ignore)"),
        (lambda p: Image.fromarray(np.zeros((2, 4, 3), np.uint8)).save(p, format="PNG"),
         "is a RGB PNG: a mask must be 8-bit greyscale or palette (one class index per pixel)"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n broken"), "not a readable PNG"),
    ],
    ids=["values", "colour", "broken"],
)
def test_bad_mask_names_the_mask(tmp_path, write, message):
    root = make(tmp_path / "p", lists={"val": ["a"]}, masks={})
    (root / "masks").mkdir()
    write(root / "masks" / "a.png")
    [problem] = read_mask_project(root).problems
    assert (problem.dataset, problem.file, problem.tags) == ("p", "masks/a.png", frozenset({"val"}))
    assert problem.message.startswith(message)


def test_mask_size_must_match_the_image(tmp_path):
    root = make(tmp_path / "p", lists={"train": ["a"]}, masks={"a.png": np.zeros((3, 4), np.uint8)})
    project = open_project(root)
    assert project.samples == []
    assert lines(project) == ['dataset "p", images/a.jpg: image is 4×2 but the annotation (masks/a.png) gives 4×3']


# --- project-level errors ----------------------------------------------------------------------------------------


def test_binary_masks_saved_as_0_255_are_refused_with_advice(tmp_path):
    binary = np.array([[0, 255, 255, 0], [0, 0, 255, 0]], np.uint8)
    root = make(tmp_path / "p", classes=("bg", "thing"), lists={"train": ["a", "b"]}, images=("a.jpg", "b.jpg"),
                masks={"a.png": binary, "b.png": np.zeros((2, 4), np.uint8)})
    with pytest.raises(DataError) as error:
        read_mask_project(root)
    [line] = error.value.lines
    assert "every mask holds only 0 and 255, and 255 means ignore" in line and "mask // 255" in line


def test_255_with_real_classes_is_ignore_not_a_trap(tmp_path):
    root = make(tmp_path / "p", lists={"train": ["a"]})
    assert read_mask_project(root).problems == []


def test_images_sharing_a_stem_refuse_the_project_naming_every_clash(tmp_path):
    root = make(tmp_path / "p", lists={"train": ["a", "b.jpg"]}, images=("a.jpg", "a.png", "b.jpg", "b.PNG", "b.bmp"),
                masks={"a.png": MASK, "b.png": MASK})
    with pytest.raises(DataError) as error:
        read_mask_project(root)
    assert error.value.lines == [
        f'{root / "images"}: a.jpg and a.png share the stem "a"; their mask masks/a.png and split entries "a" would '
        "be ambiguous: rename or remove all but one",
        f'{root / "images"}: b.PNG, b.bmp and b.jpg share the stem "b"; their mask masks/b.png and split entries "b" '
        "would be ambiguous: rename or remove all but one"]


def test_files_sharing_a_stem_in_split_folders(tmp_path):
    root = make(tmp_path / "p", images=("train/a.jpg", "train/a.png", "val/a.jpg", "val/b.jpg"),
                masks={"train/a.png": MASK, "val/a.png": MASK, "val/b.png": MASK, "val/b.PNG": MASK})
    with pytest.raises(DataError) as error:
        read_mask_project(root)
    assert error.value.lines == [   # the same stem in two split folders is two datasets: no clash
        f'{root / "images" / "train"}: a.jpg and a.png share the stem "a"; their mask masks/train/a.png would be '
        "ambiguous: rename or remove all but one",
        f'{root / "masks" / "val"}: b.PNG and b.png share the stem "b"; which is the mask of images/val/b.* would be '
        "ambiguous: rename or remove all but one"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("bg\n\ncat\n", "line 2 is empty (line i names mask value i - 1)"),
        ("bg\ncat\ncat\n", 'class title "cat" appears 2 times'),
        ("\n", "lists no classes"),
        ("".join(f"c{i}\n" for i in range(256)), "256 classes, at most 255 (mask value 255 means ignore)"),
    ],
)
def test_bad_class_list(tmp_path, text, message):
    root = make(tmp_path / "p", lists={"train": ["a"]})
    (root / "classes.txt").write_text(text)
    with pytest.raises(DataError) as error:
        read_mask_project(root)
    assert error.value.lines == [f"{root / 'classes.txt'}: {message}"]


def test_class_list_tolerates_windows_line_ends_and_a_bom(tmp_path):
    root = make(tmp_path / "p", lists={"train": ["a"]})
    (root / "classes.txt").write_bytes("\ufeffbg\r\ncat\r\nneutral\r\ndog\r\n".encode())
    assert [c.title for c in read_mask_project(root).meta.classes] == ["bg", "cat", "neutral", "dog"]


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda r: None, "no splits/<tag>.txt lists and no split sub-folders in images/"),
        (lambda r: (r / "images" / "sub").mkdir(), "holds both images and sub-folders: use one layout"),
        (lambda r: (r / "masks" / "a.png").unlink() or (r / "masks").rmdir(), "masks/ folder missing"),
    ],
    ids=["no-split", "mixed", "no-masks"],
)
def test_layout_errors(tmp_path, setup, message):
    root = make(tmp_path / "p")
    setup(root)
    with pytest.raises(DataError, match=message):
        read_mask_project(root)


# --- format detection and read-only ------------------------------------------------------------------------------


def test_format_follows_the_folder(tmp_path):
    assert open_project(make(tmp_path / "m", lists={"train": ["a"]})).format == "masks"
    (tmp_path / "m" / "meta.json").write_text(json.dumps({"classes": []}))
    with pytest.raises(DataError, match="has both meta.json .Supervisely. and classes.txt .mask folders."):
        open_project(tmp_path / "m")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not a project: expected meta.json .Supervisely. or classes.txt"):
        open_project(tmp_path / "empty")


def test_reading_does_not_touch_the_project(tmp_path):
    root = make(tmp_path / "p", lists={"train": ["a", "zzz"]})
    before = snapshot(root)
    open_project(root)
    assert snapshot(root) == before
