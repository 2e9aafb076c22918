"""Which computed results of a deal change with the day an evaluation is run on.

Pay does not depend on the day it is computed, so a credit rule reads a deal's computed result
(`qualification_status`, `meddpicc.score`, `playbook`...) only when nothing that decides it reads
a day-dependent value (`dsl.check.scope.DAY_DEPENDENT`: `stale`, `exit_ready`, `days_in_stage`),
directly, through a `define`, or through another result it reads. What decides each result:

  * `<score>.<criterion>`: the criterion's cases (or its field); `<score>.score`: every
    criterion of the score;
  * a score's status: its status rules, and the results they read (`score`, `fit.score`...);
  * `framework`: the `qualify deal` routes; `qualification_score` and `qualification_status`:
    the routes and the routed scores' totals or statuses;
  * `playbook`: the playbooks' `when` conditions, and the results they read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from dsl import nodes as n
from dsl import typed as t
from dsl.check.scope import DAY_DEPENDENT
from dsl.model import Model
from dsl.source import Span

__all__ = ["day_dependent"]

#: The typed tree of a syntax expression of the ruleset (None: it was not typed).
TypedOf = Callable[[n.Expr], "t.TExpr | None"]


@dataclass(slots=True)
class _Result:
    """One result: the expressions that decide it (with the place they stand in), the other
    results it reads, and the fields those expressions read that change with the day."""

    reads: list[str] = field(default_factory=list)
    #: (day-dependent value, where it is read, the place that reads it)
    days: list[tuple[str, Span, str]] = field(default_factory=list)


def day_dependent(model: Model, typed_of: TypedOf) -> dict[str, str]:
    """Each computed result of a deal that depends on the day -> why (the help of the `E214` a
    credit reading it gets): which day-dependent value it depends on, and where it is read."""
    results = _results(model, typed_of)
    found: dict[str, str] = {}
    for name in results:
        if name.startswith("#"):
            continue  # a score's status: read as `qualification_status`
        witness = _witness(name, results, set())
        if witness is not None:
            value, span, place = witness
            inside = _define_of(model, span)
            through = f" through `{inside}`" if inside else ""
            found[name] = (
                f"pay does not depend on the day it is computed, and `{name}` depends on it: "
                f"{place} reads `{value}`{through} ({span.path}:{span.line})"
            )
    return found


def _results(model: Model, typed_of: TypedOf) -> dict[str, _Result]:
    """Every deal result (a score's status as `#<score>`) with what decides it."""
    results: dict[str, _Result] = {}
    scores = [s for s in model.scores.values() if s.subject.name == "deal"]
    for score in scores:
        total = results.setdefault(f"{score.name.name}.score", _Result())
        for criterion in score.criteria:
            key = f"{score.name.name}.{criterion.name.name}"
            total.reads.append(key)
            found = results.setdefault(key, _Result())
            place = f"criterion `{criterion.name.name}` of score `{score.name.name}`"
            if isinstance(criterion, n.FieldCriterion):
                if criterion.field.name in DAY_DEPENDENT:
                    found.days.append((criterion.field.name, criterion.field.span, place))
                continue
            for case in criterion.cases:
                if isinstance(case, n.WhenCase):
                    _read(found, typed_of(case.condition), place)
        status = results.setdefault(f"#{score.name.name}", _Result())
        place = f"the status block of score `{score.name.name}`"
        for rule in score.statuses:
            if rule.condition is not None:
                _read(status, typed_of(rule.condition), place, score.name.name)
    framework = results.setdefault("framework", _Result())
    qualify = model.qualifications.get("deal")
    routed = [s.name.name for s in scores] if qualify is None and len(scores) == 1 else []
    if qualify is not None:
        for route in qualify.routes:
            routed.append(route.score.name)
            if route.condition is not None:
                _read(framework, typed_of(route.condition), "a route of `qualify deal`")
    if scores:
        results["qualification_score"] = _Result(
            ["framework", *(f"{name}.score" for name in routed)]
        )
        results["qualification_status"] = _Result(["framework", *(f"#{name}" for name in routed)])
    if model.playbooks:
        playbook = results.setdefault("playbook", _Result())
        for book in model.playbooks.values():
            if book.condition is not None:
                place = f"the `when` of playbook `{book.name.name}`"
                _read(playbook, typed_of(book.condition), place)
    return results


def _read(result: _Result, typed: t.TExpr | None, place: str, score: str | None = None) -> None:
    """What an expression deciding `result` reads: day-dependent fields and other results
    (`score` in a status block is the total of its own `score`)."""
    for node in _walk(typed):
        if isinstance(node, t.Field) and node.link is None and node.name in DAY_DEPENDENT:
            result.days.append((node.name, node.span, place))
        elif isinstance(node, t.Provided):
            name = f"{score}.score" if node.name == "score" and score else node.name
            result.reads.append(name)


def _walk(root: t.TExpr | None) -> Iterator[t.TExpr]:
    stack = [] if root is None else [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(t.children(node)))


def _witness(
    name: str, results: dict[str, _Result], seen: set[str]
) -> tuple[str, Span, str] | None:
    """The first day-dependent value deciding a result, directly or through what it reads."""
    found = results.get(name)
    if found is None or name in seen:
        return None
    seen.add(name)
    if found.days:
        return found.days[0]
    for other in found.reads:
        witness = _witness(other, results, seen)
        if witness is not None:
            return witness
    return None


def _define_of(model: Model, span: Span) -> str | None:
    """The `define` whose value holds this span, if any."""
    for name, definition in model.expressions.items():
        inner = definition.value.span
        if inner.path == span.path and inner.start <= span.start < inner.end:
            return name
    return None
