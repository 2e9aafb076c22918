"""Templates: a ruleset that `extends` a house method starts from the template's declarations,
and `override` changes one of them, merged item by item.

Resolved once, on parsed modules, before checking: the checker, the compiler and everything
after them see one ruleset and never an `Override`. The rules (docs/language.md, "Templates"):

* The client has every declaration of its templates. Its header's settings (currency,
  rounding) win; those it leaves out come from the first template that sets them.
* A client declaration with the same kind and id as a template's must say `override`
  (`E207` otherwise); an `override` of nothing, or of another kind, is `E217` with a
  suggestion. Two templates declaring the same id is `E207` unless the client overrides it.
* `override` of a pipeline, score, plan, playbook or role merges by item: a stage, criterion,
  status, measure or requirement with the template's id replaces it in place; a new one goes
  after the client item written before it (before the next one when it comes first); the
  declaration's settings (a plan's `period`, a score's `max`, a label) replace the template's
  when given. Every other kind is replaced whole.
* Each difference is a `Deviation` (`koncept check --deviations`): the item, the template's
  version and the client's, each with its place.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dsl import nodes as n
from dsl.diagnostics import Diagnostic, did_you_mean
from dsl.formatter import describe, node_text
from dsl.source import NO_SPAN, Span

__all__ = [
    "Deviation",
    "Merged",
    "Template",
    "apply_templates",
    "declaration_key",
    "deviation_rows",
    "render_deviations",
]


@dataclass(frozen=True, slots=True)
class Template:
    """A template folder, already resolved: its name (as `extends` wrote it) and modules."""

    name: str
    modules: tuple[n.Module, ...]


@dataclass(frozen=True, slots=True)
class Deviation:
    """One item where a client differs from its template: `template` None when the client adds
    it; otherwise both versions (nodes, or setting values) with their places."""

    item: str
    template: Any
    client: Any
    template_where: Span | None
    client_where: Span


@dataclass(frozen=True, slots=True)
class Merged:
    """The client's modules with its templates applied, findings, and the deviations."""

    modules: tuple[n.Module, ...]
    diagnostics: tuple[Diagnostic, ...]
    deviations: tuple[Deviation, ...]


def declaration_key(decl: n.Declaration) -> tuple[str, str] | None:
    """What makes two declarations the same item: kind and id (None: the header and records,
    which are not replaced: record fields add up)."""
    if isinstance(decl, n.Override):
        return declaration_key(decl.declaration)
    if isinstance(decl, (n.Ruleset, n.Record)):
        return None
    if isinstance(decl, n.Strategy):
        return ("strategy", "")
    if isinstance(decl, n.Qualify):
        return ("qualify", decl.subject.name)
    return (type(decl).__name__.lower(), decl.name.name)


def apply_templates(templates: Sequence[Template], own: Sequence[n.Module]) -> Merged:
    """The client's modules (`own`) on top of its templates, in `extends` order."""
    found: list[Diagnostic] = []
    deviations: list[Deviation] = []
    # The templates' declarations by key; the first template declaring a key wins.
    inherited: dict[tuple[str, str], tuple[str, n.Declaration]] = {}
    headers: list[n.Ruleset] = []
    for template in templates:
        for module in template.modules:
            for decl in module.declarations:
                if isinstance(decl, n.Ruleset):
                    headers.append(decl)
                    continue
                key = declaration_key(decl)
                if key is None:
                    continue
                if key in inherited and inherited[key][0] != template.name:
                    if not _overridden(key, own):
                        first = inherited[key]
                        found.append(
                            Diagnostic(
                                "E207",
                                f"{describe(decl)} is declared by two templates: "
                                f"`{first[0]}` and `{template.name}`",
                                _name_span(decl),
                                help=f"override it in the client to say which one holds "
                                f"(`override {describe(decl).strip('`')} ...`)",
                            )
                        )
                    continue
                inherited.setdefault(key, (template.name, decl))
    replaced: set[tuple[str, str]] = set()
    modules: list[n.Module] = []
    for module in own:
        declarations: list[n.Declaration] = []
        for decl in module.declarations:
            key = declaration_key(decl)
            if isinstance(decl, n.Ruleset):
                declarations.append(_header(decl, headers))
            elif isinstance(decl, n.Override):
                declarations.append(_override(decl, inherited, replaced, found, deviations))
            else:
                if key is not None and key in inherited:
                    name, original = inherited[key]
                    found.append(
                        Diagnostic(
                            "E207",
                            f"{describe(decl)} is already declared by template `{name}`",
                            _name_span(decl),
                            help=f"write `override {describe(decl).strip('`')} ...` to change "
                            f"it (the template's is at {_where(original)}), or give it "
                            "another id",
                        )
                    )
                    replaced.add(key)
                declarations.append(decl)
        modules.append(replace(module, declarations=tuple(declarations)))
    kept: list[n.Module] = []
    for template in templates:
        for module in template.modules:
            declarations = [
                d
                for d in module.declarations
                if not isinstance(d, n.Ruleset)
                and (
                    (key := declaration_key(d)) is None
                    or (key not in replaced and inherited.get(key, ("", None))[1] is d)
                )
            ]
            kept.append(replace(module, declarations=tuple(declarations)))
    return Merged((*kept, *modules), tuple(found), tuple(deviations))


