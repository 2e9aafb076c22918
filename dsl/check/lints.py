"""The lints pass: the method's rules. At most 7 KPIs a role, KPIs measure results (not
activity), objectives known in time, payouts that never fall as attainment rises."""

from __future__ import annotations

import re
from decimal import Decimal

from dsl import nodes as n
from dsl.check.common import Context, pct, walk
from dsl.diagnostics import Diagnostic, Severity
from dsl.source import Span

MAX_KPIS_PER_ROLE = 7

#: Names that betray an activity count (the method: KPIs measure results, not activity).
ACTIVITY = re.compile(
    r"(?:^|_)(calls|call_count|emails|appels|demo_time|demo_minutes|meetings|activities|tasks)"
    r"(?:_|$)"
)


def check_lints(ctx: Context) -> list[Diagnostic]:
    """The method's rules: at most 7 KPIs a role, KPIs measure results, objectives known in
    time, payouts that never fall as attainment rises, named tables and curves used."""
    found: list[Diagnostic] = []
    read = _names_read(ctx)
    for decl in ctx.declarations():
        if isinstance(decl, n.NamedExpression) and _unread(ctx, decl, read):
            found.append(
                Diagnostic(
                    "W505",
                    f"define `{decl.name.name}` is never used",
                    decl.name.span,
                    Severity.WARNING,
                    help=f"read it in a condition on {decl.subject.name} "
                    f"(`when {decl.name.name}`), or remove it",
                )
            )
        if isinstance(decl, n.Role):
            kpis = {i.name for e in decl.items if isinstance(e, n.RoleKpis) for i in e.names}
            if len(kpis) > MAX_KPIS_PER_ROLE:
                found.append(
                    Diagnostic(
                        "E407",
                        f"role `{decl.name.name}` has {len(kpis)} KPIs; "
                        f"the method allows at most {MAX_KPIS_PER_ROLE}",
                        decl.name.span,
                        help="keep the KPIs that measure results; follow the others in reports",
                    )
                )
        elif isinstance(decl, n.Kpi):
            found.extend(_activity(decl))
        elif isinstance(decl, n.Plan):
            found.extend(_late_objectives(decl))
            for measure in decl.measures:
                for item in measure.items:
                    found.extend(_falling_payout(item))
        elif isinstance(decl, n.Definition):
            found.extend(_falling_payout(decl.body))
            if _unused(ctx, decl):
                found.append(
                    Diagnostic(
                        "W505",
                        f"{decl.kind} `{decl.name.name}` is never used",
                        decl.name.span,
                        Severity.WARNING,
                        help=f"use it in a measure with `{decl.kind} {decl.name.name}`, "
                        "or remove it",
                    )
                )
    return found


def _unused(ctx: Context, definition: n.Definition) -> bool:
    """No measure uses it, and it is this ruleset's own: a template (`template` in its header)
    defines tables for its clients, and a client need not use all it inherits."""
    return (
        definition.name.name not in ctx.model.used_definitions
        and definition.span.path not in ctx.model.inherited_paths
        and not _is_template(ctx)
    )


def _unread(ctx: Context, definition: n.NamedExpression, read: set[str]) -> bool:
    """Nothing reads it, and it is this ruleset's own (as `_unused` for tables)."""
    return (
        definition.name.name not in read
        and definition.span.path not in ctx.model.inherited_paths
        and not _is_template(ctx)
    )


def _is_template(ctx: Context) -> bool:
    header = ctx.model.ruleset
    return header is not None and header.template is not None


def _names_read(ctx: Context) -> set[str]:
    """Every bare name some expression of the ruleset reads (a named expression read by
    another counts: its reader is checked for use in turn only through W505 on itself)."""
    names: set[str] = set()
    for source, _ in ctx.sites.exprs.values():
        for node in walk(source):
            if isinstance(node, n.Ref) and len(node.parts) == 1:
                names.add(node.parts[0])
    return names


def _activity(kpi: n.Kpi) -> list[Diagnostic]:
    read = [r.parts[0] for r in walk(kpi.value) if isinstance(r, n.Ref)]
    for name in (kpi.name.name, *read):
        match = ACTIVITY.search(name)
        if match:
            return [
                Diagnostic(
                    "W501",
                    f"KPI `{kpi.name.name}` counts an activity (`{name}`)",
                    kpi.name.span,
                    Severity.WARNING,
                    help="KPIs measure results (bookings, conversion, margin); track activity "
                    "as a leading indicator, not a KPI",
                )
            ]
    return []


def _late_objectives(plan: n.Plan) -> list[Diagnostic]:
    starts = [i.start.value for i in plan.items if isinstance(i, n.Effective)]
    told = [i for i in plan.items if isinstance(i, n.Communicated)]
    if not starts or not told or told[0].date.value <= starts[0]:
        return []
    start = starts[0].isoformat()
    return [
        Diagnostic(
            "W502",
            f"objectives communicated on {told[0].date.value.isoformat()}, after the period "
            f"starts on {start}",
            told[0].span,
            Severity.WARNING,
            help="French case law requires objectives to be known at the start of the period: "
            f"communicate them on or before {start}",
        )
    ]


def _falls(span: Span, message: str) -> Diagnostic:
    return Diagnostic(
        "W503",
        message,
        span,
        Severity.WARNING,
        help="a payout that falls as attainment rises punishes selling more: make it "
        "non-decreasing",
    )


def _falling_payout(item: n.MeasureItem) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if isinstance(item, n.Accelerator) and item.factor.value < 0:
        found.append(_falls(item.span, f"accelerator {item.factor.raw} lowers pay above "
                                       f"{item.above.raw}"))  # fmt: skip
    elif isinstance(item, n.Steps) or (
        isinstance(item, n.Rates) and item.method.name == "retroactive"
    ):
        highest: n.Band | None = None
        for band in item.bands:
            if highest is not None and band.value.value < highest.value.value:
                found.append(
                    _falls(
                        band.span,
                        f"pays {band.value.raw} from {band.low.raw}, less than the "
                        f"{highest.value.raw} paid from {highest.low.raw}",
                    )
                )
            elif highest is None or band.value.value > highest.value.value:
                highest = band
    elif isinstance(item, n.Curve):
        pay: Decimal | None = None
        level: Decimal | None = None
        for index, point in enumerate(item.points):
            if isinstance(point, n.CurveBelow) and index > 0:
                continue  # misplaced: reported by the tables pass
            if isinstance(point, n.CurveSlope):
                if point.slope.value < 0:
                    found.append(_falls(point.span, f"slope {point.slope.raw} lowers pay"))
                if point.until is not None and pay is not None and level is not None:
                    pay += point.slope.value * (point.until.value - level)
                    level = point.until.value
                continue
            if pay is not None and point.pay.value < pay:
                found.append(
                    _falls(
                        point.span,
                        f"pay falls to {point.pay.raw} at {point.level.raw}, from {pct(pay)} "
                        "before",
                    )
                )
            pay, level = point.pay.value, point.level.value
    return found
