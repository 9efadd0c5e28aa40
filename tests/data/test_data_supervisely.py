import json

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.data.projects import CLASSES, MASK, ann, bitmap_obj, points_obj, snapshot, write_meta, write_sample
from trainer.data.geometry import encode_bitmap, rasterize
from trainer.data import project as project_module
from trainer.data.images import decode_image
from trainer.data.project import open_project
from trainer.data.supervisely import read_meta, read_project
from trainer.data.types import MetaClass
from trainer.errors import DataError


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proj"
    write_meta(root)
    return root


def read_one(root, *objects, **kwargs):
    write_sample(root, "ds1", "a.jpg", ann(*objects, **kwargs))
    return read_project(root)


def problem_lines(result):
    return [str(p) for p in result.problems]


# --- whole-project reading -------------------------------------------------------------------------------------


def test_reads_meta_samples_and_geometry(project):
    hole = [[2, 2], [3, 2], [3, 3]]
    objects = [
        bitmap_obj(),
        points_obj("box", "rectangle", [[5, 4], [1, 0]]),
        points_obj("poly", "polygon", [[0, 0], [5, 0], [5, 3], [0, 3]], [hole]),
    ]
    write_sample(project, "ds2", "b.png", ann(tags=["val"]))
    write_sample(project, "ds1", "z.jpg", ann(*objects, tags=[{"name": "train"}], height=5, width=7))
    write_sample(project, "ds1", "a.JPEG", ann())
    result = read_project(project)

    assert result.root == project
    assert result.meta.classes[0] == MetaClass("cat", "bitmap", "#FF0000")
    assert [c.title for c in result.meta.classes] == ["cat", "box", "poly", "kp", "anything"]
    assert result.meta.raw == json.loads((project / "meta.json").read_text())
    assert [(s.dataset, s.name) for s in result.samples] == [("ds1", "a.JPEG"), ("ds1", "z.jpg"), ("ds2", "b.png")]
    assert result.problems == [] and result.skipped_shapes == {}

    sample = result.samples[1]
    assert sample.image_path == project / "ds1" / "img" / "z.jpg"
    assert sample.ann_path == project / "ds1" / "ann" / "z.jpg.json"
    assert (sample.height, sample.width, sample.tags) == (5, 7, {"train"})
    assert sample.raw_ann == json.loads(sample.ann_path.read_text())
    bmp, rect, poly = sample.objects
    assert [(o.index, o.class_title, o.shape) for o in sample.objects] == [
        (0, "cat", "bitmap"), (1, "box", "rectangle"), (2, "poly", "polygon")
    ]
    np.testing.assert_array_equal(bmp.data[0], MASK)
    assert bmp.data[1:] == (1, 2)
    assert rect.data == (5, 4, 1, 0)
    np.testing.assert_array_equal(poly.data[0], [[0, 0], [5, 0], [5, 3], [0, 3]])
    assert len(poly.data[1]) == 1
    np.testing.assert_array_equal(poly.data[1][0], hole)


def test_ignores_extra_files_and_folders(project):
    write_sample(project, "ds1", "a.jpg", ann())
    for folder in ("ds1/meta", "ds1/masks_human", "ds1/masks_machine", "not_a_dataset/stuff"):
        (project / folder).mkdir(parents=True)
    (project / "ds1" / "masks_machine" / "a.png").write_bytes(b"x")
    (project / "key_id_map.json").write_text("{}")
    (project / "obj_class_to_machine_color.json").write_text("{}")
    (project / "ds1" / "img" / "notes.txt").write_text("not an image")
    (project / "ds1" / "img" / ".DS_Store").write_bytes(b"")
    (project / "ds1" / "img" / "._a.jpg").write_bytes(b"")
    result = read_project(project)
    assert [s.name for s in result.samples] == ["a.jpg"]
    assert result.problems == []


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".mpo", ".bmp", ".png", ".webp", ".JPG", ".Png", ".WEBP"])
def test_accepts_every_image_extension_in_any_case(project, ext):
    write_sample(project, "ds1", f"a{ext}", ann())
    assert [s.name for s in read_project(project).samples] == [f"a{ext}"]


