"""Fixtures of the CI tests: the fake GitHub API on a random port of 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from ci_support import FakeGithub, handler


def pytest_configure(config: pytest.Config) -> None:
    # `slow`: over a minute on the CI machine (pre-commit installing the project); it runs
    # with the rest, `-m "not slow"` leaves it out of a quick run.
    config.addinivalue_line("markers", "slow: takes over a minute (run by default)")


@pytest.fixture
def github() -> Iterator[FakeGithub]:
    """A fake GitHub API on a random port of 127.0.0.1."""
    state = FakeGithub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
