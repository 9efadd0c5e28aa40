"""A real server process on a free loopback port, as a user starts it, and an HTTP client for it."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.conftest import REPO

STARTUP_SECONDS = 300


class Server:
    def __init__(self, model: Path, *args: str, token: str | None = None):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("DEEPLAB_TRAINER_TOKEN", None)
        if token:
            env["DEEPLAB_TRAINER_TOKEN"] = token
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.process = subprocess.Popen([sys.executable, "-m", "trainer.serve", "--model", str(model), "--port", "0",
                                         *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=lambda s=stream, l=lines: l.extend(s), daemon=True).start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not any(line.startswith("serving ") for line in self.out):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"server did not start: {''.join(self.out)}{''.join(self.err)}")
            time.sleep(0.1)
        line = next(line for line in self.out if line.startswith("serving "))
        self.base = line.split(" on ")[1].split(" ")[0]
        self.name = line.split(" ")[1]

    def url(self, path: str) -> str:
        return self.base + path

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url(path), headers={**self.headers, **kwargs.pop("headers", {})}, timeout=120,
                             **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url(path), headers={**self.headers, **kwargs.pop("headers", {})}, timeout=60,
                            **kwargs)

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM, and the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
