"""Ruleset files -> a checked, compiled `Program`, ready to evaluate records and tables.

`load` reads a ruleset folder (every `.krl` file under it) or one `.krl` file, parses and
checks it, and compiles it once. A ruleset with errors raises `RulesetError`, which carries the
diagnostics and the sources so a caller can render them like `koncept check` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dsl.diagnostics import Diagnostic, Severity, render_all, sort_diagnostics
from dsl.model import Model
from dsl.parser import ruleset_files
from dsl.source import SourceFile
from dsl.workspace import LoadedRuleset, check_sources, load_files
from engine.compiler import Compiled, CompileError, compile_model, today
from engine.record import DealEvaluator, LeadEvaluator
from engine.results import DealResult, LeadResult, Results

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Program", "RulesetError", "load", "load_text"]


class RulesetError(Exception):
    """A ruleset that cannot be evaluated: its diagnostics, and the sources to render them."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceFile]):
        self.diagnostics = tuple(sort_diagnostics(diagnostics))
        self.sources = dict(sources)
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR]
        first = errors[0] if errors else (self.diagnostics[0] if self.diagnostics else None)
        summary = f"{first.span.path}:{first.span.line}: {first.message}" if first else "invalid"
        super().__init__(f"ruleset has {len(errors)} error(s); first: {summary}")

    def render(self) -> str:
        """The diagnostics as `koncept check` prints them."""
        return render_all(self.diagnostics, self.sources)


class Program:
    """A compiled ruleset: evaluates one lead or deal, or whole tables. Immutable, shareable."""

    __slots__ = ("_deal", "_lead", "compiled", "diagnostics", "model")

    def __init__(
        self, model: Model, compiled: Compiled, diagnostics: Sequence[Diagnostic] = ()
    ) -> None:
        self.model = model
        self.compiled = compiled
        #: Warnings the checker reported (errors never make a Program).
        self.diagnostics = tuple(diagnostics)
        self._lead = LeadEvaluator(compiled)
        self._deal = DealEvaluator(compiled)

    def evaluate_lead(self, lead: Mapping[str, object]) -> LeadResult:
        """Score and classify one lead (a dict of field -> value); the reference path."""
        return self._lead(lead)

    def evaluate_deal(self, deal: Mapping[str, object], as_of: dt.date | None = None) -> DealResult:
        """Pipeline, qualification and playbook of one deal as of a date (default today)."""
        return self._deal(deal, as_of or today())

    def evaluate(
        self,
        *,
        leads: pd.DataFrame | None = None,
        deals: pd.DataFrame | None = None,
        stage_events: pd.DataFrame | None = None,
        reps: pd.DataFrame | None = None,
        quotas: pd.DataFrame | None = None,
        territories: pd.DataFrame | None = None,
        splits: pd.DataFrame | None = None,
        as_of: dt.date | None = None,
        period: str | None = None,
    ) -> Results:
        """Evaluate whole tables (vectorized); rows failing validation are reported, not used."""
        from engine.vector import evaluate_tables

        return evaluate_tables(
            self,
            {
                "leads": leads,
                "deals": deals,
                "stage_events": stage_events,
                "reps": reps,
                "quotas": quotas,
                "territories": territories,
                "splits": splits,
            },
            as_of=as_of or today(),
            period=period,
        )


def load(path: str | Path, *, strict: bool = False) -> Program:
    """Load a ruleset folder (all its `.krl` files) or one `.krl` file into a Program."""
    files, problems = ruleset_files([Path(path)])
    if not files and not problems:
        problems.append(
            Diagnostic("E001", "no .krl file found", SourceFile(str(path), "").span(0, 0))
        )
    if problems:
        raise RulesetError(problems, {})
    return _program(load_files(Path(path), files, strict=strict))


def load_text(text: str, name: str = "<ruleset>.krl", *, strict: bool = False) -> Program:
    """Load a ruleset from text (embedding, tests)."""
    source = SourceFile(name, text)
    return _program(check_sources(Path(name).parent, [source], strict=strict))


def _program(loaded: LoadedRuleset) -> Program:
    sources = {p.source.path: p.source for p in loaded.files}
    diagnostics = list(loaded.diagnostics)
    if not loaded.ok or loaded.result is None:
        if not diagnostics:  # files that declare nothing
            where = SourceFile(str(loaded.folder), "").span(0, 0)
            diagnostics.append(Diagnostic("E005", "no `ruleset` header", where))
        raise RulesetError(diagnostics, sources)
    try:
        compiled = compile_model(loaded.result.model)
    except CompileError as error:
        found = Diagnostic(error.code, error.message, error.span)
        raise RulesetError([*diagnostics, found], sources) from None
    return Program(loaded.result.model, compiled, diagnostics)