def test_accepts_legacy_annotation_names_and_prefers_the_full_name(project):
    write_sample(project, "ds1", "old.jpg", ann(tags=["legacy"]), ann_name="old.json")
    write_sample(project, "ds1", "both.png", ann(tags=["full"]))
    (project / "ds1" / "ann" / "both.json").write_text(json.dumps(ann(tags=["short"])))
    result = read_project(project)
    samples = {s.name: s for s in result.samples}
    assert samples["old.jpg"].ann_path.name == "old.json" and samples["old.jpg"].tags == {"legacy"}
    assert samples["both.png"].ann_path.name == "both.png.json" and samples["both.png"].tags == {"full"}
    # the unread legacy file is said, not dropped silently: it may be the annotation the user meant
    assert result.problems == []
    assert [str(w) for w in result.warnings] == [
        'dataset "ds1", ann/both.json: not used: img/both.png has its own ann/both.png.json']


def test_image_tags_as_bare_strings_or_objects_with_extras(project):
    tags = [
        "plain",
        {"name": "train"},
        {"name": "weather", "value": "sunny"},
        {"name": "exported", "value": 3, "id": 9, "tagId": 4, "labelerLogin": "me", "createdAt": "x", "updatedAt": "y"},
    ]
    result = read_one(project, tags=tags)
    assert result.samples[0].tags == {"plain", "train", "weather", "exported"}


def test_geometry_type_from_any_key_or_from_the_class(project):
    rect = [[0, 0], [1, 1]]
    objects = [
        points_obj("box", "rectangle", rect, key="geometryType"),
        points_obj("box", "rectangle", rect, key="shape"),
        points_obj("box", "rectangle", rect, key="type"),
        points_obj("box", None, rect, key=None),
        points_obj("anything", "polygon", [[0, 0], [2, 0], [0, 2]], key="geometryType"),
        {"classTitle": "cat", "bitmap": {"data": encode_bitmap(MASK), "origin": [0, 0]}},
    ]
    result = read_one(project, *objects)
    assert [o.shape for o in result.samples[0].objects] == ["rectangle"] * 4 + ["polygon", "bitmap"]


def test_point_line_graph_objects_are_skipped_and_counted(project):
    objects = [
        points_obj("kp", "point", [[1, 1]]),
        points_obj("anything", "line", [[0, 0], [3, 3]]),
        bitmap_obj(),
        {"classTitle": "anything", "geometryType": "graph", "nodes": {}},
        points_obj("kp", None, [[2, 2]], key=None),
    ]
    write_sample(project, "ds2", "b.jpg", ann(points_obj("kp", "point", [[0, 0]])))
    # a sample with a problem is left out, and so are its skipped objects
    write_sample(project, "ds2", "bad.jpg", ann(points_obj("kp", "point", [[0, 0]]), {"classTitle": "dog"}))
    result = read_one(project, *objects)
    assert result.skipped_shapes == {("kp", "point"): 3, ("anything", "line"): 1, ("anything", "graph"): 1}
    [sample_a, _] = result.samples
    assert [(o.index, o.shape) for o in sample_a.objects] == [(2, "bitmap")]


def test_sample_without_objects_or_tags_keys_is_accepted(project):
    write_sample(project, "ds1", "a.jpg", {"size": {"height": 4, "width": 6}})
    [sample] = read_project(project).samples
    assert sample.objects == [] and sample.tags == set()


def test_reading_does_not_touch_the_project(project):
    write_sample(project, "ds1", "a.jpg", ann(bitmap_obj()))
    write_sample(project, "ds1", "b.jpg", "{broken")
    before = snapshot(project)
    open_project(project)
    assert snapshot(project) == before


