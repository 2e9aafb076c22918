"""Why a lead has its score and status, why a deal stands where it does: plain French text.

Built from the ruleset's own labels ("Budget", "Besoin identifié", "Démonstration") and the
record's values, with the rule that decided each point:

    Lead L-001 : SQL (74 > 70).
      Score BMANTER : 74 / 100
      Budget : 20 (Confirmé)
      Market : 15 (sector = Industrie ; sector dans [industrie, services])
      Non décidé : Timing (timing_months manquant)

The numbers come from the per-record reference path (`Program.evaluate_lead`,
`Program.evaluate_deal`); this module only finds, for each of them, the rule and the values
behind it. A deal without `stage_entered_at` takes the date of its latest stage event at its
current stage, as `koncept eval` does, so both report the same days in stage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dsl.types import FieldType
from engine.cells import coercer
from engine.ir import (
    AS_OF,
    AggregateIR,
    Arith,
    Attainment,
    Between,
    Compare,
    Compiled,
    Const,
    CriterionIR,
    EnteredAt,
    FieldRef,
    Func,
    IsMissing,
    Logic,
    Member,
    Neg,
    Node,
    Not,
    Reached,
    ScoreIR,
    StageIR,
    ToFloat,
)
from engine.money import format_french
from engine.record import DERIVED, ScoreRunner, compile_node
from engine.results import DealResult, LeadResult, ScoreValue, Trace

if TYPE_CHECKING:
    from engine.program import Program

__all__ = ["explain_deal", "explain_lead"]

_OPS = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤", "<": "<", ">": ">"}
_NEGATED = {"==": "≠", "!=": "=", ">=": "<", "<=": ">", "<": "≥", ">": "≤"}
_STATUS = {"open": "en cours", "won": "gagné", "lost": "perdu"}
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
_MET, _UNMET, _LATER = "✓", "✗", "·"

Row = dict[str, Any]


def explain_lead(program: Program, record: Mapping[str, object]) -> str:
    """The explanation of one lead (a dict of field -> value, as read from a table).

    Raises `engine.RecordError` when a field cannot be read (as `evaluate_lead` does).
    """
    result, trace = program.trace_lead(record)
    return _Explainer(program).lead(record, result, trace)


def explain_deal(
    program: Program,
    record: Mapping[str, object],
    as_of: dt.date,
    events: Iterable[Mapping[str, object]] = (),
) -> str:
    """The explanation of one deal as of a date; `events` are its stage events, if known.

    Raises `engine.RecordError` when a field cannot be read (as `evaluate_deal` does).
    """
    record = _with_entry_date(record, events)
    result, trace = program.trace_deal(record, as_of)
    return _Explainer(program).deal(record, result, trace, as_of)


def _with_entry_date(
    record: Mapping[str, object], events: Iterable[Mapping[str, object]]
) -> Mapping[str, object]:
    """The record, with a missing `stage_entered_at` taken from its latest event at its stage."""
    read_date = coercer(FieldType("date"))
    read_text = coercer(FieldType("text"))
    if read_date(record.get("stage_entered_at")) is not None:
        return record
    stage = read_text(record.get("stage"))
    days: list[dt.date] = []
    for event in events:
        try:
            day = read_date(event.get("entered_at"))
        except ValueError:
            continue  # an invalid event is left out by validation too
        if day is not None and read_text(event.get("stage")) == stage:
            days.append(day)
    if not days:
        return record
    return {**record, "stage_entered_at": max(days)}


class _Explainer:
    """Text for the records of one program."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.compiled: Compiled = program.compiled
        self.stages: Mapping[str, StageIR] = self.compiled.stages
        self.currency = _SYMBOLS.get(self.compiled.currency, self.compiled.currency)

    # ------------------------------------------------------------------ records
    def lead(self, record: Mapping[str, object], result: LeadResult, trace: Trace) -> str:
        row = self._row("lead", record)
        lines: list[str] = []
        score = self.compiled.scores[trace.score] if trace.score is not None else None
        name = result.id or "(sans id)"
        if score is None:
            lines.append(f"Lead {name} : aucun score ne s'applique.")
            return _text(lines)
        others = self._scores(row, result.scores)
        why = self._status_why(score, result.status, result.score, row, others)
        status = result.status or "aucun statut"
        lines.append(f"Lead {name} : {status}" + (f" ({why})." if why else "."))
        lines.append(f"  Score {score.label or score.name} : {self._total(score, result.score)}")
        routes = self.compiled.routes["lead"]
        if len(routes) > 1 or (routes and routes[0].condition is not None):
            route = self._route_text(routes, trace, row, "lead")
            lines.append(f"  Score choisi : {score.label or score.name} ({route})")
        lines.extend(self._criteria(score, row, result.points, result.missing, trace, "lead", "  "))
        lines.extend(self._other_scores("lead", score.name, row, result.scores, trace))
        lines.extend(self._alerts(result.alerts, "  "))
        return _text(lines)

    def deal(
        self, record: Mapping[str, object], result: DealResult, trace: Trace, as_of: dt.date
    ) -> str:
        row = self._row("deal", record, as_of)
        row["exit_ready"], row["stale"] = result.exit_ready, result.stale
        row["weighted_value"] = result.weighted_value
        stage = self.stages.get(result.stage or "")
        name = result.id or "(sans id)"
        status = _STATUS.get(str(row.get("status")), str(row.get("status")))
        amount = row.get("amount")
        money = f", {self._money(amount)}" if amount is not None else ""
        lines: list[str] = []
        if stage is None:
            shown = self._show(result.stage, "stage", "deal")
            lines.append(f"Deal {name} ({status}{money}) : pas d'étape connue (stage = {shown}).")
        else:
            pipeline = self.compiled.pipelines[stage.pipeline]
            lines.append(
                f"Deal {name} ({status}{money}) : étape {stage.label or stage.name} ({stage.name})"
                f" du pipeline « {pipeline.label or pipeline.name} »."
            )
            lines.extend(self._exits(stage, result, row))
            lines.extend(self._skipped(result.skipped, row))
            lines.append(self._days(stage, result, row))
            lines.append(self._weighted(stage, result, amount))
        lines.extend(self._qualification(result, trace, row))
        lines.extend(self._playbook(result, trace, row))
        lines.extend(self._alerts(result.alerts, "  "))
        return _text(lines)

    def _row(self, record: str, values: Mapping[str, object], as_of: dt.date | None = None) -> Row:
        """The record's values as the reference path reads them (validated input)."""
        row: Row = {}
        for name, kind in self.compiled.reads.get(record, {}).items():
            if name in DERIVED:
                continue
            try:
                row[name] = coercer(kind)(values.get(name))
            except ValueError:
                row[name] = None  # evaluate_* has already refused an unreadable record
        if record == "deal" and as_of is not None:
            row[AS_OF] = as_of
            for name, node in self.compiled.derived.items():
                row[name] = compile_node(node, self.stages)(row)
        return row

    # ------------------------------------------------------------------ scores
    def _total(self, score: ScoreIR, total: ScoreValue | None) -> str:
        declared = self.program.model.scores.get(score.name)
        top = declared.max.value if declared is not None and declared.max is not None else None
        shown = _number(total)
        return f"{shown} / {_number(top)}" if top is not None else shown

    def _scores(self, row: Row, totals: Mapping[str, ScoreValue]) -> dict[str, str]:
        """How a status shows what it reads of the record's scores: `FIT 40` for `fit.score`,
        `Taille (FIT) 30` for the points of `fit.size`."""
        shown: dict[str, str] = {}
        for name in totals:
            score = self.compiled.scores[name]
            label = score.label or score.name
            shown[f"{name}.score"] = f"{label} {_number(totals[name])}"
            _, points, _ = ScoreRunner(score, self.stages).points(dict(row))
            for criterion in score.criteria:
                value = _number(points.get(criterion.name, 0))
                shown[f"{name}.{criterion.name}"] = (
                    f"{criterion.label or criterion.name} ({label}) {value}"
                )
        return shown

    def _other_scores(
        self,
        record: str,
        chosen: str | None,
        row: Row,
        totals: Mapping[str, ScoreValue],
        trace: Trace,
    ) -> Iterator[str]:
        """Every other score of the record: with its criteria when an expression reads it (a
        status reading `fit.score`), else its total on one line."""
        read = self.compiled.computed.get(record, {})
        brief: list[str] = []
        for name, total in totals.items():
            if name == chosen:
                continue
            score = self.compiled.scores[name]
            if not any(key.startswith(f"{name}.") for key in read):
                brief.append(f"{score.label or score.name} {self._total(score, total)}")
                continue
            yield f"  Score {score.label or score.name} : {self._total(score, total)}"
            _, points, missing = ScoreRunner(score, self.stages).points(dict(row))
            cases = Trace(cases=trace.scores.get(name, {}))
            yield from self._criteria(score, row, points, missing, cases, record, "    ")
        if brief:
            yield f"  Autres scores : {', '.join(brief)}"

    def _status_why(
        self,
        score: ScoreIR,
        status: str | None,
        total: ScoreValue | None,
        row: Row,
        others: Mapping[str, str] | None = None,
    ) -> str:
        """Why the status: `74 > 70`, `60 ≤ 70` (otherwise), `élimination : budget = blocking`;
        the other scores it reads by label and total (`FIT 40 ≥ 30`)."""
        values = {**(others or {}), "score": _number(total)}
        if status is None:
            return "aucune règle de statut ne s'applique"
        rule = next((s for s in score.statuses if s.name == status), None)
        if rule is None:
            return ""
        if rule.condition is None:
            # `otherwise`: every earlier ordinary rule was not met.
            position = score.statuses.index(rule)
            before = [
                s for s in score.statuses[:position] if not s.knockout and s.condition is not None
            ]
            return " et ".join(self._negated(s.condition, values) for s in before)
        shown = self._render(rule.condition, values)
        return f"élimination : {shown}" if rule.knockout else shown

    def _negated(self, condition: Node | None, values: Mapping[str, str]) -> str:
        if isinstance(condition, Compare):
            left = self._render(condition.left, values)
            right = self._render(condition.right, values)
            return f"{left} {_NEGATED[condition.op]} {right}"
        return f"non ({self._render(condition, values)})"

    def _criteria(
        self,
        score: ScoreIR,
        row: Row,
        points: Mapping[str, ScoreValue],
        missing: Sequence[str],
        trace: Trace,
        record: str,
        indent: str,
    ) -> Iterator[str]:
        for criterion in score.criteria:
            if criterion.name in missing:
                continue
            label = criterion.label or criterion.name
            why = self._criterion_why(criterion, trace.cases.get(criterion.name), row, record)
            yield f"{indent}{label} : {_number(points.get(criterion.name, 0))} ({why})"
        for criterion in score.criteria:
            if criterion.name not in missing:
                continue
            label = criterion.label or criterion.name
            absent = [f for f in _criterion_fields(criterion) if row.get(f) is None]
            why = ", ".join(f"{f} manquant" for f in absent) or "valeur inconnue"
            yield f"{indent}Non décidé : {label} ({why})"

    def _criterion_why(
        self, criterion: CriterionIR, case: int | None, row: Row, record: str
    ) -> str:
        """Why the criterion scored what it did: the case the evaluator matched (its trace)."""
        if criterion.field is not None:
            name = criterion.field.name
            return f"{name} = {self._show(row.get(name), name, record)}"
        matched = criterion.cases[case] if case is not None and case >= 0 else None
        if criterion.table_field is not None:
            name = criterion.table_field
            shown = self._show(row.get(name), name, record)
            if matched is None:
                return f"{shown}, aucune règle ne s'applique"
            return shown if matched.value is not None else f"{shown}, autre valeur"
        if matched is None:
            shown = self._values(_criterion_fields(criterion), row, record)
            return f"{shown} ; aucune règle ne s'applique"
        if matched.condition is None:
            return f"{self._values(_criterion_fields(criterion), row, record)} ; sinon"
        values = self._values(list(_fields(matched.condition)), row, record)
        if isinstance(matched.condition, FieldRef):
            return values  # `when need_identified`: the value says it all
        return f"{values} ; {self._render(matched.condition)}"

    # ------------------------------------------------------------------ deals
    def _exits(self, stage: StageIR, result: DealResult, row: Row) -> Iterator[str]:
        if not stage.exits:
            yield "  Critères de sortie : aucun, l'étape peut être quittée."
            return
        results = [(e, e.name not in result.missing) for e in stage.exits]
        met = sum(1 for _, holds in results if holds)
        ready = "prêt à passer à l'étape suivante" if met == len(results) else "pas prêt à sortir"
        yield f"  Critères de sortie : {met}/{len(results)} remplis, {ready}."
        for exit_, holds in results:
            label = exit_.label or exit_.name
            if holds:
                yield f"    {_MET} {label}"
            else:
                yield f"    {_UNMET} {label} ({self._why_not(exit_.condition, row, 'deal')})"

    def _skipped(self, skipped: Sequence[str], row: Row) -> Iterator[str]:
        if not skipped:
            return
        yield "  Étapes précédentes passées sans leurs critères :"
        for name in skipped:
            stage = self.stages[name]
            unmet = [
                e.label or e.name for e in stage.exits if self._holds(e.condition, row) is not True
            ]
            yield f"    {stage.label or stage.name} : {', '.join(unmet)}"

    def _days(self, stage: StageIR, result: DealResult, row: Row) -> str:
        days = result.days_in_stage
        if days is None:
            return "  Jours dans l'étape : inconnus (stage_entered_at manquant)"
        shown = f"  Jours dans l'étape : {days}"
        if stage.max_days is None:
            return f"{shown} (pas de durée maximale pour cette étape)"
        limit = f"{shown} (max {stage.max_days})"
        if row.get("status") != "open":
            return f"{limit} : deal clos, jamais en retard"
        if result.stale:
            late = days - stage.max_days
            return f"{limit} : en retard de {late} jour{'s' if late > 1 else ''}"
        return f"{limit} : dans les délais"

    def _weighted(self, stage: StageIR, result: DealResult, amount: Any) -> str:
        if result.weighted_value is None:
            if amount is None:
                return "  Valeur pondérée : inconnue (amount manquant)"
            return "  Valeur pondérée : inconnue (pas de probabilité pour cette étape)"
        probability = _percent(stage.probability) if stage.probability is not None else "?"
        return (
            f"  Valeur pondérée : {self._money(result.weighted_value)} "
            f"({self._money(amount)} × {probability})"
        )

    def _qualification(self, result: DealResult, trace: Trace, row: Row) -> Iterator[str]:
        routes = self.compiled.routes["deal"]
        if not routes:
            return
        if result.framework is None:
            unknown = [
                r
                for r in routes
                if r.condition is not None and self._holds(r.condition, row) is None
            ]
            why = (
                self._why_not(unknown[0].condition, row, "deal")
                if unknown and unknown[0].condition is not None
                else "aucune règle ne s'applique"
            )
            yield f"  Qualification : aucun cadre choisi ({why})"
            return
        score = self.compiled.scores[result.framework]
        route = self._route_text(routes, trace, row, "deal")
        status = self._status_label(score, result.qualification_status)
        others = self._scores(row, result.scores)
        why = self._status_why(
            score, result.qualification_status, result.qualification_score, row, others
        )
        yield (
            f"  Qualification : {score.label or score.name} ({route}) : "
            f"{self._total(score, result.qualification_score)}, {status}"
            + (f" ({why})" if why else "")
        )
        runner = ScoreRunner(score, self.stages)
        _, points, missing = runner.points(dict(row))
        yield from self._criteria(score, row, points, missing, trace, "deal", "    ")
        yield from self._other_scores("deal", score.name, row, result.scores, trace)

    def _status_label(self, score: ScoreIR, status: str | None) -> str:
        if status is None:
            return "sans statut"
        rule = next((s for s in score.statuses if s.name == status), None)
        return rule.label if rule is not None and rule.label else status

    def _route_text(self, routes: Sequence[Any], trace: Trace, row: Row, record: str) -> str:
        """The qualification route the evaluator took (its trace), in words."""
        if trace.route is None:
            return trace.score or ""
        route = routes[trace.route]
        if route.condition is None:
            return "sinon"
        return self._rule_and_values(route.condition, row, record)

    def _playbook(self, result: DealResult, trace: Trace, row: Row) -> Iterator[str]:
        if not self.compiled.playbooks:
            return
        if result.playbook_conflict:
            names = ", ".join(result.playbook_conflict)
            yield f"  Playbook : aucun, plusieurs s'appliquent ({names})"
            return
        playbook = next((p for p in self.compiled.playbooks if p.name == result.playbook), None)
        if playbook is None:
            yield "  Playbook : aucun ne s'applique"
            return
        why = ""
        if playbook.condition is not None:
            why = f" ({self._rule_and_values(playbook.condition, row, 'deal')})"
        yield f"  Playbook : {playbook.label or playbook.name}{why}"
        for item in playbook.requirements:
            label = item.label or item.name
            # The evaluator's trace holds the items that were due, met or not.
            holds = trace.items.get(item.name)
            if item.kind != "require":
                done = {True: "fait", False: "pas fait", None: "inconnu"}[holds]
                yield f"    Recommandé : {label} ({done})"
                continue
            before = self.stages.get(item.before) if item.before else None
            when = f"requis avant {before.label or before.name}" if before else "toujours requis"
            if holds is None:
                yield f"    {_LATER} {label} ({when}, pas encore dû)"
            elif holds:
                yield f"    {_MET} {label}"
            else:
                why = self._why_not(item.condition, row, "deal")
                yield f"    {_UNMET} {label} ({when} ; {why})"

    def _alerts(self, names: Sequence[str], indent: str) -> Iterator[str]:
        if not names:
            return
        declared = {a.name: a for a in self.compiled.alerts}
        shown = []
        for name in names:
            alert = declared.get(name)
            label = alert.label if alert is not None and alert.label else name
            severity = f" ({alert.severity})" if alert is not None else ""
            shown.append(f"{label}{severity}")
        yield f"{indent}Alertes : {' ; '.join(shown)}"

    # ------------------------------------------------------------------ conditions
    def _holds(self, node: Node, row: Row) -> bool | None:
        value = compile_node(node, self.stages)(row)
        return None if value is None else bool(value)

    def _rule_and_values(self, node: Node, row: Row, record: str) -> str:
        """`amount < 50 000 ; amount = 42 000,00 €` (the values once when they say the same)."""
        rule = self._render(node)
        values = self._values(list(_fields(node)), row, record)
        return rule if values == rule else f"{rule} ; {values}"

    def _why_not(self, node: Node, row: Row, record: str) -> str:
        """Why a condition is not met: its missing fields, or the values that make it false."""
        fields = list(_fields(node))
        absent = [f for f in fields if row.get(f) is None]
        if absent and self._holds(node, row) is None:
            return ", ".join(f"{f} manquant" for f in absent)
        return self._values(fields, row, record) or self._render(node)

    def _values(self, fields: Sequence[str], row: Row, record: str) -> str:
        return ", ".join(f"{f} = {self._show(row.get(f), f, record)}" for f in fields)

    def _show(self, value: Any, field: str, record: str) -> str:
        """One value in words: labels for options, French numbers, oui/non."""
        kind = self.compiled.records.get(record, {}).get(field)
        if value is None:
            return "manquant"
        if isinstance(value, bool):
            return "oui" if value else "non"
        if isinstance(value, str):
            labels = dict(kind.labels) if kind is not None else {}
            return labels.get(value, value)
        if isinstance(value, dt.date):
            return value.strftime("%d/%m/%Y")
        if kind is not None and kind.kind == "money" and isinstance(value, Decimal):
            return self._money(value)
        if kind is not None and kind.kind == "percent" and isinstance(value, float):
            return f"{_number(value * 100)} %"
        return _number(value)

    def _money(self, value: Any) -> str:
        if not isinstance(value, Decimal):
            return _number(value)
        cents = value.quantize(Decimal("0.01"))
        return f"{format_french(cents)} {self.currency}"

    def _render(self, node: Node | None, values: Mapping[str, str] | None = None) -> str:
        """A condition or value as the ruleset writes it, in French words."""
        values = values or {}
        if node is None:
            return "sinon"
        if isinstance(node, FieldRef):
            return values.get(node.name, node.name)
        if isinstance(node, Const):
            return _constant(node)
        if isinstance(node, ToFloat):
            return self._render(node.operand, values)
        if isinstance(node, Compare):
            left, right = self._render(node.left, values), self._render(node.right, values)
            return f"{left} {_OPS[node.op]} {right}"
        if isinstance(node, Member):
            items = ", ".join(_constant(item) for item in node.items)
            word = "hors de" if node.negated else "dans"
            return f"{self._render(node.value, values)} {word} [{items}]"
        if isinstance(node, Between):
            shown = f"{_constant(node.low)} et {_constant(node.high)}"
            word = "pas entre" if node.negated else "entre"
            return f"{self._render(node.value, values)} {word} {shown}"
        if isinstance(node, Logic):
            word = "et" if node.op == "and" else "ou"
            parts = [self._nested(side, node.op, values) for side in (node.left, node.right)]
            return f" {word} ".join(parts)
        if isinstance(node, Not):
            return f"non ({self._render(node.operand, values)})"
        if isinstance(node, IsMissing):
            word = "renseigné" if node.negated else "manquant"
            return f"{self._render(node.operand, values)} {word}"
        if isinstance(node, Arith):
            op = "-" if node.op == "days" else node.op
            left, right = self._render(node.left, values), self._render(node.right, values)
            return f"{left} {op} {right}"
        if isinstance(node, Neg):
            return f"-{self._render(node.operand, values)}"
        if isinstance(node, Reached):
            stages = self.compiled.pipelines[node.pipeline].stages
            return f"étape {stages[node.index].name} atteinte"
        if isinstance(node, EnteredAt):
            return f"entrée en {node.stage}"
        if isinstance(node, Attainment):
            return f"atteinte({node.measure})"
        if isinstance(node, Func):
            return f"{node.name}({', '.join(self._render(a, values) for a in node.args)})"
        assert isinstance(node, AggregateIR)
        return f"{node.function}(…)"

    def _nested(self, node: Node, op: str, values: Mapping[str, str]) -> str:
        text = self._render(node, values)
        return f"({text})" if isinstance(node, Logic) and node.op != op else text


