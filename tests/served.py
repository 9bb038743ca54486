"""A real `irmer serve` for the tests: a subprocess on 127.0.0.1, on a free port, stopped by its pid.

    with Served(tmp_path, tmp_path / "decisions.jsonl") as server:
        httpx.get(server.url + "healthz")

Its standard error goes to a file in the folder (a pipe nobody drains could stop the server).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

IRMER = Path(sys.executable).with_name("irmer")
START_SECONDS = 90  # loading both versions on a busy machine


class Served:
    """`irmer serve --port 0` with a decision log; the URL from its first line of standard error."""

    def __init__(self, folder: Path, log: Path | None, *args: str):
        self.log = log
        self.errors = folder / "serve.err"
        self.args = [str(IRMER), "serve", "--port", "0", "--quiet",
                     *(["--log", str(log)] if log is not None else ["--no-log"]), *args]
        self.process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> "Served":
        with open(self.errors, "wb") as errors:
            self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=errors,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self._first_line()
        assert "listening on http://" in line, f"irmer serve did not start: {self.stderr()!r}"
        self.url = line.split("listening on ", 1)[1].split(" ", 1)[0]
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(self.url + "healthz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "irmer serve did not answer /healthz"
            assert self.process.poll() is None, f"irmer serve stopped: {self.stderr()!r}"
            time.sleep(0.1)

    def _first_line(self) -> str:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            for line in self.stderr().splitlines(keepends=True):
                if "listening on http://" in line and line.endswith("\n"):
                    return line.strip()
            time.sleep(0.05)
        return self.stderr()

    def stderr(self) -> str:
        return self.errors.read_text(encoding="utf-8", errors="replace") if self.errors.exists() else ""

    def signal(self, number: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, number)

    def wait(self, seconds: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout=seconds)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=30)
