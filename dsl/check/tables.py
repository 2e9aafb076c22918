"""The tables pass: tier bands contiguous from 0, weights summing to 100%, score maxima that
add up, reachable thresholds and cases, stages with exit criteria, plans with what they pay on."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from dsl import nodes as n
from dsl.check.common import Context, pct
from dsl.check.typer import empty_range
from dsl.diagnostics import Diagnostic, Severity
from dsl.model import Model
from dsl.source import Span
from dsl.types import plain


def check_tables(ctx: Context) -> list[Diagnostic]:
    """Tier bands, weights, score maxima, reachable thresholds and cases, stages, plans."""
    found: list[Diagnostic] = []
    for decl in ctx.declarations():
        if isinstance(decl, n.Score):
            found.extend(_score_table(ctx.model, decl))
        elif isinstance(decl, n.Pipeline):
            for entry in decl.items:
                if isinstance(entry, n.ExpectConversion):
                    found.extend(_rate("conversion rate", entry.value))
            for stage in decl.stages:
                for part in stage.items:
                    if isinstance(part, n.Probability):
                        found.extend(_rate("stage probability", part.value))
                if not stage.exits:
                    found.append(
                        Diagnostic(
                            "E406",
                            f"stage `{stage.name.name}` has no exit criterion",
                            stage.name.span,
                            help='add `exit <id> "Label": <condition>`: what must hold before '
                            "a deal leaves the stage",
                        )
                    )
        elif isinstance(decl, n.Playbook):
            for item in decl.items:
                if isinstance(item, n.ExpectWinRate):
                    found.extend(_rate("win rate", item.low))
                    found.extend(_rate("win rate", item.high))
                    if item.low.value > item.high.value:
                        found.append(empty_range("win rate", item.low, item.high, item.span))
        elif isinstance(decl, n.Plan):
            found.extend(_plan_table(decl))
        elif isinstance(decl, n.Definition):
            found.extend(_table_body(decl.body))
    return found


def _rate(what: str, value: n.Percent) -> list[Diagnostic]:
    """E409 for a rate the domain bounds (a probability, a conversion or win rate) outside
    0%..100%: `probability 400%` would weight a deal at 4x its amount."""
    if 0 <= value.value <= 1:
        return []
    return [
        Diagnostic(
            "E409",
            f"{what} {value.raw} is outside 0%..100%",
            value.span,
            help=f"a {what} is between 0% and 100%",
        )
    ]


def _reachable_cases(criterion: n.Criterion) -> tuple[list[n.Case], list[n.Case], list[n.Case]]:
    """(cases that can match, cases after `otherwise`, value cases repeating an option)."""
    live: list[n.Case] = []
    dead: list[n.Case] = []
    repeated: list[n.Case] = []
    seen: set[str] = set()
    for case in criterion.cases:
        if dead or (live and isinstance(live[-1], n.OtherwiseCase)):
            dead.append(case)
        elif isinstance(case, n.ValueCase) and case.value.name in seen:
            repeated.append(case)
        else:
            if isinstance(case, n.ValueCase):
                seen.add(case.value.name)
            live.append(case)
    return live, dead, repeated


def _score_table(model: Model, score: n.Score) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    fields = model.records.get(score.subject.name, {})
    maxima: list[tuple[str, Decimal]] = []
    for criterion in score.criteria:
        if isinstance(criterion, n.FieldCriterion):
            typed = fields.get(criterion.field.name)
            if typed is not None and typed.range is not None:
                maxima.append((criterion.name.name, typed.range[1]))
            continue
        live, dead, repeated = _reachable_cases(criterion)
        found.extend(_after_otherwise(case.span) for case in dead)
        for case in repeated:
            assert isinstance(case, n.ValueCase)
            found.append(
                Diagnostic(
                    "W504",
                    f"`{case.value.name}` is already matched above",
                    case.span,
                    Severity.WARNING,
                    help="the first matching case wins: remove this one",
                )
            )
        maxima.append(
            (criterion.name.name, max((c.points.value for c in live), default=Decimal(0)))
        )
    reachable: Decimal | None = None
    if len(maxima) == len(score.criteria):
        reachable = sum((m for _, m in maxima), Decimal(0))
    if score.max is not None and reachable is not None and reachable != score.max.value:
        total, declared = plain(reachable), plain(score.max.value)
        message = (
            f"criteria can reach at most {total} of {declared}"
            if reachable < score.max.value
            else f"criteria can reach {total}, more than the max of {declared}"
        )
        found.append(
            Diagnostic(
                "E403",
                message,
                score.max.span,
                help="the most each criterion gives: "
                + ", ".join(f"{name} {plain(m)}" for name, m in maxima),
            )
        )
    if reachable is None and score.max is not None:
        reachable = score.max.value
    otherwise = False
    for status in score.statuses:
        if otherwise and not status.knockout:
            # Knock-outs win whatever their position; other statuses are first-match.
            found.append(_after_otherwise(status.span))
        otherwise = otherwise or status.condition is None
        threshold = _score_threshold(status.condition)
        if threshold is None or reachable is None:
            continue
        op, level = threshold
        if level >= reachable if op == ">" else level > reachable:
            assert status.condition is not None
            top = plain(reachable)
            found.append(
                Diagnostic(
                    "E404",
                    f"status `{status.name.name}` can never be reached: the score is at most {top}",
                    status.condition.span,
                    help=f"lower the threshold below {top}"
                    if op == ">"
                    else f"lower the threshold to {top} or less",
                )
            )
    return found


def _after_otherwise(span: Span) -> Diagnostic:
    return Diagnostic(
        "E405",
        "unreachable: `otherwise` above already matches everything",
        span,
        help="move `otherwise` to the end",
    )


def _score_threshold(condition: n.Expr | None) -> tuple[str, Decimal] | None:
    """(`>` or `>=`, T) for `score > T`, `score >= T` (or `T < score`, `T <= score`)."""
    if not isinstance(condition, n.Binary):
        return None
    left, op, right = condition.left, condition.op, condition.right
    if isinstance(left, n.Number) and op in ("<", "<="):
        left, right, op = right, left, ">" if op == "<" else ">="
    if op in (">", ">=") and left == n.Ref(("score",)) and isinstance(right, n.Number):
        return op, right.value
    return None


def _bands(bands: Sequence[n.Band], kind: type, table: str, span: Span) -> list[Diagnostic]:
    """Bands sorted from 0, contiguous (inclusivity counted), only the last one open-ended."""
    if not bands:
        return [Diagnostic("E401", f"`{table}` has no bands", span, help="add e.g. [0%, ...) 10%")]
    zero = "0%" if kind is n.Percent else "0"
    example = "80%" if kind is n.Percent else "100K"
    for band in bands:
        for bound in (band.low, band.high):
            if bound is not None and not isinstance(bound, kind):
                what = "percentages like 80%" if kind is n.Percent else "amounts like 100K"
                return [
                    Diagnostic(
                        "E301",
                        f"the bounds of `{table}` are {what}; found {bound.raw}",
                        bound.span,
                        help="write every bound of one table the same way",
                    )
                ]
    found: list[Diagnostic] = []
    first = bands[0]
    if first.low.value != 0 or not first.low_inclusive:
        found.append(
            Diagnostic(
                "E401",
                f"the first band starts at {first.low.raw}, not at 0",
                first.span,
                help=f"start the table at 0, e.g. [{zero}, {first.low.raw}) 0%",
            )
        )
    previous: n.Band | None = None
    for band in bands:
        problem = _band_problem(previous, band, example)
        if problem is not None:
            found.append(Diagnostic("E401", problem[0], problem[1], help=problem[2]))
        previous = band
    return found


def _band_problem(
    previous: n.Band | None, band: n.Band, example: str
) -> tuple[str, Span, str] | None:
    """(message, span, help) for the first problem between a band and the one before it."""
    if band.high is not None and band.low.value >= band.high.value:
        return (
            f"band from {band.low.raw} to {band.high.raw} is empty",
            band.span,
            "a band's lower bound comes first and is below its upper bound",
        )
    if previous is None:
        return None
    if previous.high is None:
        return (
            "only the last band may be open-ended",
            previous.span,
            f"give this band an upper bound, e.g. [{previous.low.raw}, {example})",
        )
    end, start = previous.high, band.low
    if start.value < previous.low.value:
        return (
            f"bands are out of order: {start.raw} comes after {previous.low.raw}",
            band.span,
            "list the bands from the lowest to the highest",
        )
    if start.value > end.value:
        return (
            f"gap between {end.raw} and {start.raw}",
            band.span,
            f"start this band where the previous one ends, at {end.raw}",
        )
    if start.value < end.value:
        return (
            f"overlap between {start.raw} and {end.raw}",
            band.span,
            f"start this band where the previous one ends, at {end.raw}",
        )
    if previous.high_inclusive and band.low_inclusive:
        return (
            f"overlap at {end.raw}: both bands include it",
            band.span,
            f"include it in one band only: [a, {end.raw}) then [{end.raw}, b)",
        )
    if not previous.high_inclusive and not band.low_inclusive:
        return (
            f"gap at {end.raw}: neither band includes it",
            band.span,
            f"include it in one band: [a, {end.raw}) then [{end.raw}, b)",
        )
    return None


def _curve_table(curve: n.Curve) -> list[Diagnostic]:
    """Curve levels strictly increase; `below` comes first; an open slope comes last."""
    found: list[Diagnostic] = []
    level: Decimal | None = None
    after_below = False
    for index, point in enumerate(curve.points):
        if isinstance(point, n.CurveBelow) and index > 0:
            found.append(
                Diagnostic(
                    "E409", "`below` must be the first point of a curve", point.span,
                    help="`below L pay P` says what is paid under the first level",
                )
            )  # fmt: skip
            continue
        if isinstance(point, n.CurveSlope) and point.until is None:
            if index != len(curve.points) - 1:
                found.append(
                    Diagnostic(
                        "E409",
                        "a slope without `to` runs on forever: it must be the last point",
                        point.span,
                        help="add `to <level>` to end it, e.g. `slope 1.5 to 130%`",
                    )
                )
            continue
        current = point.until if isinstance(point, n.CurveSlope) else point.level
        assert current is not None
        backwards = current.value < level if level is not None else False
        if level is not None and (backwards or (current.value == level and not after_below)):
            found.append(
                Diagnostic(
                    "E409",
                    f"curve levels must increase: {current.raw} comes after {pct(level)}",
                    point.span,
                    help="list the points from the lowest attainment to the highest",
                )
            )
        level = current.value
        after_below = isinstance(point, n.CurveBelow)
    return found


def _plan_table(plan: n.Plan) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    measures = plan.measures
    name = plan.name.name
    if not any(isinstance(i, n.Period) for i in plan.items):
        found.append(
            Diagnostic(
                "E408",
                f"plan `{name}` has no `period`",
                plan.name.span,
                help="say how often it measures and pays: `period month`, `period quarter` or "
                "`period year`",
            )
        )
    if not measures:
        found.append(
            Diagnostic(
                "E408",
                f"plan `{name}` has no measure",
                plan.name.span,
                help="add what it pays on, e.g. `measure bookings { credit amount of deals "
                "where status == won  commission 5% }`",
            )
        )
    weighted = [m for m in measures if m.weight is not None]
    if weighted and len(weighted) < len(measures):
        for measure in measures:
            if measure.weight is None:
                found.append(
                    Diagnostic(
                        "E402",
                        f"measure `{measure.name.name}` has no weight",
                        measure.name.span,
                        help=f"plan `{plan.name.name}` weights its other measures: weight every "
                        "measure, the weights summing to 100%",
                    )
                )
    elif weighted:
        total = sum((m.weight.value for m in weighted if m.weight is not None), Decimal(0))
        if total != 1:
            shares = ", ".join(f"{m.name.name} {m.weight.raw}" for m in weighted if m.weight)
            found.append(
                Diagnostic(
                    "E402",
                    f"weights sum to {pct(total)}",
                    plan.name.span,
                    help=f"make the weights add up to 100% ({shares})",
                )
            )
    has_target = any(isinstance(i, n.TargetVariable) for i in plan.items)
    for item in plan.items:
        if isinstance(item, n.Cap) and isinstance(item.limit, n.Percent) and not has_target:
            found.append(
                _without_target(
                    f"cap {item.limit.raw}", name, item.span, "or cap at an amount, e.g. `cap 50K`"
                )
            )
    for item in plan.items:
        if isinstance(item, n.Effective) and item.start.value > item.end.value:
            found.append(
                Diagnostic(
                    "E409",
                    f"plan `{plan.name.name}` ends on {item.end.value.isoformat()}, "
                    f"before it starts on {item.start.value.isoformat()}",
                    item.span,
                    help="write `effective <start> to <end>`",
                )
            )
    for measure in measures:
        found.extend(_measure_table(plan, measure, has_target))
    found.extend(_ramps(plan))
    for spiff in plan.spiffs:
        found.extend(_spiff_table(plan, spiff))
    return found


def _ramps(plan: n.Plan) -> list[Diagnostic]:
    """A ramp: once per plan, shares in (0%, 100%], on a plan with a quota to share."""
    found: list[Diagnostic] = []
    ramps = [i for i in plan.items if isinstance(i, n.Ramp)]
    for extra in ramps[1:]:
        found.append(
            Diagnostic(
                "E408",
                f"plan `{plan.name.name}` has {len(ramps)} ramps",
                extra.span,
                help="keep one: `ramp 50%, 75%, 100%` (month 1, 2, 3 of tenure)",
            )
        )
    quotas = any(
        isinstance(i, (n.QuotaTable, n.QuotaFormula)) for m in plan.measures for i in m.items
    )
    for ramp in ramps[:1]:
        if not quotas:
            found.append(
                Diagnostic(
                    "E408",
                    f"`ramp` lowers quotas, but no measure of plan `{plan.name.name}` has one",
                    ramp.span,
                    help="give a measure a quota (`quota <measure id>`), or remove the ramp",
                )
            )
        for share in ramp.shares:
            if not 0 < share.value <= 1:
                found.append(
                    Diagnostic(
                        "E409",
                        f"ramp share {share.raw} is outside 0%..100%",
                        share.span,
                        help="each month of tenure has a share of quota above 0% and at most "
                        "100%, e.g. `ramp 50%, 75%, 100%`",
                    )
                )
    return found


def _spiff_table(plan: n.Plan, spiff: n.Spiff) -> list[Diagnostic]:
    """A SPIFF pays a positive amount, over a window inside the plan's dates, capped at an
    amount (it has no share of the target variable)."""
    found: list[Diagnostic] = []
    name = spiff.name.name
    if spiff.amount.value <= 0:
        found.append(
            Diagnostic(
                "E408",
                f"SPIFF `{name}` pays {spiff.amount.raw} per deal: it must pay a positive amount",
                spiff.amount.span,
                help="write the amount per qualifying deal, e.g. `500 per deal where ...`",
            )
        )
    start, end = spiff.window.start.value, spiff.window.end.value
    if start > end:
        found.append(
            Diagnostic(
                "E409",
                f"SPIFF `{name}` ends on {end.isoformat()}, before it starts on "
                f"{start.isoformat()}",
                spiff.window.span,
                help="write `from <first day> to <last day>`",
            )
        )
    for item in plan.items:
        if isinstance(item, n.Effective) and (start < item.start.value or end > item.end.value):
            found.append(
                Diagnostic(
                    "E408",
                    f"SPIFF `{name}` runs from {start.isoformat()} to {end.isoformat()}, outside "
                    f"plan `{plan.name.name}`'s effective dates ({item.start.value.isoformat()} "
                    f"to {item.end.value.isoformat()})",
                    spiff.window.span,
                    help="keep the SPIFF's window inside the plan's `effective` dates",
                )
            )
    if spiff.cap is not None and isinstance(spiff.cap.limit, n.Percent):
        found.append(
            Diagnostic(
                "E408",
                f"SPIFF `{name}` is capped at {spiff.cap.limit.raw}, but a SPIFF has no share "
                "of the target variable",
                spiff.cap.span,
                help="cap it at an amount, e.g. `cap 5000`",
            )
        )
    return found


_METHOD_NAMES = {
    n.Commission: "commission",
    n.Rates: "rates",
    n.Steps: "steps",
    n.Curve: "curve",
    n.PerUnit: "per_unit",
}
_METHODS = tuple(_METHOD_NAMES)


def _without_target(what: str, plan: str, span: Span, example: str) -> Diagnostic:
    """E408 for an item paid as a share of the target variable in a plan that states none."""
    return Diagnostic(
        "E408",
        f"`{what}` is a share of the target variable, but plan `{plan}` has none",
        span,
        help=f"add `target_variable <amount> per <period>` to the plan, {example}",
    )


def _needs_quota(item: n.MeasureItem) -> str | None:
    """The name of an item that pays on attainment (so needs a quota), or None."""
    if isinstance(item, n.Rates):
        basis = item.basis.name if item.basis else None
        if basis == "attainment" or (
            basis is None and item.bands and isinstance(item.bands[0].low, n.Percent)
        ):
            return "rates on attainment"
        return None
    names = {
        n.Steps: "steps", n.Curve: "curve", n.Threshold: "threshold",
        n.Accelerator: "accelerator", n.Bonus: "bonus",
    }  # fmt: skip
    return names.get(type(item))


def _measure_table(plan: n.Plan, measure: n.Measure, has_target: bool) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    name = measure.name.name
    credits = [i for i in measure.items if isinstance(i, n.Credit)]
    if not credits:
        found.append(
            Diagnostic(
                "E408",
                f"measure `{name}` has no `credit`",
                measure.name.span,
                help="say what it credits, e.g. `credit amount of deals where status == won`",
            )
        )
    for credit in credits[1:]:
        found.append(
            Diagnostic(
                "E408",
                f"measure `{name}` has {len(credits)} `credit` rules",
                credit.span,
                help="a measure credits one thing: split it into several measures",
            )
        )
    methods = [i for i in measure.items if isinstance(i, _METHODS)]
    for method in methods[1:]:
        found.append(
            Diagnostic(
                "E408",
                f"measure `{name}` has two payout methods: "
                f"{_METHOD_NAMES[type(methods[0])]} and {_METHOD_NAMES[type(method)]}",
                method.span,
                help="keep one of commission, rates, steps, curve or per_unit per measure",
            )
        )
    quotas = [i for i in measure.items if isinstance(i, (n.QuotaTable, n.QuotaFormula))]
    for extra in quotas[1:]:
        found.append(
            Diagnostic(
                "E408",
                f"measure `{name}` has {len(quotas)} quotas",
                extra.span,
                help="keep one: `quota <measure id>` or `quota formula <expression>`",
            )
        )
    for item in measure.items:
        needs = _needs_quota(item)
        if needs is not None and not quotas:
            found.append(
                Diagnostic(
                    "E408",
                    f"`{needs}` pays on attainment, but measure `{name}` has no quota",
                    item.span,
                    help="add `quota <measure id>` (read from the quotas table) or "
                    "`quota formula <expression>`",
                )
            )
        shares_target = isinstance(item, (n.Steps, n.Curve, n.Accelerator)) or (
            isinstance(item, n.Cap) and isinstance(item.limit, n.Percent)
        )
        if shares_target and not has_target:
            what = "cap" if isinstance(item, n.Cap) else str(needs)  # steps, curve, accelerator
            found.append(
                _without_target(
                    what, plan.name.name, item.span, "e.g. `target_variable 40K per year`"
                )
            )
        if isinstance(item, (n.Steps, n.Rates, n.Curve)):
            found.extend(_table_body(item))
    return found


def _table_body(item: n.Steps | n.Rates | n.Curve) -> list[Diagnostic]:
    """Bands without gap or overlap, a curve's points in order: in a measure or a definition
    (a used definition is checked through each measure too; the repeats are one finding)."""
    if isinstance(item, n.Steps):
        return _bands(item.bands, n.Percent, "steps", item.span)
    if isinstance(item, n.Rates):
        basis = item.basis.name if item.basis else None
        if basis == "amount":
            kind: type = n.Number
        elif basis == "attainment" or not item.bands:
            kind = n.Percent
        else:
            kind = type(item.bands[0].low)
        return _bands(item.bands, kind, "rates", item.span)
    return _curve_table(item)