# --- per-sample problems ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"classTitle": "dog", "geometryType": "bitmap"}, 'unknown classTitle "dog"'),
        ({"geometryType": "bitmap"}, '"classTitle" missing'),
        ("a string", "must be a JSON object"),
        (bitmap_obj(data="%%%garbage%%%"), "bitmap data cannot be decoded (Incorrect padding)"),
        (bitmap_obj(data=encode_bitmap(np.zeros((3, 3), bool))), "bitmap mask is empty"),
        (bitmap_obj(origin=(1.5, 2)), 'bitmap: bad coordinates: "origin" must be [x, y] integers, got [1.5, 2]'),
        ({"classTitle": "cat", "geometryType": "bitmap"}, 'bitmap: "bitmap.data" must be a string'),
        (points_obj("poly", "polygon", [[0, 0], [1, 1]]), "polygon exterior has 2 points, needs at least 3"),
        (
            points_obj("poly", "polygon", [[0, 0], [4, 0], [0, 4]], [[[1, 1], [2, 1]]]),
            "polygon interior 0 has 2 points, needs at least 3",
        ),
        (
            points_obj("poly", "polygon", [[0, 0], ["4", 0], [0, 4]]),
            "polygon exterior: bad coordinates: expected a list of [x, y] finite numbers",
        ),
        (
            points_obj("poly", "polygon", [[0, 0], [4, 0, 1], [0, 4]]),
            "polygon exterior: bad coordinates: expected a list of [x, y] finite numbers",
        ),
        (
            points_obj("box", "rectangle", [[0, 0], [True, 1]]),
            "rectangle exterior: bad coordinates: expected a list of [x, y] finite numbers",
        ),
        (
            points_obj("box", "rectangle", [[0, 0], [1, 1], [2, 2]]),
            "rectangle exterior has 3 points, needs exactly 2 ([left, top], [right, bottom])",
        ),
        ({"classTitle": "box", "geometryType": "rectangle"}, 'rectangle: "points.exterior" missing'),
        (points_obj("box", "cuboid", [[0, 0]]), 'unsupported geometry geometryType "cuboid"'),
        (
            points_obj("anything", None, [[0, 0], [1, 1]], key=None),
            'no geometryType, and class "anything" has shape "any", which does not name one',
        ),
    ],
)
def test_bad_object_is_a_problem_naming_dataset_file_and_object(project, obj, message):
    result = read_one(project, bitmap_obj(), obj)
    assert result.samples == []
    assert problem_lines(result) == [f'dataset "ds1", ann/a.jpg.json: object 1: {message}']
    [problem] = result.problems
    assert (problem.dataset, problem.file, problem.object_index) == ("ds1", "ann/a.jpg.json", 1)


def test_non_finite_coordinates_are_a_problem(project):
    write_sample(project, "ds1", "a.jpg", '{"size": {"height": 4, "width": 6}, "objects": [{"classTitle": "poly", '
                 '"geometryType": "polygon", "points": {"exterior": [[0, 0], [NaN, 1], [2, 2]], "interior": []}}]}')
    assert problem_lines(read_project(project)) == [
        'dataset "ds1", ann/a.jpg.json: object 0: polygon exterior: bad coordinates: '
        "expected a list of [x, y] finite numbers"
    ]


def test_every_bad_object_of_a_sample_is_reported_and_good_samples_are_kept(project):
    write_sample(project, "ds1", "good.jpg", ann(bitmap_obj()))
    write_sample(project, "ds1", "bad.jpg", ann({"classTitle": "dog"}, bitmap_obj(), {"classTitle": "cow"}))
    result = read_project(project)
    assert [s.name for s in result.samples] == ["good.jpg"]
    assert problem_lines(result) == [
        'dataset "ds1", ann/bad.jpg.json: object 0: unknown classTitle "dog"',
        'dataset "ds1", ann/bad.jpg.json: object 2: unknown classTitle "cow"',
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "cannot be parsed as JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"objects": []}), '"size" must be {"height": positive int, "width": positive int}'),
        (json.dumps({"size": {"height": 0, "width": 3}}), '"size" must be'),
        (json.dumps({"size": {"height": 4, "width": 6}, "objects": {}}), '"objects" must be a list'),
        (json.dumps({"size": {"height": 4, "width": 6}, "tags": [{"value": 1}]}), "tags[0]: must be a tag name"),
    ],
)
def test_bad_annotation_file_is_a_problem_without_object_index(project, text, message):
    write_sample(project, "ds1", "a.jpg", text)
    result = read_project(project)
    assert result.samples == []
    [problem] = result.problems
    assert (problem.dataset, problem.file, problem.object_index) == ("ds1", "ann/a.jpg.json", None)
    assert str(problem).startswith('dataset "ds1", ann/a.jpg.json: ') and message in str(problem)


