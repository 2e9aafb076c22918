"""The per-record reference of pay: one rep, one plan, one period, computed deal by deal.

`engine.pay.vector` computes the same payouts and issues for whole tables and must agree to the
cent; the fixtures run both. Crediting (decisions where the briefs are silent):

  * A deal is credited when the measure's `where` is true (no implicit `status == won`: the SDR
    credit counts open deals), to the period holding its `dated` date (default `close_date`)
    within the plan's effective dates, to the rep in its `to` field (default `rep_id`).
  * A `splits` table (deal_id, rep_id, share as `60%` or `0.6`) replaces the owner of the deals
    it lists, for measures credited to `rep_id`; shares must sum to exactly 100%, else the deal
    is credited to nobody and reported to each rep of the split.
  * Reported, never dropped in silence: a `where` that cannot be decided (a field it reads is
    empty), a deal without a date (reported with no period), a negative amount, a credited
    value that is missing. A negative credited value with a valid amount (a loss-making margin)
    is credited as it is.
  * `reached(stage)` reads the deal's `stage` field, as `engine.record` does; `dated
    entered_at(stage)` is the first day the deal's stage events show it in the stage.

Quotas and proration
  * A quota is per rep, measure and period: one row of the quotas table (none, several, empty
    or not positive: reported, the plan is not paid for that rep and period), or the formula
    with the rep's fields and linked records (`territory.potential`).
  * proration daily: quota and target variable are multiplied by days employed in the period
    (from `hire_date`, to `end_date` when the reps table has one) / days in the period; a
    missing hire date counts as employed; a rep not employed at all in the period is reported.
  * Then the plan's ramp and the rep's quota relief rows (`engine.pay.inputs.adjust_quota`): a
    ramp without a hire date, or a relief that leaves no quota, is reported and not paid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.cells import coercer
from engine.ir import Compiled
from engine.money import exact_mul
from engine.pay.clawback import Clawed, cancellations_of, claw, deal_pay, unclaimed
from engine.pay.inputs import (
    RESULTS_DAY,
    adjust_quota,
    as_date,
    exact_value,
    first_entries,
    measure_quota,
    ramp_share,
    relief_rows,
    split_shares,
)
from engine.pay.lines import DealLine, plan_lines
from engine.pay.math import (
    CreditedDeal,
    MeasureInput,
    PayoutIssue,
    PlanPayout,
    QuotaStep,
    pay_plan,
)
from engine.pay.payments import PaymentLine, settle
from engine.pay.schedule import Part, Window, schedule
from engine.pay.spec import CreditRule, MeasureSpec, PlanBook, PlanSpec
from engine.periods import PayPeriod, proration_factor
from engine.record import DealEvaluator, compile_node
from engine.results import is_missing, text_or_none

__all__ = ["Payment", "RepOutcome", "Settled", "pay_everyone", "pay_rep", "payments_of"]

_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class RepOutcome:
    """The per-record path's answer for one rep, one plan, one period."""

    payout: PlanPayout | None
    issues: tuple[PayoutIssue, ...]


class _CreditRunner:
    """A credit rule as closures over one coerced deal row (the reference semantics)."""

    def __init__(self, rule: CreditRule, compiled: Compiled) -> None:
        stages = compiled.stages
        self.rule = rule
        self.readers = tuple(
            (name, coercer(kind, compiled.currency)) for name, kind in rule.reads.items()
        )
        self.derived = tuple(
            (name, compile_node(node, stages)) for name, node in rule.derived.items()
        )
        self.where: Callable[[dict[str, Any]], Any] | None = (
            None if rule.where is None else compile_node(rule.where, stages)
        )
        self.value: Callable[[dict[str, Any]], Any] | None = (
            None if rule.value is None else compile_node(rule.value, stages)
        )
        self.dated: Callable[[dict[str, Any]], Any] | None = (
            None if rule.dated is None else compile_node(rule.dated, stages)
        )
        # The deal's computed results the rule reads, by the evaluator of `evaluate_deal`.
        self.deal = DealEvaluator(compiled) if rule.computed else None

    def row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, coerce in self.readers:
            raw = record.get(name)
            # Typed tables hold NaT / NA / NaN for missing cells; the coercers expect None.
            row[name] = None if is_missing(raw) else coerce(raw)
        for name, compute in self.derived:
            row[name] = compute(row)
        if self.deal is not None:
            # On any day: the checker lets a credit read only results the day does not change.
            found: dict[str, Any] = {}
            self.deal.run(_present(record), RESULTS_DAY, results=found)
            row.update({name: found[name] for name in self.rule.computed})
        return row


