"""convert_zoo: a model-zoo-like TF1 checkpoint → our checkpoint folder → infer.py and load_model."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, run_script
from tests.model.tf1_zoo import mobilenet_v2_names, write_tf1_checkpoint
from trainer.cli.convert_zoo import main
from trainer.model.zoo import class_titles

SMALL = ["--set", 'input_size={"width": 65, "height": 65}']


def convert_zoo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer.convert_zoo", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def zoo_folder(tmp_path_factory):
    """The unpacked tarball's layout: a folder holding model.ckpt.{index,data-…}."""
    folder = tmp_path_factory.mktemp("deeplabv3_mnv2_dm05_pascal_trainaug")
    return folder, write_tf1_checkpoint(str(folder / "model.ckpt"), mobilenet_v2_names(0.5, 21))


def test_zoo_class_lists():
    voc = class_titles("voc", "bg")
    assert len(voc) == 21 and voc[0] == "bg" and voc[15] == "person" and voc[20] == "tvmonitor"
    cityscapes = class_titles("cityscapes", "bg")
    assert len(cityscapes) == 19 and cityscapes[0] == "road" and cityscapes[18] == "bicycle"
    ade20k = class_titles("ade20k", "bg")
    assert len(ade20k) == len(set(ade20k)) == 151 and ade20k[:2] == ["bg", "wall"] and ade20k[150] == "flag"


def test_convert_then_infer_and_load_model(zoo_folder, tiny_project, tmp_path):
    folder, values = zoo_folder
    out = tmp_path / "voc_dm05"
    result = convert_zoo(str(folder), "--preset", "mobilenetv2_dm05_voc", "--classes", "voc", "--output", str(out),
                         *SMALL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(values)} loaded, 6 ignored (optimizer slots / global_step)" in result.stdout
    info = json.loads((out / "config.json").read_text())
    assert info["class_title_to_idx"]["bg"] == 0 and info["class_title_to_idx"]["tvmonitor"] == 20
    assert [c["title"] for c in info["out_classes"]][:2] == ["bg", "aeroplane"]
    assert info["settings"]["model"]["depth_multiplier"] == 0.5

    annotated = tmp_path / "annotated"
    result = run_script("infer.py", "--model", str(out), "--project", str(tiny_project), "--output", str(annotated))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list(annotated.glob("*/ann/*.json"))) == 9

    # load_model: the converted weights, logits at the input resolution; `import trainer` alone loads no TensorFlow.
    check = ("import sys, numpy as np, trainer; assert 'tensorflow' not in sys.modules; "
             f"m = trainer.load_model({str(out)!r}); "
             "print(m(np.zeros([2, 97, 130, 3], np.float32)).shape); "
             "print(float(m.network.get_layer('aspp0').kernel.numpy().ravel()[0]))")
    result = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    shape, first = result.stdout.split("\n")[:2]
    assert shape == "(2, 97, 130, 21)"
    assert np.isclose(float(first), values["aspp0/weights"].ravel()[0])


def test_convert_refusals(zoo_folder, tmp_path, capsys):
    """In-process (the exit-status contract is run_cli's): exit 2, the one line naming the problem."""
    folder, _ = zoo_folder

    def convert_zoo(*args):
        code = main(list(args))
        return subprocess.CompletedProcess(args, code, "", capsys.readouterr().err)

    existing = tmp_path / "taken"
    existing.mkdir()
    (existing / "x").write_text("")
    cases = {
        ("--classes", "voc", "--output", str(existing)): "already exists and is not empty",
        ("--classes", "cityscapes", "--output", str(tmp_path / "a")):
            r"logits/semantic/weights: shape [1, 1, 256, 21] in the checkpoint, [1, 1, 256, 19] in the model",
        ("--classes", str(tmp_path / "nope.txt"), "--output", str(tmp_path / "b")): "nor a readable file",
    }
    for args, message in cases.items():
        result = convert_zoo(str(folder), "--preset", "mobilenetv2_dm05_voc", *args, *SMALL)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "a").exists()
    (tmp_path / "empty").mkdir()
    result = convert_zoo(str(tmp_path / "empty"), "--preset", "mobilenetv2_dm05_voc", "--classes", "voc",
                         "--output", str(tmp_path / "c"))
    assert result.returncode == 2 and "no TF1 checkpoint there" in result.stderr
    result = convert_zoo(str(folder), "--preset", "mobilenetv2_deeplabv3", "--classes", "voc",
                         "--output", str(tmp_path / "d"))
    assert result.returncode == 2 and 'is not "deeplab"' in result.stderr


def test_train_from_a_zoo_checkpoint(zoo_folder, tiny_project, tmp_path):
    """init_weights = the unpacked zoo folder: transfer_learning onto the project's classes, summary printed."""
    folder, values = zoo_folder
    result = run_script("train.py", "--preset", "mobilenetv2_dm05_voc", "--project", str(tiny_project),
                        "--output", str(tmp_path / "run"), "--set", f"init_weights={folder}", *SMALL,
                        "--set", 'batch_size={"train": 3, "val": 3}', "--set", "epochs=1",
                        "--set", 'data_workers={"train": 1, "val": 1}')
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"weights from TF1 checkpoint {folder / 'model.ckpt'} (transfer_learning): {len(values) - 2} loaded, "
            "6 ignored (optimizer slots / global_step), 2 skipped and random (the classifier logits/semantic)"
            in result.stdout)
