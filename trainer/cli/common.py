"""What both commands share: the exit-status contract and the common arguments."""
import argparse
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Callable

from trainer.errors import EXIT_USER_ERROR, UserError

EXIT_OK, EXIT_FAILURE, EXIT_INTERRUPTED = 0, 1, 130

# Where runs go by default, and where infer.py looks for the newest one.
RUNS_ROOT = Path("runs")


def run_cli(main: Callable[[list[str] | None], None], argv: list[str] | None) -> int:
    """0 on success; 2 with one line per problem for user errors; 1 with a traceback for our bugs."""
    try:
        main(argv)
    except UserError as err:
        for line in err.lines:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001 — the last line of defence must catch everything
        traceback.print_exc()
        print("error: unexpected failure (a bug in deeplab-trainer: please report it with the trace above)",
              file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


class ArgumentParser(argparse.ArgumentParser):
    """Bad arguments are a user error like any other: exit 2 with one `error:` line."""

    def error(self, message: str):
        raise UserError(f"{self.prog}: {message}")


def add_set_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", metavar="KEY.PATH=VALUE", action="append", default=[], dest="overrides",
                   help="override a config value; VALUE is parsed as JSON, else taken as a string (repeatable)")


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The arguments train.py and infer.py share."""
    p = ArgumentParser(prog=prog, description=description)
    p.add_argument("--config", metavar="FILE", help="JSON config file")
    p.add_argument("--project", metavar="DIR", help="project folder: Supervisely, or images + PNG masks "
                   "(default: the embedded demo project)")
    p.add_argument("--output", metavar="DIR", help="output folder (must not exist or be empty)")
    add_set_argument(p)
    return p


def fresh_dir(parent: Path, name: str) -> Path:
    """parent/name, or parent/name-2, -3… if that is taken: default outputs never collide."""
    candidate, n = parent / name, 1
    while candidate.exists():
        n += 1
        candidate = parent / f"{name}-{n}"
    return candidate


def timestamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")
