"""`deeplab-trainer COMMAND ...` (also `python -m trainer`): every command behind one name, each with the arguments
and exit statuses of its own entry point (train.py, infer.py, python -m trainer.describe / trainer.convert_zoo)."""
import importlib
import sys

from trainer.cli.common import run_cli
from trainer.errors import UserError

COMMANDS = {
    "train": ("trainer.cli.train", "train a model (train.py)"),
    "infer": ("trainer.cli.infer", "apply a model to a project (infer.py)"),
    "describe": ("trainer.cli.describe", "a model's parameters and Multiply-Adds"),
    "convert-zoo": ("trainer.cli.convert_zoo", "a research/deeplab model-zoo checkpoint as a checkpoint folder"),
    "export": ("trainer.cli.export", "a model as SavedModel, frozen graph and TFLite files"),
    "serve": ("trainer.cli.serve", "a model behind a REST endpoint (Supervisely, TF Serving APIs)"),
}
USAGE = "usage: deeplab-trainer COMMAND [ARGS ...]   (deeplab-trainer COMMAND --help for its arguments)\n\ncommands:\n" + \
    "\n".join(f"  {name:<12} {what}" for name, (_, what) in COMMANDS.items())


def _refuse(argv: list[str]) -> None:
    """A missing or unknown command, reported like any user error."""
    what = f"unknown command {argv[0]!r}" if argv else "a command is required"
    raise UserError(f"deeplab-trainer: {what} (one of: {', '.join(COMMANDS)})")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if not argv or argv[0] not in COMMANDS:
        return run_cli(_refuse, argv)
    return importlib.import_module(COMMANDS[argv[0]][0]).main(argv[1:])
