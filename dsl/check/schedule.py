"""Pay over time: what `pays`, `true_up`, `draw`, `clawback` and `supersedes` must satisfy.

A plan pays as often as it measures unless it says `pays <frequency>`; a payment period must
divide the measurement period (a quarterly plan can pay monthly, a monthly plan cannot pay
quarterly). A draw needs payments: a plan that no role pays (computed beside another) cannot
guarantee one. Versions (`supersedes`) chain plans of one role and one period, one version
per date, none overlapping the next.
"""

from __future__ import annotations

from decimal import Decimal

from dsl import canonical
from dsl import nodes as n
from dsl.check.common import Context
from dsl.diagnostics import Diagnostic, Severity

__all__ = ["check_schedule"]


def check_schedule(ctx: Context) -> list[Diagnostic]:
    """The pay-over-time items of every plan, and the versions between plans."""
    found: list[Diagnostic] = []
    plans = [d for d in ctx.declarations() if isinstance(d, n.Plan)]
    paid = {
        item.names[0].name
        for role in ctx.model.roles.values()
        for item in role.items
        if isinstance(item, n.RolePlans) and item.names
    }
    listed = {
        ident.name
        for role in ctx.model.roles.values()
        for item in role.items
        if isinstance(item, n.RolePlans)
        for ident in item.names
    }
    for plan in plans:
        found.extend(_plan(plan, plan.name.name in paid or plan.name.name not in listed))
    found.extend(_versions(ctx, plans))
    return found


def _one(plan: n.Plan, kind: type, word: str) -> list[Diagnostic]:
    items = [i for i in plan.items if isinstance(i, kind)]
    return [
        Diagnostic(
            "E408",
            f"plan `{plan.name.name}` has {len(items)} `{word}` lines",
            extra.span,
            help=f"keep one `{word}`",
        )
        for extra in items[1:]
    ]


def _plan(plan: n.Plan, is_paid: bool) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    name = plan.name.name
    for kind, word in ((n.Pays, "pays"), (n.TrueUp, "true_up"), (n.Draw, "draw"),
                       (n.Clawback, "clawback"), (n.Supersedes, "supersedes")):  # fmt: skip
        found.extend(_one(plan, kind, word))
    period = next((i.unit.name for i in plan.items if isinstance(i, n.Period)), None)
    pays = next((i for i in plan.items if isinstance(i, n.Pays)), None)
    per_year = canonical.PERIODS_PER_YEAR
    if pays is not None and period in per_year:
        unit = canonical.PAY_FREQUENCIES.get(pays.every.name)
        if unit is not None and per_year[unit] < per_year[period]:
            found.append(
                Diagnostic(
                    "E408",
                    f"plan `{name}` measures per {period} but pays {pays.every.name}: a payment "
                    f"period must divide the {period}",
                    pays.span,
                    help=f"drop `pays` (the plan then pays each {period}) or measure per "
                    f"{unit} (`period {unit}`)",
                )
            )
    true_up = next((i for i in plan.items if isinstance(i, n.TrueUp)), None)
    if true_up is not None and pays is None:
        found.append(
            Diagnostic(
                "W509",
                f"`true_up` has no effect: plan `{name}` pays once per {period or 'period'}",
                true_up.span,
                Severity.WARNING,
                help="add `pays monthly` (or another frequency) or remove the line",
            )
        )
    for item in plan.items:
        if isinstance(item, n.Draw):
            found.extend(_draw(plan, item, is_paid))
        elif isinstance(item, n.Clawback) and (
            item.days.value <= 0 or item.days.value != item.days.value.to_integral_value()
        ):
            found.append(
                Diagnostic(
                    "E409",
                    f"a clawback window is a whole number of days, not {item.days.raw}",
                    item.span,
                    help="e.g. `clawback within 90 days prorata`",
                )
            )
    return found


def _draw(plan: n.Plan, draw: n.Draw, is_paid: bool) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if draw.amount.value <= 0:
        found.append(
            Diagnostic(
                "E409",
                f"a draw guarantees a positive amount, not {draw.amount.raw}",
                draw.span,
                help="e.g. `draw 2000 recoverable up to 50%`",
            )
        )
    if draw.share is not None and not Decimal(0) < draw.share.value <= 1:
        found.append(
            Diagnostic(
                "E409",
                f"a draw is recovered from at most 100% of a payment, not {draw.share.raw}",
                draw.share.span,
                help="e.g. `up to 50%`",
            )
        )
    if draw.share is not None and draw.kind.name == "non_recoverable":
        found.append(
            Diagnostic(
                "E408",
                "a non-recoverable draw is never recovered: `up to` has no meaning",
                draw.share.span,
                help="write `draw <amount> recoverable up to <share>` or drop `up to`",
            )
        )
    if not is_paid:
        found.append(
            Diagnostic(
                "E408",
                f"plan `{plan.name.name}` makes no payment (its roles list it after their paid "
                "plan): it cannot guarantee a draw",
                draw.span,
                help="put the draw on the plan the role is paid on (first in its `plan` line)",
            )
        )
    return found


