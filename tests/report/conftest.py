"""Shared by the report, simulator and diagnosis tests: one headless Chromium per module (its
event loop stops with the module, so later tests can run their own)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.report.browser import launch


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, started once a module (tests/report/browser.py: when it is skipped)."""
    yield from launch()
