"""Where a TF1 checkpoint or frozen graph is found: the file layouts of the zoo's and slim's tarballs, unpacked."""
from pathlib import Path

import pytest

from trainer.errors import UserError
from trainer.model.tf1_source import CHECKPOINT, FROZEN_GRAPH, FROZEN_GRAPH_FILE, Tf1Source, find_tf1_source


def _files(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def _checkpoint(prefix: str) -> tuple[str, str]:
    return f"{prefix}.index", f"{prefix}.data-00000-of-00001"


def test_slims_mobilenet_tarball_is_found_from_its_folder_and_from_where_it_was_unpacked(tmp_path):
    # slim's mobilenet_v2_1.0_224.tgz: the checkpoint is named after the network, beside its classification graph
    _files(tmp_path, *_checkpoint("mobilenet_v2_1.0_224/mobilenet_v2_1.0_224.ckpt"),
           "mobilenet_v2_1.0_224/mobilenet_v2_1.0_224.ckpt.meta", "mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_frozen.pb")
    expected = Tf1Source(str(tmp_path / "mobilenet_v2_1.0_224/mobilenet_v2_1.0_224.ckpt"), CHECKPOINT)
    assert find_tf1_source(tmp_path / "mobilenet_v2_1.0_224") == expected
    assert find_tf1_source(tmp_path) == expected


def test_a_folders_only_graph_is_taken_when_it_has_no_checkpoint(tmp_path):
    _files(tmp_path, "net/mobilenet_v2_1.0_224_frozen.pb")
    assert find_tf1_source(tmp_path / "net") == Tf1Source(str(tmp_path / "net/mobilenet_v2_1.0_224_frozen.pb"),
                                                          FROZEN_GRAPH)
    _files(tmp_path, "zoo/frozen_inference_graph.pb", "zoo/other.pb")   # the zoo's name wins over other graphs
    assert find_tf1_source(tmp_path / "zoo") == Tf1Source(str(tmp_path / "zoo" / FROZEN_GRAPH_FILE), FROZEN_GRAPH)


def test_a_zoo_checkpoint_one_folder_down(tmp_path):
    _files(tmp_path, *_checkpoint("deeplabv3_mnv2_pascal_train_aug/model.ckpt-30000"),
           "deeplabv3_mnv2_pascal_train_aug/frozen_inference_graph.pb")
    assert find_tf1_source(tmp_path) == Tf1Source(
        str(tmp_path / "deeplabv3_mnv2_pascal_train_aug/model.ckpt-30000"), CHECKPOINT)


def test_several_checkpoints_are_refused_naming_each(tmp_path):
    _files(tmp_path, *_checkpoint("a/model.ckpt"), *_checkpoint("b/model.ckpt-5"))
    with pytest.raises(UserError) as error:
        find_tf1_source(tmp_path)
    assert str(tmp_path / "a/model.ckpt") in str(error.value) and str(tmp_path / "b/model.ckpt-5") in str(error.value)
    assert "pass one of them" in str(error.value)


@pytest.mark.parametrize("names", [
    pytest.param(["weights/ckpt.index", "weights/ckpt.data-00000-of-00001", "config.json"],
                 id="our checkpoint folder"),
    pytest.param(["saved_model.pb", "variables/variables.index"], id="an exported SavedModel"),
    pytest.param(["notes.txt"], id="nothing of TF1")])
def test_what_is_not_tf1_is_not_taken_for_it(tmp_path, names):
    assert find_tf1_source(_files(tmp_path / "folder", *names)) is None
