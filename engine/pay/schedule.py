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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from dsl.diagnostics import closest
from engine.pay.math import PayoutIssue
from engine.pay.spec import PlanBook, PlanSpec
from engine.periods import PayPeriod, coarser_or_same, periods_overlapping

__all__ = ["Assignment", "schedule"]


@dataclass(frozen=True, slots=True)
class Assignment:
    """A plan to pay some reps on (their positions in the reps given), for some periods."""

    plan: PlanSpec
    paid: bool
    reps: tuple[int, ...]
    periods: tuple[PayPeriod, ...]


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
        periods = _periods(plan, requested, dated)
        if isinstance(periods, str):
            issues.extend(PayoutIssue(reps[p][0], name, asked, periods) for p in positions)
            continue
        inside: list[PayPeriod] = []
        for period in periods:
            if plan.covers(period.start, period.end):
                inside.append(period)
                continue
            assert plan.effective is not None
            start, end = plan.effective
            reason = f"{period.id} is outside the plan's effective dates ({start} to {end})"
            issues.extend(PayoutIssue(reps[p][0], name, period.id, reason) for p in positions)
        work.append(Assignment(plan, paid, tuple(positions), tuple(inside)))
    return work, issues


def _periods(
    plan: PlanSpec, requested: PayPeriod | None, dated: tuple[dt.date, dt.date] | None
) -> tuple[PayPeriod, ...] | str:
    """The plan periods to pay, or why none can be."""
    unit = plan.unit
    if requested is not None:
        if not coarser_or_same(requested.unit, unit):
            return (
                f"plan {plan.name} pays per {unit}: ask for a {unit} or a longer period, "
                f"not {requested.id}"
            )
        return periods_overlapping(requested.start, requested.end, unit)
    if plan.effective is not None:
        return periods_overlapping(plan.effective[0], plan.effective[1], unit)
    if dated is None:
        return f"plan {plan.name} has no effective dates and no deal is dated: give a period"
    return periods_overlapping(dated[0], dated[1], unit)
