"""The pay simulator: what a plan pays from 0% to 200% attainment, and what it costs.

Every payout here is computed by the engine's one pay math (`engine.pay.math.pay_plan`) on a
synthetic rep, or read from the engine's own results on data; nothing re-decides a band, a
curve, a threshold or a cap. Decisions (the issue is silent on them; `docs/simulate.md`):

  * Attainment axis. A synthetic rep at attainment `a` is credited `a x Q` on every measure of
    the plan, Q being the measure's reference quota: `--quota MEASURE=AMOUNT` when given, else
    the median quota the engine used for that measure id (any plan) on the data, else, for a
    measure whose pay does not depend on the amount (steps, curve, bonus only), 1. A measure
    without a quota of its own (a 5% commission) reads the quota of the same measure id when
    the data has one (the FinTech `bookings` quota: that is how "5% flat" gets an attainment),
    else that of a measure of the plan crediting the same value (Maven's bonus at 100,000).
  * Distributions. `history`: every rep and period the plan paid on the data, with the engine's
    payouts (no synthetic rep: the cost is what the engine pays on that data). `normal:M,S`:
    the 1,000 median quantiles `(i + 0.5) / 1000` of a normal law (deterministic, no random
    draw), attainments under 0 read as 0. A table (CSV, XLSX...): one attainment per row, an
    optional `weight`. Every measure of a synthetic rep is at the same attainment.
  * Figures per rep and period: expected payout (the weighted mean), P10/P50/P90 (the smallest
    payout whose cumulative weight reaches 10%, 50%, 90%). The team: expected payout x headcount
    (history: total paid / periods). Budget: the plan's target variable per period (history:
    the engine's budget table); a plan without one (a pure commission) is set against the
    budget of the plan it is compared with, and says so. Ratio = expected cost / budget; the
    guardrail is the plan's `budget guardrail`.
  * What-if edits (`--set bookings.steps[2]=60%`) change the plan's syntax tree, value by value
    (indexes count from 1, as the lines are written); the edited tree is written back by the
    formatter and the ruleset's files go through the whole loader (templates, every checker
    pass) before the plan is compiled: an edit that breaks a rule is reported on its line.
  * Git revisions (`--compare-rev`) are read with `engine.revisions` (`git archive` of the
    folder around the ruleset, so a template it extends comes along), never a checkout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsl import nodes as n
from dsl.diagnostics import closest
from engine.money import EXACT, exact_div, exact_mul, format_french, parse_money, parse_number
from engine.pay.math import MeasureInput, PlanPayout, pay_plan
from engine.pay.spec import PlanSpec
from engine.periods import PayPeriod, period_of

if TYPE_CHECKING:
    from engine.program import Program
    from engine.report.document import Document, Section
    from engine.results import Results

__all__ = [
    "Change",
    "Cost",
    "CurvePoint",
    "Distribution",
    "Edit",
    "PlanCurve",
    "Sample",
    "SimulationError",
    "apply_edits",
    "attainment_grid",
    "history_cost",
    "history_distribution",
    "load_edited",
    "normal_distribution",
    "observed_quotas",
    "parse_distribution",
    "parse_edit",
    "parse_percent",
    "pay_at",
    "pay_curve",
    "quota_sources",
    "reference_quotas",
    "synthetic_cost",
    "table_distribution",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_CENT = Decimal("0.01")
#: Quantiles of a normal law: enough for P10/P90 to the cent on any realistic plan.
NORMAL_POINTS = 1_000
#: Pay periods in French, for people.
UNIT_NAMES = {"month": "mois", "quarter": "trimestre", "half": "semestre", "year": "année"}
#: The synthetic rep's id in payouts.
SYNTHETIC_REP = "simulation"


class SimulationError(ValueError):
    """Input the simulator cannot use; `str()` is the message, `render()` adds where it is."""

    def __init__(self, message: str, text: str = "", start: int = 0, end: int = 0) -> None:
        super().__init__(message)
        self.text = text
        self.start = start
        self.end = end

    def render(self) -> str:
        """The message, then the argument with the faulty part underlined (when there is one)."""
        lines = [f"error: {self}"]
        if self.text and self.end > self.start:
            lines.append(f"  {self.text}")
            lines.append("  " + " " * self.start + "^" * (self.end - self.start))
        return "\n".join(lines) + "\n"


# ============================================================================ values
def parse_percent(text: str, what: str = "a percentage") -> Decimal:
    """`16%`, `16 %`, `0.16` or `16,5 %` as the fraction (0.16): the engine's number parser."""
    written = text.strip()
    try:
        if written.endswith("%"):
            return exact_div(parse_number(written[:-1].strip()), Decimal(100))
        return parse_number(written)
    except (ValueError, ArithmeticError):
        raise SimulationError(f"{text!r} is not {what} (like 16% or 0.16)") from None


# ============================================================================ what-if edits
#: The values a `--set` may change: field -> (where, kind). Kinds: percent, amount, number,
#: limit (a percentage or an amount). `[i]` fields index the measure's table or curve.
MEASURE_FIELDS: dict[str, str] = {
    "weight": "percent",
    "commission": "percent",
    "per_unit": "amount",
    "rates": "percent",
    "steps": "percent",
    "curve": "percent or number",
    "threshold": "percent",
    "accelerator": "number",
    "cap": "limit",
    "bonus": "amount",
}
PLAN_FIELDS: dict[str, str] = {
    "target_variable": "amount",
    "cap": "limit",
    "guardrail": "limit",
}
_INDEXED = frozenset({"rates", "steps", "curve"})
_PATH = re.compile(
    r"^(?:(?P<measure>[A-Za-z_][A-Za-z0-9_]*)\.)?(?P<field>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:\[(?P<index>[^\]]*)\])?$"
)


@dataclass(frozen=True, slots=True)
class Edit:
    """One `--set PATH=VALUE`: a measure (None: the plan, or its only measure), a field, an
    index from 1 for tables and curves, the value as written."""

    text: str
    measure: str | None
    field: str
    index: int | None
    value: str
    #: Where each part lies in `text` (for underlined errors).
    measure_at: tuple[int, int] = (0, 0)
    field_at: tuple[int, int] = (0, 0)
    index_at: tuple[int, int] = (0, 0)
    value_at: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True)
class Change:
    """What one edit changed: the path, the value before (as written in the ruleset), after."""

    path: str
    before: str
    after: str


