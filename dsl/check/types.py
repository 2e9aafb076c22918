"""The types pass: the typer's findings (every expression has a type; conditions are booleans;
sides and arguments agree) and the currency of the amounts a plan states."""

from __future__ import annotations

from dsl import nodes as n
from dsl.check.common import Context
from dsl.check.typer import currency_mismatch
from dsl.diagnostics import Diagnostic


def check_types(ctx: Context) -> list[Diagnostic]:
    """Every expression has a type; conditions are booleans; sides and arguments agree."""
    found = list(ctx.sites.types)
    currency = ctx.model.currency
    for decl in ctx.declarations():
        if not isinstance(decl, n.Plan):
            continue
        amounts: list[n.Number] = []
        for item in decl.items:
            if isinstance(item, n.TargetVariable):
                amounts.append(item.amount)
            elif isinstance(item, (n.Cap, n.BudgetGuardrail)) and isinstance(item.limit, n.Number):
                amounts.append(item.limit)
        for measure in decl.measures:
            for entry in measure.items:
                if isinstance(entry, (n.PerUnit, n.Bonus)):
                    amounts.append(entry.amount)
                elif isinstance(entry, n.Cap) and isinstance(entry.limit, n.Number):
                    amounts.append(entry.limit)
        mismatches = (currency_mismatch(amount, currency) for amount in amounts)
        found.extend(d for d in mismatches if d is not None)
    return found
