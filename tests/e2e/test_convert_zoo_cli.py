"""convert_zoo: a model-zoo-like TF1 checkpoint or frozen graph → our checkpoint folder → infer.py and load_model;
--verify against the frozen graph."""
import json
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.conftest import REPO, run_script
from tests.model.tf1_zoo import (mobilenet_v2_names, mobilenet_v3_names, trained_value,
                                 write_mobilenet_v3_frozen_graph, write_tf1_checkpoint, write_zoo_folder)
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


@pytest.mark.slow   # 21 s; train_from_a_zoo_checkpoint stays in the default run
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
            "has 21 classes (logits/semantic/weights), but --classes cityscapes has 19",
        ("--classes", str(tmp_path / "nope.txt"), "--output", str(tmp_path / "b")): "nor a readable file",
    }
    for args, message in cases.items():
        result = convert_zoo(str(folder), "--preset", "mobilenetv2_dm05_voc", *args, *SMALL)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "a").exists()
    (tmp_path / "empty").mkdir()
    result = convert_zoo(str(tmp_path / "empty"), "--preset", "mobilenetv2_dm05_voc", "--classes", "voc",
                         "--output", str(tmp_path / "c"))
    assert result.returncode == 2 and "no TF1 checkpoint or frozen graph there" in result.stderr
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


# ---- frozen graphs (research/deeplab's frozen_inference_graph.pb, exported at OS 8)

OS16_RATES = ["--set", "model.atrous_rates=[6,12,18]"]   # the checkpoint's training setting; the graph runs 12/24/36