def test_missing_annotation_is_a_problem_naming_the_image(project):
    write_sample(project, "ds1", "a.jpg", None)
    assert problem_lines(read_project(project)) == [
        'dataset "ds1", img/a.jpg: no annotation (looked for ann/a.jpg.json and ann/a.json)'
    ]


# --- project-level errors --------------------------------------------------------------------------------------


def test_missing_project_folder(tmp_path):
    with pytest.raises(DataError, match="project folder not found"):
        read_project(tmp_path / "nope")


def test_missing_meta(tmp_path):
    (tmp_path / "ds1" / "img").mkdir(parents=True)
    with pytest.raises(DataError, match="meta.json: not found"):
        read_project(tmp_path)


def test_unparsable_meta(tmp_path):
    (tmp_path / "meta.json").write_text("{oops")
    with pytest.raises(DataError, match="meta.json: cannot be parsed as JSON"):
        read_project(tmp_path)


def test_no_datasets(project):
    (project / "somewhere").mkdir()
    with pytest.raises(DataError, match="no datasets found"):
        read_project(project)


def test_dataset_missing_a_folder(project):
    (project / "ds1" / "img").mkdir(parents=True)
    with pytest.raises(DataError) as error:
        read_project(project)
    assert error.value.lines == ['dataset "ds1": ann/ folder missing']


def test_images_sharing_a_legacy_annotation_refuse_the_project_naming_every_clash(project):
    write_sample(project, "ds1", "a.jpg", ann(), ann_name="a.json")
    write_sample(project, "ds1", "a.png", None)
    write_sample(project, "ds1", "b.jpg", ann())
    for name in ("c.PNG", "c.bmp", "c.jpg"):
        write_sample(project, "ds2", name, ann(), ann_name="c.json")
    with pytest.raises(DataError) as error:
        read_project(project)
    assert error.value.lines == [
        f'{project / "ds1" / "img"}: a.jpg and a.png share the stem "a"; their legacy annotation ds1/ann/a.json would '
        "be ambiguous: rename or remove all but one, or give each its own ann/<file name>.json",
        f'{project / "ds2" / "img"}: c.PNG, c.bmp and c.jpg share the stem "c"; their legacy annotation ds2/ann/c.json '
        "would be ambiguous: rename or remove all but one, or give each its own ann/<file name>.json"]


def test_images_sharing_a_stem_with_their_own_annotations_are_fine(project):
    write_sample(project, "ds1", "a.jpg", ann(tags=["jpg"]))
    write_sample(project, "ds1", "a.png", ann(tags=["png"]))
    result = read_project(project)
    assert result.problems == []
    assert [(s.name, s.ann_path.name, s.tags) for s in result.samples] == [
        ("a.jpg", "a.jpg.json", {"jpg"}), ("a.png", "a.png.json", {"png"})]


def test_duplicate_class_titles(project):
    write_meta(project, classes=CLASSES + [{"title": "cat", "shape": "polygon", "color": "#000000"}])
    with pytest.raises(DataError) as error:
        read_meta(project)
    assert error.value.lines == [f'{project / "meta.json"}: class title "cat" appears 2 times']


def test_bad_class_entries_each_get_a_line(project):
    write_meta(project, classes=[{"title": "a", "shape": "bitmap", "color": "red"}, {"shape": "bitmap"}, "x"])
    with pytest.raises(DataError) as error:
        read_meta(project)
    path = project / "meta.json"
    assert error.value.lines == [
        f"{path}: classes[0]: class \"a\": \"color\" must look like \"#RRGGBB\", got 'red'",
        f'{path}: classes[1]: "title" must be a non-empty string',
        f"{path}: classes[2]: must be an object with title, shape and color",
    ]