def parse_edit(text: str) -> Edit:
    """`bookings.steps[2]=60%` as an Edit; SimulationError (located) when it is not one."""
    path, equals, value = text.partition("=")
    if not equals:
        raise SimulationError(
            "expected PATH=VALUE, like bookings.steps[2]=60% or target_variable=36K",
            text,
            0,
            len(text) or 1,
        )
    stripped = path.strip()
    lead = len(path) - len(path.lstrip())
    found = _PATH.match(stripped)
    if found is None:
        raise SimulationError(
            f"{stripped!r} is not a path (MEASURE.FIELD[INDEX], like bookings.steps[2])",
            text,
            lead,
            lead + max(1, len(stripped)),
        )
    at = {name: (lead + found.start(name), lead + found.end(name)) for name in found.groupdict()}
    index: int | None = None
    if found.group("index") is not None:
        raw = found.group("index").strip()
        if not raw.isdigit() or int(raw) < 1:
            raise SimulationError(
                f"index {raw!r} is not a line number (1 for the first line)",
                text,
                *at["index"],
            )
        index = int(raw)
    value_start = len(path) + 1
    if not value.strip():
        raise SimulationError("no value after `=`", text, len(path), len(path) + 1)
    return Edit(
        text,
        found.group("measure"),
        found.group("field"),
        index,
        value.strip(),
        at["measure"] if found.group("measure") else (0, 0),
        at["field"],
        at["index"] if index is not None else (0, 0),
        (value_start, len(text)),
    )


def _fail(edit: Edit, message: str, where: tuple[int, int]) -> SimulationError:
    return SimulationError(
        f"--set {edit.text}: {message}", f"--set {edit.text}", where[0] + 6, where[1] + 6
    )


def _new_value(edit: Edit, old: n.Number | n.Percent, kind: str) -> n.Number | n.Percent:
    """The edited value, as the node the parser would have built (span of the old one, so the
    checker's findings point at the line the edit changed)."""
    written = edit.value
    percent = written.endswith("%")
    wants_percent = kind == "percent" or (
        kind == "percent or number" and isinstance(old, n.Percent)
    )
    wants_number = kind in ("amount", "number") or (
        kind == "percent or number" and isinstance(old, n.Number)
    )
    if wants_percent and not percent:
        raise _fail(
            edit, f"{edit.field} takes a percentage (like 16%), not {written!r}", edit.value_at
        )
    if wants_number and percent:
        raise _fail(
            edit, f"{edit.field} takes a number (like 1.5 or 2K), not a percentage", edit.value_at
        )
    try:
        if percent:
            value = parse_percent(written)
            return n.Percent(value, written, span=old.span)
        number = parse_number(written) if kind == "number" else parse_money(written)
    except (SimulationError, ValueError, ArithmeticError):
        raise _fail(
            edit, f"{written!r} is not a {'percentage' if percent else 'number'}", edit.value_at
        ) from None
    return n.Number(number, written, span=old.span)


def _measure_of(plan: n.Plan, edit: Edit) -> n.Measure | None:
    """The measure an edit names (None: a plan field)."""
    measures = {m.name.name: m for m in plan.measures}
    if edit.measure is None:
        if edit.field in PLAN_FIELDS:
            return None
        if edit.field in MEASURE_FIELDS and len(measures) == 1:
            return next(iter(measures.values()))
        if edit.field in MEASURE_FIELDS:
            raise _fail(
                edit,
                f"plan {plan.name.name} has {len(measures)} measures: name one "
                f"({', '.join(measures)}), like {next(iter(measures), 'm')}.{edit.field}",
                edit.field_at,
            )
        names = [*PLAN_FIELDS, *MEASURE_FIELDS]
        near = closest(edit.field, names)
        hint = f"; did you mean `{near}`?" if near else ""
        raise _fail(
            edit,
            f"`{edit.field}` is not a field of plan {plan.name.name}{hint} "
            f"(plan fields: {', '.join(PLAN_FIELDS)})",
            edit.field_at,
        )
    found = measures.get(edit.measure)
    if found is None:
        near = closest(edit.measure, measures)
        hint = f"; did you mean `{near}`?" if near else ""
        raise _fail(
            edit,
            f"plan {plan.name.name} has no measure `{edit.measure}`{hint} "
            f"(measures: {', '.join(measures)})",
            edit.measure_at,
        )
    return found


def _edit_item(edit: Edit, where: str, item: Any, field: str) -> tuple[Any, str]:
    """The item with its value changed (an index selects a band or a curve point), and the
    value as it was written before."""
    kind = MEASURE_FIELDS[field] if where == "measure" else PLAN_FIELDS[field]
    if field in _INDEXED:
        lines: tuple[Any, ...] = item.bands if field in ("rates", "steps") else item.points
        if edit.index is None:
            raise _fail(
                edit,
                f"{field} has {len(lines)} lines: say which, like "
                f"{field}[1] (from 1 to {len(lines)})",
                edit.field_at,
            )
        if edit.index > len(lines):
            raise _fail(
                edit,
                f"{field} has {len(lines)} lines ({field}[1] to "
                f"{field}[{len(lines)}]), not {edit.index}",
                edit.index_at,
            )
        line = lines[edit.index - 1]
        name = (
            "value"
            if isinstance(line, n.Band)
            else ("slope" if isinstance(line, n.CurveSlope) else "pay")
        )
        old = getattr(line, name)
        changed = dataclasses.replace(line, **{name: _new_value(edit, old, kind)})
        new = tuple(changed if i == edit.index - 1 else x for i, x in enumerate(lines))
        key = "bands" if field in ("rates", "steps") else "points"
        return dataclasses.replace(item, **{key: new}), old.raw
    if edit.index is not None:
        raise _fail(edit, f"{field} is a single value: no [index]", edit.index_at)
    attribute = {
        "commission": "rate",
        "per_unit": "amount",
        "threshold": "level",
        "accelerator": "factor",
        "cap": "limit",
        "bonus": "amount",
        "target_variable": "amount",
        "guardrail": "limit",
    }[field]
    old = getattr(item, attribute)
    return dataclasses.replace(item, **{attribute: _new_value(edit, old, kind)}), old.raw


_ITEM_TYPES: dict[str, type] = {
    "commission": n.Commission,
    "per_unit": n.PerUnit,
    "rates": n.Rates,
    "steps": n.Steps,
    "curve": n.Curve,
    "threshold": n.Threshold,
    "accelerator": n.Accelerator,
    "cap": n.Cap,
    "bonus": n.Bonus,
    "target_variable": n.TargetVariable,
    "guardrail": n.BudgetGuardrail,
}


