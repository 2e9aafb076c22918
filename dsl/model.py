"""The symbol tables of a ruleset: every declaration by name, and each record's effective fields.

Built from the parsed modules before checking; the checker reports what is wrong with it and the
engine compiles from it. The first declaration of a name wins (duplicates are the checker's to
report).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from dsl import canonical
from dsl import nodes as n
from dsl.types import FieldType


@dataclass(slots=True)
class Model:
    """Every declaration of a ruleset by name, in declaration order."""

    ruleset: n.Ruleset | None = None
    records: dict[str, dict[str, FieldType]] = field(default_factory=dict)
    #: Every `record` block of a record, in order (a record may be declared in several).
    declared_records: dict[str, list[n.Record]] = field(default_factory=dict)
    strategies: list[n.Strategy] = field(default_factory=list)
    scores: dict[str, n.Score] = field(default_factory=dict)
    qualifications: dict[str, n.Qualify] = field(default_factory=dict)
    pipelines: dict[str, n.Pipeline] = field(default_factory=dict)
    playbooks: dict[str, n.Playbook] = field(default_factory=dict)
    kpis: dict[str, n.Kpi] = field(default_factory=dict)
    roles: dict[str, n.Role] = field(default_factory=dict)
    plans: dict[str, n.Plan] = field(default_factory=dict)
    alerts: dict[str, n.Alert] = field(default_factory=dict)
    rituals: dict[str, n.Ritual] = field(default_factory=dict)
    #: Named rate tables, step tables and curves (`curve standard { ... }`), one namespace.
    definitions: dict[str, n.Definition] = field(default_factory=dict)
    #: Named expressions (`define large_deal on deal = ...`), read by name in expressions.
    expressions: dict[str, n.NamedExpression] = field(default_factory=dict)
    #: The definitions some measure uses (the others are reported unused).
    used_definitions: set[str] = field(default_factory=set)
    #: The files that come from templates this ruleset extends.
    inherited_paths: frozenset[str] = frozenset()

    @property
    def stages(self) -> dict[str, tuple[n.Pipeline, n.Stage]]:
        """Every stage id with its pipeline, in pipeline order."""
        return {
            stage.name.name: (pipeline, stage)
            for pipeline in self.pipelines.values()
            for stage in pipeline.stages
        }

    @property
    def measures(self) -> dict[str, tuple[n.Plan, n.Measure]]:
        """Every measure id with its plan (the first plan declaring it wins)."""
        found: dict[str, tuple[n.Plan, n.Measure]] = {}
        for plan in self.plans.values():
            for measure in plan.measures:
                found.setdefault(measure.name.name, (plan, measure))
        return found

    @property
    def currency(self) -> str:
        """The ruleset's currency (EUR unless declared)."""
        if self.ruleset and self.ruleset.currency:
            return self.ruleset.currency.name
        return "EUR"

    @property
    def rounding(self) -> tuple[str, Decimal]:
        """The rounding mode and step for money (half_up to 0.01 unless declared)."""
        if self.ruleset and self.ruleset.rounding:
            return self.ruleset.rounding.mode.name, self.ruleset.rounding.step.value
        return "half_up", Decimal("0.01")


def type_of(spec: n.TypeSpec) -> FieldType:
    """The FieldType a record declaration gives a field."""
    if spec.name == "one_of":
        labels = tuple((o.name.name, o.label) for o in spec.options if o.label is not None)
        return FieldType("one_of", tuple(o.name.name for o in spec.options), labels=labels)
    bounds = (spec.range.low.value, spec.range.high.value) if spec.range else None
    return FieldType(spec.name, range=bounds)


def _column_type(column: canonical.Column) -> FieldType:
    return FieldType(column.type, column.options)


def build_model(modules: Iterable[n.Module]) -> Model:
    """Index every declaration of the modules; records start from the canonical tables."""
    model = Model()
    for table, columns in canonical.TABLES.items():
        fields = {c.name: _column_type(c) for c in columns}
        fields.update({c.name: _column_type(c) for c in canonical.DERIVED.get(table, ())})
        model.records[table] = fields
    tables: dict[type, dict[str, Any]] = {
        n.Score: model.scores,
        n.Pipeline: model.pipelines,
        n.Playbook: model.playbooks,
        n.Kpi: model.kpis,
        n.Role: model.roles,
        n.Plan: model.plans,
        n.Alert: model.alerts,
        n.Ritual: model.rituals,
        n.Definition: model.definitions,
        n.NamedExpression: model.expressions,
    }
    for module in modules:
        for declaration in module.declarations:
            if isinstance(declaration, n.Ruleset):
                model.ruleset = model.ruleset or declaration
            elif isinstance(declaration, n.Strategy):
                model.strategies.append(declaration)
            elif isinstance(declaration, n.Qualify):
                model.qualifications.setdefault(declaration.subject.name, declaration)
            elif isinstance(declaration, n.Record):
                model.declared_records.setdefault(declaration.name.name, []).append(declaration)
                fields = model.records.setdefault(declaration.name.name, {})
                for item in declaration.fields:
                    fields[item.name.name] = type_of(item.type)
            elif not isinstance(declaration, n.Override):  # resolved before: dsl.templates
                named: dict[str, Any] = tables[type(declaration)]
                named.setdefault(declaration.name.name, declaration)
    return model


def resolve_uses(modules: Sequence[n.Module]) -> tuple[list[n.Module], set[str]]:
    """The modules with each `curve standard` in a measure replaced by the named definition's
    body, and the names used.

    Every later stage (checker passes, compiler, pay, coverage) then sees the measure as if the
    table were written in it: one meaning, decided here. The replaced body keeps the use's span
    (a finding about the measure points at `curve standard`) while its bands and points keep
    theirs (a finding about a point points at the definition). A use naming no definition of its
    kind stays a `Use`, for the names pass to report.
    """
    definitions: dict[str, n.Definition] = {}
    for module in modules:
        for declaration in module.declarations:
            if isinstance(declaration, n.Definition):
                definitions.setdefault(declaration.name.name, declaration)
    used: set[str] = set()

    def item(entry: n.MeasureItem) -> n.MeasureItem:
        if not isinstance(entry, n.Use):
            return entry
        definition = definitions.get(entry.name.name)
        if definition is None or definition.kind != entry.kind:
            return entry
        used.add(entry.name.name)
        return replace(definition.body, span=entry.span)

    def plan_item(entry: n.PlanItem) -> n.PlanItem:
        if not isinstance(entry, n.Measure) or not any(isinstance(i, n.Use) for i in entry.items):
            return entry
        return replace(entry, items=tuple(item(i) for i in entry.items))

    resolved: list[n.Module] = []
    for module in modules:
        declarations = tuple(
            replace(d, items=tuple(plan_item(i) for i in d.items)) if isinstance(d, n.Plan) else d
            for d in module.declarations
        )
        resolved.append(replace(module, declarations=declarations))
    return resolved, used