# --- meta tag forms --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag_fields, names",
    [
        ({"tags": [{"name": "train", "value_type": "none", "color": "#000000"}, {"name": "val"}]}, ["train", "val"]),
        ({"tags_images": [{"name": "train"}], "tags_objects": [{"name": "occluded"}]}, ["train", "occluded"]),
        ({"tags_images": ["train", "val"], "tags_objects": ["val"]}, ["train", "val"]),
        ({"tags": ["train"]}, ["train"]),
        ({"tags_images": ["train"]}, ["train"]),
        ({}, []),
    ],
    ids=["current", "legacy-objects", "legacy-names", "current-names", "images-only", "none"],
)
def test_meta_tag_forms(project, tag_fields, names):
    write_meta(project, **tag_fields)
    assert read_meta(project).tags == names


def test_meta_mixing_tag_forms_is_an_error(project):
    write_meta(project, tags=[], tags_images=[])
    with pytest.raises(DataError, match='has both "tags" and legacy \'tags_images\': use one form'):
        read_meta(project)


def test_meta_bad_tag_entry(project):
    write_meta(project, tags_objects=[{"value_type": "none"}])
    with pytest.raises(DataError, match=r'tags_objects\[0\]: must be a tag name or an object with "name"'):
        read_meta(project)


# --- annotation without an image, split tags of bad samples, clipping warnings -----------------------------------


def test_annotation_without_image_is_a_problem_with_its_tags(project):
    write_sample(project, "ds1", "a.jpg", ann(tags=["train"]))
    (project / "ds1" / "ann" / "gone.png.json").write_text(json.dumps(ann(tags=["val", "extra"])))
    (project / "ds1" / "ann" / "old.json").write_text("{broken")
    (project / "ds1" / "ann" / "a.json").write_text(json.dumps(ann()))  # legacy name of a.jpg: not an orphan
    (project / "ds1" / "ann" / "._a.jpg.json").write_text("")
    result = read_project(project)
    assert [s.name for s in result.samples] == ["a.jpg"]
    assert problem_lines(result) == [
        'dataset "ds1", ann/gone.png.json: no image img/gone.png for this annotation',
        'dataset "ds1", ann/old.json: no image img/old.* for this annotation',
    ]
    assert [p.tags for p in result.problems] == [frozenset({"val", "extra"}), None]


@pytest.mark.parametrize(
    "annotation, tags",
    [
        (ann({"classTitle": "dog"}, tags=["train", {"name": "val", "value": 1}]), frozenset({"train", "val"})),
        ({"size": {"height": 0}, "tags": ["val"]}, frozenset({"val"})),
        ({"size": {"height": 4, "width": 6}, "tags": [{"value": 1}]}, None),
        ("{not json", None),
    ],
    ids=["bad-object", "bad-size", "bad-tags", "bad-json"],
)
def test_a_bad_sample_keeps_its_split_tags_when_they_can_be_read(project, annotation, tags):
    write_sample(project, "ds1", "a.jpg", annotation)
    [problem] = read_project(project).problems
    assert problem.tags == tags


def test_objects_outside_the_image_are_clipped_and_reported(project):
    objects = [
        points_obj("box", "rectangle", [[4, 2], [9, 9]]),
        points_obj("poly", "polygon", [[10, 10], [12, 10], [12, 12]]),
        bitmap_obj(origin=(0, 0)),
    ]
    result = read_one(project, *objects, tags=["train"])
    assert [s.name for s in result.samples] == ["a.jpg"] and result.problems == []
    assert [str(w) for w in result.warnings] == [
        'dataset "ds1", ann/a.jpg.json: object 0: partly outside the 6×4 image: clipped',
        'dataset "ds1", ann/a.jpg.json: object 1: entirely outside the 6×4 image: draws nothing',
    ]
    assert result.warnings[0].tags == frozenset({"train"})


