"""Who is paid on which plan for which periods: the one pay schedule.

`koncept eval`, `koncept statement`, the fixtures and both pay paths take the reps x plans x
periods to pay from here, so they can never disagree about which payouts exist.

  * A rep is paid on the plans of its role (`plan a, b`: `a` is paid, `b` computed beside it);
    a rep without a role, with a role the ruleset does not know or whose role has no plan is
    reported, never paid silently nothing.
  * The periods of a plan: those of its unit overlapping the period asked for (a year asked of a
    quarterly plan is its four quarters; a month asked of it is refused); without a period, the
    plan's effective dates; without those either, the span of the deals' close dates.
  * A period outside the plan's effective dates is reported for each rep of the plan.
  * Pay over time (`pays monthly`, draws, clawbacks): each plan period is paid in windows, one
    per payment period, each measured from the period's start to the payment's end (a
    quarterly plan paid monthly: January, January to February, the quarter). A month asked of
    such a plan is allowed: its window is computed, with the windows before it that the
    payments depend on (the earlier months of the quarter; with a draw, a clawback or
    `true_up carry_forward`, every period from the plan's start, since balances carry).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from dsl.diagnostics import closest
from engine.money import EXACT
from engine.pay.math import PayoutIssue
from engine.pay.spec import PlanBook, PlanSpec
from engine.periods import PayPeriod, coarser_or_same, periods_overlapping

__all__ = ["Assignment", "Part", "Window", "schedule"]


@dataclass(frozen=True, slots=True)
class Part:
    """The share of a plan period one version of a plan pays (`supersedes`): the whole
    period, or, when a new version starts inside it, the days from `since` to `until` with
    their `share` of the period's days, split by close date or by days (`split`)."""

    plan: PlanSpec
    since: dt.date | None = None
    until: dt.date | None = None
    share: Decimal = Decimal(1)
    split: str = ""


@dataclass(frozen=True, slots=True)
class Window:
    """A plan period measured up to the end of one payment period.

    `shown`: the payment falls in the period asked for (others are history the payments
    depend on). `payout`: this window's payout is the plan period's row of the payouts table
    (the last window shown of its period). `parts`: the versions of the plan that pay it."""

    measured: PayPeriod
    payment: PayPeriod
    shown: bool
    payout: bool
    parts: tuple[Part, ...] = ()

    def last_day(self, part: Part) -> dt.date | None:
        """The last credit date a part counts (None: the plan period's end)."""
        # Split by days, a version pays the whole period's deals: only the payment bounds them.
        until = None if part.split == "days" else part.until
        ends = [d for d in (self.through, until) if d is not None]
        return min(ends) if ends else None

    def first_day(self, part: Part) -> dt.date | None:
        """The first credit date a part counts (None: the plan period's start)."""
        return None if part.split == "days" else part.since

    @property
    def through(self) -> dt.date | None:
        """The last credit date counted, or None for the whole plan period."""
        return None if self.payment.end >= self.measured.end else self.payment.end


@dataclass(frozen=True, slots=True)
class Assignment:
    """A plan to pay some reps on (their positions in the reps given), for some periods.

    `periods` are the plan periods asked for; `windows` what to compute, in time order."""

    plan: PlanSpec
    paid: bool
    reps: tuple[int, ...]
    periods: tuple[PayPeriod, ...]
    windows: tuple[Window, ...] = ()


def schedule(
    book: PlanBook,
    reps: Sequence[tuple[str | None, str | None]],
    requested: PayPeriod | None,
    dated: tuple[dt.date, dt.date] | None,
) -> tuple[list[Assignment], list[PayoutIssue]]:
    """The plans and periods to pay each rep (id, role) on, and why some reps are not paid.

    `requested` is the period asked for (None: every period of the plans); `dated` the first
    and last close dates of the deals, used for plans with no effective dates.
    """
    asked = requested.id if requested is not None else None
    issues: list[PayoutIssue] = []
    members: dict[tuple[str, bool], list[int]] = {}
    for position, (rep_id, role) in enumerate(reps):
        if rep_id is None:
            continue
        if role is None:
            issues.append(PayoutIssue(rep_id, None, asked, "the rep has no role"))
        elif role not in book.declared_roles:
            close = closest(role, book.declared_roles)
            hint = f"; did you mean {close}?" if close else ""
            issues.append(
                PayoutIssue(rep_id, None, asked, f"role {role} is not in the ruleset{hint}")
            )
        elif not book.roles.get(role):
            issues.append(PayoutIssue(rep_id, None, asked, f"role {role} has no plan"))
        else:
            for rank, name in enumerate(book.roles[role]):
                members.setdefault((name, rank == 0), []).append(position)
    work: list[Assignment] = []
    for (name, paid), positions in members.items():
        plan = book.plans[name]
        chain = book.chain(name)
        first, last = chain[0][1], chain[-1][2]
        span = (first, last) if first is not None and last is not None else None
        periods = _periods(plan, requested, dated, span)
        if isinstance(periods, str):
            issues.extend(PayoutIssue(reps[p][0], name, asked, periods) for p in positions)
            continue
        inside: list[PayPeriod] = []
        for period in periods:
            if (first is None or period.end >= first) and (last is None or period.start <= last):
                inside.append(period)
                continue
            reason = f"{period.id} is outside the plan's effective dates ({first} to {last})"
            issues.extend(PayoutIssue(reps[p][0], name, period.id, reason) for p in positions)
        windows = _windows(plan, chain, paid, inside, requested, dated)
        work.append(Assignment(plan, paid, tuple(positions), tuple(inside), windows))
    return work, issues