def _present(record: Mapping[str, Any]) -> dict[str, Any]:
    """A deal as the per-record evaluator reads it: missing cells as None."""
    return {name: None if is_missing(value) else value for name, value in record.items()}


def pay_rep(
    book: PlanBook,
    compiled: Compiled,
    plan_name: str,
    rep: Mapping[str, Any],
    period: PayPeriod,
    *,
    deals: Iterable[Mapping[str, Any]] = (),
    quotas: Sequence[Mapping[str, Any]] = (),
    links: Mapping[str, Mapping[str, Any] | None] | None = None,
    splits: Sequence[Mapping[str, Any]] = (),
    stage_events: Sequence[Mapping[str, Any]] = (),
    paid: bool = True,
    quota_relief: Sequence[Mapping[str, Any]] = (),
    through: dt.date | None = None,
    part: Part | None = None,
) -> RepOutcome:
    """The reference path: pay one rep on one plan for one period, deal by deal.

    `deals` may hold any deals (those of other reps are not credited); `quotas` are the rep's
    quota rows; `splits` the split rows of the deals involved; `stage_events` the events of the
    deals involved; `quota_relief` the rep's quota relief rows. Issues found on this rep's
    deals (missing or negative amounts, splits not summing to 100%) are returned with the
    payout; a missing quota (or a ramp or relief leaving none) prevents the payout.
    `through` counts only the deals dated up to that day (a payment window of the period);
    `part`: the days of the period a version of the plan pays (`supersedes`).
    """
    plan = book.plans[plan_name]
    rep_id = text_or_none(rep.get("id")) or ""
    issues: list[PayoutIssue] = []

    def issue(reason: str, measure: str | None = None, deal: str | None = None) -> None:
        issues.append(PayoutIssue(rep_id, plan.name, period.id, reason, measure, deal))

    if not plan.covers(period.start, period.end):
        assert plan.effective is not None
        start, end = plan.effective
        issue(f"{period.id} is outside the plan's effective dates ({start} to {end})")
    if plan.unit != period.unit:
        issue(f"plan {plan.name} pays per {plan.unit}, not per {period.unit}")
    if issues:
        return RepOutcome(None, tuple(issues))
    days: int | None = None
    factor = _ONE
    if plan.proration:
        days, factor = proration_factor(
            period, as_date(rep.get("hire_date")), as_date(rep.get("end_date"))
        )
        if days == 0:
            issue(f"not employed during {period.id} (hired {as_date(rep.get('hire_date'))})")
            return RepOutcome(None, tuple(issues))
    since: dt.date | None = None
    shown: tuple[dt.date, dt.date, Decimal, str] | None = None
    if part is not None and part.split:
        assert part.since is not None and part.until is not None
        shown = (part.since, part.until, part.share, part.split)
        if part.split == "close_date":
            # This version pays its own days: its deals, and its share of quotas and target.
            factor = exact_mul(factor, part.share)
            since = part.since
            last = part.until if through is None else min(through, part.until)
            through = None if last >= period.end else last

    shares, split_problems = split_shares(
        (row.get("deal_id"), row.get("rep_id"), row.get("share")) for row in splits
    )
    split_reps = {
        deal: {
            text_or_none(row.get("rep_id"))
            for row in splits
            if text_or_none(row.get("deal_id")) == deal
        }
        for deal in split_problems
    }
    entered = first_entries(stage_events)
    inputs: dict[str, MeasureInput] = {}
    quota_problem = False
    # The ramp's share of quota for the period, once per rep (reported once when it has none).
    ramp: tuple[Decimal, tuple[int, ...]] | None = None
    if plan.ramp and any(spec.has_quota for spec in plan.measures):
        found = ramp_share(plan.ramp, as_date(rep.get("hire_date")), period)
        if isinstance(found, str):
            issue(found)
            quota_problem = True
        else:
            ramp = found
    for spec in plan.measures:
        credited, credited_deals = _credit(
            _CreditRunner(spec.credit, compiled),
            spec,
            rep_id,
            period,
            plan,
            deals,
            shares,
            split_problems,
            split_reps,
            entered,
            issue,
            issues,
            through,
            since,
        )
        quota, reason = measure_quota(spec, rep, period, quotas, links or {}, plan)
        if reason is not None:
            issue(reason, spec.name)
            quota_problem = True
        elif quota is not None and factor != _ONE:
            quota = plan.round(exact_mul(quota, factor))
        steps: tuple[QuotaStep, ...] = ()
        if reason is None and quota is not None and (ramp is not None or quota_relief):
            # After proration: the ramp, then the relief rows (engine.pay.inputs.adjust_quota).
            reliefs = relief_rows(quota_relief, spec, period)
            quota, why, steps = adjust_quota(spec, plan, ramp, period, quota, reliefs)
            if why is not None:
                issue(why, spec.name)
                quota_problem = True
        inputs[spec.name] = MeasureInput(credited, quota, credited_deals, steps)
    if quota_problem:
        return RepOutcome(None, tuple(issues))
    payout = pay_plan(
        plan, rep_id, period, inputs, proration=factor, days=days, paid=paid, part=shown
    )
    return RepOutcome(payout, tuple(issues))


