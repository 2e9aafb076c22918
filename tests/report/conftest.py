"""Shared by the report, simulator and diagnosis tests: one headless Chromium per session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.report.browser import launch


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, started once (see tests/report/browser.py for when it is skipped)."""
    yield from launch()
