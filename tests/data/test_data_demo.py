import numpy as np

from trainer.data import demo
from trainer.data.classes import build_class_mapping
from trainer.data.demo import demo_project, write_synthetic_project
from trainer.data.geometry import rasterize
from trainer.data.images import read_image
from trainer.data.split import split_samples
from trainer.data.supervisely import read_project

PAINT = {"circle": (225, 45, 40), "square": (40, 80, 225), "ring": (40, 200, 70), "triangle": (240, 205, 30)}


def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    first = files(write_synthetic_project(tmp_path / "a", train=6, val=3, size=(48, 48), seed=5))
    second = files(write_synthetic_project(tmp_path / "b", train=6, val=3, size=(48, 48), seed=5))
    other = files(write_synthetic_project(tmp_path / "c", train=6, val=3, size=(48, 48), seed=6))
    assert first == second
    assert first.keys() == other.keys()
    assert all(first[name] != other[name] for name in first if name.endswith((".jpg", ".png")))


def test_reads_back_with_expected_classes_splits_and_skipped_points(tmp_path):
    project = read_project(write_synthetic_project(tmp_path, train=12, val=4, size=(64, 80)))
    assert project.problems == []
    assert [(c.title, c.shape) for c in project.meta.classes] == [
        ("circle", "bitmap"), ("square", "rectangle"), ("ring", "polygon"), ("triangle", "polygon"),
        ("neutral", "rectangle"), ("marker", "point"),
    ]
    assert project.meta.tags == ["train", "val"]
    assert len(project.samples) == 16
    assert {s.dataset for s in project.samples} == {"ds1", "ds2"}
    assert {s.name.rsplit(".", 1)[1] for s in project.samples} == {"jpg", "png"}
    assert all((s.height, s.width) == (64, 80) and read_image(s.image_path).shape == (64, 80, 3)
               for s in project.samples)
    train, val = split_samples(project.samples, "train", "val")
    assert (len(train), len(val)) == (12, 4) and not {s.name for s in train} & {s.name for s in val}
    assert set(project.skipped_shapes) == {("marker", "point")} and project.skipped_shapes[("marker", "point")] >= 2
    shapes_used = {(o.class_title, o.shape) for s in project.samples for o in s.objects}
    assert shapes_used == {("circle", "bitmap"), ("square", "rectangle"), ("ring", "polygon"),
                           ("triangle", "polygon"), ("neutral", "rectangle")}
    rings = [o for s in project.samples for o in s.objects if o.class_title == "ring"]
    assert all(len(o.data[1]) == 1 for o in rings)


def test_labels_agree_with_painted_pixels(tmp_path):
    project = read_project(write_synthetic_project(tmp_path, train=16, val=0, size=(96, 96), seed=1))
    mapping = build_class_mapping(project.meta, "bg", "neutral")
    values = mapping.pixel_values()
    pixels = {title: [] for title in PAINT}
    for sample in project.samples:
        label = rasterize(sample.objects, sample.height, sample.width, values)
        image = read_image(sample.image_path).astype(float)
        for title in PAINT:
            pixels[title].append(image[label == values[title]])
    for title, rgb in PAINT.items():
        mean = np.concatenate(pixels[title]).mean(axis=0)
        assert np.all(np.abs(mean - rgb) < 25), (title, mean)


def test_shapes_cover_a_reasonable_share_of_each_image(tmp_path):
    project = read_project(write_synthetic_project(tmp_path, train=20, val=0, size=(80, 80), seed=2))
    mapping = build_class_mapping(project.meta, "bg", "neutral")
    for sample in project.samples:
        shapes = [o for o in sample.objects if o.class_title != "neutral"]
        assert 1 <= len(shapes) <= 4
        label = rasterize(shapes, 80, 80, mapping.pixel_values())
        assert 0.02 < np.count_nonzero(label) / label.size < 0.95


def test_optional_classes(tmp_path):
    project = read_project(write_synthetic_project(tmp_path, train=3, val=3, with_neutral=False, with_bg_class=True))
    titles = [c.title for c in project.meta.classes]
    assert "neutral" not in titles and "bg" in titles
    assert all(o.class_title != "neutral" for s in project.samples for o in s.objects)
    assert build_class_mapping(project.meta, "bg", "neutral").out_classes[0]["color"] == "#000000"


def test_demo_project_is_generated_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPLAB_TRAINER_CACHE", str(tmp_path))
    path = demo_project()
    assert path == tmp_path / "demo-v1"
    project = read_project(path)
    train, val = split_samples(project.samples, "train", "val")
    assert (len(train), len(val)) == (64, 16)
    assert (project.samples[0].height, project.samples[0].width) == (160, 160)
    stamp = (path / "meta.json").stat().st_mtime_ns
    monkeypatch.setattr(demo, "write_synthetic_project", None)  # a second call must not generate again
    assert demo_project() == path
    assert (path / "meta.json").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == ["demo-v1"]


def test_demo_project_losing_a_race_keeps_the_winners_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPLAB_TRAINER_CACHE", str(tmp_path))
    real_writer = demo.write_synthetic_project

    def writer_that_loses_the_race(root, **kwargs):
        real_writer(root, **kwargs)
        (tmp_path / "demo-v1").mkdir()
        (tmp_path / "demo-v1" / "winner").write_text("")

    monkeypatch.setattr(demo, "write_synthetic_project", writer_that_loses_the_race)
    assert demo_project() == tmp_path / "demo-v1"
    assert (tmp_path / "demo-v1" / "winner").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["demo-v1"]