def _criterion_fields(criterion: CriterionIR) -> list[str]:
    if criterion.field is not None:
        return [criterion.field.name]
    if criterion.table_field is not None:
        return [criterion.table_field]
    seen: dict[str, None] = {}
    for case in criterion.cases:
        if case.condition is not None:
            seen.update(dict.fromkeys(_fields(case.condition)))
    return list(seen)


def _fields(node: Node) -> Iterator[str]:
    """Field names a node reads, in order, each once (not `score` nor the as-of date)."""
    seen: set[str] = set()
    for name in _walk(node):
        if name not in seen and name not in ("score", AS_OF):
            seen.add(name)
            yield name


def _walk(node: Node) -> Iterator[str]:
    if isinstance(node, FieldRef):
        yield node.name
    elif isinstance(node, ToFloat | Not | IsMissing | Neg):
        yield from _walk(node.operand)
    elif isinstance(node, Compare | Logic | Arith):
        yield from _walk(node.left)
        yield from _walk(node.right)
    elif isinstance(node, Member | Between):
        yield from _walk(node.value)
    elif isinstance(node, Func):
        for arg in node.args:
            yield from _walk(arg)
    elif isinstance(node, EnteredAt | Reached):
        yield "stage"


def _constant(const: Const) -> str:
    value = const.value
    if isinstance(value, bool):
        return "vrai" if value else "faux"
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, str):
        return value if value.replace("_", "").isalnum() else f'"{value}"'
    return _number(value)


def _number(value: Any) -> str:
    """A number the French way: 50 000, 2,5."""
    if value is None:
        return "—"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return format_french(Decimal(int(value)))
        return format_french(Decimal(repr(value)))
    if isinstance(value, int):
        return format_french(Decimal(value))
    if isinstance(value, Decimal):
        whole = value == value.to_integral_value()
        return format_french(value.quantize(Decimal(1)) if whole else value.normalize())
    return str(value)


def _percent(value: Decimal) -> str:
    return f"{_number((value * 100).normalize())} %"


def _text(lines: Sequence[str]) -> str:
    return "\n".join(line.rstrip() for line in lines) + "\n"