def test_annotation_json_to_exact_pixels(project):
    """Parsing and drawing together: two holes, corners in reverse order, overlap in annotation order, clipping."""
    mask = np.array([[1, 1], [0, 1]], bool)
    objects = [
        points_obj("poly", "polygon", [[0, 0], [7, 0], [7, 4], [0, 4]],
                   [[[1, 1], [2, 1], [2, 2], [1, 2]], [[5, 2], [6, 2], [6, 3], [5, 3]]]),
        points_obj("box", "rectangle", [[9, 5], [6, 3]], key="shape"),
        bitmap_obj(origin=(2, 3), data=encode_bitmap(mask)),
    ]
    write_sample(project, "ds1", "a.jpg", ann(*objects, height=5, width=8))
    [sample] = read_project(project).samples
    out = rasterize(sample.objects, 5, 8, {"poly": 1, "box": 2, "cat": 3})
    np.testing.assert_array_equal(out, [
        [1, 1, 1, 1, 1, 1, 1, 1],
        [1, 0, 0, 1, 1, 1, 1, 1],
        [1, 0, 0, 1, 1, 0, 0, 1],
        [1, 1, 3, 3, 1, 0, 2, 2],
        [1, 1, 1, 3, 1, 1, 2, 2],
    ])


# --- images: checked by their headers when the project is opened -------------------------------------------------------------


def test_unreadable_truncated_or_missized_images_are_problems_naming_the_image(project):
    write_sample(project, "ds1", "ok.png", ann(tags=["train"]))
    write_sample(project, "ds1", "big.png", ann(tags=["val"], height=5))
    write_sample(project, "ds1", "junk.jpg", ann(tags=["train"]))
    (project / "ds1" / "img" / "junk.jpg").write_bytes(b"not an image")
    write_sample(project, "ds2", "cut.jpg", ann())
    data = cv2.imencode(".jpg", np.full((4, 6, 3), 99, np.uint8))[1].tobytes()
    (project / "ds2" / "img" / "cut.jpg").write_bytes(data[:-30])
    result = open_project(project)
    assert [s.name for s in result.samples] == ["ok.png"]
    assert problem_lines(result) == [
        'dataset "ds1", img/big.png: image is 6×4 but the annotation (ann/big.png.json) gives 6×5',
        'dataset "ds1", img/junk.jpg: not a readable image (unknown format, truncated or corrupted)',
        'dataset "ds2", img/cut.jpg: not a readable image (unknown format, truncated or corrupted)',
    ]
    assert [p.tags for p in result.problems] == [frozenset({"val"}), frozenset({"train"}), frozenset()]


def test_whole_images_of_the_right_size_are_not_decoded(project, monkeypatch):
    """The check reads headers; only a file the header cannot vouch for (here the cut one) is decoded."""
    write_sample(project, "ds1", "ok.png", ann(tags=["train"]))
    write_sample(project, "ds1", "ok.jpg", ann(tags=["train"]))
    write_sample(project, "ds1", "cut.jpg", ann(tags=["train"]))
    data = (project / "ds1" / "img" / "cut.jpg").read_bytes()
    (project / "ds1" / "img" / "cut.jpg").write_bytes(data[:-30])
    decoded = []
    monkeypatch.setattr(project_module, "decode_image", lambda path: decoded.append(path.name) or decode_image(path))
    result = open_project(project)
    assert [s.name for s in result.samples] == ["ok.jpg", "ok.png"] and decoded == ["cut.jpg"]
    assert problem_lines(result) == [
        'dataset "ds1", img/cut.jpg: not a readable image (unknown format, truncated or corrupted)']


def test_grey_rgba_16_bit_and_exif_rotated_images_are_read_at_their_shown_size(project):
    write_sample(project, "ds1", "grey.png", ann())
    cv2.imwrite(str(project / "ds1" / "img" / "grey.png"), np.zeros((4, 6), np.uint8))
    write_sample(project, "ds1", "rgba.png", ann())
    cv2.imwrite(str(project / "ds1" / "img" / "rgba.png"), np.zeros((4, 6, 4), np.uint8))
    write_sample(project, "ds1", "deep.png", ann())
    cv2.imwrite(str(project / "ds1" / "img" / "deep.png"), np.zeros((4, 6, 3), np.uint16))
    write_sample(project, "ds1", "turned.jpg", ann(height=6, width=4))  # the tool shows it rotated: 4 wide, 6 high
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(project / "ds1" / "img" / "turned.jpg", exif=exif.tobytes())
    result = open_project(project)
    assert result.problems == [] and len(result.samples) == 4