def _credit(
    runner: _CreditRunner,
    spec: MeasureSpec,
    rep_id: str,
    period: PayPeriod,
    plan: PlanSpec,
    deals: Iterable[Mapping[str, Any]],
    shares: Mapping[str, dict[str, Decimal]],
    split_problems: Mapping[str, str],
    split_reps: Mapping[str, set[str | None]],
    entered: Mapping[tuple[str, str], dt.date],
    issue: Callable[..., None],
    issues: list[PayoutIssue],
    through: dt.date | None = None,
    since: dt.date | None = None,
) -> tuple[Decimal, tuple[CreditedDeal, ...]]:
    rule = runner.rule
    total = _ZERO
    credited: list[CreditedDeal] = []
    for record in deals:
        deal_id = text_or_none(record.get("id")) or "?"
        # Splits share a deal between owners; a `to` field names one rep (an SDR...) instead.
        split = shares.get(deal_id) if rule.to == "rep_id" else None
        broken = split_problems.get(deal_id) if rule.to == "rep_id" else None
        if split is not None:
            if rep_id not in split:
                continue
            share = split[rep_id]
        elif broken is not None:
            if rep_id not in split_reps.get(deal_id, ()):
                continue
            share = _ZERO
        elif text_or_none(record.get(rule.to)) == rep_id:
            share = _ONE
        else:
            continue
        try:
            row = runner.row(record)
        except (ValueError, ArithmeticError) as error:
            issue(f"deal {deal_id} is not credited: {error}", spec.name, deal_id)
            continue
        counts = True if runner.where is None else runner.where(row)
        if counts is False:
            continue
        if rule.dated_stage is not None:
            day = entered.get((deal_id, rule.dated_stage))
        elif runner.dated is not None:
            day = runner.dated(row)
        else:
            day = row.get(rule.date_field)
        if day is None:
            issues.append(
                PayoutIssue(
                    rep_id,
                    plan.name,
                    None,
                    f"deal {deal_id} is not credited: {rule.no_date_text}",
                    spec.name,
                    deal_id,
                )
            )
            continue
        if (
            not period.holds(day)
            or (through is not None and day > through)
            or (since is not None and day < since)
            or (plan.effective is not None and not plan.effective[0] <= day <= plan.effective[1])
            or not rule.in_window(day)
        ):
            continue
        if counts is not True:
            # Unknown is not false: a won deal with an empty field must not vanish silently.
            missing = [ref.name for ref in rule.where_fields if row.get(ref.name) is None]
            issue(
                f"deal {deal_id} is not credited: {rule.missing_text(missing)}", spec.name, deal_id
            )
            continue
        if broken is not None:
            issue(f"deal {deal_id} is not credited: {broken}", spec.name, deal_id)
            continue
        value = _ONE
        if runner.value is not None:
            amount = row.get("amount")
            if amount is not None and amount < 0:
                issue(
                    f"deal {deal_id} is not credited: negative amount ({amount:f})",
                    spec.name,
                    deal_id,
                )
                continue
            found = exact_value(runner.value(row))
            if found is None:
                issue(f"deal {deal_id} is not credited: no {rule.value_text}", spec.name, deal_id)
                continue
            value = found
        part = exact_mul(value, share)
        total += part
        credited.append(CreditedDeal(deal_id, day, value, share, part))
    return total, tuple(credited)