def apply_edits(
    plan: n.Plan, edits: Sequence[Edit], definitions: Mapping[str, n.Definition] | None = None
) -> tuple[n.Plan, tuple[Change, ...]]:
    """The plan with every edit applied, in order, and what each changed; SimulationError
    (located) for an edit that names nothing of the plan.

    A measure that uses a named table or curve (`curve standard`) gets its own copy of it,
    edited: the what-if is about this measure, not every measure sharing the definition."""
    changes: list[Change] = []
    definitions = definitions or {}
    for edit in edits:
        measure = _measure_of(plan, edit)
        fields = MEASURE_FIELDS if measure is not None else PLAN_FIELDS
        if edit.field not in fields:
            near = closest(edit.field, fields)
            hint = f"; did you mean `{near}`?" if near else ""
            owner = f"measure {measure.name.name}" if measure else f"plan {plan.name.name}"
            raise _fail(
                edit,
                f"`{edit.field}` is not a field of {owner}{hint} (fields: {', '.join(fields)})",
                edit.field_at,
            )
        if measure is not None and edit.field == "weight":
            if measure.weight is None:
                raise _fail(
                    edit,
                    f"measure {measure.name.name} has no weight to change "
                    "(it shares what the weighted measures leave)",
                    edit.field_at,
                )
            weight = _new_value(edit, measure.weight, "percent")
            assert isinstance(weight, n.Percent)  # "percent" refuses any other value
            changed = dataclasses.replace(measure, weight=weight)
            plan = _swap(plan, measure, changed)
            changes.append(
                Change(edit.text.partition("=")[0].strip(), measure.weight.raw, edit.value)
            )
            continue
        items: tuple[Any, ...] = measure.items if measure is not None else plan.items
        wanted = _ITEM_TYPES[edit.field]
        position = next((i for i, x in enumerate(items) if isinstance(x, wanted)), None)
        use = next((x for x in items if isinstance(x, n.Use) and x.kind == edit.field), None)
        if position is None and use is not None and use.name.name in definitions:
            copy = _inline(use, definitions[use.name.name])
            items = tuple(copy if x is use else x for x in items)
            position = next(i for i, x in enumerate(items) if isinstance(x, wanted))
        if position is None:
            owner = f"measure {measure.name.name}" if measure else f"plan {plan.name.name}"
            present = [
                f
                for f, t in _ITEM_TYPES.items()
                if f in fields and any(isinstance(x, t) for x in items)
            ]
            raise _fail(
                edit,
                f"{owner} has no {edit.field} to change (it has: "
                f"{', '.join(present) or 'nothing editable'})",
                edit.field_at,
            )
        new_item, before = _edit_item(
            edit, "measure" if measure else "plan", items[position], edit.field
        )
        changes.append(Change(edit.text.partition("=")[0].strip(), before, edit.value))
        new_items = tuple(new_item if i == position else x for i, x in enumerate(items))
        if measure is not None:
            plan = _swap(plan, measure, dataclasses.replace(measure, items=new_items))
        else:
            plan = dataclasses.replace(plan, items=new_items)
    return plan, tuple(changes)


def _inline(use: n.Use, definition: n.Definition) -> Any:
    """The definition's body written where the use is: every part placed on the use's line,
    so the formatter writes it there (and no comment of the definition moves with it)."""
    body = definition.body
    if isinstance(body, n.Curve):
        points = tuple(dataclasses.replace(p, span=use.span) for p in body.points)
        return dataclasses.replace(body, span=use.span, points=points)
    bands = tuple(dataclasses.replace(b, span=use.span) for b in body.bands)
    return dataclasses.replace(body, span=use.span, bands=bands)


def _swap(plan: n.Plan, old: n.Measure, new: n.Measure) -> n.Plan:
    items = tuple(new if item is old else item for item in plan.items)
    return dataclasses.replace(plan, items=items)


def load_edited(
    path: Path, plan_name: str, edits: Sequence[Edit]
) -> tuple[Program, tuple[Change, ...]]:
    """The ruleset at `path` with the edits applied to one of its plans, checked and compiled
    like `engine.loader.load`: the edited syntax tree is written back by the formatter (the
    files are formatted already, so only the edited values change and every line keeps its
    number), and the ruleset's files go through the whole loader again (templates it extends,
    every checker pass). RulesetError when the edited ruleset breaks a rule: the diagnostics
    point at the edited lines."""
    from dsl.diagnostics import Diagnostic
    from dsl.formatter import format_module
    from dsl.parser import ruleset_files
    from dsl.source import SourceFile
    from dsl.workspace import check_sources, load_files
    from engine.compiler import compile_model
    from engine.loader import RulesetError
    from engine.program import Program

    files, problems = ruleset_files([path])
    if not files and not problems:
        problems.append(
            Diagnostic("E001", "no .krl file found", SourceFile(str(path), "").span(0, 0))
        )
    if problems:
        raise RulesetError(problems, {})
    loaded = load_files(path, files)
    if not loaded.ok or loaded.result is None:
        raise RulesetError(loaded.diagnostics, loaded.sources)
    found = [
        (parsed, declaration)
        for parsed in loaded.files
        if parsed.module is not None
        for declaration in parsed.module.declarations
        if isinstance(declaration, n.Plan) and declaration.name.name == plan_name
    ]
    if not found:
        plans = loaded.result.model.plans
        if plan_name in plans:
            raise SimulationError(
                f"plan {plan_name} comes from a template the ruleset extends: --set edits the "
                "ruleset's own plans (override it in the ruleset first)"
            )
        raise SimulationError(unknown_plan(plan_name, plans))
    parsed, original = found[0]
    edited, changes = apply_edits(original, edits, loaded.result.model.definitions)
    assert parsed.module is not None
    module = dataclasses.replace(
        parsed.module,
        declarations=tuple(edited if d is original else d for d in parsed.module.declarations),
    )
    text = format_module(dataclasses.replace(parsed, module=module))
    sources = [SourceFile(p.source.path, text) if p is parsed else p.source for p in loaded.files]
    checked = check_sources(loaded.folder, sources)
    if not checked.ok or checked.result is None:
        raise RulesetError(checked.diagnostics, checked.sources)
    result = checked.result
    compiled = compile_model(result.model, result.typed)
    return Program(result.model, result.typed, compiled, checked.diagnostics), changes


def unknown_plan(name: str, plans: Mapping[str, Any]) -> str:
    """`no plan x; did you mean y? (plans: ...)`."""
    near = closest(name, plans)
    hint = f"; did you mean {near}?" if near else ""
    listed = ", ".join(plans) or "none"
    return f"the ruleset has no plan {name}{hint} (plans: {listed})"


# ============================================================================ curves
@dataclass(frozen=True, slots=True)
class CurvePoint:
    """What the plan pays a rep at one attainment: each measure's payout, and the total."""

    attainment: Decimal
    measures: tuple[Decimal, ...]
    total: Decimal


