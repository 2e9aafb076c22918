"""The property tests' only door into the engine: checking, loading, evaluating, and the
per-record reference of payouts. Every import of engine internals is here, so that after the
refactor of the typer, the compiler and the engine layout only this file needs re-pointing.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import engine
from dsl.source import SourceFile
from dsl.workspace import check_sources
from engine.results import DEAL_COLUMNS, LEAD_COLUMNS

__all__ = [
    "DEAL_FIELDS",
    "LEAD_FIELDS",
    "Checked",
    "alerts_by_id",
    "check",
    "counts",
    "evaluate",
    "internal_errors",
    "load",
    "plain",
    "record_payouts",
    "rows",
    "tables",
    "typed",
]

#: What both paths compute for a lead and for a deal (the columns of Results.leads / .deals).
LEAD_FIELDS = LEAD_COLUMNS
DEAL_FIELDS = DEAL_COLUMNS

#: Error messages that can only come from the engine failing a ruleset the checker accepted:
#: a plan it cannot pay, a quota formula it cannot compute, a credit rule reading a value the
#: pipeline derives (never an input column, so always "missing" to the payouts).
_INTERNAL = re.compile(
    r"cannot be paid|not supported|uses something other than numbers and fields"
    r"|not credited: .*\b(exit_ready|stale|weighted_value|days_in_stage)\b"
)


@dataclass(frozen=True, slots=True)
class Checked:
    """What `koncept check` says of some files: clean or not, and the findings."""

    ok: bool
    diagnostics: tuple[str, ...]


def check(folder: Path, files: Mapping[str, str]) -> Checked:
    """Check the files (name -> text) of one ruleset together, as `koncept check` does."""
    sources = [SourceFile(str(folder / name), text) for name, text in files.items()]
    loaded = check_sources(folder, sources)
    shown = tuple(f"{d.code} {d.span.path}:{d.span.line}: {d.message}" for d in loaded.diagnostics)
    return Checked(bool(loaded.ok), shown)


def load(files: Mapping[str, str], folder: Path | None = None) -> engine.Program:
    """A Program from one text (`load_text`) or, given a folder, from the files written there
    (`load`)."""
    if folder is None:
        ((name, text),) = files.items()
        return engine.load_text(text, name)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return engine.load(folder)


def evaluate(
    program: engine.Program,
    frames: Mapping[str, pd.DataFrame | None],
    as_of: dt.date,
    period: str | None,
) -> engine.Results:
    """The table path on the input tables (text cells), as `koncept eval` runs it."""
    return program.evaluate(
        leads=frames.get("leads"),
        deals=frames.get("deals"),
        stage_events=frames.get("stage_events"),
        reps=frames.get("reps"),
        quotas=frames.get("quotas"),
        territories=frames.get("territories"),
        as_of=as_of,
        period=period,
    )


# ============================================================================ results as data
def plain(value: Any) -> Any:
    """A result value as plain, comparable Python: None for every missing marker, numpy and
    pandas scalars as Python values, containers as lists and dicts (types kept: 5 and
    Decimal("5") stay apart)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return plain(value.item())
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def typed(value: Any) -> Any:
    """`plain`, with the type of every scalar kept beside it, for strict comparisons."""
    value = plain(value)
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a result table as plain dicts."""
    names = [str(c) for c in frame.columns]
    return [
        {name: plain(cell) for name, cell in zip(names, row, strict=True)}
        for row in frame.itertuples(index=False)
    ]


def tables(results: engine.Results) -> dict[str, list[dict[str, Any]]]:
    """Every output table of an evaluation, as plain rows."""
    return {name: rows(frame) for name, frame in results.tables().items()}


def counts(results: engine.Results) -> dict[str, tuple[int, int, int]]:
    """(rows in, rows out, rejected) per input table."""
    return {name: (c.rows_in, c.rows_out, c.rejected) for name, c in dict(results.counts).items()}


def internal_errors(results: engine.Results) -> list[str]:
    """Error rows that can only be the engine's failure, not the data's (see `_INTERNAL`)."""
    return [
        str(row["message"])
        for row in rows(results.errors)
        if _INTERNAL.search(str(row["message"]))
        or (
            row["table"] not in ("leads", "deals", "stage_events", "reps", "quotas")
            and row["table"] not in ("territories", "payouts")
        )
    ]


def alerts_by_id(results: engine.Results) -> dict[str, set[str]]:
    """The declared alerts raised on each record id (lead, deal or rep)."""
    found: dict[str, set[str]] = {}
    for row in rows(results.alerts):
        if row["kind"] == "alert":
            found.setdefault(str(row["id"]), set()).add(str(row["subject"]))
    return found


# ============================================================================ payouts, per record
def record_payouts(
    program: engine.Program, frames: Mapping[str, pd.DataFrame], period: str | None
) -> list[dict[str, Any]]:
    """Payout rows by the per-record reference path: every rep x plan x period of the pay
    schedule paid by `pay_rep` on the validated rows, written as the payouts table writes
    them (as `engine.testing` checks the two paths)."""
    from engine.pay.format import payout_row
    from engine.periods import parse_period

    if not program.model.plans or frames.get("reps") is None:
        return []
    needed = ("deals", "reps", "quotas", "territories", "stage_events")
    inputs = program.validate(**{k: v for k, v in frames.items() if k in needed})
    found, _ = program.pay_each(inputs, parse_period(period) if period else None)
    paid = [plain(payout_row(p.outcome.payout)) for p in found if p.outcome.payout is not None]
    return sorted(paid, key=lambda r: (r["rep_id"], r["plan"], r["period"]))
