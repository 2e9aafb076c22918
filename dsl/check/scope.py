"""What an expression sees: the record in scope, its fields, linked records, the values the
engine provides there, and which functions apply. One scope per kind of place in a ruleset."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dsl import canonical
from dsl import nodes as n
from dsl.model import Model
from dsl.types import FieldType

#: Why derived values cannot be read where they are not known yet.
_FROM_EXITS = "it is computed from the exit criteria"
_NOT_IN_PAY = (
    "pay does not depend on the day it is computed: credit rules read the deal's own fields, "
    "gross_margin and margin_rate"
)
#: Derived deal values an exit criterion cannot read, and those a credit rule cannot read.
EXIT_UNAVAILABLE = {"exit_ready": _FROM_EXITS, "stale": _FROM_EXITS}
CREDIT_UNAVAILABLE = {
    name: _NOT_IN_PAY for name in ("days_in_stage", "stale", "exit_ready", "weighted_value")
}


@dataclass(frozen=True, slots=True)
class Scope:
    """What an expression sees: a record's fields, extras such as `score`, linked records
    (`territory.potential` from a rep), and which functions apply there."""

    record: str | None
    fields: Mapping[str, FieldType] = field(default_factory=dict)
    extras: Mapping[str, FieldType] = field(default_factory=dict)
    links: Mapping[str, Mapping[str, FieldType]] = field(default_factory=dict)
    #: KPI top level: only aggregates, literals and arithmetic; fields inside aggregates.
    aggregate: bool = False
    #: Stage ids for reached()/entered_at(), None where there is no stage history.
    stages: frozenset[str] | None = None
    #: Measure ids for attainment(), None where attainment is unknown.
    measures: frozenset[str] | None = None
    currency: str | None = None
    #: Fields of the record this place cannot read, with the reason.
    unavailable: Mapping[str, str] = field(default_factory=dict)
    #: Why attainment() is not available here (when `measures` is None on a rep).
    no_attainment: str | None = None
    #: The ruleset's named expressions (`define`): read by name where their record is in scope.
    expressions: Mapping[str, n.NamedExpression] = field(default_factory=dict)


def scope_for(
    model: Model,
    record: str | None,
    *,
    extras: Mapping[str, FieldType] | None = None,
    aggregate: bool = False,
    unavailable: Mapping[str, str] | None = None,
    no_attainment: str | None = None,
) -> Scope:
    """The scope of an expression on `record`; an unknown record sees everything as `any`."""
    if record not in canonical.TABLES:
        return Scope(None)
    fields = model.records.get(record, {})
    # A field named after another record holds that record's id: `territory.potential`.
    links = {
        name: model.records[name]
        for name in fields
        if name in canonical.LINKABLE and name != record
    }
    stages = frozenset(model.stages) if record == "deal" else None
    # Attainment is known per rep and period (credited value / quota).
    measures = frozenset(model.measures) if record == "rep" and no_attainment is None else None
    return Scope(
        record, fields, dict(extras or {}), links, aggregate, stages, measures, model.currency,
        dict(unavailable or {}), no_attainment, model.expressions,
    )  # fmt: skip
