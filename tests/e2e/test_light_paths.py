"""The light paths stay light: checking inputs (configs, checkpoint folders, train.py --check) never waits for
TensorFlow, and reading a checkpoint folder never loads albumentations and OpenCV's augmentation stack."""
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from trainer.config.resolve import resolve_train_config

HEAVY = ("tensorflow", "tf_keras", "official", "albumentations")


def loaded_after(code: str, *args: str) -> set[str]:
    """The heavy packages a fresh interpreter has loaded after running `code` (with `args` as sys.argv[1:])."""
    probe = f"{code}\nimport sys; print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe, *args], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("LOADED "))
    return set(eval(line[len("LOADED "):]))  # noqa: S307 — our own probe's list literal


@pytest.fixture(scope="module")
def checkpoint_folder(tmp_path_factory):
    """A checkpoint folder whose settings carry a custom augmentation pipeline (the weights are not read here)."""
    folder = tmp_path_factory.mktemp("checkpoint")
    settings = resolve_train_config(str(REPO / "configs" / "train_augment_jitter.json"), None, [])
    info = {"settings": settings, "out_classes": [{"title": "bg", "shape": "bitmap", "color": "#000000"}],
            "class_title_to_idx": {"bg": 0}, "neutral_class": "neutral"}
    (folder / "config.json").write_text(json.dumps(info))
    (folder / "weights").mkdir()
    (folder / "weights" / "ckpt.index").write_bytes(b"")
    return folder


def test_resolving_configs_loads_no_tensorflow():
    code = ("from trainer.config.resolve import resolve_infer_config, resolve_train_config\n"
            "resolve_train_config(None, 'xception65_voc', ['model.output_stride=8'])\n"
            "resolve_infer_config(None, ['mode.name=sliding_window'])")
    assert loaded_after(code) == set()


def test_reading_a_checkpoint_folder_loads_neither_tensorflow_nor_albumentations(checkpoint_folder):
    code = ("import sys\nfrom pathlib import Path\nfrom trainer.model.checkpoint_folders import ModelSource\n"
            "source = ModelSource.locate(Path(sys.argv[1]), output_stride=8)\n"
            "assert source.info.settings['augmentations']['train'] is not None and source.model['output_stride'] == 8")
    assert loaded_after(code, str(checkpoint_folder)) == set()


def test_inference_inputs_are_checked_before_tensorflow(checkpoint_folder):
    """What infer.py checks before loading a model: its config and the checkpoint it names."""
    code = ("import sys\nfrom trainer.config.resolve import resolve_infer_config\n"
            "from trainer.infer.session import InferenceSession\n"
            "InferenceSession.locate(sys.argv[1], resolve_infer_config(None, ['model.output_stride=8']))")
    assert loaded_after(code, str(checkpoint_folder)) == set()


def test_train_check_loads_no_tensorflow(tiny_project):
    code = "import sys\nfrom trainer.cli.train import main\nassert main(['--check', '--project', sys.argv[1]]) == 0"
    assert loaded_after(code, str(tiny_project)) == set()
