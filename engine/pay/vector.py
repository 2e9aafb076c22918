"""Pay over whole tables: the payout math applied to all reps of a plan at once.

The per-record path (`engine.pay.reference`) is the reference; this path must give the same
payouts and the same issues to the cent. What makes it fast and still exact:
  * crediting runs on whole tables, once per distinct credit rule, with exact integer sums per
    rep (`engine.pay.credit`);
  * the payout math runs on numpy object arrays of Decimals (one element per rep), with the same
    formulas, in the same order and the same decimal context as the reference path, and the
    same band test (`BandSpec.holds`).

Who is paid on which plan and period comes from `engine.pay.schedule`, as for every other path.
Outputs: `payouts` (one row per rep, plan and period: rep_id, plan, period, payout, measures,
paid), `budget` (per plan and period: what was paid against the target variables, and the
guardrail alert) and `errors` (rep, plan, period, measure, deal, reason): every rep that is not
paid and every deal that is not credited is there, never silently dropped. `lines` is pay per
deal (`engine.pay.lines`): each credited deal's share of each measure's payout, from the
credited deals' rows (`Crediting.credited`) in integers.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dsl.diagnostics import closest
from engine.ir import Compiled
from engine.money import EXACT, exact_div, exact_mul, scaled
from engine.pay.clawback import Cancellation, cancellations_of, claw, deal_pay, unclaimed
from engine.pay.credit import Crediting, column_texts
from engine.pay.format import measure_entries, payment_rows, show_money, show_ratio
from engine.pay.inputs import (
    adjust_quota,
    as_date,
    measure_quota,
    ramp_share,
    relief_problems,
    relief_rows,
)
from engine.pay.lines import (
    PAYOUT_LINE_COLUMNS,
    DealRows,
    cap_lines,
    line_places,
    lines_frame,
    vector_lines,
)
from engine.pay.math import PayoutIssue
from engine.pay.payments import PaymentLine, settle
from engine.pay.schedule import Assignment, schedule
from engine.pay.spec import Limit, MeasureSpec, PlanBook, PlanSpec
from engine.periods import PayPeriod, proration_factor
from engine.results import (
    ALERT_COLUMNS,
    BUDGET_COLUMNS,
    ERROR_COLUMNS,
    PAYMENT_COLUMNS,
    PAYOUT_COLUMNS,
    is_missing,
    text_or_none,
)
from engine.vector import Compiler
from engine.vector.values import group_sums, object_array

__all__ = [
    "PAYOUT_ERROR_COLUMNS",
    "PAYOUT_TABLE_COLUMNS",
    "PayoutEngine",
    "PayoutResults",
]

#: The payouts table: the output contract's columns, plus whether the plan is the one paid.
PAYOUT_TABLE_COLUMNS = (*PAYOUT_COLUMNS, "paid")
#: Why a rep is not paid or a deal not credited.
PAYOUT_ERROR_COLUMNS = ("rep_id", "plan", "period", "measure", "deal_id", "reason")

Array = npt.NDArray[Any]
Bools = npt.NDArray[np.bool_]
#: An object array of Decimals. Typed Any: numpy's stubs know no Decimal arithmetic.
Obj = Any
_ZERO = Decimal(0)
_ONE = Decimal(1)


# ============================================================================ results
@dataclass(frozen=True, eq=False)
class PayoutResults:
    """What `PayoutEngine.evaluate` computed: payouts, budget per plan and period, errors."""

    payouts: pd.DataFrame
    budget: pd.DataFrame
    errors: pd.DataFrame
    payments: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(PAYMENT_COLUMNS))
    )
    #: Pay per deal (`engine.pay.lines`): each credited deal's share of each measure's payout.
    lines: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(PAYOUT_LINE_COLUMNS))
    )

    @classmethod
    def nothing(cls) -> PayoutResults:
        """No payouts, no budget, no errors (nothing was asked)."""
        return cls(
            pd.DataFrame(columns=list(PAYOUT_TABLE_COLUMNS)),
            pd.DataFrame(columns=list(BUDGET_COLUMNS)),
            pd.DataFrame(columns=list(PAYOUT_ERROR_COLUMNS)),
        )

    def error_rows(self) -> pd.DataFrame:
        """The errors in the shape of `Results.errors` (table, row, column, value, message)."""
        rows: list[tuple[str, int | None, str | None, str | None, str]] = [
            ("payouts", None, "rep_id", rep, _message(rep, plan, period, measure, deal, reason))
            for rep, plan, period, measure, deal, reason in self.errors.itertuples(index=False)
        ]
        return pd.DataFrame(rows, columns=list(ERROR_COLUMNS), dtype=object)

    def attainments(self, period: PayPeriod | None) -> dict[str, dict[str, float]]:
        """`attainment(measure)` per rep for the evaluated period, from the paid plans.

        Only a single evaluated period gives one attainment per rep and measure; without a
        period the value stays unknown, so an alert on it does not fire.
        """
        found: dict[str, dict[str, float]] = {}
        payouts = self.payouts
        if period is None or payouts.empty:
            return found
        paid = payouts[payouts["paid"].astype(bool) & (payouts["period"] == period.id)]
        for rep, measures in zip(paid["rep_id"], paid["measures"], strict=True):
            for measure in measures:
                credited, quota = measure.get("credited"), measure.get("quota")
                if credited is not None and quota is not None and Decimal(quota) > 0:
                    # From the exact amounts, not the shown attainment (rounded to 6 places):
                    # 99,999.99 on 250,000 is under 40%.
                    exact = Decimal(credited) / Decimal(quota)
                    found.setdefault(measure["measure"], {})[rep] = float(exact)
        return found

    def alert_rows(self) -> pd.DataFrame:
        """Budget guardrail alerts in the shape of `Results.alerts`."""
        if self.budget.empty:
            return pd.DataFrame(columns=list(ALERT_COLUMNS), dtype=object)
        alerts = self.budget[self.budget["alert"]]
        rows = [
            ("budget_guardrail", "plan", plan, message, "warning")
            for plan, message in zip(alerts["plan"], alerts["message"], strict=True)
        ]
        return pd.DataFrame(rows, columns=list(ALERT_COLUMNS), dtype=object)


def _message(
    rep: str | None,
    plan: str | None,
    period: str | None,
    measure: str | None,
    deal: str | None,
    reason: str,
) -> str:
    where = [f"rep {rep}" if rep else None, f"plan {plan}" if plan else None, period]
    where.append(f"measure {measure}" if measure else None)
    prefix = ", ".join(w for w in where if w)
    return f"{prefix}: {reason}" if prefix else reason


# ============================================================================ inputs
@dataclass(slots=True)
class _Reps:
    """The reps table as plain arrays, and an index from rep id to position."""

    ids: Array
    index: pd.Index[Any]
    roles: Array
    records: list[dict[str, Any]]

    @classmethod
    def build(cls, frame: pd.DataFrame) -> _Reps:
        ids = column_texts(frame, "id")
        roles = column_texts(frame, "role")
        records = _records(frame)
        for record, rep_id in zip(records, ids, strict=True):
            record["id"] = rep_id
        return cls(ids, pd.Index(ids), roles, records)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts keyed by column name."""
    names = [str(c) for c in frame.columns]
    columns = [frame.iloc[:, i].tolist() for i in range(len(names))]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def close_dates(deals: pd.DataFrame | None) -> tuple[dt.date, dt.date] | None:
    """The first and last close dates of a typed deals table (None: no deal is dated)."""
    if deals is None or "close_date" not in deals.columns or not len(deals):
        return None
    dates = pd.to_datetime(deals["close_date"]).dropna()
    if dates.empty:
        return None
    return dates.min().date(), dates.max().date()


