"""What a ruleset change does to data: two revisions evaluated on the same inputs, compared.

Both `Program`s evaluate the same input tables through `Program.evaluate` (the path of
`koncept eval`: validation, tables, pay), so every figure here is what two `eval` runs give.
The comparison is by key: leads and deals by id, KPIs by (kpi, role, rep), alerts by (kind,
subject, id), payouts by (rep, plan, period), budget by (plan, period). Money stays exact
(Decimal, to the cent); lists come largest change first.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import pickle
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from engine.results import is_missing

if TYPE_CHECKING:
    import pandas as pd

    from engine.program import Program
    from engine.results import Results

__all__ = [
    "DEAL_FIELDS",
    "AlertChange",
    "BudgetChange",
    "DealChange",
    "Gate",
    "Impact",
    "KpiChange",
    "PayoutChange",
    "Transition",
    "budget_breaches",
    "compare_results",
    "evaluate_both",
    "trip_gates",
]

#: The deal results whose change a review reports (the issue's readiness, status, playbook,
#: staleness).
DEAL_FIELDS = ("exit_ready", "qualification_status", "playbook", "stale")


@dataclass(frozen=True, slots=True)
class Transition:
    """Leads whose status went from one value to another (None: no status)."""

    before: str | None
    after: str | None
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DealChange:
    """One deal whose readiness, qualification status, playbook or staleness changed."""

    id: str
    changes: Mapping[str, tuple[Any, Any]]


@dataclass(frozen=True, slots=True)
class KpiChange:
    """A KPI value of a rep (or a team: `rep_id` None) before and after."""

    kpi: str
    role: str | None
    rep_id: str | None
    before: Any
    after: Any
    met_before: bool | None
    met_after: bool | None
    money: bool


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert raised (in after only) or cleared (in before only)."""

    change: str
    kind: str
    subject: str
    id: str | None
    message: str
    severity: str | None


@dataclass(frozen=True, slots=True)
class PayoutChange:
    """A payout of a rep on a plan for a period; None where the row does not exist."""

    rep_id: str
    plan: str
    period: str
    before: Decimal | None
    after: Decimal | None
    paid: bool

    @property
    def delta(self) -> Decimal:
        """after - before, a missing row counting as 0."""
        return (self.after or Decimal(0)) - (self.before or Decimal(0))

    @property
    def percent(self) -> Decimal | None:
        """The change as a share of before (0.05 for +5%); None when before is 0 or missing."""
        if not self.before:
            return None
        return self.delta / self.before


@dataclass(frozen=True, slots=True)
class BudgetChange:
    """A plan's pay for a period against its budget, before and after."""

    plan: str
    period: str
    before: Decimal | None
    after: Decimal | None
    budget_before: Decimal | None
    budget_after: Decimal | None
    guardrail: str | None
    alert_before: bool
    alert_after: bool
    message: str | None

    @property
    def delta(self) -> Decimal:
        """after - before, a missing row counting as 0."""
        return (self.after or Decimal(0)) - (self.before or Decimal(0))


