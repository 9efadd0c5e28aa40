"""A batch run's bookkeeping: unusable images are listed, the rest is written, the input is left alone."""
import hashlib

from tests.infer.known import channel_model, class_image, random_classes, run, write_project


def _digest(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def test_skipped_and_failed_images_are_listed_and_the_rest_written(tmp_path, capsys):
    image = class_image(random_classes(4, 5))
    root = write_project(tmp_path / "p", {("ds", name): (image, [], []) for name in ("good.png", "bad.png", "odd.png")})
    (root / "ds" / "img" / "bad.png").write_bytes(b"not a png")
    (root / "ds" / "ann" / "odd.png.json").write_text('{"size": {"height": 4, "width": 5}, "objects": [{"classTitle": "cat"}]}')
    before = _digest(root)

    problems = run(root, tmp_path / "out", channel_model(), (4, 5), {"name": "full_image"})

    skipped, failed = problems
    assert skipped == 'skipped: dataset "ds", ann/odd.png.json: object 0: unknown classTitle "cat"'
    assert failed.startswith('failed: dataset "ds", img/bad.png: not a readable image')
    assert sorted(p.name for p in (tmp_path / "out" / "ds" / "img").iterdir()) == ["good.png"]
    assert "summary: 1 image(s) annotated (0 of them in the earlier run), 1 skipped, 1 failed" in capsys.readouterr().out
    assert _digest(root) == before
