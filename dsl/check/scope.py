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
#: The deal values that change with the day an evaluation is run on: a computed result that
#: depends on one of them is not readable in a credit (`dsl.check.days`).
DAY_DEPENDENT = ("days_in_stage", "stale", "exit_ready")

#: Which computed results (`dsl.check.scope.computed_fields`) a place may read, and why not.
ALL, SCORES, NONE = "all", "scores", "none"
_IN_CRITERIA = (
    "a criterion scores the record's own fields; a status reads the scores "
    "(`fit.score >= 30 and behavior.score >= 50`)"
)
_IN_STATUS = "it is decided by the statuses; a status reads the scores (`fit.score`)"
_IN_ROUTE = "the route picks the score that qualifies the record: it reads the record's fields"
_IN_EXITS = (
    "scores and playbooks are computed after the exit criteria (they may read exit_ready and stale)"
)
_IN_PLAYBOOK = "it is what the playbooks decide"
_IN_STRATEGY = "the strategy reads the deals' own fields"
#: Per kind of place: which computed results it reads and why it reads no others.
READS = {
    "criterion": (NONE, _IN_CRITERIA),
    "status": (SCORES, _IN_STATUS),
    "route": (NONE, _IN_ROUTE),
    "exit": (NONE, _IN_EXITS),
    "playbook": (ALL, _IN_PLAYBOOK),
    # Each result that depends on the day is refused by name (`day_dependent` in `unavailable`).
    "credit": (ALL, ""),
    "strategy": (NONE, _IN_STRATEGY),
}


def computed_fields(model: Model, record: str) -> dict[str, FieldType]:
    """The results the engine computes on each lead or deal, by the name expressions read them:
    on a lead with a score `score` and `status`, on a deal `framework`, `qualification_score`
    and `qualification_status` (from the qualifying score) and `playbook`; on both, each score's
    total `<score>.score` and each criterion's points `<score>.<criterion>`."""
    scores = [s for s in model.scores.values() if s.subject.name == record]
    found: dict[str, FieldType] = {}
    if record not in ("lead", "deal"):
        return found
    if scores:
        statuses: dict[str, str | None] = {}
        for score in scores:
            for rule in score.statuses:
                statuses.setdefault(rule.name.name, rule.label)
        labels = tuple((name, label) for name, label in statuses.items() if label is not None)
        status = FieldType("one_of", tuple(statuses), labels=labels)
        if record == "lead":
            found.update(score=FieldType("number"), status=status)
        else:
            names = tuple(s.name.name for s in scores)
            framework = FieldType(
                "one_of", names, labels=tuple((s.name.name, s.label) for s in scores if s.label)
            )
            found.update(
                framework=framework,
                qualification_score=FieldType("number"),
                qualification_status=status,
            )
    if record == "deal" and model.playbooks:
        books = model.playbooks.values()
        found["playbook"] = FieldType(
            "one_of",
            tuple(p.name.name for p in books),
            labels=tuple((p.name.name, p.label) for p in books if p.label),
        )
    for score in scores:
        found[f"{score.name.name}.score"] = FieldType("number")
        for criterion in score.criteria:
            found.setdefault(f"{score.name.name}.{criterion.name.name}", FieldType("number"))
    return found


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
    #: The computed results this place reads (`status`, `fit.score`...); the others of the
    #: record are in `unavailable`, with the reason.
    computed: Mapping[str, FieldType] = field(default_factory=dict)
    #: Every score of the ruleset, with its record (`fit.score` on a deal is another record's).
    scores: Mapping[str, str] = field(default_factory=dict)


def scope_for(
    model: Model,
    record: str | None,
    *,
    extras: Mapping[str, FieldType] | None = None,
    aggregate: bool = False,
    unavailable: Mapping[str, str] | None = None,
    no_attainment: str | None = None,
    place: str | None = None,
) -> Scope:
    """The scope of an expression on `record`; an unknown record sees everything as `any`.

    `place` (a key of `READS`) limits the computed results it reads; None reads them all."""
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
    computed = computed_fields(model, record)
    refused = dict(unavailable or {})
    reads, why = READS.get(place or "", (ALL, ""))
    for name in list(computed):
        dotted = "." in name
        if reads == NONE or (reads == SCORES and not dotted) or (place == name == "playbook"):
            refused.setdefault(name, why)
            del computed[name]
        elif name in refused:  # refused by name at this place (a credit: it changes with the day)
            del computed[name]
    scores = {name: score.subject.name for name, score in model.scores.items()}
    return Scope(
        record, fields, dict(extras or {}), links, aggregate, stages, measures, model.currency,
        refused, no_attainment, model.expressions, computed, scores,
    )  # fmt: skip