@dataclass(frozen=True, slots=True)
class Impact:
    """Everything that differs between the two evaluations, largest changes first."""

    leads: int
    deals: int
    transitions: tuple[Transition, ...]
    deal_changes: tuple[DealChange, ...]
    kpis: tuple[KpiChange, ...]
    alerts: tuple[AlertChange, ...]
    payouts: tuple[PayoutChange, ...]
    budget: tuple[BudgetChange, ...]
    #: Total paid (rows of paying plans) before and after, every payout counted.
    paid_before: Decimal
    paid_after: Decimal
    #: The guardrail alerts of after (plan, period, message): what `--fail-on budget` reads.
    breaches: tuple[tuple[str, str, str], ...]
    errors_before: tuple[tuple[Any, ...], ...] = ()
    errors_after: tuple[tuple[Any, ...], ...] = ()
    as_of: dt.date | None = None
    period: str | None = None

    @property
    def flips(self) -> int:
        """Leads whose status changed plus deals whose qualification status changed."""
        leads = sum(len(t.ids) for t in self.transitions)
        deals = sum(1 for d in self.deal_changes if "qualification_status" in d.changes)
        return leads + deals

    @property
    def empty(self) -> bool:
        """Whether the two evaluations agree on everything reported."""
        return not (
            self.transitions or self.deal_changes or self.kpis or self.alerts or self.payouts
            or self.budget
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Gate:
    """A `--fail-on` gate: `budget`, `pay-change` (with an optional limit), `status-flips`."""

    name: str
    limit: Decimal | None = None
    percent: bool = False
    reasons: tuple[str, ...] = field(default=())


#: Input rows (leads and deals) from which the two revisions are evaluated side by side, one
#: in a forked process: below it, starting a process costs more than it saves.
PARALLEL_ROWS = 20_000

#: What the forked process evaluates; set just before the fork, so nothing is pickled on the
#: way in (the programs and tables are the parent's memory, shared by the fork).
_PENDING: tuple[Any, ...] = ()


def evaluate_both(
    before: Program,
    after: Program,
    tables: Mapping[str, pd.DataFrame],
    after_tables: Mapping[str, pd.DataFrame] | None = None,
    *,
    as_of: dt.date | None = None,
    period: str | None = None,
    parallel: bool | None = None,
) -> tuple[Results, Results]:
    """Both revisions evaluated on the same input tables (`after_tables` when the after
    revision reads the exports with another mapping).

    On a machine with several cores and where processes can fork, big inputs are evaluated
    side by side: the before revision in a forked process, which sends back only what
    `compare_results` reads. `parallel` forces the choice (tests); a failed fork falls back
    to one evaluation after the other."""
    global _PENDING
    rows = sum(len(tables[t]) for t in ("leads", "deals") if tables.get(t) is not None)
    if parallel is None:
        parallel = rows >= PARALLEL_ROWS and (os.cpu_count() or 1) > 1
    if parallel and "fork" in multiprocessing.get_all_start_methods():
        _PENDING = (before, tables, as_of, period)
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                future = pool.submit(_evaluate_pending)
                second = after.evaluate(**(after_tables or tables), as_of=as_of, period=period)
                try:
                    first = future.result()
                except (BrokenProcessPool, OSError, pickle.PicklingError):
                    first = before.evaluate(**tables, as_of=as_of, period=period)
            return first, second
        finally:
            _PENDING = ()
    first = before.evaluate(**tables, as_of=as_of, period=period)
    second = after.evaluate(**(after_tables or tables), as_of=as_of, period=period)
    return first, second


def _evaluate_pending() -> Results:
    """In the forked process: evaluate, and keep only the columns a comparison reads."""
    import dataclasses

    program, tables, as_of, period = _PENDING
    results: Results = program.evaluate(**tables, as_of=as_of, period=period)
    leads = results.leads[[c for c in ("id", "status") if c in results.leads.columns]]
    deals = results.deals[[c for c in ("id", *DEAL_FIELDS) if c in results.deals.columns]]
    return dataclasses.replace(
        results, leads=leads, deals=deals, funnel=results.funnel.iloc[0:0], counts={}
    )


def compare_results(before: Results, after: Results, money_kpis: Iterable[str] = ()) -> Impact:
    """What differs between two evaluations of the same inputs."""
    money = frozenset(money_kpis)
    payouts = _payouts(before.payouts, after.payouts)
    return Impact(
        leads=len(after.leads),
        deals=len(after.deals),
        transitions=_transitions(before.leads, after.leads),
        deal_changes=_deals(before.deals, after.deals),
        kpis=_kpis(before.kpis, after.kpis, money),
        alerts=_alerts(before.alerts, after.alerts),
        payouts=payouts,
        budget=_budget(before.budget, after.budget),
        paid_before=_paid_total(before.payouts),
        paid_after=_paid_total(after.payouts),
        breaches=budget_breaches(after.budget),
        errors_before=_rows(before.errors),
        errors_after=_rows(after.errors),
        as_of=after.as_of,
        period=after.period,
    )


def trip_gates(impact: Impact, gates: Sequence[Gate]) -> list[Gate]:
    """The gates the impact trips, each with its reasons (one line each)."""
    tripped: list[Gate] = []
    for gate in gates:
        reasons: list[str] = []
        if gate.name == "budget":
            reasons = [message or f"{plan} {period}" for plan, period, message in impact.breaches]
        elif gate.name == "pay-change":
            for row in impact.payouts:
                if _beyond(row, gate):
                    reasons.append(f"{row.rep_id} {row.plan} {row.period}: {_move(row)}")
        elif gate.name == "status-flips":
            limit = int(gate.limit or 0)
            if impact.flips > limit:
                reasons = [f"{impact.flips:,} status flip(s), more than {limit:,}"]
        if reasons:
            tripped.append(Gate(gate.name, gate.limit, gate.percent, tuple(reasons)))
    return tripped


# ----------------------------------------------------------------------------- comparisons
def _beyond(row: PayoutChange, gate: Gate) -> bool:
    if row.delta == 0:
        return False
    if gate.limit is None:
        return True
    if gate.percent:
        share = row.percent
        return share is None or abs(share) > gate.limit
    return abs(row.delta) > gate.limit


def _move(row: PayoutChange) -> str:
    before = "none" if row.before is None else f"{row.before:.2f}"
    after = "none" if row.after is None else f"{row.after:.2f}"
    return f"{before} -> {after} ({row.delta:+.2f})"


def _values(frame: pd.DataFrame, column: str) -> list[Any]:
    """A column as Python values, every kind of missing as None."""
    series: Any = frame[column]
    values = series.to_numpy(dtype=object)
    missing = series.isna().to_numpy(dtype=bool)
    if missing.any():
        values = values.copy()
        values[missing] = None
    return list(values.tolist())


#: Stands for a missing cell in a vectorized comparison (no result is ever this text).
_NOTHING = "\x00missing"


def _side_by_side(before: pd.DataFrame, after: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The rows of both tables with the same id, in after's order, the columns of each side
    (`<column>_old`, `<column>_new`) and `changed_<column>` for those that differ."""
    old = before[["id", *columns]].drop_duplicates("id")
    new = after[["id", *columns]].drop_duplicates("id")
    both = new.merge(old, on="id", how="inner", suffixes=("_new", "_old"), sort=False)
    for column in columns:
        a = both[f"{column}_old"].astype(object).fillna(_NOTHING)
        b = both[f"{column}_new"].astype(object).fillna(_NOTHING)
        both[f"changed_{column}"] = (a != b).to_numpy(dtype=bool)
    return both


def _transitions(before: pd.DataFrame, after: pd.DataFrame) -> tuple[Transition, ...]:
    both = _side_by_side(before, after, ["status"])
    moved = both[both["changed_status"]]
    moves: dict[tuple[Any, Any], list[str]] = {}
    for lead, was, now in zip(
        _values(moved, "id"), _values(moved, "status_old"), _values(moved, "status_new"),
        strict=True,
    ):  # fmt: skip
        moves.setdefault((was, now), []).append(str(lead))
    found = [Transition(a, b, tuple(ids)) for (a, b), ids in moves.items()]
    found.sort(key=lambda t: (-len(t.ids), str(t.before), str(t.after)))
    return tuple(found)


def _deals(before: pd.DataFrame, after: pd.DataFrame) -> tuple[DealChange, ...]:
    columns = [c for c in DEAL_FIELDS if c in before.columns and c in after.columns]
    both = _side_by_side(before, after, columns)
    flags = both[[f"changed_{c}" for c in columns]].to_numpy(dtype=bool)
    moved = cast("pd.DataFrame", both[flags.any(axis=1)])
    cells = {
        c: (_values(moved, f"{c}_old"), _values(moved, f"{c}_new"), _values(moved, f"changed_{c}"))
        for c in columns
    }
    found: list[DealChange] = []
    for i, deal in enumerate(_values(moved, "id")):
        changes = {c: (old[i], new[i]) for c, (old, new, hit) in cells.items() if hit[i]}
        found.append(DealChange(str(deal), changes))
    found.sort(key=lambda d: (-len(d.changes), d.id))
    return tuple(found)


def _kpis(
    before: pd.DataFrame, after: pd.DataFrame, money: frozenset[str]
) -> tuple[KpiChange, ...]:
    def rows(frame: pd.DataFrame) -> dict[tuple[Any, ...], tuple[Any, Any]]:
        keys = zip(
            _values(frame, "kpi"), _values(frame, "role"), _values(frame, "rep_id"), strict=True
        )
        return dict(
            zip(keys, zip(_values(frame, "value"), _values(frame, "met"), strict=True), strict=True)
        )

    old, new = rows(before), rows(after)
    found: list[KpiChange] = []
    for key in dict.fromkeys([*old, *new]):
        a, b = old.get(key, (None, None)), new.get(key, (None, None))
        if a == b:
            continue
        kpi, role, rep = key
        found.append(KpiChange(str(kpi), role, rep, a[0], b[0], a[1], b[1], kpi in money))
    found.sort(key=lambda k: (-_size(k.before, k.after), k.kpi, str(k.role), str(k.rep_id)))
    return tuple(found)


def _size(before: Any, after: Any) -> float:
    """How big a change of value is, to sort by (a value that appears or goes counts most)."""
    try:
        return abs(float(after) - float(before))
    except (TypeError, ValueError):
        return float("inf")


def _alerts(before: pd.DataFrame, after: pd.DataFrame) -> tuple[AlertChange, ...]:
    def rows(frame: pd.DataFrame) -> dict[tuple[Any, ...], tuple[Any, Any]]:
        keys = zip(
            _values(frame, "kind"), _values(frame, "subject"), _values(frame, "id"), strict=True
        )
        cells = zip(_values(frame, "message"), _values(frame, "severity"), strict=True)
        return dict(zip(keys, cells, strict=True))

    old, new = rows(before), rows(after)
    found = [
        AlertChange("raised", str(k[0]), str(k[1]), k[2], str(new[k][0]), new[k][1])
        for k in new
        if k not in old
    ]
    found += [
        AlertChange("cleared", str(k[0]), str(k[1]), k[2], str(old[k][0]), old[k][1])
        for k in old
        if k not in new
    ]
    return tuple(found)


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _payouts(before: pd.DataFrame, after: pd.DataFrame) -> tuple[PayoutChange, ...]:
    def rows(frame: pd.DataFrame) -> dict[tuple[str, str, str], tuple[Decimal | None, bool]]:
        if frame.empty:
            return {}
        keys = zip(
            _values(frame, "rep_id"), _values(frame, "plan"), _values(frame, "period"), strict=True
        )
        paid = _values(frame, "paid") if "paid" in frame.columns else [True] * len(frame)
        cells = zip([_money(v) for v in _values(frame, "payout")], paid, strict=True)
        return dict(zip(keys, cells, strict=True))

    old, new = rows(before), rows(after)
    found: list[PayoutChange] = []
    for key in dict.fromkeys([*old, *new]):
        a, b = old.get(key, (None, False)), new.get(key, (None, False))
        if a[0] == b[0] and (key in old) == (key in new):
            continue
        rep, plan, period = key
        found.append(PayoutChange(str(rep), str(plan), str(period), a[0], b[0], bool(b[1] or a[1])))
    found.sort(key=lambda p: (-abs(p.delta), p.rep_id, p.plan, p.period))
    return tuple(found)


def _paid_total(frame: pd.DataFrame) -> Decimal:
    if frame.empty:
        return Decimal("0.00")
    paid = _values(frame, "paid") if "paid" in frame.columns else [True] * len(frame)
    amounts = [_money(v) for v in _values(frame, "payout")]
    return sum(
        (a for a, p in zip(amounts, paid, strict=True) if p and a is not None), Decimal("0.00")
    )


def _budget(before: pd.DataFrame, after: pd.DataFrame) -> tuple[BudgetChange, ...]:
    def rows(frame: pd.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
        if frame.empty:
            return {}
        records = frame.to_dict("records")
        return {
            (str(r["plan"]), str(r["period"])): {
                str(k): None if is_missing(v) else v for k, v in r.items()
            }
            for r in records
        }

    old, new = rows(before), rows(after)
    found: list[BudgetChange] = []
    for key in dict.fromkeys([*old, *new]):
        a, b = old.get(key, {}), new.get(key, {})
        change = BudgetChange(
            key[0], key[1], _money(a.get("total")), _money(b.get("total")),
            _money(a.get("budget")), _money(b.get("budget")),
            b.get("guardrail", a.get("guardrail")),
            bool(a.get("alert")), bool(b.get("alert")), b.get("message"),
        )  # fmt: skip
        if (
            change.before == change.after
            and change.budget_before == change.budget_after
            and change.alert_before == change.alert_after
            and (key in old) == (key in new)
        ):
            continue
        found.append(change)
    found.sort(key=lambda c: (-abs(c.delta), c.plan, c.period))
    return tuple(found)


def budget_breaches(budget: pd.DataFrame) -> tuple[tuple[str, str, str], ...]:
    """The (plan, period, message) of every budget row above its guardrail: the gate of
    `--fail-on budget`, for `koncept diff` and `koncept eval` alike."""
    if budget.empty:
        return ()
    found = []
    for row in budget.to_dict("records"):
        if row.get("alert") is True:
            found.append((str(row["plan"]), str(row["period"]), str(row.get("message") or "")))
    return tuple(found)


def _rows(frame: pd.DataFrame) -> tuple[tuple[Any, ...], ...]:
    return tuple(
        tuple(None if is_missing(v) else v for v in row)
        for row in frame.itertuples(index=False, name=None)
    )