@dataclass(frozen=True, slots=True)
class Payment:
    """One rep paid (or not) on one plan for one period (up to one payment's end: `window`)
    by the reference path."""

    rep: Mapping[str, Any]
    plan: str
    period: PayPeriod
    outcome: RepOutcome
    window: Window | None = None
    paid: bool = True
    #: The plan the rep is paid on when `plan` is one of its versions (`supersedes`).
    head: str = ""

    @property
    def is_payout(self) -> bool:
        """Whether this is the plan period's row of the payouts table (not an earlier window)."""
        return self.window is None or self.window.payout


def pay_everyone(
    book: PlanBook,
    compiled: Compiled,
    *,
    reps: Sequence[Mapping[str, Any]],
    deals: Sequence[Mapping[str, Any]] = (),
    quotas: Sequence[Mapping[str, Any]] = (),
    territories: Mapping[str, Mapping[str, Any]] | None = None,
    splits: Sequence[Mapping[str, Any]] = (),
    stage_events: Sequence[Mapping[str, Any]] = (),
    period: PayPeriod | None = None,
    quota_relief: Sequence[Mapping[str, Any]] = (),
) -> tuple[list[Payment], list[PayoutIssue]]:
    """The reference path on whole tables (as records): every rep x plan x period of the pay
    schedule paid by `pay_rep`, and the schedule's issues (reps not paid at all).

    `territories` maps a territory id to its record (for quota formulas).
    """
    ids = [text_or_none(rep.get("id")) for rep in reps]
    roles = [text_or_none(rep.get("role")) for rep in reps]
    days = [d for d in (as_date(deal.get("close_date")) for deal in deals) if d is not None]
    dated = (min(days), max(days)) if days else None
    work, issues = schedule(book, list(zip(ids, roles, strict=True)), period, dated)
    quota_rows: dict[str, list[Mapping[str, Any]]] = {}
    for row in quotas:
        quota_rows.setdefault(text_or_none(row.get("rep_id")) or "", []).append(row)
    relief_of: dict[str, list[Mapping[str, Any]]] = {}
    for row in quota_relief:
        relief_of.setdefault(text_or_none(row.get("rep_id")) or "", []).append(row)
    found: list[Payment] = []
    for assignment in work:
        for position in assignment.reps:
            rep = reps[position]
            territory = text_or_none(rep.get("territory"))
            link = (territories or {}).get(territory) if territory is not None else None
            for window, part in ((w, p) for w in assignment.windows for p in w.parts):
                outcome = pay_rep(
                    book,
                    compiled,
                    part.plan.name,
                    rep,
                    window.measured,
                    deals=deals,
                    quotas=quota_rows.get(ids[position] or "", []),
                    links={"territory": link},
                    splits=splits,
                    stage_events=stage_events,
                    paid=assignment.paid,
                    quota_relief=relief_of.get(ids[position] or "", []),
                    through=window.through,
                    part=part,
                )
                found.append(
                    Payment(
                        rep, part.plan.name, window.measured, outcome, window, assignment.paid,
                        assignment.plan.name,
                    )
                )  # fmt: skip
    return found, issues


