"""The strategy pass: what a `strategy` block must be for the engine to measure it.

Its conditions are typed on deals like every expression (`dsl.check.sites`); here: the target
measures something the engine knows, shares and the tolerance are at most 100%, channel lines
have a `channel` field to read and name one of its values, no line is written twice, and the
growth and channel shares each add up to 100% (a warning: a mix that does not add up cannot
all be on track).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from dsl import nodes as n
from dsl.canonical import STRATEGY_CHANNEL_FIELD, STRATEGY_MEASURES
from dsl.check.common import Context, pct, where
from dsl.check.typer import unknown, unknown_field, unknown_value
from dsl.diagnostics import Diagnostic, Severity, either
from dsl.types import plain

__all__ = ["check_strategy"]


def check_strategy(ctx: Context) -> list[Diagnostic]:
    """Every strategy block's measures, shares, channels and tolerance."""
    found: list[Diagnostic] = []
    for decl in ctx.declarations():
        if isinstance(decl, n.Strategy):
            found.extend(_strategy(ctx, decl))
    return found


def _strategy(ctx: Context, strategy: n.Strategy) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    seen: dict[tuple[str, str], n.StrategyItem] = {}
    tolerance: n.StrategyTolerance | None = None
    for item in strategy.items:
        if isinstance(item, n.StrategyTarget):
            found.extend(_target(item))
            key = ("target", item.measure.name)
        elif isinstance(item, n.StrategyGrowth | n.StrategyChannel):
            found.extend(_share(item))
            if isinstance(item, n.StrategyChannel):
                found.extend(_channel(ctx, item))
            key = (type(item).__name__, item.name.name)
        elif isinstance(item, n.StrategyTolerance):
            if tolerance is not None:
                found.append(
                    Diagnostic(
                        "E108",
                        "the strategy's tolerance is given twice",
                        item.span,
                        help="keep one `tolerance N pts` (the first is at "
                        f"{where(tolerance.span)})",
                    )
                )
            tolerance = item
            found.extend(_tolerance(item))
            continue
        else:
            continue
        first = seen.setdefault(key, item)
        if first is not item:
            found.append(
                Diagnostic(
                    "E207",
                    f"the strategy measures `{key[1]}` twice",
                    item.span,
                    help=f"first written at {where(first.span)}; keep one line",
                )
            )
    growth = [i for i in strategy.items if isinstance(i, n.StrategyGrowth)]
    channels = [i for i in strategy.items if isinstance(i, n.StrategyChannel)]
    found.extend(_adds_up("growth", growth, "growth other 40% when <condition>"))
    found.extend(_adds_up("channel", channels, "channel partner 30%"))
    return found


def _target(item: n.StrategyTarget) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if item.measure.name not in STRATEGY_MEASURES:
        found.append(
            unknown(
                "E212",
                "strategy measure",
                item.measure,
                STRATEGY_MEASURES,
                f"a strategy target measures {either(STRATEGY_MEASURES)} (the won deal "
                "amounts of a year)",
            )
        )
    if item.target.value <= 0:
        found.append(
            Diagnostic(
                "E409",
                f"a revenue target of {item.target.raw} cannot be reached or missed",
                item.target.span,
                help="write the yearly amount the strategy aims at: `target revenue 8M€ from 5M€`",
            )
        )
    return found


def _share(item: n.StrategyGrowth | n.StrategyChannel) -> list[Diagnostic]:
    if item.share.value <= 1:
        return []
    what = "growth" if isinstance(item, n.StrategyGrowth) else "channel"
    return [
        Diagnostic(
            "E410",
            f"{what} `{item.name.name}` is {item.share.raw} of the {what}: more than all of it",
            item.share.span,
            help=f"a share is at most 100% (the {what} shares of a strategy add up to 100%)",
        )
    ]


def _tolerance(item: n.StrategyTolerance) -> list[Diagnostic]:
    if item.points.value <= 100:
        return []
    return [
        Diagnostic(
            "E410",
            f"a tolerance of {item.points.raw} pts is more than 100 points",
            item.points.span,
            help="the tolerance is how many percentage points a share may stray: `tolerance 5 pts`",
        )
    ]


def _channel(ctx: Context, item: n.StrategyChannel) -> list[Diagnostic]:
    """A channel line reads the deal's `channel` field: it must exist and hold the name."""
    fields = ctx.model.records.get("deal", {})
    field = fields.get(STRATEGY_CHANNEL_FIELD)
    if field is None:
        why = (
            f"a channel share is measured on the deals' `{STRATEGY_CHANNEL_FIELD}` field: "
            f"declare it, e.g. `record deal {{ {STRATEGY_CHANNEL_FIELD} one_of "
            f"{item.name.name}, partner }}`"
        )
        diagnostic = unknown_field(STRATEGY_CHANNEL_FIELD, item.span, "deal", (), why)
        return [diagnostic]
    if field.kind == "one_of":
        if item.name.name not in field.options:
            owner = f"deal.{STRATEGY_CHANNEL_FIELD}"
            return [unknown_value(item.name.name, item.name.span, field.options, owner)]
        return []
    if field.kind != "text":
        return [
            Diagnostic(
                "E301",
                f"channel `{item.name.name}` is compared with the deals' "
                f"`{STRATEGY_CHANNEL_FIELD}`, which is {field.kind}",
                item.span,
                help=f"declare `{STRATEGY_CHANNEL_FIELD}` as text or one_of on deals",
            )
        ]
    return []


def _adds_up(
    what: str, items: Sequence[n.StrategyGrowth | n.StrategyChannel], example: str
) -> list[Diagnostic]:
    """W506 when a strategy's growth (or channel) shares do not add up to 100%."""
    total = sum((i.share.value for i in items), Decimal(0))
    if not items or total == 1:
        return []
    spelled = " + ".join(i.share.raw for i in items)
    return [
        Diagnostic(
            "W506",
            f"the {what} shares add up to {pct(total)} ({spelled}), not 100%",
            items[-1].span,
            Severity.WARNING,
            help=f"a mix is measured between its lines, so its shares add up to 100% "
            f"({plain(abs(1 - total) * 100)} points {'to share out' if total < 1 else 'too many'}"
            f"): change a share, or add a line (`{example}`)",
        )
    ]
