"""The ResNet-v1-beta presets train from an ImageNet checkpoint of research/deeplab's names (backbone and its
classification head; init_weights) and infer, end to end on a generated project at a small input size."""
import json

import pytest

from tests.conftest import read_jsonl, run_script
from tests.model.tf1_zoo import resnet_v1_beta_imagenet_names, trained_value, write_tf1_checkpoint

SMALL = ["--set", 'input_size={"width": 65, "height": 65}', "--set", 'batch_size={"train": 3, "val": 3}',
         "--set", "epochs=1", "--set", 'data_workers={"train": 1, "val": 1}']


@pytest.mark.slow   # 26 s for 50 (101: 50's code, 2× the size); ResNet's ImageNet import stays in the default run
@pytest.mark.parametrize("layers", [50, 101])
def test_resnet_beta_preset_trains_from_imagenet_and_infers(layers, tiny_project, tmp_path):
    imagenet = tmp_path / f"resnet_v1_{layers}_beta_imagenet"
    imagenet.mkdir()
    write_tf1_checkpoint(str(imagenet / "model.ckpt"), resnet_v1_beta_imagenet_names(layers), values_from=trained_value)
    run = tmp_path / "run"
    result = run_script("train.py", "--preset", f"resnet{layers}_beta_imagenet", "--project", str(tiny_project),
                        "--output", str(run), *SMALL, "--set", f"init_weights={imagenet}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"(transfer_learning): {5 * (3 + 3 * {50: 16, 101: 33}[layers] + 4)} loaded (the backbone, "
            f"resnet_v1_{layers}/…)") in result.stdout
    assert f"2 ignored (its classification head: resnet_v1_{layers}/logits)" in result.stdout
    assert "fresh (a backbone-only checkpoint; ASPP, decoder and classifier start from their initialisers" \
        in result.stdout
    saved = json.loads((run / "config.json").read_text())
    assert (saved["model"]["backbone"], saved["init_weights"]) == (f"resnet_v1_{layers}_beta", str(imagenet))
    records = read_jsonl(run / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1.0] and 0 <= records[0]["mean_iou"] <= 1

    output = tmp_path / "annotated"
    result = run_script("infer.py", "--model", str(run), "--project", str(tiny_project), "--output", str(output))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list(output.glob("*/ann/*.json"))) == 9
