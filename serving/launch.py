"""Run `clausemap serve` as a child process on a free local port (tests and benchmarks use a real server)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from clausemap.paths import PROJECT_ROOT


class ServiceStartError(RuntimeError):
    """The service exited or did not become ready; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_service(
    model_dir: str | Path,
    env: Mapping[str, str | None] | None = None,
    log_path: str | Path | None = None,
    ready_timeout_s: float = 300,
    args: tuple[str, ...] = (),
) -> Iterator[str]:
    """Yield the base URL (http://127.0.0.1:PORT) once /readyz answers 200; stop the process afterwards.

    `env` is added to this process's environment (e.g. CLAUSEMAP_API_KEY; a None value removes the
    variable); output goes to `log_path`.
    """
    port = free_port()
    log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="clausemap-serve-", suffix=".log")[1])
    command = [sys.executable, "-m", "clausemap", "serve", "--model", str(model_dir), "--port", str(port), *args]
    environment = {key: value for key, value in {**os.environ, **(env or {})}.items() if value is not None}
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout_s
        while not _ready(base):
            if process.poll() is not None:
                raise ServiceStartError(f"clausemap serve exited with {process.returncode}:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                raise ServiceStartError(
                    f"clausemap serve not ready after {ready_timeout_s:.0f}s:\n{log_path.read_text()}"
                )
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False
