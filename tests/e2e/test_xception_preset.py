"""The xception65_voc preset (research DeepLab's Xception-65 + ASPP + V3+ decoder) trains and infers end to end."""
import json

from tests.conftest import read_jsonl, run_script

SMALL = ["--set", 'input_size={"width": 65, "height": 65}', "--set", 'batch_size={"train": 3, "val": 3}',
         "--set", "epochs=1", "--set", 'data_workers={"train": 1, "val": 1}']


def test_xception65_preset_trains_and_infers(tiny_project, tmp_path):
    run = tmp_path / "run"
    result = run_script("train.py", "--preset", "xception65_voc", "--project", str(tiny_project),
                        "--output", str(run), *SMALL)
    assert result.returncode == 0, result.stdout + result.stderr
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"]["backbone"] == "xception_65" and saved["model"]["implementation"] == "deeplab"
    assert [r["epoch"] for r in read_jsonl(run / "metrics.jsonl")] == [1.0]

    output = tmp_path / "annotated"
    result = run_script("infer.py", "--model", str(run), "--project", str(tiny_project), "--output", str(output))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list(output.glob("*/ann/*.json"))) == 9
