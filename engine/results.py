"""What an evaluation returns: one record's result, or whole tables of results.

Every result is immutable: frozen dataclasses, tuples and `FrozenDict` mappings, so a result can
be shared between threads and cached. The DataFrames of `Results` are built once and handed out
as they are; treat them as read-only (copy before changing one). Cells holding mappings or lists
(`points`, `missing`...) may be the same object in many rows, which is one more reason never to
change them in place (they refuse it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ALERT_COLUMNS",
    "BUDGET_COLUMNS",
    "DEAL_COLUMNS",
    "ERROR_COLUMNS",
    "FUNNEL_COLUMNS",
    "KPI_COLUMNS",
    "LEAD_COLUMNS",
    "MEASURE_FIELDS",
    "PAYMENT_COLUMNS",
    "PAYOUT_COLUMNS",
    "PAYOUT_LINE_COLUMNS",
    "STRATEGY_COLUMNS",
    "DealResult",
    "FrozenDict",
    "LeadResult",
    "Results",
    "ScoreValue",
    "TableCounts",
    "error_text",
]

#: A score or a criterion's points: int when every point is whole, else an exact Decimal
#: (a float only when a criterion takes its points from a `number` field).
ScoreValue = int | Decimal | float

LEAD_COLUMNS = ("id", "score", "status", "points", "missing", "scores")
DEAL_COLUMNS = (
    "id",
    "stage",
    "exit_ready",
    "missing",
    "skipped",
    "days_in_stage",
    "stale",
    "weighted_value",
    "framework",
    "qualification_score",
    "qualification_status",
    "playbook",
    "playbook_missing",
    "playbook_conflict",
    "scores",
)
FUNNEL_COLUMNS = ("stage", "reached", "conversion_to_next", "mean_days", "median_days")
KPI_COLUMNS = ("kpi", "role", "rep_id", "value", "target", "met")
ALERT_COLUMNS = ("kind", "subject", "id", "message", "severity")
ERROR_COLUMNS = ("table", "row", "column", "value", "message")
#: Filled by the plans issue: one row per rep, plan and period.
PAYOUT_COLUMNS = ("rep_id", "plan", "period", "payout", "measures")
#: The fields of each entry of a payout row's `measures`.
MEASURE_FIELDS = (
    "measure",
    "credited",
    "quota",
    "attainment",
    "rate_or_pct",
    "payout",
    "effective_rate",
)
#: Pay per deal (`engine.pay.lines`): each credited deal's share of a measure's payout.
PAYOUT_LINE_COLUMNS = (
    "rep_id",
    "plan",
    "period",
    "measure",
    "deal_id",
    "date",
    "credited",
    "rate",
    "payout",
)
#: One row per payment of a plan to a rep (a plan period is paid once, or in several payments
#: with `pays monthly`): payment = earned + clawbacks + held + recovered + draw.
PAYMENT_COLUMNS = (
    "rep_id",
    "plan",
    "period",
    "plan_period",
    "through",
    "due_to_date",
    "paid_before",
    "earned",
    "catch_up",
    "clawbacks",
    "held",
    "recovered",
    "draw",
    "payment",
    "carried",
    "advanced",
    "written_off",
)
#: Per plan and period: total paid vs the budget at 100% attainment for everyone.
BUDGET_COLUMNS = (
    "plan",
    "period",
    "paid",
    "reps",
    "total",
    "budget",
    "ratio",
    "guardrail",
    "alert",
    "message",
)

#: One row per line of each strategy, measured on the period's won deals
#: (`engine.vector.strategy`): kind is revenue, growth, focus or channel.
STRATEGY_COLUMNS = (
    "strategy",
    "kind",
    "name",
    "target",
    "actual",
    "gap",
    "tolerance",
    "status",
)


#: Rows of each table shown in a notebook.
_HTML_ROWS = 20


class FrozenDict(dict[str, Any]):
    """A dict that refuses changes: safe to share between rows, results and threads.

    A dict subclass (rather than a mapping proxy) so pandas, `json.dumps` and equality with a
    plain dict work as for any dict.
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("results are immutable")

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


@dataclass(frozen=True, slots=True)
class LeadResult:
    """One lead: its score, status, points per criterion and the criteria left undecided."""

    id: str | None
    score: ScoreValue | None
    status: str | None
    points: Mapping[str, ScoreValue]
    missing: tuple[str, ...]
    alerts: tuple[str, ...] = ()
    #: Every score of the lead by name, its total (the qualifying one is `score`).
    scores: Mapping[str, ScoreValue] = field(default_factory=lambda: FrozenDict())


@dataclass(frozen=True, slots=True)
class DealResult:
    """One deal: pipeline position and readiness, qualification, playbook, value."""

    id: str | None
    stage: str | None
    exit_ready: bool | None
    missing: tuple[str, ...]
    skipped: tuple[str, ...]
    days_in_stage: int | None
    stale: bool | None
    weighted_value: Decimal | None
    framework: str | None
    qualification_score: ScoreValue | None
    qualification_status: str | None
    playbook: str | None
    playbook_missing: tuple[str, ...]
    alerts: tuple[str, ...] = ()
    #: The playbooks that all apply to the deal (it then gets none of them).
    playbook_conflict: tuple[str, ...] = ()
    #: Every score of the deal by name, its total (the qualifying one is `qualification_score`).
    scores: Mapping[str, ScoreValue] = field(default_factory=lambda: FrozenDict())


