"""The header and declarations passes: one `ruleset` header with a sensible currency and
rounding; names unique per namespace, known records, canonical columns redeclared only to narrow
them; and what each kind of declaration may be declared on."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dsl import canonical
from dsl import nodes as n
from dsl.check.common import Context, keyword, where
from dsl.check.typer import empty_range, unknown
from dsl.diagnostics import Diagnostic, either
from dsl.source import Span


def check_header(ctx: Context) -> list[Diagnostic]:
    """Exactly one `ruleset` header; its currency and rounding make sense."""
    headers = [d for d in ctx.declarations() if isinstance(d, n.Ruleset)]
    found: list[Diagnostic] = []
    if not headers:
        if ctx.modules:
            path = ctx.modules[0].path
            found.append(
                Diagnostic(
                    "E005",
                    "no `ruleset` header",
                    Span(path, 0, 0, 1, 1, 1, 1),
                    help='start one file with `ruleset <id> "Label" { currency EUR '
                    "rounding half_up 0.01 }`",
                )
            )
        return found
    for extra in headers[1:]:
        found.append(
            Diagnostic(
                "E005",
                "a second `ruleset` header",
                extra.name.span,
                help=f"the ruleset is declared at {where(headers[0].name.span)}; "
                "keep one header per ruleset folder",
            )
        )
    for header in headers:
        currency = header.currency
        if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency.name):
            upper = currency.name.upper()
            found.append(
                Diagnostic(
                    "E210",
                    f"`{currency.name}` is not a currency code",
                    currency.span,
                    help=f"write it in capitals: {upper}"
                    if re.fullmatch(r"[A-Z]{3}", upper)
                    else "use a 3-letter ISO 4217 code like EUR, USD or GBP",
                )
            )
        if header.rounding is not None:
            found.extend(keyword(header.rounding.mode, "rounding mode", canonical.ROUNDING_MODES))
            step = header.rounding.step
            if step.value <= 0:
                found.append(
                    Diagnostic(
                        "E409",
                        f"rounding step {step.raw} must be above 0",
                        step.span,
                        help="e.g. 0.01 to round to cents, 1 to whole units",
                    )
                )
    return found


def _duplicates(idents: Iterable[n.Ident], label: str = "`{}`") -> list[Diagnostic]:
    """E207 for every name already defined; `label` shows the name in the message."""
    first: dict[str, n.Ident] = {}
    found: list[Diagnostic] = []
    for ident in idents:
        seen = first.setdefault(ident.name, ident)
        if seen is not ident:
            found.append(
                Diagnostic(
                    "E207",
                    f"{label.format(ident.name)} is already defined",
                    ident.span,
                    help=f"first defined at {where(seen.span)}",
                )
            )
    return found


def _record_name(ident: n.Ident) -> list[Diagnostic]:
    if ident.name in canonical.TABLES:
        return []
    return [
        unknown(
            "E208", "record", ident, canonical.TABLES,
            f"the records are {either(list(canonical.TABLES))}",
        )
    ]  # fmt: skip


def _redeclared(record: str, item: n.Field) -> list[Diagnostic]:
    """A declared field may narrow a canonical text column to one_of, or keep its type."""
    columns = {c.name: c for c in canonical.TABLES[record] + canonical.DERIVED.get(record, ())}
    column = columns.get(item.name.name)
    spec = item.type
    if column is None or (spec.name == column.type and spec.name != "one_of"):
        return []
    if column.type == "text" and spec.name == "one_of":
        return []
    if column.type == spec.name == "one_of":
        extra = [o for o in spec.options if o.name.name not in column.options]
        return [
            Diagnostic(
                "E301",
                f"`{o.name.name}` is not a value of {record}.{column.name}",
                o.name.span,
                help=f"{record}.{column.name} takes {either(column.options)}",
            )
            for o in extra
        ]
    return [
        Diagnostic(
            "E301",
            f"`{column.name}` is a {column.type} column of {record}; it cannot become {spec.name}",
            spec.span,
            help=f"keep it {column.type}"
            + (", or narrow it to one_of" if column.type == "text" else ""),
        )
    ]


def check_declarations(ctx: Context) -> list[Diagnostic]:
    """Duplicate names per namespace, unknown record names, canonical columns redeclared."""
    found: list[Diagnostic] = []
    top: dict[type, list[n.Ident]] = {}
    stages: list[n.Ident] = []
    qualified: list[n.Ident] = []
    fields: dict[str, list[n.Ident]] = {}
    for decl in ctx.declarations():
        if isinstance(decl, (n.Ruleset, n.Strategy, n.Override)):  # no Override left: templates
            continue
        if isinstance(decl, n.Qualify):
            qualified.append(decl.subject)
            found.extend(_subject(decl.subject, "`qualify`", _SCORED))
            continue
        if isinstance(decl, n.Record):
            found.extend(_record_name(decl.name))
            fields.setdefault(decl.name.name, []).extend(f.name for f in decl.fields)
            for item in decl.fields:
                found.extend(_duplicates(o.name for o in item.type.options))
                bounds = item.type.range
                if bounds is not None and bounds.low.value > bounds.high.value:
                    found.append(empty_range("range", bounds.low, bounds.high, bounds.span))
                if decl.name.name in canonical.TABLES:
                    found.extend(_redeclared(decl.name.name, item))
            continue
        top.setdefault(type(decl), []).append(decl.name)
        if isinstance(decl, n.Score):
            found.extend(_subject(decl.subject, "a score", _SCORED))
            found.extend(_duplicates(c.name for c in decl.criteria))
            found.extend(_duplicates(s.name for s in decl.statuses))
        elif isinstance(decl, n.Pipeline):
            found.extend(_subject(decl.subject, "a pipeline", ("deal",)))
            for stage in decl.stages:
                stages.append(stage.name)
                found.extend(_duplicates(e.name for e in stage.exits))
        elif isinstance(decl, n.Playbook):
            found.extend(_subject(decl.subject, "a playbook", ("deal",)))
            found.extend(_duplicates(i.name for i in decl.items if isinstance(i, n.Requirement)))
        elif isinstance(decl, (n.Kpi, n.Alert)):
            found.extend(_record_name(decl.subject))
        elif isinstance(decl, n.NamedExpression):
            found.extend(_record_name(decl.subject))
            if decl.name.name in ctx.model.records.get(decl.subject.name, {}):
                found.append(
                    Diagnostic(
                        "E207",
                        f"`{decl.name.name}` is already a field of {decl.subject.name}",
                        decl.name.span,
                        help="give the named expression another id",
                    )
                )
        elif isinstance(decl, n.Plan):
            # A SPIFF is a line of the plan's payout like a measure: one namespace for both.
            names = [*(m.name for m in decl.measures), *(s.name for s in decl.spiffs)]
            found.extend(_duplicates(names))
            for measure in decl.measures:
                for credit in (i for i in measure.items if isinstance(i, n.Credit)):
                    if credit.source.name not in canonical.PLURALS:
                        found.append(
                            unknown(
                                "E208", "records", credit.source, canonical.PLURALS,
                                f"credit {either(list(canonical.PLURALS))}",
                            )
                        )  # fmt: skip
    for idents in [*top.values(), stages, *fields.values()]:
        found.extend(_duplicates(idents))
    found.extend(_duplicates(qualified, "`qualify {}`"))
    found.extend(_ambiguous(ctx))
    return found


#: The records a score (and so a qualification) can be on.
_SCORED = ("lead", "deal")


def _subject(ident: n.Ident, what: str, allowed: tuple[str, ...]) -> list[Diagnostic]:
    """E208 for an unknown record, E214 for a record this declaration cannot be on."""
    if ident.name not in canonical.TABLES:
        return _record_name(ident)
    if ident.name in allowed:
        return []
    return [
        Diagnostic(
            "E214",
            f"{what} cannot be on {ident.name}",
            ident.span,
            help=f"{what} is on {either(list(allowed))}",
        )
    ]


def _ambiguous(ctx: Context) -> list[Diagnostic]:
    """E215 where several declarations compete and nothing says which one applies: declaration
    and file order never decide a result."""
    model = ctx.model
    found: list[Diagnostic] = []
    for record in _SCORED:
        scores = [s for s in model.scores.values() if s.subject.name == record]
        if len(scores) > 1 and record not in model.qualifications:
            shown = [s.name.name for s in scores[:4]]
            more = f", and {len(scores) - 4} more" if len(scores) > 4 else ""
            names = ", ".join(shown) + more
            found.extend(
                Diagnostic(
                    "E215",
                    f"{len(scores)} scores on {record} ({names}) and no `qualify {record}`",
                    score.name.span,
                    help=f"say which score qualifies each {record}: `qualify {record} {{ use "
                    f"{scores[0].name.name} when ... use {scores[1].name.name} otherwise }}`",
                )
                for score in scores
            )
    defaults = [p for p in model.playbooks.values() if p.condition is None]
    for playbook in defaults[1:]:
        found.append(
            Diagnostic(
                "E215",
                f"playbook `{playbook.name.name}` has no `when`, like `{defaults[0].name.name}`",
                playbook.name.span,
                help="one playbook without `when` is the default (for the deals no other "
                f"playbook takes); the default is `{defaults[0].name.name}` at "
                f"{where(defaults[0].name.span)}: give this one a `when`",
            )
        )
    for name, role in model.roles.items():
        listed = any(isinstance(item, n.RolePlans) for item in role.items)
        # A version (`supersedes`) is paid in its plan's place: not a plan of its own here.
        plans = [
            p
            for p in model.plans.values()
            if p.role.name == name and not any(isinstance(i, n.Supersedes) for i in p.items)
        ]
        if not listed and len(plans) > 1:
            names = ", ".join(p.name.name for p in plans)
            found.append(
                Diagnostic(
                    "E215",
                    f"role `{name}` has {len(plans)} plans ({names}) and does not say which "
                    "one is paid",
                    role.name.span,
                    help=f"add `plan {names}` to role {name}: the first is paid, the others are "
                    "computed beside it",
                )
            )
    return found