def _overridden(key: tuple[str, str], own: Sequence[n.Module]) -> bool:
    return any(
        isinstance(d, n.Override) and declaration_key(d) == key
        for module in own
        for d in module.declarations
    )


def _header(own: n.Ruleset, inherited: Sequence[n.Ruleset]) -> n.Ruleset:
    """The client's header, with the settings it leaves out taken from its templates."""
    currency = own.currency or next((h.currency for h in inherited if h.currency), None)
    rounding = own.rounding or next((h.rounding for h in inherited if h.rounding), None)
    return replace(own, currency=currency, rounding=rounding)


def _override(
    override: n.Override,
    inherited: dict[tuple[str, str], tuple[str, n.Declaration]],
    replaced: set[tuple[str, str]],
    found: list[Diagnostic],
    deviations: list[Deviation],
) -> n.Declaration:
    """The merged declaration (or the client's own, unwrapped, after reporting E217)."""
    decl = override.declaration
    key = declaration_key(decl)
    assert key is not None  # the grammar allows no header or record after `override`
    if key not in inherited:
        found.append(_unknown_override(decl, key, inherited))
        return decl
    _, original = inherited[key]
    replaced.add(key)
    merged = _merge(original, decl, describe(decl).strip("`"), deviations)
    return merged


def _unknown_override(
    decl: n.Declaration, key: tuple[str, str], inherited: dict[tuple[str, str], Any]
) -> Diagnostic:
    kind, name = key
    what = describe(decl).strip("`").split(" ")[0]
    other = next((d for (k, i), (_, d) in inherited.items() if i == name and k != kind), None)
    span = _name_span(decl)
    if other is not None:
        return Diagnostic(
            "E217",
            f"the templates declare `{name}` as {describe(other)}, not as a {what}",
            span,
            help=f"write `override {describe(other).strip('`')} ...`, or remove `override`",
        )
    if not inherited:
        return Diagnostic(
            "E217",
            f"override of {describe(decl)}, but this ruleset extends no template",
            span,
            help='add `extends "../house"` (the template folder) to the `ruleset` header, or '
            "remove `override`",
        )
    same = [i for (k, i) in inherited if k == kind]
    hint = did_you_mean(name, same)
    if hint is None:
        listed = ", ".join(f"`{s}`" for s in sorted(same)) or "none"
        hint = f"the templates' {what}s: {listed}; remove `override` to declare a new one"
    return Diagnostic("E217", f"override of an unknown {what} `{name}`", span, help=hint)


# ----------------------------------------------------------------------------- merging
def _merge(
    template: n.Declaration, client: n.Declaration, what: str, deviations: list[Deviation]
) -> n.Declaration:
    merge = _MERGES.get(type(client))
    if merge is None or type(template) is not type(client):
        if client != template:
            deviations.append(Deviation(what, template, client, _span(template), _span(client)))
        return client
    return merge(template, client, what, deviations)


def _note(deviations: list[Deviation], what: str, template: Any, client: Any, where: Span) -> None:
    if client is not None and client != template:
        t_span = getattr(template, "span", None)
        deviations.append(Deviation(what, template, client, t_span, getattr(client, "span", where)))


