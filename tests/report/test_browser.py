"""The HTML reports opened in a real headless Chromium (Debian's `chromium` package, driven by
playwright; no browser is ever downloaded): no console error, no request other than the file
itself, every chart drawn, and a screenshot kept as a test artifact.

How the browser is started and a page read: tests/report/browser.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.demo import demo_tables
from engine.report.html import write_html
from engine.report.rituals import build_report
from tests.report.browser import assert_drawn_offline, open_page

ROOT = Path(__file__).resolve().parents[2]


def _report(ruleset: str, ritual: str, period: str, folder: Path, rep: str | None = None) -> Path:
    program = engine.load(ROOT / "rulesets" / ruleset)
    tables, year = demo_tables(program, 200, 200, 0)
    report = build_report(program, tables, ritual, period, dt.date(year, 12, 31), rep=rep)
    path = folder / f"{ruleset}-{ritual}.html"
    write_html(report.document, path)
    return path


@pytest.mark.parametrize(
    ("ruleset", "ritual", "period", "rep"),
    [
        ("contech-saas", "weekly_pipeline", "2026-Q4", None),
        ("contech-saas", "monthly_business_review", "2026-03", None),
        ("fintech", "quarterly_review", "2026-Q2", None),
        ("services-b2b", "monthly_coaching", "2026-03", "R0001"),
    ],
)
def test_report_opens_offline_with_every_chart_drawn(
    browser: Any, tmp_path: Path, ruleset: str, ritual: str, period: str, rep: str | None
) -> None:
    path = _report(ruleset, ritual, period, tmp_path, rep)
    shot = tmp_path / f"{path.stem}.png"
    seen = open_page(browser, path, shot)
    assert seen["charts"], "the report has charts"
    assert_drawn_offline(seen, path, shot, len(seen["charts"]))


def test_a_reference_to_another_host_is_seen(browser: Any, tmp_path: Path) -> None:
    """The test can fail: a page asking for a remote image is caught (the CSP blocks it)."""
    path = tmp_path / "leaky.html"
    path.write_text(
        '<!DOCTYPE html><html><body><img src="http://192.0.2.1/x.png"></body></html>',
        encoding="utf-8",
    )
    seen = open_page(browser, path, tmp_path / "leaky.png")
    assert seen["requests"] != [path.as_uri()]