@dataclass(frozen=True, slots=True)
class PlanCurve:
    """A plan's pay curve: one point per attainment of the grid, at the reference quotas."""

    plan: str
    label: str
    measures: tuple[tuple[str, str], ...]  # (id, label)
    quotas: Mapping[str, Decimal]
    target: Decimal | None
    unit: str
    points: tuple[CurvePoint, ...]

    def at(self, attainment: Decimal) -> CurvePoint:
        """The point at exactly this attainment (KeyError when it is not on the grid)."""
        for point in self.points:
            if point.attainment == attainment:
                return point
        raise KeyError(attainment)


def attainment_grid(
    step: Decimal = Decimal("0.01"), top: Decimal = Decimal(2)
) -> tuple[Decimal, ...]:
    """0, step, 2 x step ... up to `top` included (exact fractions)."""
    if step <= 0:
        raise SimulationError(f"the step must be above 0%, not {step * 100:f}%")
    if step > top:
        raise SimulationError(f"the step ({step * 100:f}%) is wider than the whole axis")
    count = int(top / step)
    grid = [exact_mul(step, Decimal(i)) for i in range(count + 1)]
    if grid[-1] != top:
        grid.append(top)
    return tuple(grid)


def _period_of_plan(plan: PlanSpec) -> PayPeriod:
    start = plan.effective[0] if plan.effective is not None else dt.date.today()
    return period_of(start, plan.unit)


def pay_at(
    plan: PlanSpec,
    attainment: Decimal,
    quotas: Mapping[str, Decimal],
    period: PayPeriod | None = None,
) -> PlanPayout:
    """What the engine pays a synthetic rep credited `attainment x Q` on every measure (Q its
    reference quota), for one period, fully employed: `engine.pay.math.pay_plan` itself."""
    inputs = {}
    for spec in plan.measures:
        quota = quotas[spec.name]
        credited = exact_mul(attainment, quota)
        inputs[spec.name] = MeasureInput(credited, quota if spec.has_quota else None)
    return pay_plan(plan, SYNTHETIC_REP, period or _period_of_plan(plan), inputs)


def pay_curve(plan: PlanSpec, quotas: Mapping[str, Decimal], grid: Sequence[Decimal]) -> PlanCurve:
    """The plan's pay at every attainment of the grid (see `pay_at`)."""
    period = _period_of_plan(plan)
    points = []
    for attainment in grid:
        paid = pay_at(plan, attainment, quotas, period)
        points.append(CurvePoint(attainment, tuple(m.payout for m in paid.measures), paid.payout))
    return PlanCurve(
        plan.name,
        plan.label or plan.name,
        tuple((m.name, m.label or m.name) for m in plan.measures),
        dict(quotas),
        plan.target,
        plan.unit,
        tuple(points),
    )


# ============================================================================ reference quotas
def observed_quotas(results: Results) -> dict[str, Decimal]:
    """The median quota per measure id the engine used on the data (every plan, every rep and
    period it paid): what "100%" means for a typical rep."""
    found: dict[str, list[Decimal]] = {}
    for measures in results.payouts["measures"]:
        for entry in measures:
            quota = entry.get("quota")
            if quota is not None:
                found.setdefault(str(entry["measure"]), []).append(Decimal(quota))
    return {name: _median(values) for name, values in found.items()}


def _median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return exact_div(ordered[middle - 1] + ordered[middle], Decimal(2))


#: Methods whose pay depends on the credited amount itself, not only on attainment.
_AMOUNT_METHODS = frozenset({"commission", "per_unit", "rates"})