def _parts(
    chain: Sequence[tuple[PlanSpec, dt.date | None, dt.date | None]], period: PayPeriod
) -> tuple[Part, ...]:
    """The versions paying a plan period: the one in force, or each for its days."""
    found = [
        (spec, start, end)
        for spec, start, end in chain
        if (start is None or start <= period.end) and (end is None or end >= period.start)
    ]
    if len(found) <= 1:
        return tuple(Part(spec) for spec, _, _ in found) or (Part(chain[0][0]),)
    # The version that starts inside the period says how the period is split.
    split = next(s.version.split for s, _, _ in found[1:] if s.version is not None)
    parts: list[Part] = []
    for spec, start, end in found:
        since = max(period.start, start) if start is not None else period.start
        until = min(period.end, end) if end is not None else period.end
        share = EXACT.divide(Decimal((until - since).days + 1), Decimal(period.days))
        parts.append(Part(spec, since, until, share, split))
    return tuple(parts)


def _windows(
    plan: PlanSpec,
    chain: Sequence[tuple[PlanSpec, dt.date | None, dt.date | None]],
    paid: bool,
    periods: Sequence[PayPeriod],
    requested: PayPeriod | None,
    dated: tuple[dt.date, dt.date] | None,
) -> tuple[Window, ...]:
    """The windows to compute for the plan periods asked for, with the history before them."""
    if not periods:
        return ()
    if not plan.over_time or not paid:
        return tuple(Window(p, p, True, True, _parts(chain, p)) for p in periods)
    measured = list(periods)
    if plan.true_up == "carry_forward" or plan.draw is not None or plan.clawback is not None:
        # Balances carry from one plan period to the next: start where the plan starts.
        first = chain[0][1] if chain[0][1] is not None else (dated or (None,))[0]
        if first is not None and first < measured[0].start:
            before = periods_overlapping(first, measured[0].start - dt.timedelta(days=1), plan.unit)
            measured = list(before) + measured
    last = requested.end if requested is not None else measured[-1].end
    found: list[Window] = []
    for period in measured:
        payments = [
            p for p in periods_overlapping(period.start, period.end, plan.pays) if p.start <= last
        ]
        shown = [
            requested is None or (p.start >= requested.start and p.end <= requested.end)
            for p in payments
        ]
        final = max((i for i, s in enumerate(shown) if s), default=-1)
        parts = _parts(chain, period)
        found.extend(
            Window(period, p, s, i == final, parts)
            for i, (p, s) in enumerate(zip(payments, shown, strict=True))
        )
    return tuple(found)


def _periods(
    plan: PlanSpec,
    requested: PayPeriod | None,
    dated: tuple[dt.date, dt.date] | None,
    span: tuple[dt.date, dt.date] | None,
) -> tuple[PayPeriod, ...] | str:
    """The plan periods to pay, or why none can be."""
    unit = plan.unit
    if requested is not None:
        if not coarser_or_same(requested.unit, plan.pays or unit):
            every = plan.pays or unit
            return (
                f"plan {plan.name} pays per {every}: ask for a {every} or a longer period, "
                f"not {requested.id}"
            )
        return periods_overlapping(requested.start, requested.end, unit)
    if span is not None:
        return periods_overlapping(span[0], span[1], unit)
    if dated is None:
        return f"plan {plan.name} has no effective dates and no deal is dated: give a period"
    return periods_overlapping(dated[0], dated[1], unit)