@pytest.fixture(scope="module")
def exported_graph(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deeplabv3_mnv2_dm05_os8")
    return folder / "frozen_inference_graph.pb", write_zoo_folder(folder, atrous_rates=[12, 24, 36])


@pytest.mark.slow   # 13 s; the MobileNetV3 --verify run stays in the default run
def test_convert_a_frozen_graph_runs_it_as_exported_and_verifies(exported_graph, tiny_project, tmp_path):
    graph, values = exported_graph
    out = tmp_path / "from_graph"
    image = next(tiny_project.glob("*/img/*"))
    result = convert_zoo(str(graph), "--preset", "mobilenetv2_dm05_voc", "--classes", "voc", "--output", str(out),
                         *SMALL, *OS16_RATES, "--verify", str(image))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"weights from frozen graph {graph} (all variables): {len(values)} loaded\n" in result.stdout
    assert ("the frozen graph was exported at output stride 8 with ASPP rates [12, 24, 36] (preset "
            "mobilenetv2_dm05_voc (with --set) trains at 16 with [6, 12, 18]; same weights)") in result.stdout
    assert re.search(r"verify: frozen graph and converted model on 1 image\(s\) at 65×65, output stride 8, ASPP "
                     r"rates \[12, 24, 36\]: max \|logit difference\| \d\.\d\de-0[5-9] of the largest logit .*, "
                     r"labels equal on 100\.00% of pixels — passed", result.stdout), result.stdout
    info = json.loads((out / "config.json").read_text())
    assert info["inference_defaults"] == {"output_stride": 8, "atrous_rates": [12, 24, 36]}
    assert info["settings"]["model"]["output_stride"] == 16 and info["source"].endswith(str(graph))

    # load_model and infer.py's source run it as exported; told otherwise, at the trained stride.
    from trainer import load_model
    from trainer.model.checkpoint_folders import ModelSource
    from trainer.model.frozen_graph import FrozenGraph

    source = ModelSource.locate(out)
    assert (source.model["output_stride"], source.model["atrous_rates"]) == (8, [12, 24, 36])
    assert source.change() == ("model run at output stride 8 with ASPP rates [12, 24, 36] (trained at 16 with "
                               "[6, 12, 18]; same weights), as its frozen graph was exported (its inference default)")
    told = ModelSource.locate(out, output_stride=16)
    assert (told.model["output_stride"], told.model["atrous_rates"], told.change()) == (16, [6, 12, 18], None)
    pixels = np.random.default_rng(0).integers(0, 256, [65, 65, 3], np.uint8)
    frozen = FrozenGraph.load(graph)
    expected = frozen.run([pixels], frozen.logits_tensor())[0]
    largest = np.abs(expected).max()
    as_exported = load_model(out)(pixels[None].astype(np.float32)).numpy()[0]
    assert np.abs(as_exported - expected).max() <= 1e-4 * largest
    at_16 = load_model(out, output_stride=16)(pixels[None].astype(np.float32)).numpy()[0]
    assert np.abs(at_16 - expected).max() > 1e-2 * largest   # the stride matters: the default is not a no-op


def test_verify_exits_2_on_a_conversion_that_is_not_the_graph(tmp_path, capsys):
    """A zoo folder whose checkpoint is not what its graph was frozen from: CHECKPOINT = the folder converts the
    checkpoint, --verify (default: demo images) runs the graph beside it. In-process: the exit status is run_cli's."""
    folder = tmp_path / "tarball"
    folder.mkdir()
    write_zoo_folder(folder, graph_changes={"concat_projection/weights": 1.5})
    code = main([str(folder), "--preset", "mobilenetv2_dm05_voc", "--classes", "voc", "--output",
                 str(tmp_path / "converted"), *SMALL, "--verify"])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert re.search(r"verify: frozen graph and converted model on 4 image\(s\) at 65×65, output stride 8, ASPP "
                     r"rates \[\]: .* — FAILED", out), out
    assert re.search(r"^error: --verify: the converted model's logits differ from the frozen graph's by \d\.\d\de[-+]"
                     r"\d\d of the largest logit \(more than 1e-4\)", err, re.M), err


def test_verify_runs_a_mobilenet_v3_graph_at_its_export_crop_not_its_pooling_window(tmp_path, capsys):
    """The zoo's MobileNetV3 graphs pool a window of --image_pooling_crop_size (not the whole map) with a stride:
    --verify reads the export crop from the resize after the pooling (129×193 here; window of 65×129, stride 1, 2)."""
    graph = tmp_path / "frozen_inference_graph.pb"
    values = {name: trained_value(name, shape) for name, shape in mobilenet_v3_names("small", 19).items()}
    write_mobilenet_v3_frozen_graph(graph, "small", values, crop=(129, 193), pool_crop=(65, 129), pool_stride=(1, 2))
    image = tmp_path / "street.png"
    cv2.imwrite(str(image), np.random.default_rng(5).integers(0, 256, [90, 160, 3], np.uint8))
    code = main([str(graph), "--preset", "mobilenetv3_small_cityscapes", "--classes", "cityscapes", "--output",
                 str(tmp_path / "converted"), "--set", "model.image_pooling_crop_size=[65,129]",
                 "--set", "model.image_pooling_stride=[1,2]", "--verify", str(image)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert re.search(r"verify: frozen graph and converted model on 1 image\(s\) at 129×193, output stride 32, ASPP "
                     r"rates \[\]: max \|logit difference\| \d\.\d\de-0[5-9] of the largest logit .*, labels equal "
                     r"on 1\d\d\.\d\d% of pixels — passed", out), out

def test_frozen_graph_refusals(exported_graph, zoo_folder, tmp_path, capsys):
    """What fixes the weights must be the preset's (both named); --verify needs a graph. Exit 2, nothing written."""
    graph, _ = exported_graph
    garbage = tmp_path / "frozen_inference_graph.pb"
    garbage.write_bytes(b"\x00not a graph\xff" * 8)
    cases = {
        (str(garbage),): f"error: {garbage}: not a frozen TF1 graph (no GraphDef with constants)",
        (str(graph), "--set", "model.decoder=true", *OS16_RATES):
            f"error: CHECKPOINT {graph}: has no decoder (decoder/…), but model.decoder is true in preset "
            "mobilenetv2_dm05_voc (with --set)",
        (str(graph),): f"error: CHECKPOINT {graph}: has 3 atrous ASPP branch(es) (aspp1…), but model.atrous_rates [] "
                       "has 0 in preset mobilenetv2_dm05_voc (with --set)",
        (str(zoo_folder[0]), "--verify"):
            "error: --verify: runs the original frozen graph, and there is no frozen_inference_graph.pb beside TF1 "
            f"checkpoint {zoo_folder[0]}/model.ckpt: pass the graph as CHECKPOINT",
    }
    for i, (args, message) in enumerate(cases.items()):
        code = main([args[0], "--preset", "mobilenetv2_dm05_voc", "--classes", "voc", "--output",
                     str(tmp_path / str(i)), *SMALL, *args[1:]])
        assert (code, capsys.readouterr().err.strip()) == (2, message)
        assert not (tmp_path / str(i)).exists()
