"""The quick start: `python train.py` then `python infer.py` with no arguments, on the embedded demo."""
import os

from tests.conftest import read_jsonl, run_script
from trainer.data.supervisely import read_project


def test_demo_trains_and_infers_with_no_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPLAB_TRAINER_CACHE", str(tmp_path / "cache"))
    trained = run_script("train.py", cwd=tmp_path)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert f"output: {os.path.join('runs', run.name)}" in trained.stdout
    records = read_jsonl(run / "metrics.jsonl")
    assert max(r["mean_iou"] for r in records) >= 0.6, records

    inferred = run_script("infer.py", cwd=tmp_path)
    assert inferred.returncode == 0, inferred.stdout + inferred.stderr
    output = tmp_path / "runs" / f"{run.name}-inference"
    assert f"output: {os.path.join('runs', output.name)}" in inferred.stdout
    project = read_project(output)
    demo = read_project(tmp_path / "cache" / "demo-v1")
    assert len(project.samples) == len(demo.samples)
    predicted = [o for s in project.samples for o in s.raw_ann["objects"] if o["classTitle"].endswith("_deeplab")]
    assert {o["classTitle"] for o in predicted} >= {"bg_deeplab", "circle_deeplab", "square_deeplab"}
