"""The names pass: every reference resolves (fields, values, stages, scores, plans, roles,
KPIs, measures, reports) and keyword values are among their words; each with a "did you mean"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dsl import canonical
from dsl import nodes as n
from dsl.check.common import Context, keyword
from dsl.check.typer import no_such, unknown
from dsl.diagnostics import Diagnostic, either
from dsl.model import Model


def check_names(ctx: Context) -> list[Diagnostic]:
    """Every reference resolves: fields, values, stages, scores, plans, roles, KPIs, keywords."""
    model = ctx.model
    found = list(ctx.sites.names)
    all_stages = list(model.stages)
    stage_help = no_such("stage", all_stages)
    for decl in ctx.declarations():
        if isinstance(decl, n.Qualify):
            subject = decl.subject.name
            fitting = [s for s, v in model.scores.items() if v.subject.name == subject]
            for route in decl.routes:
                score = model.scores.get(route.score.name)
                if score is None:
                    found.append(
                        unknown(
                            "E203",
                            "score",
                            route.score,
                            fitting,
                            no_such("score", fitting, f" on {subject}"),
                        )
                    )
                elif score.subject.name != subject and subject in canonical.TABLES:
                    found.append(
                        Diagnostic(
                            "E203",
                            f"score `{route.score.name}` is on {score.subject.name}, not {subject}",
                            route.score.span,
                            help=f"`qualify {subject}` routes to scores on {subject}",
                        )
                    )
        elif isinstance(decl, n.Pipeline):
            own = [s.name.name for s in decl.stages]
            for element in decl.items:
                if isinstance(element, n.ExpectConversion):
                    for ident in (element.source, element.target):
                        if ident.name not in own:
                            found.append(
                                unknown("E202", "stage", ident, own, no_such("stage", own))
                            )
        elif isinstance(decl, n.Playbook):
            for step in decl.items:
                if (
                    isinstance(step, n.Requirement)
                    and step.before is not None
                    and step.before.name not in all_stages
                ):
                    found.append(unknown("E202", "stage", step.before, all_stages, stage_help))
        elif isinstance(decl, n.Kpi):
            found.extend(keyword(decl.family, "KPI family", canonical.KPI_FAMILIES))
        elif isinstance(decl, n.Role):
            for entry in decl.items:
                if isinstance(entry, n.RoleKpis):
                    found.extend(_references(entry.names, "E206", "KPI", model.kpis))
                elif isinstance(entry, n.RolePlans):
                    found.extend(_references(entry.names, "E204", "plan", model.plans))
        elif isinstance(decl, n.Plan):
            found.extend(_plan_names(model, decl))
        elif isinstance(decl, n.Definition) and isinstance(decl.body, n.Rates):
            found.extend(_rate_keywords(decl.body))
        elif isinstance(decl, n.Alert):
            found.extend(keyword(decl.severity, "severity", canonical.SEVERITIES))
        elif isinstance(decl, n.Ritual):
            found.extend(keyword(decl.every, "ritual frequency", canonical.RITUAL_EVERY))
            shown = [*canonical.REPORTS, *model.kpis]
            for ident in decl.shows:
                if ident.name not in shown:
                    found.append(
                        unknown(
                            "E213", "report or KPI", ident, shown,
                            f"the reports are {either(canonical.REPORTS)}, or name a KPI",
                        )
                    )  # fmt: skip
    return found


def _references(
    idents: Iterable[n.Ident], code: str, what: str, known: Mapping[str, object]
) -> list[Diagnostic]:
    return [
        unknown(code, what, i, known, no_such(what, known)) for i in idents if i.name not in known
    ]


#: A plan item -> the keyword it holds, how a message names it, and the words allowed.
_PLAN_KEYWORDS: dict[type, tuple[str, str, tuple[str, ...]]] = {
    n.Period: ("unit", "period", canonical.PERIODS),
    n.TargetVariable: ("per", "period", canonical.PERIODS),
    n.Proration: ("mode", "proration", canonical.PRORATIONS),
    n.Pays: ("every", "payment frequency", tuple(canonical.PAY_FREQUENCIES)),
    n.TrueUp: ("policy", "true-up policy", canonical.TRUE_UPS),
    n.Draw: ("kind", "draw kind", canonical.DRAW_KINDS),
    n.Clawback: ("mode", "clawback mode", canonical.CLAWBACK_MODES),
    n.Supersedes: ("split", "version split", canonical.VERSION_SPLITS),
}


def _plan_names(model: Model, plan: n.Plan) -> list[Diagnostic]:
    found = _references([plan.role], "E205", "role", model.roles)
    for item in plan.items:
        words = _PLAN_KEYWORDS.get(type(item))
        if words is not None:
            attribute, what, allowed = words
            found.extend(keyword(getattr(item, attribute), what, allowed))
        if isinstance(item, n.Supersedes):
            found.extend(_references([item.plan], "E204", "plan", model.plans))
    for measure in plan.measures:
        for entry in measure.items:
            if isinstance(entry, n.Threshold):
                found.extend(keyword(entry.mode, "threshold mode", canonical.THRESHOLD_MODES))
            elif isinstance(entry, n.Rates):
                found.extend(_rate_keywords(entry))
            elif isinstance(entry, n.Use):
                found.append(_unresolved(model, entry))
    return found


def _rate_keywords(rates: n.Rates) -> list[Diagnostic]:
    return [
        *keyword(rates.method, "rate method", canonical.RATE_METHODS),
        *keyword(rates.basis, "rate basis", canonical.RATE_BASES),
    ]


#: How a message names each kind of definition.
_KIND_WORDS = {"curve": "curve", "rates": "rate table", "steps": "step table"}


def _unresolved(model: Model, use: n.Use) -> Diagnostic:
    """E216 for a use that `resolve_uses` left: no definition of that name, or of another kind."""
    what = _KIND_WORDS[use.kind]
    definition = model.definitions.get(use.name.name)
    if definition is not None:
        return Diagnostic(
            "E216",
            f"`{use.name.name}` is a {_KIND_WORDS[definition.kind]}, not a {what}",
            use.name.span,
            help=f"write `{definition.kind} {use.name.name}`, or name a {what}",
        )
    same_kind = [k for k, d in model.definitions.items() if d.kind == use.kind]
    fallback = (
        no_such(what, same_kind)
        + f"; declare it at top level: `{use.kind} {use.name.name} {{ ... }}`"
    )
    return unknown("E216", what, use.name, same_kind, fallback)
