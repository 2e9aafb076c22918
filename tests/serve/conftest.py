"""A real `koncept serve` process on 127.0.0.1 for the HTTP tests, and its client."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"
#: A fintech lead scoring 69: MQL at the SQL threshold 70, SQL at 65.
LEAD = {
    "id": "L-77",
    "budget": "confirmed",
    "sector": "industrie",
    "authority": "influencer",
    "need": "medium_term",
    "timing_months": 4,
    "employees": 100,
    "source": "outbound",
}


@dataclass
class Server:
    """A running server: its base URL, process, and what it wrote to stderr so far."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def koncept(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command line as a user would, in this interpreter's environment."""
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=120,
        check=False,
    )


@contextlib.contextmanager
def serving(args: Sequence[str | Path], tmp: Path, *, cwd: Path | None = None) -> Iterator[Server]:
    """Start `koncept serve ARGS --port <free>` and wait until it is ready; stop it after."""
    port = free_port()
    log = tmp / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.cli.main",
                "serve",
                *map(str, args),
                "--port",
                str(port),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=cwd or ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"koncept serve exited with {process.returncode}:\n{server.stderr()}")
            try:
                if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"koncept serve did not get ready:\n{server.stderr()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def rulesets_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The bundled rulesets served without keys (this machine only), decisions in a file."""
    tmp = tmp_path_factory.mktemp("serve")
    with serving([RULESETS, "--decision-log", tmp / "decisions.jsonl"], tmp) as server:
        yield server
