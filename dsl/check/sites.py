"""Every expression of a ruleset, typed once in the scope of the place it stands in.

A place may expect more than a well-typed expression: a condition, a number for a KPI, a text
field for `to`, a date for `dated`. Those expectations are checked here too. The typed trees are
kept by syntax node (`dsl.typed.TypedModel`) for the compiler; the findings are split by kind for
the names and types passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dsl import canonical
from dsl import nodes as n
from dsl import typed as t
from dsl.check.days import day_dependent
from dsl.check.scope import (
    CREDIT_UNAVAILABLE,
    EXIT_UNAVAILABLE,
    Scope,
    computed_fields,
    scope_for,
)
from dsl.check.typer import Typer, not_available, unknown, unknown_field, unknown_value
from dsl.diagnostics import Diagnostic
from dsl.model import Model
from dsl.source import Span
from dsl.types import ANY, FieldType, comparable, describe

_NO_ATTAINMENT_IN_QUOTA = (
    "attainment is computed from the quota: a quota formula reads the rep's fields and linked "
    "records (`territory.potential`)"
)


class Sites:
    """Types every expression of a ruleset; findings split by kind (names, types)."""

    def __init__(self, model: Model, modules: Sequence[n.Module]) -> None:
        self.model = model
        self.names: list[Diagnostic] = []
        self.types: list[Diagnostic] = []
        self.exprs: dict[int, tuple[n.Expr, t.TExpr]] = {}
        self._scopes: dict[tuple[object, ...], Scope] = {}
        self._credits: list[n.Credit] = []
        for module in modules:
            for decl in module.declarations:
                self._declaration(decl)
        # Credits last: they read the deal results that do not change with the day, known
        # once every expression deciding them is typed.
        days = day_dependent(model, self._typed_of)
        self._credit_unavailable = {**CREDIT_UNAVAILABLE, **days}
        for credit in self._credits:
            self._credit(credit)
        self._computed_names()

    def _typed_of(self, expr: n.Expr) -> t.TExpr | None:
        found = self.exprs.get(id(expr))
        return None if found is None or found[0] is not expr else found[1]

    def _computed_names(self) -> None:
        """E207 for a declared field or criterion named like a computed result it would hide."""
        for record in ("lead", "deal"):
            computed = computed_fields(self.model, record)
            for declared in self.model.declared_records.get(record, ()):
                for item in declared.fields:
                    if item.name.name in computed:
                        self.names.append(
                            Diagnostic(
                                "E207",
                                f"`{item.name.name}` is computed on each {record}: a field "
                                "cannot take its name",
                                item.name.span,
                                help=f"rename the field (e.g. `crm_{item.name.name}`); "
                                f"`{item.name.name}` reads the result the engine computes",
                            )
                        )
        for score in self.model.scores.values():
            for criterion in score.criteria:
                if criterion.name.name == "score":
                    self.names.append(
                        Diagnostic(
                            "E207",
                            "a criterion cannot be called `score`",
                            criterion.name.span,
                            help=f"`{score.name.name}.score` is the score's total; "
                            "rename the criterion",
                        )
                    )

    def scope(
        self,
        record: str | None,
        *,
        extras: Mapping[str, FieldType] | None = None,
        aggregate: bool = False,
        unavailable: Mapping[str, str] | None = None,
        no_attainment: str | None = None,
        place: str | None = None,
    ) -> Scope:
        """The scope of a place (built once per kind of place: a ruleset has few)."""
        key = (record, tuple(sorted((extras or {}).items())), aggregate, id(unavailable),
               no_attainment, place)  # fmt: skip
        found = self._scopes.get(key)
        if found is None:
            found = self._scopes[key] = scope_for(
                self.model, record, extras=extras, aggregate=aggregate,
                unavailable=unavailable, no_attainment=no_attainment, place=place,
            )  # fmt: skip
        return found

    @property
    def typed(self) -> t.TypedModel:
        """The typed tree of every expression, by syntax node."""
        return t.TypedModel(self.exprs)

    def _run(self, expr: n.Expr, scope: Scope, condition: bool) -> t.TExpr:
        typer = Typer(scope)
        try:
            found = typer.condition(expr) if condition else typer.type(expr)
        except RecursionError:
            typer.types = [Diagnostic("E004", "expression nested too deeply", expr.span)]
            found = t.Literal("", ANY)
        self.names.extend(typer.names)
        self.types.extend(typer.types)
        self.exprs[id(expr)] = (expr, found)
        return found

    def condition(self, expr: n.Expr, scope: Scope) -> None:
        """Type a condition."""
        self._run(expr, scope, condition=True)

    def value(self, expr: n.Expr, scope: Scope) -> FieldType:
        """Type a value."""
        return self._run(expr, scope, condition=False).type

    def mismatch(self, span: Span, message: str, help_text: str | None) -> None:
        """Record a type mismatch found by a place's expectation."""
        self.types.append(Diagnostic("E301", message, span, help=help_text))

    def field(self, ident: n.Ident, scope: Scope, why: str | None = None) -> FieldType:
        """The type of a field named by an identifier (not an expression)."""
        if scope.record is None:
            return ANY
        if ident.name in scope.fields:
            unavailable = not_available(ident.name, ident.span, scope)
            if unavailable is not None:
                self.names.append(unavailable)
                return ANY
            return scope.fields[ident.name]
        self.names.append(unknown_field(ident.name, ident.span, scope.record, scope.fields, why))
        return ANY

    # per declaration -------------------------------------------------------------------
    def _declaration(self, decl: n.Declaration) -> None:
        if isinstance(decl, n.Score):
            self._score(decl)
        elif isinstance(decl, n.Qualify):
            scope = self.scope(decl.subject.name, place="route")
            for route in decl.routes:
                if route.condition is not None:
                    self.condition(route.condition, scope)
        elif isinstance(decl, n.Pipeline):
            scope = self.scope(decl.subject.name, unavailable=EXIT_UNAVAILABLE, place="exit")
            for stage in decl.stages:
                for exit_ in stage.exits:
                    self.condition(exit_.condition, scope)
        elif isinstance(decl, n.Playbook):
            scope = self.scope(decl.subject.name, place="playbook")
            if decl.condition is not None:
                self.condition(decl.condition, scope)
            for item in decl.items:
                if isinstance(item, n.Requirement):
                    self.condition(item.condition, scope)
        elif isinstance(decl, n.Kpi):
            self._kpi(decl)
        elif isinstance(decl, n.NamedExpression):
            # Typed once where it is declared, so its findings show even if nothing reads it;
            # each place that reads it types it again in its own scope (the same findings).
            self.value(decl.value, self.scope(decl.subject.name))
        elif isinstance(decl, n.Strategy):
            scope = self.scope("deal", place="strategy")
            for entry in decl.items:
                if isinstance(entry, n.StrategyGrowth | n.StrategyFocus):
                    self.condition(entry.condition, scope)
        elif isinstance(decl, n.Plan):
            for measure in decl.measures:
                for part in measure.items:
                    if isinstance(part, n.Credit):
                        self._credits.append(part)
                    elif isinstance(part, n.QuotaFormula):
                        self._quota(part)
            for spiff in decl.spiffs:
                self._credits.append(spiff.credit)  # its pay line: a credit rule on deals
        elif isinstance(decl, n.Alert):
            self.condition(decl.condition, self.scope(decl.subject.name))

    def _score(self, score: n.Score) -> None:
        scope = self.scope(score.subject.name, place="criterion")
        for criterion in score.criteria:
            if isinstance(criterion, n.FieldCriterion):
                found = self.field(criterion.field, scope)
                if found.kind not in ("integer", "number", "any"):
                    self.mismatch(
                        criterion.field.span,
                        f"criterion `{criterion.name.name}` takes its points from "
                        f"`{criterion.field.name}`, which is {describe(found)}",
                        "the points of `criterion -> field` come from a number or integer field",
                    )
                continue
            values = [c for c in criterion.cases if isinstance(c, n.ValueCase)]
            for case in criterion.cases:
                if isinstance(case, n.WhenCase):
                    self.condition(case.condition, scope)
            if values:
                self._value_cases(criterion, values, scope)
        status_scope = self.scope(
            score.subject.name, extras={"score": FieldType("number")}, place="status"
        )
        for status in score.statuses:
            if status.condition is not None:
                self.condition(status.condition, status_scope)

    def _value_cases(self, criterion: n.Criterion, values: list[n.ValueCase], scope: Scope) -> None:
        target = criterion.of or criterion.name
        why = (
            "a criterion with value cases scores the field it is named after; "
            "name it after a field or add `of <field>`"
        )
        found = self.field(target, scope, why)
        if found.kind == "any":
            return
        if found.kind != "one_of":
            self.mismatch(
                target.span,
                f"value cases need a one_of field; `{target.name}` is {describe(found)}",
                f"use `when` cases, e.g. `when {target.name} > 0 -> 5`",
            )
            return
        for case in values:
            if case.value.name not in found.options:
                self.names.append(
                    unknown_value(case.value.name, case.value.span, found.options, target.name)
                )

    def _kpi(self, kpi: n.Kpi) -> None:
        found = self.value(kpi.value, self.scope(kpi.subject.name, aggregate=True))
        if not found.quantity:
            self.mismatch(
                kpi.value.span,
                f"a KPI is a number, an amount, a percentage or a duration; "
                f"found {describe(found)}",
                "e.g. count(status == won) or sum(amount where status == won)",
            )
            return
        target = kpi.target
        if target is None or found.kind == "any":
            return
        wanted = FieldType("duration" if isinstance(target.value, n.Duration) else "number")
        if not comparable(found, wanted):
            self.mismatch(
                target.value.span,
                f"the target is a {describe(wanted)}, but the KPI is a {describe(found)}",
                "write a duration target with its unit, like 60d"
                if found.kind == "duration"
                else "a duration target needs a KPI that measures time",
            )

    def _quota(self, quota: n.QuotaFormula) -> None:
        scope = self.scope("rep", no_attainment=_NO_ATTAINMENT_IN_QUOTA)
        found = self.value(quota.formula, scope)
        if not found.numeric:
            self.mismatch(
                quota.formula.span,
                f"a quota is an amount or a number; found {describe(found)}",
                "e.g. `quota formula 250K * territory.potential`",
            )

    def _credit(self, credit: n.Credit) -> None:
        source = credit.source.name
        if source not in canonical.PLURALS:
            return  # an unknown record: the declarations pass says so
        if source not in canonical.CREDITED:
            self.names.append(
                Diagnostic(
                    "E214",
                    f"`credit ... of {source}` is not available: pay credits deals",
                    credit.source.span,
                    help="credit the deals that carry what the rep did, e.g. "
                    "`credit count of deals where sdr_id is not missing to sdr_id`",
                )
            )
            return
        record = canonical.PLURALS[source]
        scope = self.scope(record, unavailable=self._credit_unavailable, place="credit")
        if credit.value is not None:
            found = self.value(credit.value, scope)
            if not found.numeric:
                self.mismatch(
                    credit.value.span,
                    f"a credit is a number or an amount; found {describe(found)}",
                    "e.g. `credit amount of deals` or `credit count of deals`",
                )
        if credit.where is not None:
            self.condition(credit.where, scope)
        if credit.to is not None:
            found = self.field(credit.to, scope)
            if found.kind not in ("text", "any"):
                self.mismatch(
                    credit.to.span,
                    f"`to` names the rep a credit goes to: a text field; "
                    f"`{credit.to.name}` is {describe(found)}",
                    "e.g. `to sdr_id`, with `sdr_id text` declared on the record",
                )
        if credit.dated is not None:
            found = self.value(credit.dated, scope)
            if found.kind not in ("date", "any"):
                self.mismatch(
                    credit.dated.span,
                    f"`dated` takes a date; found {describe(found)}",
                    "e.g. `dated close_date` or `dated entered_at(qualification)`",
                )


__all__ = ["Sites", "unknown"]