def _settings(
    template: Any, client: Any, fields: Sequence[str], what: str, deviations: list[Deviation]
) -> dict[str, Any]:
    """Header fields (label, max, condition...): the client's when given, else the template's."""
    chosen: dict[str, Any] = {}
    for name in fields:
        mine, theirs = getattr(client, name), getattr(template, name)
        if mine is None:
            chosen[name] = theirs
            continue
        if mine != theirs:
            span = getattr(mine, "span", client.span)
            deviations.append(
                Deviation(f"{what} › {name}", theirs, mine, getattr(theirs, "span", template.span),
                          span if span is not NO_SPAN else client.span)
            )  # fmt: skip
        chosen[name] = mine
    return chosen


def _items(
    template: Sequence[Any],
    client: Sequence[Any],
    key: Callable[[Any], Hashable],
    label: Callable[[Any], str],
    what: str,
    deviations: list[Deviation],
) -> tuple[Any, ...]:
    """The template's items with the client's merged in by key (see the module docstring)."""
    result = list(template)
    keys = [key(i) for i in result]
    cursor: int | None = None
    for position, item in enumerate(client):
        k = key(item)
        if k in keys:
            at = keys.index(k)
            if isinstance(item, n.Stage):
                result[at] = _merge_stage(result[at], item, f"{what} › {label(item)}", deviations)
            else:
                _note(deviations, f"{what} › {label(item)}", result[at], item, item.span)
                result[at] = item
            cursor = at + 1
            continue
        if cursor is None:  # new and first: before the next item the client also writes
            later = (keys.index(key(i)) for i in client[position + 1 :] if key(i) in keys)
            cursor = next(later, len(result))
        result.insert(cursor, item)
        keys.insert(cursor, k)
        deviations.append(Deviation(f"{what} › {label(item)}", None, item, None, item.span))
        cursor += 1
    return tuple(result)


def _by_name(item: Any) -> Hashable:
    name = getattr(item, "name", None)
    return (type(item).__name__, name.name) if isinstance(name, n.Ident) else type(item).__name__


def _label(item: Any) -> str:
    name = getattr(item, "name", None)
    kind = {
        n.Stage: "stage", n.Measure: "measure", n.StatusRule: "status",
        n.Criterion: "criterion", n.FieldCriterion: "criterion", n.ExitCriterion: "exit",
    }.get(type(item))  # fmt: skip
    if isinstance(item, n.Requirement):
        kind = item.kind
    if isinstance(name, n.Ident):
        return f"{kind or type(item).__name__.lower()} {name.name}"
    if isinstance(item, n.ExpectConversion):
        return f"expect conversion {item.source.name} -> {item.target.name}"
    return _SETTING_WORDS.get(type(item), type(item).__name__.lower())


_SETTING_WORDS: dict[type, str] = {
    n.Effective: "effective", n.Communicated: "communicated", n.Period: "period",
    n.TargetVariable: "target_variable", n.Proration: "proration", n.Cap: "cap",
    n.BudgetGuardrail: "budget guardrail", n.ExpectWinRate: "expect win_rate",
    n.Mission: "mission", n.RoleKpis: "kpis", n.RolePlans: "plan",
    n.Probability: "probability", n.MaxDays: "max_days", n.Pays: "pays", n.TrueUp: "true_up",
    n.Draw: "draw", n.Clawback: "clawback", n.Supersedes: "supersedes",
}  # fmt: skip


def _conversion_key(item: Any) -> Hashable:
    if isinstance(item, n.ExpectConversion):
        return ("expect", item.source.name, item.target.name)
    return _by_name(item)


def _merge_stage(t: n.Stage, c: n.Stage, what: str, deviations: list[Deviation]) -> n.Stage:
    """A stage merges too: its probability and max days when given, exit criteria by id, and
    its actions, when it lists any, instead of the template's."""
    settings = _settings(t, c, ("label",), what, deviations)
    actions = tuple(i for i in c.items if isinstance(i, n.Action))
    theirs = tuple(i for i in t.items if isinstance(i, n.Action))
    kept = [i for i in t.items if not (actions and isinstance(i, n.Action))]
    if actions and actions != theirs:
        where = theirs[0].span if theirs else None
        deviations.append(Deviation(f"{what} › actions", theirs, actions, where, actions[0].span))
    own = [i for i in c.items if not isinstance(i, n.Action)]
    items = _items(kept, own, _by_name, _label, what, deviations)
    if actions:
        items = (*(i for i in items if not isinstance(i, n.Action)), *actions)
    return replace(c, items=items, **settings)


