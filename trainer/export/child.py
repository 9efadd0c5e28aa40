"""Export work run in a child process (TFLite conversion leaks memory; timing needs its own thread pools)."""
import json
import subprocess
import sys

from trainer.errors import EXIT_USER_ERROR, UserError


def run_child(module: str, job: dict, what: str) -> None:
    """`python -m module JOB` with the job as JSON. A child that found a user error (exit 2: trainer.errors)
    raises it as one; any other failure raises with the child's error output."""
    result = subprocess.run([sys.executable, "-m", module, json.dumps(job)], capture_output=True, text=True)
    if result.returncode == EXIT_USER_ERROR:
        raise UserError(*(line[len("error: "):] for line in result.stderr.splitlines() if line.startswith("error: ")))
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stderr[-4000:]}")
