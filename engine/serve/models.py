"""The request and response bodies of the HTTP API, as pydantic models (they make the OpenAPI
document at `/openapi.json`; the tests check every answer against them).

Values follow the output contract of `koncept eval --format json`: money is a decimal string
with two places (`"4237.00"`), dates are ISO, missing values are null.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CheckAnswer",
    "CheckRequest",
    "DealAnswer",
    "DealOut",
    "DiagnosticOut",
    "ErrorBody",
    "Explanation",
    "LeadAnswer",
    "LeadOut",
    "RefusedOut",
    "RulesetList",
    "RulesetOut",
    "RulesetRef",
    "StatementAnswer",
    "TableCountsOut",
    "TablesAnswer",
    "TablesRequest",
]

#: A cell of an input row, as a CSV, a CRM or a JSON export gives it.
Cell = str | int | float | bool | None
Number = int | float


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Closed):
    """Every error: a stable code, a sentence, and what it is about (rows, fields, findings)."""

    code: str = Field(examples=["invalid_rows"])
    message: str
    details: Any = None


class RulesetRef(_Closed):
    """Which ruleset answered: its id, its version (content hash) and commit (from git)."""

    id: str
    version: str
    commit: str | None = None


class DiagnosticOut(_Closed):
    """A finding of the checker, with 1-based positions."""

    code: str
    severity: str
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    help: str | None = None


class RefusedOut(_Closed):
    """A version that did not check: the served version was kept."""

    version: str
    commit: str | None = None
    at: dt.datetime
    message: str
    diagnostics: list[DiagnosticOut]


class RulesetOut(_Closed):
    """A served ruleset."""

    id: str
    version: str
    commit: str | None = None
    name: str | None = None
    currency: str | None = None
    loaded_at: dt.datetime
    refused: RefusedOut | None = None


class RulesetList(_Closed):
    """The rulesets this caller may use."""

    rulesets: list[RulesetOut]


class LeadOut(_Closed):
    """One lead's score, status, points per criterion and undecided criteria."""

    id: str | None
    score: Number | None
    status: str | None
    points: dict[str, Number | None]
    missing: list[str]
    alerts: list[str]
    scores: dict[str, Number | None] = Field(
        default_factory=dict, description="every score of the lead: name -> total"
    )


class LeadAnswer(_Closed):
    """`POST /v1/rulesets/{id}/lead`."""

    ruleset: RulesetRef
    lead: LeadOut


class DealOut(_Closed):
    """One deal: pipeline position and readiness, qualification, playbook, weighted value."""

    id: str | None
    stage: str | None
    exit_ready: bool | None
    missing: list[str]
    skipped: list[str]
    days_in_stage: int | None
    stale: bool | None
    weighted_value: str | None = Field(description="money, two places")
    framework: str | None
    qualification_score: Number | None
    qualification_status: str | None
    playbook: str | None
    playbook_missing: list[str]
    alerts: list[str]
    playbook_conflict: list[str]
    scores: dict[str, Number | None] = Field(
        default_factory=dict, description="every score of the deal: name -> total"
    )


class DealAnswer(_Closed):
    """`POST /v1/rulesets/{id}/deal`."""

    ruleset: RulesetRef
    as_of: dt.date
    deal: DealOut


class Explanation(_Closed):
    """A record explained in French, each point traced to its rule and values."""

    ruleset: RulesetRef
    text: str


class TablesRequest(_Closed):
    """Input tables as JSON rows (`koncept eval` reads the same rows from a `.json` file)."""

    tables: dict[str, list[dict[str, Cell]]] = Field(
        description="rows by table: leads, deals, stage_events, reps, quotas, territories, splits",
        examples=[{"leads": [{"id": "L1", "budget": "confirmed", "employees": 120}]}],
    )
    as_of: dt.date | None = Field(None, description="the day days are counted to (today)")
    period: str | None = Field(None, description="2026-Q1, 2026-03, 2026-H1 or 2026")


class TableCountsOut(BaseModel):
    """Rows read, evaluated and rejected: `in = out + rejected`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    rows_in: int = Field(alias="in")
    out: int
    rejected: int


class TablesAnswer(_Closed):
    """`POST /v1/rulesets/{id}/evaluate`: the document `koncept eval --format json` writes,
    with the ruleset that computed it."""

    ruleset: RulesetRef
    as_of: dt.date | None
    period: str | None
    leads: list[dict[str, Any]]
    deals: list[dict[str, Any]]
    funnel: list[dict[str, Any]]
    kpis: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    payouts: list[dict[str, Any]]
    budget: list[dict[str, Any]]
    strategy: list[dict[str, Any]] = Field(
        default_factory=list,
        description="the strategy's lines measured: target, actual, gap, tolerance, status",
    )
    payments: list[dict[str, Any]] = Field(
        default_factory=list,
        description="each payment of a plan to a rep: due to date, paid before, true-up, "
        "clawbacks, draw, payment",
    )
    payout_lines: list[dict[str, Any]] = Field(
        default_factory=list,
        description="pay per deal: each credited deal's share of each measure's payout",
    )
    counts: dict[str, TableCountsOut]


class StatementAnswer(_Closed):
    """A rep's pay statement for a period, in French."""

    ruleset: RulesetRef
    rep: str
    period: str
    ok: bool = Field(description="everything could be paid and credited")
    totals: dict[str, str]
    text: str


class CheckRequest(_Closed):
    """Ruleset files to check, by file name (`main.krl`)."""

    files: dict[str, str] = Field(examples=[{"main.krl": 'ruleset "Acme" {\n  currency EUR\n}'}])
    strict: bool = Field(False, description="warnings count as errors")


class CheckAnswer(_Closed):
    """What `koncept check --format json` finds."""

    ok: bool
    errors: int
    warnings: int
    diagnostics: list[DiagnosticOut]
