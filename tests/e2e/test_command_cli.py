"""`deeplab-trainer COMMAND` (the installed console script) and `python -m trainer COMMAND`: the same commands as
train.py, infer.py and `python -m trainer.X`, with the same arguments and exit statuses."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# pip puts the console script beside the interpreter of the environment it installs into.
CONSOLE_SCRIPT = shutil.which("deeplab-trainer", path=str(Path(sys.executable).parent))


def _run(*args: str, console: bool = False) -> subprocess.CompletedProcess:
    command = [CONSOLE_SCRIPT] if console else [sys.executable, "-m", "trainer"]
    return subprocess.run([*command, *args], cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("console", [False, pytest.param(True, marks=pytest.mark.skipif(
    CONSOLE_SCRIPT is None, reason="deeplab-trainer is not installed in this environment"))], ids=["-m", "script"])
def test_subcommand_runs_the_command(console):
    result = _run("describe", "--preset", "mobilenetv2_dm05_voc", "--input-size", "65", "65", console=console)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["backbone"], info["implementation"], info["input_size"]) == ("mobilenet_v2", "deeplab", [65, 65])


def test_help_lists_every_command():
    result = _run("--help")
    assert result.returncode == 0
    assert all(name in result.stdout for name in ("train", "infer", "describe", "convert-zoo", "export", "serve"))


@pytest.mark.parametrize("args,message", [
    ([], "error: deeplab-trainer: a command is required (one of: train, infer, describe, convert-zoo, export, serve)"),
    (["fit"], "error: deeplab-trainer: unknown command 'fit' (one of: train, infer, describe, convert-zoo, export, serve)"),
    (["train", "--check", "--project", "/nonexistent/project"], "error: /nonexistent/project: project folder not found"),
])
def test_user_errors_exit_2_with_one_line(args, message):
    result = _run(*args)
    assert result.returncode == 2 and result.stderr.strip() == message, result.stderr
