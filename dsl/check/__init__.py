"""The checker: an ordered list of named passes over a ruleset's modules, each returning findings.

header -> declarations -> names -> types -> tables -> strategy -> lints. Every pass sees the
whole ruleset and reports everything it finds. Every expression is typed once
(`dsl.check.typer`, in the scope of its place: `dsl.check.sites`), and a clean check hands the
typed trees to the compiler with the symbol tables: what `check` accepts is what the engine runs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from dsl import nodes as n
from dsl.check.common import Context
from dsl.check.declarations import check_declarations, check_header
from dsl.check.lints import check_lints
from dsl.check.names import check_names
from dsl.check.schedule import check_schedule
from dsl.check.scope import Scope, scope_for
from dsl.check.strategy import check_strategy
from dsl.check.tables import check_tables
from dsl.check.typer import type_of_expr
from dsl.check.types import check_types
from dsl.diagnostics import Diagnostic, Severity, sort_diagnostics
from dsl.model import Model, build_model, resolve_uses
from dsl.typed import TypedModel

__all__ = ["PASSES", "CheckResult", "Scope", "check", "scope_for", "type_of_expr"]

Pass = Callable[[Context], list[Diagnostic]]

#: The passes, in order. Each takes the context and returns its findings.
PASSES: tuple[tuple[str, Pass], ...] = (
    ("header", check_header),
    ("declarations", check_declarations),
    ("names", check_names),
    ("types", check_types),
    ("tables", check_tables),
    ("strategy", check_strategy),
    ("schedule", check_schedule),
    ("lints", check_lints),
)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The ruleset's symbol tables, its typed expressions and every finding, by position."""

    model: Model
    diagnostics: list[Diagnostic]
    typed: TypedModel

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


def check(
    modules: Sequence[n.Module], *, strict: bool = False, inherited: Collection[str] = ()
) -> CheckResult:
    """Run every pass over the modules of one ruleset; with `strict`, warnings become errors.

    `inherited`: the paths of the template files among the modules (their named tables need
    not be used by this ruleset)."""
    modules, used = resolve_uses(modules)
    model = build_model(modules)
    model.used_definitions = used
    model.inherited_paths = frozenset(inherited)
    context = Context.of(model, modules)
    found: list[Diagnostic] = []
    for _name, run in PASSES:
        found.extend(run(context))
    if strict:
        found = [d.as_error() for d in found]
    return CheckResult(model, sort_diagnostics(found), context.sites.typed)
