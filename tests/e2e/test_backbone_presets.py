"""Each model preset beyond MobileNetV2 (and the other new backbones, on their family's preset) trains and infers
end to end on a generated project, at a small input size."""
import json

import pytest

from tests.conftest import read_jsonl, run_script
from trainer.model.backbones import backbone as backbone_entry

SMALL = ["--set", 'input_size={"width": 65, "height": 65}', "--set", 'batch_size={"train": 3, "val": 3}',
         "--set", "epochs=1", "--set", 'data_workers={"train": 1, "val": 1}']
# (preset, backbone, implementation). The slow set, as CI runs it: the backbone harness builds every entry and takes
# one training step on it in the default run.
CASES = [
    pytest.param("xception65_voc", "xception_65", "deeplab", marks=pytest.mark.slow),
    pytest.param("xception41_imagenet", "xception_41", "deeplab", marks=pytest.mark.slow),   # Xception-65's flows
    pytest.param("xception71_imagenet", "xception_71", "deeplab", marks=pytest.mark.slow),
    pytest.param("mobilenetv3_large_deeplabv3", "mobilenet_v3_large", "tf_models", marks=pytest.mark.slow),
    pytest.param("mobilenetv4_conv_medium_deeplabv3", "mobilenet_v4_conv_medium", "tf_models",
                 marks=pytest.mark.slow),
    *(pytest.param(preset, backbone, "tf_models", marks=pytest.mark.slow) for preset, backbone in [
        ("mobilenetv3_large_deeplabv3", "mobilenet_v3_small"),
        ("mobilenetv4_conv_medium_deeplabv3", "mobilenet_v4_conv_small"),
        ("mobilenetv4_conv_medium_deeplabv3", "mobilenet_v4_conv_large"),
        ("mobilenetv4_conv_medium_deeplabv3", "mobilenet_v4_conv_medium_seg")]),
    pytest.param("xception71_dpc_cityscapes", "xception_71", "deeplab", marks=pytest.mark.slow),
    # The zoo's MobileNetV3 head (windowed image pooling cut to the 65×65 input's 3×3 map, squeeze-excitation,
    # stride-8 sum-merge decoder giving the logits).
    pytest.param("mobilenetv3_small_cityscapes", "mobilenet_v3_small", "deeplab", marks=pytest.mark.slow),
    pytest.param("mobilenetv3_large_cityscapes", "mobilenet_v3_large", "deeplab", marks=pytest.mark.slow),
    # EdgeTPU-DeepLab-slim: no decoder end point, so DeepLabV3 as the zoo trained it.
    pytest.param("edgetpu_deeplab_slim_cityscapes", "mobilenet_edgetpu", "deeplab", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("preset,backbone,implementation", CASES)
def test_preset_trains_and_infers(preset, backbone, implementation, tiny_project, tmp_path):
    run = tmp_path / "run"
    # The MobileNetV3 / V4 presets are DeepLabV3: with the V3+ decoder on, the run also uses each backbone's
    # stride-4 endpoint (level 2), which the backbone harness (no decoder) does not; a backbone without one keeps it
    # off.
    decoder = backbone_entry({"implementation": implementation, "backbone": backbone}).decoder
    result = run_script("train.py", "--preset", preset, "--project", str(tiny_project), "--output", str(run),
                        *SMALL, "--set", f'model.backbone="{backbone}"',
                        "--set", f"model.decoder={str(decoder).lower()}")
    assert result.returncode == 0, result.stdout + result.stderr
    saved = json.loads((run / "config.json").read_text())
    assert (saved["model"]["backbone"], saved["model"]["implementation"], saved["model"]["decoder"]) == (
        backbone, implementation, decoder)
    assert [r["epoch"] for r in read_jsonl(run / "metrics.jsonl")] == [1.0]

    output = tmp_path / "annotated"
    result = run_script("infer.py", "--model", str(run), "--project", str(tiny_project), "--output", str(output))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list(output.glob("*/ann/*.json"))) == 9
