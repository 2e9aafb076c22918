"""The Koncept evaluation engine: load a ruleset once, evaluate records and tables.

    import engine
    program = engine.load("rulesets/contech-saas")
    program.evaluate_lead({"id": "L1", "budget": "confirmed", ...}).status
    results = program.evaluate(leads=leads_df, deals=deals_df, as_of=date(2026, 3, 31))

Names are imported on first use, so `import engine.cli` (for `koncept check` and `fmt`) never
imports pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.loader import RulesetError, load, load_text
    from engine.program import Program
    from engine.record import RecordError
    from engine.results import DealResult, FrozenDict, LeadResult, Results, TableCounts

__all__ = [
    "DealResult",
    "FrozenDict",
    "LeadResult",
    "Program",
    "RecordError",
    "Results",
    "RulesetError",
    "TableCounts",
    "installed_version",
    "load",
    "load_text",
]

_WHERE = {
    "Program": "engine.program",
    "RulesetError": "engine.loader",
    "load": "engine.loader",
    "load_text": "engine.loader",
    "RecordError": "engine.record",
    "DealResult": "engine.results",
    "FrozenDict": "engine.results",
    "LeadResult": "engine.results",
    "Results": "engine.results",
    "TableCounts": "engine.results",
}


def installed_version() -> str:
    """The version of the installed `koncept-rules` package ("unknown" when run uninstalled)."""
    from importlib.metadata import PackageNotFoundError, version  # 30 ms: only when asked

    try:
        return version("koncept-rules")
    except PackageNotFoundError:
        return "unknown"


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