def _setting(plan: n.Plan, kind: type) -> object | None:
    return next((i for i in plan.items if isinstance(i, kind)), None)


def _versions(ctx: Context, plans: list[n.Plan]) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    by_name = {p.name.name: p for p in plans}
    taken: dict[str, str] = {}
    for plan in plans:
        item = _setting(plan, n.Supersedes)
        if not isinstance(item, n.Supersedes) or item.plan.name not in by_name:
            continue  # an unknown plan is reported by the names pass
        old = by_name[item.plan.name]
        name, before = plan.name.name, old.name.name
        if before == name or _reaches(by_name, before, name):
            found.append(
                Diagnostic(
                    "E408",
                    f"plan `{name}` supersedes `{before}`, which comes after it",
                    item.plan.span,
                    help="versions form a chain: each supersedes an earlier one",
                )
            )
            continue
        if before in taken:
            found.append(
                Diagnostic(
                    "E408",
                    f"plan `{before}` is superseded twice, by `{taken[before]}` and `{name}`",
                    item.plan.span,
                    help="supersede the latest version instead",
                )
            )
        taken.setdefault(before, name)
        if old.role.name != plan.role.name:
            found.append(
                Diagnostic(
                    "E408",
                    f"plan `{name}` (for {plan.role.name}) supersedes `{before}`, which is for "
                    f"{old.role.name}",
                    item.plan.span,
                    help="a version keeps its plan's role",
                )
            )
        for kind, word in ((n.Pays, "pays"), (n.TrueUp, "true_up"), (n.Draw, "draw"),
                           (n.Clawback, "clawback")):  # fmt: skip
            mine, theirs = _setting(plan, kind), _setting(old, kind)
            if mine != theirs:
                found.append(
                    Diagnostic(
                        "E408",
                        f"plan `{name}` and the plan it supersedes, `{before}`, pay differently "
                        f"(`{word}`): versions pay on one schedule",
                        getattr(mine or theirs, "span", item.span),
                        help=f"give both versions the same `{word}` line (or neither)",
                    )
                )
        units = [_setting(p, n.Period) for p in (old, plan)]
        if (
            all(isinstance(u, n.Period) for u in units)
            and len({u.unit.name for u in units if isinstance(u, n.Period)}) > 1
        ):
            found.append(
                Diagnostic(
                    "E408",
                    f"plan `{name}` measures per {_unit(plan)}, `{before}` per {_unit(old)}: "
                    "versions share their period",
                    item.span,
                    help="give both versions the same `period`",
                )
            )
        start = item.start.value
        for version, side in ((old, "old"), (plan, "new")):
            effective = _setting(version, n.Effective)
            if not isinstance(effective, n.Effective):
                continue
            first, last = effective.start.value, effective.end.value
            if side == "old" and not first < start <= last:
                found.append(
                    Diagnostic(
                        "E409",
                        f"`{before}` is in effect from {first} to {last}: a version from "
                        f"{start} does not start inside it",
                        item.start.span,
                        help=f"pick a date after {first} and no later than {last}",
                    )
                )
            if side == "new" and first != start:
                found.append(
                    Diagnostic(
                        "E409",
                        f"plan `{name}` is in effect from {first} but supersedes `{before}` "
                        f"from {start}: the versions would overlap or leave a gap",
                        effective.span,
                        help=f"start `effective` on {start}, or drop it (the version runs "
                        "from its `supersedes` date to the old plan's end)",
                    )
                )
    return found


def _unit(plan: n.Plan) -> str:
    period = _setting(plan, n.Period)
    return period.unit.name if isinstance(period, n.Period) else "?"


def _reaches(by_name: dict[str, n.Plan], start: str, goal: str) -> bool:
    """Whether following `supersedes` from `start` reaches `goal` (a cycle)."""
    seen: set[str] = set()
    current: str | None = start
    while current is not None and current not in seen:
        seen.add(current)
        item = _setting(by_name[current], n.Supersedes) if current in by_name else None
        current = item.plan.name if isinstance(item, n.Supersedes) else None
        if current == goal:
            return True
    return False
