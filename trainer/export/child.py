"""Export work run in a child process (TFLite conversion leaks memory; timing needs its own thread pools)."""
import json
import subprocess
import sys


def run_child(module: str, job: dict, what: str) -> None:
    """`python -m module JOB` with the job as JSON; a failure raises with the child's error output."""
    result = subprocess.run([sys.executable, "-m", module, json.dumps(job)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stderr[-4000:]}")
