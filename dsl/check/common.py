"""Small helpers the passes share: the declarations of a ruleset, keyword checks, percentages,
and a walk over syntax expressions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from dsl import nodes as n
from dsl.check.sites import Sites
from dsl.check.typer import unknown
from dsl.diagnostics import Diagnostic, either
from dsl.model import Model
from dsl.source import Span
from dsl.types import plain


@dataclass(frozen=True, slots=True)
class Context:
    """What every pass sees: the symbol tables, the modules, and every expression typed once."""

    model: Model
    modules: Sequence[n.Module]
    sites: Sites

    @classmethod
    def of(cls, model: Model, modules: Sequence[n.Module]) -> Context:
        """The context of a ruleset: its expressions are typed here, once."""
        return cls(model, modules, Sites(model, modules))

    def declarations(self) -> Iterator[n.Declaration]:
        """Every declaration of every module, in order."""
        for module in self.modules:
            yield from module.declarations


def where(span: Span) -> str:
    """`path:line`."""
    return f"{span.path}:{span.line}"


def pct(value: Decimal) -> str:
    """A fraction as a percentage: `0.8` -> `80%`."""
    return plain(value * 100) + "%"


def keyword(ident: n.Ident | None, what: str, allowed: Sequence[str]) -> list[Diagnostic]:
    """E210 when an identifier that must be one of a few keywords is not."""
    if ident is None or ident.name in allowed:
        return []
    return [unknown("E210", what, ident, allowed, f"use {either(allowed)}")]


def walk(expr: n.Expr) -> Iterator[n.Expr]:
    """Every node of a syntax expression, without recursion (expressions can be long chains)."""
    stack: list[n.Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, n.Binary):
            stack.extend((node.right, node.left))
        elif isinstance(node, n.Unary):
            stack.append(node.operand)
        elif isinstance(node, n.Membership):
            stack.extend((node.collection, node.value))
        elif isinstance(node, n.IsMissing):
            stack.append(node.value)
        elif isinstance(node, n.ListExpr):
            stack.extend(reversed(node.items))
        elif isinstance(node, n.Call):
            if node.where is not None:
                stack.append(node.where)
            stack.extend(reversed(node.args))