class PayoutEngine:
    """Variable pay of a compiled ruleset over validated tables (see `engine.program`)."""

    def __init__(self, book: PlanBook, compiled: Compiled) -> None:
        self.book = book
        self.compiled = compiled
        fields = compiled.records.get("deal", {})
        text = {name for name, kind in fields.items() if kind.kind in ("text", "one_of")}
        self._vector = Compiler(text, compiled.stages)

    def evaluate(
        self,
        *,
        deals: pd.DataFrame | None,
        reps: pd.DataFrame | None,
        quotas: pd.DataFrame | None = None,
        territories: pd.DataFrame | None = None,
        splits: pd.DataFrame | None = None,
        stage_events: pd.DataFrame | None = None,
        period: PayPeriod | None = None,
        quota_relief: Sequence[Mapping[str, Any]] = (),
        cancellations: Sequence[Mapping[str, Any]] = (),
        codes: Mapping[str, Any] | None = None,
    ) -> PayoutResults:
        """Pay every rep on every plan of their role, for one period (or every plan period).

        Tables are typed as `engine.data.validate_table` returns them (splits may be raw);
        `codes`: the deals' text columns as validation factorized them.
        `period` may be a plan period (`2026-Q1`) or a longer one (`2026`: every quarter of a
        quarterly plan).
        """
        issues: list[PayoutIssue] = []
        asked = period.id if period is not None else None
        if not self.book.plans:
            return self._results([], [])  # a ruleset without plans pays nobody: no error
        if reps is None:
            issues.append(
                PayoutIssue(None, None, asked, "no reps table: payouts need each rep's role")
            )
            return self._results([], issues)
        team = _Reps.build(reps.reset_index(drop=True))
        if deals is not None:
            deals = deals.reset_index(drop=True)
        work, found = schedule(
            self.book,
            list(zip(team.ids.tolist(), team.roles.tolist(), strict=True)),
            period,
            close_dates(deals),
        )
        issues.extend(found)
        quota_rows = _Quotas(quotas, team, self.book, issues)
        quota_rows.relieve(quota_relief, team, self.book, issues)
        links = self._territories(territories)
        known = frozenset(r for r in team.ids.tolist() if r is not None)
        credits = Crediting(self.compiled, self._vector, deals, splits, stage_events, known, codes)
        rows: list[dict[str, Any]] = []
        payments: list[dict[str, Any]] = []
        lines: list[pd.DataFrame] = []
        cancelled = cancellations_of(cancellations)
        clawed: set[str] = set()
        for assignment in work:
            members = np.asarray(assignment.reps, dtype=np.int64)
            dues: list[list[dict[str, Any]]] = []
            # A clawback, and the catch-up of a plan paid more often than it measures, read
            # the pay per deal of every window, not only the payouts'.
            plan = assignment.plan
            clawing = assignment.paid and plan.clawback is not None and bool(cancelled)
            finer = assignment.paid and plan.pays != plan.unit
            behind: list[list[pd.DataFrame]] = []
            new: dict[str, list[Decimal]] = {}
            for index, window in enumerate(assignment.windows):
                sink: list[pd.DataFrame] | None = [] if clawing or finer else None
                # The catch-up needs each payment period's own deals' pay: summed from the
                # lines' amounts, without writing the lines out unless they are shown.
                own: _Own | None = None
                if finer:
                    start = _epoch_day(window.payment.start)
                    own = _Own(start, index, len(assignment.windows), new)
                    own.text = clawing or window.payout
                found_rows = []
                for part in window.parts:  # the plan's versions in force (`supersedes`)
                    found_rows += self._pay(
                        part.plan, assignment.paid, members, window.measured, team,
                        quota_rows, links, credits, issues, window.last_day(part),
                        sink if sink is not None else (lines if window.payout else None),
                        window.first_day(part), part.share, part.split, window.payout, own,
                    )  # fmt: skip
                dues.append(found_rows)
                if sink is not None:
                    behind.append(sink)
                    if window.payout:
                        lines.extend(sink)
                if window.payout:
                    rows.extend(found_rows)
            if assignment.paid:
                back = _clawbacks(assignment, behind, cancelled, issues, clawed) if clawing else {}
                payments.extend(_payments(assignment, dues, back, new))
        if cancelled and any(p.clawback is not None for p in self.book.plans.values()):
            known = frozenset(column_texts(deals, "id")) if deals is not None else frozenset()
            last = max((w.payment.end for a in work for w in a.windows), default=None)
            issues.extend(unclaimed(cancelled, known, clawed, last))
        issues.extend(credits.unknown_owners())
        return self._results(rows, issues, payments, lines)

    def _territories(self, territories: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
        if territories is None or not len(territories):
            return {}
        ids = column_texts(territories, "id")
        records = _records(territories)
        return {key: record for key, record in zip(ids, records, strict=True) if key is not None}

    # ------------------------------------------------------------------ paying one plan period
    def _pay(
        self,
        plan: PlanSpec,
        paid: bool,
        members: Array,
        period: PayPeriod,
        team: _Reps,
        quota_rows: _Quotas,
        links: Mapping[str, dict[str, Any]],
        credits: Crediting,
        issues: list[PayoutIssue],
        through: dt.date | None = None,
        lines: list[pd.DataFrame] | None = None,
        since: dt.date | None = None,
        share: Decimal = _ONE,
        split: str = "",
        entries: bool = True,
        own: _Own | None = None,
    ) -> list[dict[str, Any]]:
        """Rows for one plan and period (credits dated from `since` up to `through` when
        given); issues for the reps that cannot be paid. A version's `share` of the period
        prorates quotas and target (split by close date) or its payout (split by days)."""
        # Employment first (a rep hired after the period is not paid on it), then crediting,
        # then quotas: the order of the reference path, so the same issues come out.
        factors = np.full(len(members), _ONE, dtype=object)
        keep = np.ones(len(members), dtype=bool)
        if plan.proration:
            # Once per distinct (hire date, end date): most reps share them.
            prorated: dict[tuple[Any, Any], tuple[int, Decimal]] = {}
            for i, position in enumerate(members.tolist()):
                record = team.records[position]
                dates = (record.get("hire_date"), record.get("end_date"))
                found = prorated.get(dates)
                if found is None:
                    found = proration_factor(period, as_date(dates[0]), as_date(dates[1]))
                    prorated[dates] = found
                days, factor = found
                factors[i] = factor
                if days == 0:
                    keep[i] = False
                    hired = as_date(record.get("hire_date"))
                    issues.append(
                        PayoutIssue(
                            team.ids[position],
                            plan.name,
                            period.id,
                            f"not employed during {period.id} (hired {hired})",
                        )
                    )
        members, factors = members[keep], factors[keep]
        if split == "close_date" and share != _ONE:
            # A version paying its days of the period: its quotas and target, prorated.
            factors = np.asarray([exact_mul(f, share) for f in factors.tolist()], dtype=object)
        rep_ids = team.ids[members]
        keep = np.ones(len(members), dtype=bool)
        credited: dict[str, Array] = {}
        behind: dict[str, DealRows] = {}
        for spec in plan.measures:
            # No pay per deal wanted without `lines` (a payment window's running total).
            credited[spec.name], deal_rows = credits.credited(
                spec, plan, period, rep_ids, issues, through, since, deals=lines is not None
            )
            if deal_rows is not None:
                behind[spec.name] = deal_rows
        employed = keep.copy()  # every missing quota of an employed rep is reported
        # The ramp's share of quota per rep, as `pay_rep` finds it (reported once when none).
        ramps: dict[int, tuple[Decimal, tuple[int, ...]]] = {}
        if plan.ramp and any(spec.has_quota for spec in plan.measures):
            shares: dict[Any, tuple[Decimal, tuple[int, ...]] | str] = {}  # per hire date
            for i, position in enumerate(members.tolist()):
                hired = team.records[position].get("hire_date")
                ramp = shares.get(hired)
                if ramp is None:
                    ramp = shares[hired] = ramp_share(plan.ramp, as_date(hired), period)
                if isinstance(ramp, str):
                    issues.append(PayoutIssue(rep_ids[i], plan.name, period.id, ramp))
                    keep[i] = False
                elif ramp[0] != _ONE:  # a full share changes nothing
                    ramps[i] = ramp
        quotas: dict[str, Array] = {}
        # Reps whose quota row is their quota as it is: not prorated, ramped or relieved.
        as_given = np.asarray([f == _ONE for f in factors.tolist()], dtype=bool)
        as_given[list(ramps)] = False
        if quota_rows.reliefs:
            as_given &= ~_isin(rep_ids, object_array(list(quota_rows.reliefs)))
        positions = members.tolist()
        for spec in plan.measures:
            column = np.full(len(members), None, dtype=object)
            if spec.has_quota:
                fast = quota_rows.lookup(spec, period, rep_ids) if spec.quota_measure else None
                others: Sequence[int] = range(len(members))
                if fast is not None:
                    listed = np.fromiter((v is not None for v in fast), bool, len(fast))
                    easy = employed & as_given & listed
                    column[easy] = fast[easy]
                    others = np.flatnonzero(~easy).tolist()
                for i in others:
                    position = positions[i]
                    if not employed[i]:
                        continue
                    if fast is not None and fast[i] is not None:
                        value: Decimal | None = fast[i]
                    else:
                        # The reference function, for formulas and for every problem, so the
                        # reasons are word for word those of the per-record path.
                        record = team.records[position]
                        territory = record.get("territory")
                        link = links.get(str(territory)) if not is_missing(territory) else None
                        value, reason = measure_quota(
                            spec,
                            record,
                            period,
                            quota_rows.rows_of(rep_ids[i]),
                            {"territory": link},
                            plan,
                        )
                        if reason is not None:
                            issues.append(
                                PayoutIssue(rep_ids[i], plan.name, period.id, reason, spec.name)
                            )
                            keep[i] = False
                            continue
                    if value is not None and factors[i] != _ONE:
                        value = plan.round(exact_mul(value, factors[i]))
                    reliefs = quota_rows.reliefs.get(rep_ids[i], ())
                    if value is not None and (i in ramps or reliefs):
                        # The reference function (ramp, then relief), per rep as on that path.
                        mine = relief_rows(reliefs, spec, period)
                        value, why, _ = adjust_quota(spec, plan, ramps.get(i), period, value, mine)
                        if why is not None:
                            issues.append(
                                PayoutIssue(rep_ids[i], plan.name, period.id, why, spec.name)
                            )
                            keep[i] = False
                            continue
                    column[i] = value
            quotas[spec.name] = column
        if not keep.any():
            return []
        rows = np.flatnonzero(keep)
        return _pay_vector(
            plan,
            paid,
            period,
            rep_ids[rows],
            factors[rows],
            {name: values[rows] for name, values in credited.items()},
            {name: values[rows] for name, values in quotas.items()},
            None
            if lines is None
            else Behind(
                {name: deals.keep(rows, len(members)) for name, deals in behind.items()},
                credits.deal_ids(),
                lines,
                own,
            ),
            share if split == "days" else _ONE,
            entries,
        )

    # ------------------------------------------------------------------ results
    def _results(
        self,
        rows: list[dict[str, Any]],
        issues: Sequence[PayoutIssue],
        payments: Sequence[dict[str, Any]] = (),
        lines: Sequence[pd.DataFrame] = (),
    ) -> PayoutResults:
        payouts = pd.DataFrame(rows, columns=[*PAYOUT_TABLE_COLUMNS, "_target"])
        budget = self._budget(payouts)
        # A deal without a date belongs to no period: it is reported once, not per period.
        unique = dict.fromkeys(
            (i.rep_id, i.plan, i.period, i.measure, i.deal_id, i.reason) for i in issues
        )
        errors = pd.DataFrame(list(unique), columns=list(PAYOUT_ERROR_COLUMNS), dtype=object)
        payouts = payouts.drop(columns="_target")
        paid = pd.DataFrame(list(payments), columns=list(PAYMENT_COLUMNS), dtype=object)
        found = [f for f in lines if len(f)]
        per_deal = (
            pd.concat(found, ignore_index=True)
            if found
            else pd.DataFrame(columns=list(PAYOUT_LINE_COLUMNS), dtype=object)
        )
        return PayoutResults(payouts, budget, errors, paid, per_deal)

    def _budget(self, payouts: pd.DataFrame) -> pd.DataFrame:
        rows = []
        for (plan_name, period), group in payouts.groupby(["plan", "period"], sort=True):
            plan = self.book.plans[str(plan_name)]
            total = sum((Decimal(p) for p in group["payout"]), _ZERO)
            targets = [t for t in group["_target"] if t is not None]
            budget = sum(targets, _ZERO) if len(targets) == len(group) and targets else None
            ratio = exact_div(total, budget) if budget else None
            alert, message = False, None
            limit = plan.guardrail
            if limit is not None:
                ceiling = exact_mul(limit.value, budget) if limit.percent and budget else None
                ceiling = limit.value if not limit.percent else ceiling
                if ceiling is not None and total > ceiling:
                    alert = True
                    share = f" ({show_ratio(ratio)} of the budget)" if ratio is not None else ""
                    message = (
                        f"{plan_name} {period}: {show_money(total)} paid{share}, above the "
                        f"guardrail of {limit.raw}"
                        + (f" of {show_money(budget)}" if limit.percent and budget else "")
                    )
            rows.append(
                (
                    plan_name,
                    period,
                    bool(group["paid"].any()),
                    len(group),
                    show_money(total),
                    None if budget is None else show_money(budget),
                    show_ratio(ratio),
                    None if limit is None else limit.raw,
                    alert,
                    message,
                )
            )
        return pd.DataFrame(rows, columns=list(BUDGET_COLUMNS), dtype=object)


def _clawbacks(
    assignment: Assignment,
    behind: Sequence[Sequence[pd.DataFrame]],
    cancelled: Mapping[str, Cancellation],
    issues: list[PayoutIssue],
    clawed: set[str],
) -> dict[str, list[Decimal]]:
    """rep -> what each window's payment recovers for cancelled deals (reps with none left
    out): the pay per deal of the cancelled deals only, handed to `engine.pay.clawback`."""
    if not behind:
        return {}
    ids = list(cancelled)
    per_rep: dict[str, list[dict[str, tuple[dt.date, Decimal]] | None]] = {}
    windows = assignment.windows
    for index, frames in enumerate(behind):
        if not frames:
            continue
        # Every version's lines of the window: a deal paid by two versions adds up.
        both = pd.concat(frames, ignore_index=True)
        hit = both[both["deal_id"].isin(ids)]
        for rep_id, group in hit.groupby("rep_id", sort=False):
            pay = deal_pay(
                (str(d), dt.date.fromisoformat(str(day)), Decimal(str(amount)))
                for d, day, amount in zip(
                    group["deal_id"], group["date"], group["payout"], strict=True
                )
            )
            per_rep.setdefault(str(rep_id), [None] * len(windows))[index] = pay
    found: dict[str, list[Decimal]] = {}
    for rep_id, per_deal in per_rep.items():
        mine = {d: cancelled[d] for window in per_deal if window for d in window}
        back, taken, problems = claw(assignment.plan, rep_id, windows, per_deal, mine)
        issues.extend(problems)
        clawed.update(t.deal_id for t in taken)
        found[rep_id] = back
    return found


#: The payment columns that are 0 when a plan pays its period's payout at once.
_NOTHING = dict.fromkeys(
    ("paid_before", "catch_up", "clawbacks", "held", "recovered", "draw", "carried", "advanced",
     "written_off"),
    "0.00",
)  # fmt: skip


def _epoch_day(day: dt.date) -> int:
    """Days since 1970, as pay per deal dates its lines."""
    return (day - dt.date(1970, 1, 1)).days


def _payments(
    assignment: Assignment,
    dues: Sequence[list[dict[str, Any]]],
    back: Mapping[str, list[Decimal]],
    new: Mapping[str, list[Decimal]] | None = None,
) -> list[dict[str, Any]]:
    """The payments table's rows of one paid plan: each rep's dues, less what cancelled
    deals give back (`back`), settled in time order; `new` the pay of each payment period's
    own deals (for the catch-up), when the plan pays more often than it measures."""
    plan = assignment.plan
    windows = assignment.windows
    if not plan.over_time and all(len(w.parts) == 1 for w in windows):
        # One payment per plan period, of what it pays: no balance to carry.
        return [
            {
                **_NOTHING,
                "rep_id": row["rep_id"],
                "plan": plan.name,
                "period": row["period"],
                "plan_period": row["period"],
                "through": window.measured.end.isoformat(),
                "due_to_date": row["payout"],
                "earned": row["payout"],
                "payment": row["payout"],
            }
            for window, rows in zip(windows, dues, strict=True)
            for row in rows
        ]
    # A window's due: what every version of the plan paying it owes (`supersedes`).
    by_rep: dict[str, list[Decimal | None]] = {}
    for index, rows in enumerate(dues):
        for row in rows:
            slot = by_rep.setdefault(row["rep_id"], [None] * len(windows))
            slot[index] = (slot[index] or _ZERO) + row["_due"]
    lines: list[PaymentLine] = []
    none = [_ZERO] * len(windows)
    unasked: list[Decimal | None] = [None] * len(windows)
    for rep_id, amounts in by_rep.items():
        clawed = back.get(rep_id, none)
        own: Sequence[Decimal | None] = unasked if new is None else new.get(rep_id, none)
        if new is not None and plan.pays == plan.unit:
            own = unasked
        steps = list(zip(windows, amounts, clawed, own, strict=True))
        lines.extend(line for line in settle(plan, rep_id, steps) if line.shown)
    return payment_rows(lines)


# ============================================================================ quotas
class _Quotas:
    """The quotas table: a vectorized lookup per measure and period, rows per rep on demand."""

    def __init__(
        self, quotas: pd.DataFrame | None, team: _Reps, book: PlanBook, issues: list[PayoutIssue]
    ) -> None:
        self.frame = quotas if quotas is not None else pd.DataFrame()
        n = len(self.frame)
        self.reps = column_texts(self.frame, "rep_id") if n else np.empty(0, dtype=object)
        self.periods = column_texts(self.frame, "period") if n else np.empty(0, dtype=object)
        self.measures = column_texts(self.frame, "measure") if n else np.empty(0, dtype=object)
        if n and "quota__cents" in self.frame.columns:
            cents = self.frame["quota__cents"].array
            self.cents = np.asarray(cents.to_numpy(dtype=np.int64, na_value=0))
            self.known = ~np.asarray(cents.isna())
        else:
            self.cents = np.zeros(n, dtype=np.int64)
            self.known = np.zeros(n, dtype=bool)
        self._by_rep: dict[str, list[dict[str, Any]]] | None = None
        self._found: dict[tuple[Any, ...], Obj] = {}
        #: rep id -> its quota relief rows (`relieve`).
        self.reliefs: dict[str | None, list[Mapping[str, Any]]] = {}
        strangers = ~_isin(self.reps, team.ids)
        for row in np.flatnonzero(strangers).tolist():
            issues.append(
                PayoutIssue(
                    self.reps[row],
                    None,
                    self.periods[row],
                    f"quota for {self.measures[row]} given for a rep who is not in the reps table",
                )
            )
        self.usable = ~strangers
        known = sorted(book.quota_measures)
        odd = self.usable & ~_isin(self.measures, np.asarray(known, dtype=object))
        for row in np.flatnonzero(odd if known else np.zeros(n, dtype=bool)).tolist():
            measure = str(self.measures[row])
            close = closest(measure, known)
            hint = f"; did you mean {close}?" if close else ""
            issues.append(
                PayoutIssue(
                    self.reps[row],
                    None,
                    self.periods[row],
                    f"quota for unknown measure {measure} (no plan reads it){hint}",
                )
            )

    def relieve(
        self,
        rows: Sequence[Mapping[str, Any]],
        team: _Reps,
        book: PlanBook,
        issues: list[PayoutIssue],
    ) -> None:
        """Take the quota relief rows (per rep), reporting those no payout can use."""
        issues.extend(relief_problems(rows, team.ids.tolist(), book))
        for row in rows:
            self.reliefs.setdefault(text_or_none(row.get("rep_id")), []).append(row)

    def lookup(self, spec: MeasureSpec, period: PayPeriod, rep_ids: Array) -> Obj:
        """Each rep's quota when it has exactly one positive quota row, else None (once per
        measure, period and reps: the payment windows of a period share it; not to be
        changed by the caller)."""
        key = (spec.quota_measure, period.id, tuple(rep_ids.tolist()))
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self._lookup(spec, period, rep_ids)
        return found

    def _lookup(self, spec: MeasureSpec, period: PayPeriod, rep_ids: Array) -> Obj:
        found = np.full(len(rep_ids), None, dtype=object)
        if not len(self.frame):
            return found
        rows = self.usable & (self.measures == spec.quota_measure) & (self.periods == period.id)
        reps = self.reps[rows]
        counts = pd.Series(reps).value_counts()
        good = self.known[rows] & (self.cents[rows] > 0)
        single = good & _isin(reps, counts.index[counts.to_numpy() == 1].to_numpy())
        where = pd.Index(reps[single]).get_indexer(pd.Index(rep_ids))
        hit = where >= 0
        cents = self.cents[rows][single][where[hit]]
        found[hit] = scaled(cents.tolist(), 2)
        return found

    def rows_of(self, rep: str) -> list[dict[str, Any]]:
        """The rep's quota rows (for the reference function)."""
        if self._by_rep is None:
            self._by_rep = {}
            quotas: Array = (
                self.frame["quota"].to_numpy(dtype=object)
                if "quota" in self.frame.columns
                else np.full(len(self.frame), None, dtype=object)
            )
            for row in np.flatnonzero(self.usable).tolist():
                self._by_rep.setdefault(self.reps[row], []).append(
                    {
                        "rep_id": self.reps[row],
                        "period": self.periods[row],
                        "measure": self.measures[row],
                        "quota": quotas[row],
                    }
                )
        return self._by_rep.get(rep, [])


# ============================================================================ helpers
def _isin(values: Array, choices: Array) -> Bools:
    """Membership by hashing (numpy's isin compares object arrays pairwise)."""
    return np.asarray(pd.Series(values, dtype=object).isin(choices), dtype=bool)


# ============================================================================ vectorized math
def _where(mask: Bools, a: Any, b: Any) -> Obj:
    return np.where(mask, a, b).astype(object)


def _curve_vector(spec: MeasureSpec, c: Obj, q: Obj) -> Obj:
    """`engine.plans.curve_pct` on arrays: the same pieces, the same formulas."""
    curve = spec.curve
    assert curve is not None
    n = len(c)
    pct = np.full(n, _ZERO, dtype=object)
    decided = np.zeros(n, dtype=bool)
    anchors = ([curve.below] if curve.below is not None else []) + list(curve.points)
    if curve.below is not None:
        hit = c < curve.below[0] * q
        pct = _where(hit, curve.below[1], pct)
        decided |= hit
    if not anchors:
        return pct
    decided |= c < anchors[0][0] * q
    attainment = c / q
    for (l0, p0), (l1, p1) in itertools.pairwise(anchors):
        hit = ~decided & (c < l1 * q)
        if hit.any():
            slope = exact_div(p1 - p0, l1 - l0)
            pct = _where(hit, slope * (attainment - l0) + p0, pct)
        decided |= hit
    level, pay = anchors[-1]
    hit = ~decided & (c == level * q)
    pct = _where(hit, pay, pct)
    decided |= hit
    for slope, until in curve.slopes:
        hit = ~decided if until is None else ~decided & (c <= until * q)
        if hit.any():
            pct = _where(hit, pay + slope * (attainment - level), pct)
        decided |= hit
        if until is not None:
            pay += exact_mul(slope, until - level)
            level = until
    return _where(decided, pct, pay)


def _band_rate(spec: MeasureSpec, amount: Obj, q: Obj | None) -> tuple[Obj, Bools]:
    """The value of the band holding each amount (first band that holds it), and whether any:
    `BandSpec.holds` on arrays."""
    n = len(amount)
    value = np.full(n, None, dtype=object)
    found = np.zeros(n, dtype=bool)
    for band in spec.bands:
        hit = ~found & np.broadcast_to(np.asarray(band.holds(amount, q), dtype=bool), (n,))
        value = _where(hit, band.value, value)
        found |= hit
    return value, found


def _method_vector(spec: MeasureSpec, c: Obj, q: Obj | None, t: Obj | None) -> tuple[Obj, Obj]:
    """The method's amount and rate per rep, floor threshold included (see `_base_parts`)."""
    n = len(c)
    zero = np.full(n, _ZERO, dtype=object)
    none = np.full(n, None, dtype=object)
    floor = spec.threshold[0] if spec.threshold and spec.threshold[1] == "floor" else None
    floor_amount = floor * q if floor is not None and q is not None else None
    if floor_amount is None:
        above = c
    else:
        diff = c - floor_amount
        above = _where(diff > 0, diff, _ZERO)
    method = spec.method
    if method in ("commission", "per_unit"):
        assert spec.rate is not None
        return above * spec.rate, np.full(n, spec.rate, dtype=object)
    if method == "rates" and spec.rates_method == "marginal":
        amount, rate = zero.copy(), none.copy()
        for band in spec.bands:
            if band.on_attainment:
                assert q is not None
                low: Any = band.low * q
                high: Any = None if band.high is None else band.high * q
            else:
                low = np.full(n, band.low, dtype=object)
                high = None if band.high is None else np.full(n, band.high, dtype=object)
            if floor_amount is not None:
                low = _where(floor_amount > low, floor_amount, low)
            top = c if high is None else _where(c < high, c, high)
            hit = np.asarray(top > low, dtype=bool)
            if high is not None:
                hit &= np.asarray(low < high, dtype=bool)
            amount = _where(hit, amount + (top - low) * band.value, amount)
            rate = _where(hit, band.value, rate)
        return amount, rate
    if method == "rates":
        value, found = _band_rate(spec, c, q)
        return _where(found, above * _where(found, value, _ZERO), _ZERO), value
    if method == "steps":
        assert t is not None and q is not None
        value, found = _band_rate(spec, c, q)
        pct = _where(found, value, _ZERO)
        if floor_amount is not None:
            at_floor, floor_found = _band_rate(spec, floor_amount, q)
            pct = pct - _where(floor_found, at_floor, _ZERO)
            pct = _where(pct > 0, pct, _ZERO)
        return _where(found, pct * t, _ZERO), _where(found, pct, None)
    if method == "curve":
        assert t is not None and q is not None
        pct = _curve_vector(spec, c, q)
        if floor_amount is not None:
            pct = pct - _curve_vector(spec, floor_amount, q)
            pct = _where(pct > 0, pct, _ZERO)
        return pct * t, pct
    return zero, none


def _measure_vector(
    spec: MeasureSpec, plan: PlanSpec, c: Obj, q: Obj | None, t: Obj | None
) -> tuple[Obj, Obj, Obj, Obj]:
    """(raw, rounded payout, rate or %, accelerator + bonus) per rep: `engine.plans.pay_measure`
    on arrays (the last one weighs the deals of marginal rates, `engine.pay.lines`)."""
    n = len(c)
    gate = spec.threshold if spec.threshold and spec.threshold[1] == "gate" else None
    open_ = np.ones(n, dtype=bool)
    if gate is not None and q is not None:
        open_ = np.asarray(c >= gate[0] * q, dtype=bool)
    raw, rate = _method_vector(spec, c, q, t)
    method = raw
    if spec.accelerator is not None and q is not None and t is not None:
        factor, level = spec.accelerator
        over = np.asarray(c > level * q, dtype=bool)
        if over.any():
            raw = _where(over, raw + factor * (c / q - level) * t, raw)
    if spec.bonus is not None and q is not None:
        amount, op, level = spec.bonus
        won = np.asarray(_COMPARE[op](c, level * q), dtype=bool)
        raw = _where(won, raw + amount, raw)
    raw = _where(open_, raw, _ZERO)
    extras = _where(open_, raw - method, _ZERO)
    rate = _where(open_, rate, None)
    if spec.cap is not None:
        raw = _capped(plan, spec.cap, raw, t)
    payout = object_array([plan.round(x) for x in raw.tolist()])
    return raw, payout, rate, extras


def _capped(plan: PlanSpec, cap: Limit, values: Obj, target: Obj | None) -> Obj:
    """`PlanSpec.cap_of` for each rep: the values, none above what the cap allows."""
    if not cap.percent:
        ceiling = plan.cap_of(cap, None)
        return _where(values > ceiling, ceiling, values)
    if target is None:
        return values  # a share of no target caps nothing (the checker refuses it anyway)
    if plan.quantum:
        # A quantized cap depends on the target's value only.
        limits = _each_once(target, lambda t: plan.cap_of(cap, t))
    else:
        limits = np.asarray([plan.cap_of(cap, t) for t in target], dtype=object)
    return _where(values > limits, limits, values)


def _each_once(values: Obj, function: Callable[[Any], Any]) -> Obj:
    """`function` of each value, worked out once per value object: the reps of a plan share
    its target (one Decimal object) unless prorated, and a Decimal's hash would cost more than
    the function."""
    done: dict[int, Any] = {}
    out = []
    for value in values.tolist():
        key = id(value)
        found = done.get(key, done)
        if found is done:
            found = done[key] = function(value)
        out.append(found)
    return object_array(out)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _pay_vector(
    plan: PlanSpec,
    paid: bool,
    period: PayPeriod,
    rep_ids: Obj,
    factors: Obj,
    credited: Mapping[str, Obj],
    quotas: Mapping[str, Obj],
    behind: Behind | None = None,
    share: Decimal = _ONE,
    entries: bool = True,
) -> list[dict[str, Any]]:
    """Payout rows for the reps of one plan and period (and their pay per deal, added to
    `behind.lines` when asked); `share`: a version's part of the period's days (split by
    days), taken of the total. Without `entries`, rows hold no measures (a payment window
    whose payout is not shown: only its total is read). `_due` is the exact total."""
    n = len(rep_ids)
    with localcontext(EXACT):
        target: Obj | None = None
        if plan.target is not None:
            base = plan.target
            target = np.asarray(
                [base if f == _ONE else plan.round(exact_mul(base, f)) for f in factors.tolist()],
                dtype=object,
            )
        total = np.full(n, _ZERO, dtype=object)
        lines: list[tuple[str, Obj, Obj | None, Obj, Obj]] = []
        per_deal: list[tuple[DealRows, Array]] = []
        for spec in plan.measures:
            c = np.asarray(credited[spec.name], dtype=object)
            q = quotas[spec.name] if spec.has_quota else None
            t = None if target is None else _each_once(target, partial(exact_mul, spec.weight))
            _, payout, rate, extras = _measure_vector(spec, plan, c, q, t)
            total = total + payout
            lines.append((spec.name, c, q, rate, payout))
            if behind is not None:
                per_deal.append(
                    vector_lines(
                        spec,
                        plan,
                        behind.deals[spec.name],
                        payout.tolist(),
                        None if q is None else q.tolist(),
                        extras.tolist(),
                    )
                )
        uncapped = total
        if plan.cap is not None:
            total = _capped(plan, plan.cap, total, target)
        if share != _ONE:
            total = np.asarray([plan.round(exact_mul(x, share)) for x in total], dtype=object)
        if behind is not None:
            frame = _lines_frame(plan, period, rep_ids, per_deal, behind, uncapped, total)
            if frame is not None:
                behind.lines.append(frame)
        # Each measure's entries a column at a time: `measure_entries` formats a value once.
        shown: list[Sequence[Any]] = [
            measure_entries(
                name,
                c.tolist(),
                None if q is None else q.tolist(),
                None
                if q is None
                else [None if d is None else exact_div(x, d) for x, d in zip(c, q, strict=True)],
                rate.tolist(),
                payout.tolist(),
            )
            for name, c, q, rate, payout in lines
            if entries
        ]
        per_row = list(zip(*shown, strict=True)) if shown else [()] * n
        targets = [None] * n if target is None else target.tolist()
        rows = [
            {
                "rep_id": rep_id,
                "plan": plan.name,
                "period": period.id,
                "payout": show_money(amount),
                "measures": measures,
                "paid": paid,
                "_target": rep_target,
                "_due": amount,
            }
            for rep_id, amount, measures, rep_target in zip(
                rep_ids.tolist(), total.tolist(), per_row, targets, strict=True
            )
        ]
    return rows


@dataclass(frozen=True, slots=True)
class Behind:
    """What pay per deal needs beside the payout math: the credited deals of each measure, the
    deal ids by position, and where to put the lines."""

    deals: Mapping[str, DealRows]
    ids: Any  # the deals' ids, Arrow text (`Crediting.deal_ids`)
    lines: list[pd.DataFrame]
    own: _Own | None = None


@dataclass(slots=True)
class _Own:
    """Where a payment window's own deals' pay goes (`sums[rep][index]`, added over measures
    and versions): the lines dated from `since` (days since 1970); `text`: the lines are
    written out too (shown, or read by a clawback)."""

    since: int
    index: int
    size: int
    sums: dict[str, list[Decimal]]
    text: bool = True


def _lines_frame(
    plan: PlanSpec,
    period: PayPeriod,
    rep_ids: Obj,
    per_deal: Sequence[tuple[DealRows, Array]],
    behind: Behind,
    uncapped: Obj,
    total: Obj,
) -> pd.DataFrame | None:
    """The payout_lines rows of one plan period: measures' lines merged rep by rep (measure
    order, then credit order), the plan cap shared over a capped rep's lines. With
    `behind.own`, the lines of the payment period's own deals are also summed per rep (and
    None is returned when the lines are not to be written)."""
    capped = {
        i: after
        for i, (before, after) in enumerate(zip(uncapped.tolist(), total.tolist(), strict=True))
        if after != before
    }
    places = line_places(plan)
    own = behind.own
    if own is not None and not own.text and not capped:
        # Only the pay of the payment period's own deals is read: summed per rep, measure by
        # measure, without merging or sorting the lines.
        sums = np.zeros(len(rep_ids), dtype=object)
        for deals, units in per_deal:
            mine = deals.day >= own.since
            sums = sums + group_sums(deals.rep[mine], units[mine], len(rep_ids))
        _add_own(own, rep_ids, sums, places)
        return None
    rows = DealRows(
        np.concatenate([d.rep for d, _ in per_deal]),
        np.concatenate([d.deal for d, _ in per_deal]),
        np.concatenate([d.day for d, _ in per_deal]),
        *_same_scale([d for d, _ in per_deal]),
    )
    units = np.concatenate([u for _, u in per_deal])
    measure = np.concatenate(
        [np.full(len(u), i, dtype=np.int64) for i, (_, u) in enumerate(per_deal)]
    )
    order = np.argsort(rows.rep, kind="stable")
    rows = DealRows(
        rows.rep[order], rows.deal[order], rows.day[order], rows.value[order], rows.scale
    )
    units, measure = units[order], measure[order]
    units = cap_lines(rows.rep, units, capped, places)
    if own is not None:
        mine = rows.day >= own.since
        _add_own(own, rep_ids, group_sums(rows.rep[mine], units[mine], len(rep_ids)), places)
        if not own.text:
            return None
    names = [spec.name for spec in plan.measures]
    return lines_frame(
        np.asarray(rep_ids, dtype=object), plan.name, period.id, names, measure, rows, units,
        places, behind.ids,
    )  # fmt: skip


def _add_own(own: _Own, rep_ids: Obj, sums: Array, places: int) -> None:
    """Each rep's pay of its own deals (`sums`, units of 10**-places) added to `own`."""
    for rep_id, amount in zip(rep_ids.tolist(), sums.tolist(), strict=True):
        slot = own.sums.setdefault(rep_id, [_ZERO] * own.size)
        slot[own.index] += Decimal(int(amount)).scaleb(-places)


def _same_scale(deals: Sequence[DealRows]) -> tuple[Array, int]:
    """The credited values of several measures' deals at one scale (the largest)."""
    scale = max([d.scale for d in deals] or [0])
    parts = [d.value * 10 ** (scale - d.scale) for d in deals]
    if any(p.dtype == object for p in parts):
        parts = [p.astype(object) for p in parts]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64), scale