def reference_quotas(
    plan: PlanSpec, observed: Mapping[str, Decimal], given: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """Each measure's reference quota (see the module note); SimulationError when a measure
    paid on amounts has none."""
    return {name: quota for name, (quota, _) in quota_sources(plan, observed, given).items()}


def quota_sources(
    plan: PlanSpec, observed: Mapping[str, Decimal], given: Mapping[str, Decimal]
) -> dict[str, tuple[Decimal, str]]:
    """Each measure's reference quota and where it comes from, in French."""
    found: dict[str, tuple[Decimal, str]] = {}
    for spec in plan.measures:
        quota = given.get(spec.name, given.get("*"))
        source = "donné (--quota)"
        if quota is None and spec.name in observed:
            quota, source = observed[spec.name], "médiane des quotas des données"
        if quota is None and not spec.has_quota:
            # A commission beside a measure with a quota that credits the same value (Maven:
            # 5% of won value, and a bonus at 100,000 of won value): 100% is that quota.
            sibling = next(
                (m for m in plan.measures if m.has_quota and m.credit == spec.credit), None
            )
            if sibling is not None:
                quota = given.get(sibling.name) or observed.get(sibling.name)
                source = f"quota de {sibling.name}, qui crédite la même valeur"
        if quota is None:
            if spec.method in _AMOUNT_METHODS:
                raise SimulationError(
                    f"plan {plan.name}, measure {spec.name}: no quota to say what 100% is (it pays "
                    f"on amounts); give --quota {spec.name}=AMOUNT, or data with its quotas"
                )
            # Pay is a share of the target: the quota's size does not matter.
            quota, source = _ONE, "sans objet : le plan paie une part de la variable cible"
        if quota <= 0:
            raise SimulationError(f"measure {spec.name}: the quota must be above 0, not {quota}")
        found[spec.name] = (quota, source)
    return found


# ============================================================================ distributions
@dataclass(frozen=True, slots=True)
class Sample:
    """One rep and period of a distribution: its attainment and weight (and, from history,
    who it is and what the engine paid)."""

    attainment: Decimal | None
    weight: Decimal = _ONE
    label: str = ""


@dataclass(frozen=True, slots=True)
class Distribution:
    """Attainments to cost a plan at: `history` (the data), `normal` or `table`."""

    kind: str
    description: str
    samples: tuple[Sample, ...]

    def attainments(self) -> list[Decimal]:
        """The known attainments (history may hold reps without one)."""
        return [s.attainment for s in self.samples if s.attainment is not None]


def parse_distribution(text: str) -> tuple[str, tuple[Decimal, Decimal] | Path | None]:
    """`history`, `normal:MEAN,SD` (percentages or fractions) or a file path."""
    written = text.strip()
    if written == "history":
        return "history", None
    if written.startswith("normal:"):
        body = written[len("normal:") :]
        parts = _split_pair(body)
        if len(parts) != 2:
            raise SimulationError(
                f"--distribution {text}: expected normal:MEAN,SD, like normal:95%,20%"
            )
        mean = parse_percent(parts[0], "a mean attainment")
        spread = parse_percent(parts[1], "a spread")
        if spread < 0:
            raise SimulationError(f"--distribution {text}: the spread cannot be negative")
        return "normal", (mean, spread)
    return "table", Path(written)


def _split_pair(body: str) -> list[str]:
    """`95%,20%`, `0.95,0.2` or `95 %;20 %` as two parts (a decimal comma is not a separator
    when `;` is used)."""
    if ";" in body:
        return [p.strip() for p in body.split(";")]
    return [p.strip() for p in body.split(",")]


def normal_distribution(mean: Decimal, spread: Decimal, count: int = NORMAL_POINTS) -> Distribution:
    """The `count` median quantiles of a normal law (deterministic), negatives read as 0."""
    law = statistics.NormalDist(float(mean), float(spread))
    samples = []
    for i in range(count):
        value = law.inv_cdf((i + 0.5) / count) if spread > 0 else float(mean)
        attainment = max(Decimal(repr(round(value, 6))), _ZERO)
        samples.append(Sample(attainment))
    return Distribution(
        "normal",
        f"loi normale de moyenne {_percent_text(mean)} et d'écart type {_percent_text(spread)} "
        f"({format_french(Decimal(count))} quantiles médians, sans tirage aléatoire ; une "
        "atteinte négative compte 0 %)",
        tuple(samples),
    )


def table_distribution(path: Path) -> Distribution:
    """Attainments from a table given by the user: an `attainment` column (`95%` or `0.95`) and
    an optional `weight`; every bad row is reported (SimulationError listing them)."""
    from dsl.canonical import Column
    from engine.data import DataError, read_table, validate_table

    try:
        frame = read_table(path)
    except DataError as error:
        raise SimulationError(str(error)) from None
    columns = (Column("attainment", "percent", required=True), Column("weight", "number"))
    missing = [c.name for c in columns[:1] if c.name not in frame.columns]
    if missing:
        present = ", ".join(str(c) for c in frame.columns) or "none"
        raise SimulationError(
            f"{path}: no `attainment` column (columns: {present}); expected attainment[,weight]"
        )
    checked = validate_table("distribution", frame, columns)
    if checked.errors:
        shown = "; ".join(f"row {e.row}, {e.column}: {e.message}" for e in checked.errors[:5])
        more = f" (and {len(checked.errors) - 5} more)" if len(checked.errors) > 5 else ""
        raise SimulationError(f"{path}: {len(checked.errors)} invalid row(s): {shown}{more}")
    valid = checked.valid
    weights = valid["weight"] if "weight" in valid.columns else None
    samples = []
    for position, value in enumerate(valid["attainment"].tolist()):
        weight = _ONE
        if weights is not None and weights.iloc[position] == weights.iloc[position]:
            weight = Decimal(repr(float(weights.iloc[position])))
        if weight < 0:
            raise SimulationError(f"{path}: a weight cannot be negative ({weight})")
        samples.append(Sample(max(Decimal(repr(float(value))), _ZERO), weight))
    if not samples or sum((s.weight for s in samples), _ZERO) <= 0:
        raise SimulationError(f"{path}: no attainment with a positive weight")
    return Distribution("table", f"table {path.name} ({len(samples):,} lignes)", tuple(samples))


def history_distribution(results: Results, plan: PlanSpec) -> Distribution:
    """Each rep and period the engine paid on the plan: its attainment (the measures' own,
    weighted by the measures' weights; None for a plan without quotas)."""
    rows = results.payouts[results.payouts["plan"] == plan.name]
    weights = {m.name: m.weight for m in plan.measures}
    samples = []
    for rep, period, measures in zip(rows["rep_id"], rows["period"], rows["measures"], strict=True):
        parts = [
            (
                weights.get(str(e["measure"]), _ZERO),
                exact_div(Decimal(e["credited"]), Decimal(e["quota"])),
            )
            for e in measures
            if e.get("quota") is not None and Decimal(e["quota"]) > 0
        ]
        total = sum((w for w, _ in parts), _ZERO)
        level = exact_div(sum((exact_mul(w, a) for w, a in parts), _ZERO), total) if total else None
        samples.append(Sample(level, _ONE, f"{rep} {period}"))
    periods = sorted(set(rows["period"]))
    span = f"{periods[0]} à {periods[-1]}" if len(periods) > 1 else (periods[0] if periods else "—")
    return Distribution(
        "history",
        f"historique des données : {len(samples)} couples commercial × période ({span}), "
        f"plan {plan.name}",
        tuple(samples),
    )


# ============================================================================ cost
@dataclass(frozen=True, slots=True)
class Cost:
    """What a plan costs at a distribution, per rep and period and for the team."""

    plan: str
    label: str
    samples: int
    expected: Decimal  # per rep and period, exact
    p10: Decimal
    p50: Decimal
    p90: Decimal
    headcount: Decimal
    periods: int
    team_expected: Decimal  # per period
    budget: Decimal | None  # per rep and period
    budget_source: str
    ratio: Decimal | None
    guardrail: str | None
    ceiling: Decimal | None  # the team's guardrail per period
    over_guardrail: bool | None


def _percentile(pairs: Sequence[tuple[Decimal, Decimal]], share: Decimal) -> Decimal:
    """The smallest payout whose cumulative weight reaches `share` of the whole."""
    ordered = sorted(pairs)
    whole = sum((w for _, w in ordered), _ZERO)
    running = _ZERO
    for value, weight in ordered:
        running += weight
        if running >= exact_mul(share, whole):
            return value
    return ordered[-1][0]


def _summary(
    plan: PlanSpec,
    pairs: Sequence[tuple[Decimal, Decimal]],
    headcount: Decimal,
    periods: int,
    team_expected: Decimal,
    budget: Decimal | None,
    source: str,
) -> Cost:
    whole = sum((w for _, w in pairs), _ZERO)
    expected = exact_div(sum((exact_mul(p, w) for p, w in pairs), _ZERO), whole) if whole else _ZERO
    ratio = exact_div(expected, budget) if budget else None
    ceiling: Decimal | None = None
    guardrail = plan.guardrail
    if guardrail is not None:
        if guardrail.percent and budget:
            ceiling = exact_mul(guardrail.value, budget, headcount)
        elif not guardrail.percent:
            ceiling = guardrail.value
    return Cost(
        plan.name,
        plan.label or plan.name,
        len(pairs),
        expected,
        _percentile(pairs, Decimal("0.1")) if pairs else _ZERO,
        _percentile(pairs, Decimal("0.5")) if pairs else _ZERO,
        _percentile(pairs, Decimal("0.9")) if pairs else _ZERO,
        headcount,
        periods,
        team_expected,
        budget,
        source,
        ratio,
        None if guardrail is None else guardrail.raw,
        ceiling,
        None if ceiling is None else team_expected > ceiling,
    )


def synthetic_cost(
    plan: PlanSpec,
    distribution: Distribution,
    quotas: Mapping[str, Decimal],
    headcount: Decimal = _ONE,
    budget: tuple[Decimal, str] | None = None,
) -> Cost:
    """The plan paid by the engine at every attainment of the distribution. `budget` (per rep
    and period, and where it comes from) replaces the plan's target variable when given."""
    period = _period_of_plan(plan)
    cache: dict[Decimal, Decimal] = {}
    pairs = []
    for sample in distribution.samples:
        if sample.attainment is None:
            continue
        paid = cache.get(sample.attainment)
        if paid is None:
            paid = cache[sample.attainment] = pay_at(plan, sample.attainment, quotas, period).payout
        pairs.append((paid, sample.weight))
    amount, source = budget or (plan.target, "variable cible du plan")
    whole = sum((w for _, w in pairs), _ZERO)
    expected = exact_div(sum((exact_mul(p, w) for p, w in pairs), _ZERO), whole) if whole else _ZERO
    return _summary(
        plan,
        pairs,
        headcount,
        1,
        exact_mul(expected, headcount),
        amount,
        source if amount is not None else "",
    )


def history_cost(
    results: Results, plan: PlanSpec, budget: tuple[Decimal, str] | None = None
) -> Cost:
    """What the engine paid on the plan on the data (payouts and budget tables), summarised."""
    rows = results.payouts[results.payouts["plan"] == plan.name]
    pairs = [(Decimal(p), _ONE) for p in rows["payout"]]
    periods = max(1, len(set(rows["period"])))
    paid = sum((p for p, _ in pairs), _ZERO)
    headcount = exact_div(Decimal(len(pairs)), Decimal(periods))
    amount: Decimal | None = None
    source = ""
    if budget is not None:
        amount, source = budget
    else:
        totals = results.budget[results.budget["plan"] == plan.name]
        budgets = [b for b in totals["budget"] if b is not None]
        if budgets and len(budgets) == len(totals) and pairs:
            # The engine's budget (target variables of the reps paid), per rep and period.
            amount = exact_div(sum((Decimal(b) for b in budgets), _ZERO), Decimal(len(pairs)))
            source = "budget du moteur (variables cibles des commerciaux payés)"
    return _summary(
        plan, pairs, headcount, periods, exact_div(paid, Decimal(periods)), amount, source
    )


def money(value: Decimal) -> Decimal:
    """An amount to the cent, for people (figures stay exact until shown)."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP, context=EXACT)


def _percent_text(value: Decimal) -> str:
    shown = (value * 100).normalize()
    return f"{shown:f} %".replace(".", ",")


# ============================================================================ a whole simulation
@dataclass(frozen=True, slots=True)
class Variant:
    """One plan the simulation shows: how it is named, the plan, the ruleset it comes from."""

    title: str
    plan: PlanSpec
    program: Program


@dataclass(frozen=True, slots=True)
class Simulation:
    """Everything `koncept simulate` shows: curves, the distribution, the cost of each plan."""

    ruleset: str
    currency: str
    variants: tuple[Variant, ...]
    quotas: tuple[Mapping[str, Decimal], ...]
    #: Where each variant's reference quotas come from (measure -> French text).
    sources: tuple[Mapping[str, str], ...]
    curves: tuple[PlanCurve, ...]
    distribution: Distribution | None
    costs: tuple[Cost, ...]
    changes: tuple[Change, ...]
    origin: str
    observed: Mapping[str, Decimal]


def run_simulation(
    variants: Sequence[Variant],
    *,
    tables: Mapping[str, Any] | None = None,
    as_of: dt.date | None = None,
    period: str | None = None,
    distribution: str | None = None,
    quotas: Mapping[str, Decimal] | None = None,
    step: Decimal = Decimal("0.01"),
    headcount: Decimal | None = None,
    changes: Sequence[Change] = (),
    origin: str = "",
) -> Simulation:
    """Curves of every variant, and their cost at one distribution (default: the data's history
    when there is data, else none). Each ruleset is evaluated once on the data by the engine."""
    if not variants:
        raise SimulationError("no plan to simulate")
    given = dict(quotas or {})
    evaluated: dict[int, Results] = {}
    results: list[Results | None] = []
    for variant in variants:
        if tables is None:
            results.append(None)
            continue
        key = id(variant.program)
        if key not in evaluated:
            evaluated[key] = variant.program.evaluate(**tables, as_of=as_of, period=period)
        results.append(evaluated[key])
    observed: dict[str, Decimal] = {}
    for found in results:
        if found is not None:
            for name, value in observed_quotas(found).items():
                observed.setdefault(name, value)
    sources = tuple(quota_sources(v.plan, observed, given) for v in variants)
    references = tuple({k: q for k, (q, _) in found.items()} for found in sources)
    grid = attainment_grid(step)
    curves = tuple(pay_curve(v.plan, q, grid) for v, q in zip(variants, references, strict=True))
    asked = distribution or ("history" if tables is not None else None)
    kind, argument = parse_distribution(asked) if asked else (None, None)
    chosen: Distribution | None = None
    costs: list[Cost] = []
    if kind == "history":
        first = results[0]
        if first is None:
            raise SimulationError("--distribution history needs data: give --data DIR or --demo")
        chosen = history_distribution(first, variants[0].plan)
        if not chosen.samples:
            raise SimulationError(
                f"no rep was paid on plan {variants[0].plan.name} in the data"
                + (f" for {period}" if period else "")
                + ": nothing to take a distribution from"
            )
        own = [history_cost(r, v.plan) for v, r in zip(variants, results, strict=True) if r]
        for variant, found, cost in zip(variants, results, own, strict=True):
            assert found is not None
            if cost.budget is None:
                other = _other_budget(variants, own, variant)
                if other is not None:
                    cost = history_cost(found, variant.plan, other)
            costs.append(cost)
    elif kind is not None:
        if kind == "normal":
            assert isinstance(argument, tuple)
            chosen = normal_distribution(*argument)
        else:
            assert isinstance(argument, Path)
            chosen = table_distribution(argument)
        team = headcount
        if team is None and results[0] is not None:
            history = history_cost(results[0], variants[0].plan)
            team = history.headcount if history.samples else None
        own = [
            synthetic_cost(v.plan, chosen, q, team or _ONE)
            for v, q in zip(variants, references, strict=True)
        ]
        for variant, q, cost in zip(variants, references, own, strict=True):
            if cost.budget is None:
                other = _other_budget(variants, own, variant)
                if other is not None:
                    cost = synthetic_cost(variant.plan, chosen, q, team or _ONE, other)
            costs.append(cost)
    program = variants[0].program
    ruleset = program.model.ruleset
    name = (ruleset.label or ruleset.name.name) if ruleset is not None else ""
    return Simulation(
        ruleset=name,
        currency=program.book.currency,
        variants=tuple(variants),
        quotas=references,
        sources=tuple({k: text for k, (_, text) in found.items()} for found in sources),
        curves=curves,
        distribution=chosen,
        costs=tuple(costs),
        changes=tuple(changes),
        origin=origin,
        observed=observed,
    )


def _other_budget(
    variants: Sequence[Variant], costs: Sequence[Cost], variant: Variant
) -> tuple[Decimal, str] | None:
    """The budget of the first other plan that has one: what a plan without a target variable
    (a pure commission) is set against."""
    for other, cost in zip(variants, costs, strict=True):
        if other is not variant and cost.budget is not None:
            return cost.budget, f"budget de {other.title}"
    return None


# ============================================================================ the document
#: Attainments every key-point table shows (with the plan's own thresholds and band ends).
_KEY_POINTS = tuple(Decimal(x) for x in ("0", "0.5", "0.8", "0.9", "1", "1.2", "1.5", "2"))


def _key_attainments(simulation: Simulation) -> list[Decimal]:
    levels = set(_KEY_POINTS)
    for variant in simulation.variants:
        for spec in variant.plan.measures:
            levels.update(b.low for b in spec.bands if b.on_attainment)
            if spec.threshold is not None:
                levels.add(spec.threshold[0])
            if spec.curve is not None:
                levels.update(level for level, _ in spec.curve.points)
    grid = {p.attainment for p in simulation.curves[0].points}
    return sorted(level for level in levels if level in grid)


def simulation_document(simulation: Simulation) -> Document:
    """The simulation as a report (`engine.report`): assumptions, curves, distribution, cost."""
    from engine.report.document import Document

    sections = [_assumptions(simulation), _curves(simulation)]
    if simulation.distribution is not None:
        sections.append(_distribution(simulation))
        sections.append(_costs(simulation))
    first = simulation.variants[0].plan
    titles = " vs ".join(v.title for v in simulation.variants)
    subtitle = " · ".join(
        part
        for part in (
            simulation.ruleset,
            titles,
            simulation.origin,
            simulation.distribution.description if simulation.distribution else "",
        )
        if part
    )
    return Document(
        f"Simulation de rémunération – {first.label or first.name}",
        subtitle,
        tuple(sections),
        simulation.currency,
    )


def _assumptions(simulation: Simulation) -> Section:
    from engine.report.document import Column, Section, Table

    rows = []
    for variant, quotas, sources in zip(
        simulation.variants, simulation.quotas, simulation.sources, strict=True
    ):
        for spec in variant.plan.measures:
            quota, source = quotas[spec.name], sources[spec.name]
            rows.append((variant.title, spec.label or spec.name, spec.name, quota, source))
    target_rows = tuple(
        (
            v.title,
            UNIT_NAMES.get(v.plan.unit, v.plan.unit),
            v.plan.target,
            v.plan.guardrail.raw if v.plan.guardrail else None,
        )
        for v in simulation.variants
    )
    tables = [
        Table(
            "quotas",
            "Quotas de référence (100 % d'atteinte)",
            (
                Column("plan", "Plan"),
                Column("measure_label", "Mesure"),
                Column("measure", "Identifiant"),
                Column("quota", "Quota de référence", "money"),
                Column("source", "Source"),
            ),
            tuple(rows),
            note="Un commercial simulé à x % d'atteinte est crédité de x % du quota de référence "
            "sur chaque mesure.",
        ),
        Table(
            "plans",
            "Plans simulés",
            (
                Column("plan", "Plan"),
                Column("period", "Période de paie"),
                Column("target", "Variable cible par période", "money"),
                Column("guardrail", "Garde-fou budgétaire"),
            ),
            target_rows,
        ),
    ]
    if simulation.changes:
        tables.append(
            Table(
                "changes",
                "Modifications simulées (--set)",
                (Column("path", "Chemin"), Column("before", "Avant"), Column("after", "Après")),
                tuple((c.path, c.before, c.after) for c in simulation.changes),
            )
        )
    paragraphs = [
        "Chaque montant est calculé par le moteur de paie de Koncept (mêmes paliers, courbes, "
        "seuils, accélérateurs et plafonds que les relevés), pour un commercial présent toute "
        "la période."
    ]
    return Section("Hypothèses", tuple(paragraphs), tuple(tables))


def _curves(simulation: Simulation) -> Section:
    from engine.report.document import Chart, Column, Section, Series, Table

    charts: list[Chart] = []
    for curve in simulation.curves:
        series = [
            Series(label, tuple((_pct(p.attainment), p.measures[i]) for p in curve.points))
            for i, (_, label) in enumerate(curve.measures)
        ]
        if len(curve.measures) > 1:
            series.append(
                Series("Total", tuple((_pct(p.attainment), p.total) for p in curve.points))
            )
        references = (("Variable cible", float(curve.target)),) if curve.target is not None else ()
        charts.append(
            Chart(
                f"curve_{_slug(curve.plan)}_{len(charts) + 1}",
                f"Courbe de paie – {_title_of(simulation, len(charts))}",
                "line",
                tuple(series),
                x_label="Atteinte de l'objectif (%)",
                y_label="Paie par période",
                y_format="money",
                reference_lines=references,
            )
        )
    if len(simulation.curves) > 1:
        charts.append(
            Chart(
                "curve_comparison",
                "Comparaison des plans : paie totale selon l'atteinte",
                "line",
                tuple(
                    Series(v.title, tuple((_pct(p.attainment), p.total) for p in c.points))
                    for v, c in zip(simulation.variants, simulation.curves, strict=True)
                ),
                x_label="Atteinte de l'objectif (%)",
                y_label="Paie par période",
                y_format="money",
            )
        )
    columns = [Column("attainment", "Atteinte", "percent")]
    for index, (variant, curve) in enumerate(
        zip(simulation.variants, simulation.curves, strict=True)
    ):
        if len(curve.measures) > 1:
            columns.extend(
                Column(f"p{index + 1}_{measure}", f"{variant.title} – {label}", "money")
                for measure, label in curve.measures
            )
        columns.append(Column(f"p{index + 1}_total", f"{variant.title} – total", "money"))

    def row(attainment: Decimal) -> tuple[object, ...]:
        cells: list[object] = [attainment]
        for curve in simulation.curves:
            point = curve.at(attainment)
            if len(curve.measures) > 1:
                cells.extend(point.measures)
            cells.append(point.total)
        return tuple(cells)

    grid = [p.attainment for p in simulation.curves[0].points]
    tables = (
        Table(
            "key_points",
            "Points clés",
            tuple(columns),
            tuple(row(a) for a in _key_attainments(simulation)),
        ),
        Table(
            "curve",
            f"Courbe complète (pas de {_percent_text(grid[1] - grid[0])})",
            tuple(columns),
            tuple(row(a) for a in grid),
        ),
    )
    paragraphs = (
        "Paie d'un commercial sur une période, de 0 % à 200 % d'atteinte de l'objectif, "
        "mesure par mesure et au total.",
    )
    return Section("Courbes de paie", paragraphs, tables, tuple(charts))


def _distribution(simulation: Simulation) -> Section:
    from engine.report.charts import bins
    from engine.report.document import Chart, Column, Section, Table

    distribution = simulation.distribution
    assert distribution is not None
    values = [float(a * 100) for a in distribution.attainments()]
    edges = [float(x) for x in range(0, 201, 10)] + [float("inf")]
    chart = Chart(
        "attainment_histogram",
        "Distribution des atteintes",
        "histogram",
        bins(values, edges) if values else (),
        x_label="Atteinte de l'objectif (%)",
        y_label="Commerciaux × périodes" if distribution.kind == "history" else "Poids",
    )
    weighted = [(s.attainment, s.weight) for s in distribution.samples if s.attainment is not None]
    whole = sum((w for _, w in weighted), _ZERO)
    mean = exact_div(sum((exact_mul(a, w) for a, w in weighted), _ZERO), whole) if whole else None
    rows = (
        (
            len(distribution.samples),
            mean,
            _percentile(weighted, Decimal("0.1")) if weighted else None,
            _percentile(weighted, Decimal("0.5")) if weighted else None,
            _percentile(weighted, Decimal("0.9")) if weighted else None,
        ),
    )
    table = Table(
        "distribution",
        "Atteintes",
        (
            Column("samples", "Échantillons", "int"),
            Column("mean", "Atteinte moyenne", "percent"),
            Column("p10", "P10", "percent"),
            Column("p50", "P50 (médiane)", "percent"),
            Column("p90", "P90", "percent"),
        ),
        rows,
    )
    return Section(
        "Distribution d'atteinte",
        (distribution.description[:1].upper() + distribution.description[1:] + ".",),
        (table,),
        (chart,) if values else (),
    )


def _costs(simulation: Simulation) -> Section:
    from engine.report.document import Chart, Column, Section, Series, Table

    rows = tuple(
        (
            variant.title,
            money(cost.expected),
            cost.p10,
            cost.p50,
            cost.p90,
            cost.headcount,
            money(cost.team_expected),
            None if cost.budget is None else money(exact_mul(cost.budget, cost.headcount)),
            cost.ratio,
            cost.budget_source or None,
            cost.guardrail,
            None if cost.ceiling is None else money(cost.ceiling),
            None if cost.over_guardrail is None else ("oui" if cost.over_guardrail else "non"),
        )
        for variant, cost in zip(simulation.variants, simulation.costs, strict=True)
    )
    table = Table(
        "costs",
        "Coût de chaque plan à cette distribution",
        (
            Column("plan", "Plan"),
            Column("expected", "Paie attendue par commercial et période", "money"),
            Column("p10", "P10", "money"),
            Column("p50", "P50", "money"),
            Column("p90", "P90", "money"),
            Column("headcount", "Commerciaux", "number"),
            Column("team_expected", "Coût attendu de l'équipe par période", "money"),
            Column("team_budget", "Budget de l'équipe par période", "money"),
            Column("ratio", "Coût / budget", "percent"),
            Column("budget_source", "Budget de référence"),
            Column("guardrail", "Garde-fou"),
            Column("ceiling", "Plafond du garde-fou par période", "money"),
            Column("over", "Au-dessus du garde-fou"),
        ),
        rows,
        note="P10, P50, P90 : paie d'un commercial sur une période telle que 10 %, 50 %, 90 % des "
        "cas paient au plus ce montant.",
    )
    budgets = [exact_mul(c.budget, c.headcount) for c in simulation.costs if c.budget is not None]
    references: list[tuple[str, float]] = []
    if budgets:
        references.append(("Budget", float(budgets[0])))
    ceilings = [c.ceiling for c in simulation.costs if c.ceiling is not None]
    if ceilings:
        references.append(("Garde-fou", float(ceilings[0])))
    chart = Chart(
        "cost_vs_budget",
        "Coût attendu de l'équipe par période, face au budget",
        "bar",
        (
            Series(
                "Coût attendu",
                tuple(
                    (v.title, money(c.team_expected))
                    for v, c in zip(simulation.variants, simulation.costs, strict=True)
                ),
            ),
        ),
        y_label="Par période",
        y_format="money",
        reference_lines=tuple(references),
    )
    paragraphs = tuple(
        _cost_sentence(v, c) for v, c in zip(simulation.variants, simulation.costs, strict=True)
    )
    return Section("Coût et budget", paragraphs, (table,), (chart,))


def _cost_sentence(variant: Variant, cost: Cost) -> str:
    from engine.report.document import show_cell

    expected = show_cell(money(cost.expected), "money")
    text = f"{variant.title} : paie attendue de {expected} par commercial et période"
    if cost.ratio is not None:
        text += f", soit {show_cell(cost.ratio, 'percent')} du budget ({cost.budget_source})"
    if cost.over_guardrail:
        text += f" ; au-dessus du garde-fou de {cost.guardrail}"
    return text + "."


def _title_of(simulation: Simulation, index: int) -> str:
    return simulation.variants[index].title


def _pct(attainment: Decimal) -> Decimal:
    """An attainment on a chart's x axis, in percent (80 for 80%)."""
    return (attainment * 100).normalize(EXACT)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text)


def load_at_revision(path: Path, revision: str) -> Program:
    """The ruleset at `path` as it was at a git revision (`engine.revisions`: `git archive` into
    a private folder; the working tree, index and HEAD are never touched). RevisionError when
    the revision cannot be read, RulesetError when the ruleset there does not check."""
    import tempfile

    from engine.loader import load_as
    from engine.revisions import RevisionError, archive, repository_root, resolve

    root = repository_root(path)
    folder = (path if path.is_dir() else path.parent).resolve()
    inside = folder.relative_to(root).as_posix() if folder != root else "."
    # The folder around the ruleset comes along: a template it extends (`extends "../house"`)
    # is read at the same revision.
    around = folder.parent.relative_to(root).as_posix() if folder != root else "."
    commit = resolve(root, revision)
    with tempfile.TemporaryDirectory(prefix="koncept-rev-") as place:
        archive(root, commit, around, Path(place))
        copy = Path(place) / inside
        if not copy.is_dir():
            raise RevisionError(f"{inside} is not a folder at {revision}")
        return load_as(copy, f"{folder.name}@{revision}")