@dataclass(frozen=True, slots=True)
class Settled:
    """The payments asked for, what cancelled deals gave back, and issues found doing so."""

    lines: tuple[PaymentLine, ...]
    clawed: tuple[Clawed, ...]
    issues: tuple[PayoutIssue, ...]


def payments_of(
    book: PlanBook,
    found: Sequence[Payment],
    cancellations: Sequence[Mapping[str, Any]] = (),
    deal_ids: Iterable[str] = (),
) -> Settled:
    """The payments of the reference path's windows: each rep's dues on each paid plan, less
    what cancelled deals give back (`engine.pay.clawback`), settled in time order
    (`engine.pay.payments`); the payments asked for only. `deal_ids`: every deal's id (a
    cancellation of another deal is reported)."""
    cancelled = cancellations_of(cancellations)
    steps: dict[tuple[str, str], list[Payment]] = {}
    for payment in found:
        if payment.paid and payment.window is not None:
            rep_id = text_or_none(payment.rep.get("id")) or ""
            steps.setdefault((rep_id, payment.head or payment.plan), []).append(payment)
    lines: list[PaymentLine] = []
    clawed: list[Clawed] = []
    issues: list[PayoutIssue] = []
    last = max((p.window.payment.end for p in found if p.window is not None), default=None)
    for (rep_id, plan_name), payments in steps.items():
        plan = book.plans[plan_name]
        # A window is paid by one payment per version in force: their dues add up.
        windows = list({id(p.window): p.window for p in payments if p.window}.values())
        by_window: dict[int, list[Payment]] = {}
        for p in payments:
            by_window.setdefault(id(p.window), []).append(p)
        back = [_ZERO] * len(windows)
        clawing = plan.clawback is not None and bool(cancelled)
        finer = plan.pays != plan.unit
        # Pay per deal of each window (every version), once: clawbacks and catch-ups read it.
        per_window = (
            [_window_lines(book, by_window[id(w)]) for w in windows] if clawing or finer else []
        )
        if clawing:
            per_deal = [
                None if found is None else deal_pay((d.deal_id, d.date, d.payout) for d in found)
                for found in per_window
            ]
            back, taken, found_issues = claw(plan, rep_id, windows, per_deal, cancelled)
            clawed.extend(taken)
            issues.extend(found_issues)
        rep_steps = [
            (
                window,
                _due(by_window[id(window)]),
                amount,
                _new(per_window[index] or (), window) if finer else None,
            )
            for index, (window, amount) in enumerate(zip(windows, back, strict=True))
        ]
        lines.extend(line for line in settle(plan, rep_id, rep_steps) if line.shown)
    if any(p.clawback is not None for p in book.plans.values()):
        seen = {c.deal_id for c in clawed}
        issues.extend(unclaimed(cancelled, frozenset(deal_ids), seen, last))
    return Settled(tuple(lines), tuple(clawed), tuple(issues))


def _due(parts: Sequence[Payment]) -> Decimal | None:
    """What a window owes: its versions' payouts added (None: none could be paid)."""
    paid = [p.outcome.payout.payout for p in parts if p.outcome.payout is not None]
    return sum(paid, _ZERO) if paid else None


def _window_lines(book: PlanBook, parts: Sequence[Payment]) -> list[DealLine] | None:
    """The rep's pay per deal in a window, every version and measure (None: not paid)."""
    if all(p.outcome.payout is None for p in parts):
        return None
    return [
        line
        for p in parts
        if p.outcome.payout is not None
        for line in plan_lines(book.plans[p.plan], p.outcome.payout)
    ]


def _new(lines: Sequence[DealLine], window: Window) -> Decimal:
    """The pay of the deals credited in a window's payment period."""
    payment = window.payment
    return sum((d.payout for d in lines if d.date is not None and payment.holds(d.date)), _ZERO)
