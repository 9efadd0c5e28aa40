"""`python -m trainer.describe`: one JSON object on stdout; user errors exit 2 with one line."""
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from trainer.cli.describe import main


def test_describe_prints_one_json_object(capsys):
    assert main(["--preset", "mobilenetv2_dm05_voc", "--input-size", "513", "513"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["output_stride"], info["num_classes"], info["input_size"]) == (16, 21, [513, 513])
    assert abs(info["madds"] / 0.88e9 - 1) < 0.02 and 0.5e6 < info["params"] < 1e6


@pytest.mark.parametrize("args,message", [
    (["--preset", "nope"], 'error: --preset: unknown preset "nope"'),
    ([], "error: python -m trainer.describe: one of the arguments --preset --config is required"),
    (["--preset", "xception65_voc", "--input-size", "16", "16"], "error: --input-size: 16 16 is too small"),
])
def test_describe_user_errors_exit_2(args, message):
    result = subprocess.run([sys.executable, "-m", "trainer.describe", *args], cwd=REPO, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 2 and result.stderr.startswith(message), result.stderr
    assert len(result.stderr.splitlines()) == 1