def _merge_pipeline(t: Any, c: Any, what: str, deviations: list[Deviation]) -> n.Pipeline:
    assert isinstance(c, n.Pipeline)
    settings = _settings(t, c, ("label",), what, deviations)
    items = _items(t.items, c.items, _conversion_key, _label, what, deviations)
    return replace(c, items=items, **settings)


def _merge_score(t: Any, c: Any, what: str, deviations: list[Deviation]) -> n.Score:
    assert isinstance(c, n.Score)
    settings = _settings(t, c, ("label", "max"), what, deviations)
    criteria = _items(t.criteria, c.criteria, _by_name, _label, what, deviations)
    statuses = _items(t.statuses, c.statuses, _by_name, _label, what, deviations)
    return replace(c, criteria=criteria, statuses=statuses, **settings)


def _merge_plan(t: Any, c: Any, what: str, deviations: list[Deviation]) -> n.Plan:
    assert isinstance(c, n.Plan)
    settings = _settings(t, c, ("label",), what, deviations)
    return replace(c, items=_items(t.items, c.items, _by_name, _label, what, deviations),
                   **settings)  # fmt: skip


def _merge_playbook(t: Any, c: Any, what: str, deviations: list[Deviation]) -> n.Playbook:
    assert isinstance(c, n.Playbook)
    settings = _settings(t, c, ("label", "condition"), what, deviations)
    return replace(c, items=_items(t.items, c.items, _by_name, _label, what, deviations),
                   **settings)  # fmt: skip


def _merge_role(t: Any, c: Any, what: str, deviations: list[Deviation]) -> n.Role:
    assert isinstance(c, n.Role)
    settings = _settings(t, c, ("label",), what, deviations)
    return replace(c, items=_items(t.items, c.items, _by_name, _label, what, deviations),
                   **settings)  # fmt: skip


_MERGES: dict[type, Callable[[Any, Any, str, list[Deviation]], n.Declaration]] = {
    n.Pipeline: _merge_pipeline,
    n.Score: _merge_score,
    n.Plan: _merge_plan,
    n.Playbook: _merge_playbook,
    n.Role: _merge_role,
}


def _name_span(decl: n.Declaration) -> Span:
    name = getattr(decl, "name", None)
    if isinstance(name, n.Ident):
        return name.span
    return decl.span


def _span(node: Any) -> Span:
    return getattr(node, "span", NO_SPAN)


def _where(node: Any) -> str:
    span = _span(node)
    return f"{span.path}:{span.line}"


# ----------------------------------------------------------------------------- reporting
def deviation_rows(deviations: Sequence[Deviation]) -> list[dict[str, str | None]]:
    """Each deviation as the item, both versions as the formatter writes them, and their
    places (`path:line`); the template's side is None for an item the client adds."""
    return [
        {
            "item": d.item,
            "template": None if d.template is None else node_text(d.template),
            "template_at": None if d.template_where is None else _at(d.template_where),
            "client": node_text(d.client),
            "client_at": _at(d.client_where),
        }
        for d in deviations
    ]


def render_deviations(
    ruleset: str, templates: Sequence[str], deviations: Sequence[Deviation]
) -> str:
    """`koncept check --deviations` for one ruleset, as text."""
    count = len(deviations)
    head = f"{ruleset} extends {', '.join(templates)}: "
    if not count:
        return head + "no item differs\n"
    lines = [head + f"{count} item{'s' if count > 1 else ''} differ{'' if count > 1 else 's'}"]
    for row in deviation_rows(deviations):
        lines.append(f"  {row['item']}")
        if row["template"] is None:
            lines.append("    template  (not in the template: added)")
        else:
            lines.extend(_side("template", row["template_at"], row["template"]))
        lines.extend(_side("client", row["client_at"], row["client"] or ""))
    return "\n".join(lines) + "\n"


def _side(who: str, where: str | None, text: str | None) -> list[str]:
    first, *rest = (text or "").splitlines() or [""]
    return [f"    {who:<9} {where}  {first}", *(f"{'':<14}{line}" for line in rest)]


def _at(span: Span) -> str:
    return f"{span.path}:{span.line}"