@dataclass(frozen=True, slots=True)
class Trace:
    """How the per-record evaluator reached a result, for coverage: the score used and the
    route that chose it, the case that decided each criterion (-1: none matched; None:
    undecided), and the playbook items that were due, met or not (recommendations always, None
    when unknown)."""

    score: str | None = None
    route: int | None = None
    cases: Mapping[str, int | None] = field(default_factory=lambda: FrozenDict())
    items: Mapping[str, bool | None] = field(default_factory=lambda: FrozenDict())
    #: The case that decided each criterion of every score of the record, by score.
    scores: Mapping[str, Mapping[str, int | None]] = field(default_factory=lambda: FrozenDict())


#: The trace of an evaluation nobody asked to trace.
NO_TRACE = Trace()


@dataclass(frozen=True, slots=True)
class TableCounts:
    """Rows read, evaluated and left out of one input table: `rows_in = rows_out + rejected`."""

    table: str
    rows_in: int
    rows_out: int
    rejected: int


@dataclass(frozen=True, eq=False)
class Results:
    """Everything one `Program.evaluate` call computed, as DataFrames (see the module note)."""

    leads: pd.DataFrame
    deals: pd.DataFrame
    funnel: pd.DataFrame
    kpis: pd.DataFrame
    alerts: pd.DataFrame
    errors: pd.DataFrame
    payouts: pd.DataFrame
    #: Per plan and period: total paid, budget at 100% attainment for everyone, ratio, guardrail.
    budget: pd.DataFrame
    counts: Mapping[str, TableCounts] = field(default_factory=lambda: MappingProxyType({}))
    as_of: dt.date | None = None
    period: str | None = None
    #: The strategy's lines measured (STRATEGY_COLUMNS); None: no strategy table (empty).
    strategy: pd.DataFrame | None = None
    #: Each payment of a plan to a rep (PAYMENT_COLUMNS); None: no payments table (empty).
    payments: pd.DataFrame | None = None
    #: Pay per deal (PAYOUT_LINE_COLUMNS); None: no lines (empty).
    payout_lines: pd.DataFrame | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The output tables by name, in the order of the output contract."""
        return {
            "leads": self.leads,
            "deals": self.deals,
            "funnel": self.funnel,
            "kpis": self.kpis,
            "alerts": self.alerts,
            "errors": self.errors,
            "payouts": self.payouts,
            "budget": self.budget,
            "strategy": self.strategy if self.strategy is not None else _empty(STRATEGY_COLUMNS),
            "payments": self.payments if self.payments is not None else _empty(PAYMENT_COLUMNS),
            "payout_lines": (
                self.payout_lines if self.payout_lines is not None else _empty(PAYOUT_LINE_COLUMNS)
            ),
        }

    def _repr_html_(self) -> str:
        """The results as HTML tables in a notebook: the counts, then each non-empty table
        (its first rows; the DataFrames hold them all). pandas writes the tables, escaped."""
        from html import escape

        import pandas as pd

        parts = [f"<p><b>Koncept results</b> · as of {self.as_of} · period {self.period}</p>"]
        counts = pd.DataFrame(
            [(c.table, c.rows_in, c.rows_out, c.rejected) for c in self.counts.values()],
            columns=["table", "in", "out", "rejected"],
        )
        parts.append(counts.to_html(index=False, border=0))
        for name, frame in self.tables().items():
            if len(frame):
                parts.append(f"<h4>{escape(name)} ({len(frame):,} rows)</h4>")
                parts.append(frame.head(_HTML_ROWS).to_html(index=False, border=0, na_rep=""))
        return "\n".join(parts)


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=list(columns))


def is_missing(value: Any) -> bool:
    """Whether a cell is missing: None, NaN (float or numpy float), or pandas' NA / NaT."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    return type(value).__name__ in ("NAType", "NaTType")


def error_text(table: Any, row: Any, column: Any, value: Any, message: Any) -> str:
    """An error row as `koncept eval` lists it: `deals row 4, amount = '1.234': ...`."""
    where = f"{table} row {int(row)}" if not is_missing(row) else str(table)
    if is_missing(row) and not is_missing(value) and str(value) in str(message):
        return f"{where}: {message}"  # `rep R0004: role SDR has no plan` says it all
    cell = ""
    if not is_missing(column):
        cell = f", {column}" + (f" = {value!r}" if not is_missing(value) else "")
    return f"{where}{cell}: {message}"


def text_or_none(value: Any) -> str | None:
    """A cell as stripped text, or None when it is missing or blank."""
    if is_missing(value):
        return None
    text = str(value).strip()
    return text or None


def frozen_counts(counts: Iterable[TableCounts]) -> Mapping[str, TableCounts]:
    """Counts by table name, read-only."""
    return MappingProxyType({c.table: c for c in counts})
