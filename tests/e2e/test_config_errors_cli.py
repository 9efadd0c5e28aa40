"""Every malformed config exits 2 through the CLIs with one line naming the key path and no traceback."""
import json
import subprocess

import pytest

from tests.config.cases import INFER_CASES, TRAIN_CASES
from tests.conftest import run_script
from trainer.cli import infer as infer_cli
from trainer.cli import train as train_cli


def _check(main, capsys, tmp_path, data, key_path, fragment):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(data))
    status = main(["--config", str(config), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2, err
    assert f"error: {'train' if main is train_cli.main else 'inference'} config {config}: {key_path}: " in err
    assert fragment in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("data,key_path,fragment", TRAIN_CASES, ids=[json.dumps(c[0]) for c in TRAIN_CASES])
def test_train_cli_rejects(capsys, tmp_path, data, key_path, fragment):
    _check(train_cli.main, capsys, tmp_path, data, key_path, fragment)


@pytest.mark.parametrize("data,key_path,fragment", INFER_CASES, ids=[json.dumps(c[0]) for c in INFER_CASES])
def test_infer_cli_rejects(capsys, tmp_path, data, key_path, fragment):
    _check(infer_cli.main, capsys, tmp_path, data, key_path, fragment)


def test_bad_set_and_unknown_flag_exit_2_in_a_real_process(tmp_path):
    for args in (["--set", "lr"], ["--set", "batch_size.train=0"], ["--bogus"], ["--preset", "nope"]):
        result = run_script("train.py", *args, "--output", str(tmp_path / "out"))
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    result = run_script("train.py", "--set", "batch_size.train=0")
    assert result.stderr.strip() == "error: train config (+ --set): batch_size.train: 0 is less than the minimum of 1"
