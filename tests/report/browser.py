"""One way to open an HTML file in a real headless Chromium for the tests: Debian's `chromium`
driven by playwright (no browser is ever downloaded), with every console message, every request
and each chart's size and drawing recorded, and a screenshot kept.

Screenshots go where the test says, and are copied to `$KONCEPT_TEST_ARTIFACTS` (a folder,
`out/test-artifacts` in CI) when that variable is set. Without /usr/bin/chromium the browser
tests are skipped, with how to install it, unless KONCEPT_REQUIRE_BROWSER=1 (set by `.ci/run`,
which installs it) makes that a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch() -> Iterator[Any]:
    """A running Chromium (the body of a fixture), or the test skipped or failed as above."""
    if not CHROMIUM.exists():
        why = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("KONCEPT_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Any, path: Path, shot: Path) -> dict[str, Any]:
    """Open `path`, wait for it to load, and report what happened: console messages (errors
    included), requests, and per chart (`figure.chart`) whether an SVG is there, its size and
    how many shapes are drawn; a full-page screenshot is written to `shot`."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    messages: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    charts = page.eval_on_selector_all(
        "figure.chart",
        """figures => figures.map(f => {
            const svg = f.querySelector('svg');
            const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
            const drawn = svg ? [...svg.querySelectorAll('path')].filter(
                p => (p.getAttribute('d') || '').length > 10).length : 0;
            return {id: f.id, svg: !!svg, width: box.width, height: box.height, drawn};
        })""",
    )
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    artifacts = os.environ.get("KONCEPT_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / shot.name)
    return {"messages": messages, "requests": requests, "charts": charts}


def assert_drawn_offline(seen: dict[str, Any], path: Path, shot: Path, charts: int) -> None:
    """No console message, no request but the file itself, `charts` charts each drawn, and a
    real picture of the page."""
    assert seen["messages"] == []
    assert seen["requests"] == [path.as_uri()]
    assert len(seen["charts"]) == charts, seen["charts"]
    for chart in seen["charts"]:
        assert chart["svg"] and chart["width"] > 100 and chart["height"] > 50, chart
        assert chart["drawn"] > 0, chart
    assert shot.stat().st_size > 10_000
