"""Ruleset files -> a checked, compiled `Program`, ready to evaluate records and tables.

`load` reads a ruleset folder (every `.krl` file under it) or one `.krl` file, parses and
checks it, and compiles it once. A ruleset with errors raises `RulesetError`, which carries the
diagnostics and the sources so a caller can render them like `koncept check` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from dsl.diagnostics import Diagnostic, Severity, render_all, sort_diagnostics
from dsl.parser import read_source, ruleset_files
from dsl.source import SourceFile
from dsl.workspace import LoadedRuleset, check_sources, load_files
from engine.compiler import compile_model
from engine.program import Program

__all__ = ["RulesetError", "load", "load_as", "load_text"]


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


def load_as(folder: Path, name: str, *, strict: bool = False) -> Program:
    """Load a ruleset folder whose files are shown as `name/<path in the folder>`: a copy
    taken for `koncept serve` (a git revision, a snapshot) is named as its users know it."""
    files, problems = ruleset_files([folder])
    sources: list[SourceFile] = []
    for path in files:
        source, unreadable = read_source(path, f"{name}/{path.relative_to(folder).as_posix()}")
        problems.extend(unreadable)
        if source is not None:
            sources.append(source)
    if not sources and not problems:
        problems.append(Diagnostic("E001", "no .krl file found", SourceFile(name, "").span(0, 0)))
    if problems:
        raise RulesetError(problems, {s.path: s for s in sources})
    return _program(check_sources(folder, sources, strict=strict))


def load_text(text: str, name: str = "<ruleset>.krl", *, strict: bool = False) -> Program:
    """Load a ruleset from text (embedding, tests)."""
    source = SourceFile(name, text)
    return _program(check_sources(Path(name).parent, [source], strict=strict))


def _program(loaded: LoadedRuleset) -> Program:
    sources = loaded.sources
    diagnostics = list(loaded.diagnostics)
    if not loaded.ok or loaded.result is None:
        if not diagnostics:  # files that declare nothing
            where = SourceFile(str(loaded.folder), "").span(0, 0)
            diagnostics.append(Diagnostic("E005", "no `ruleset` header", where))
        raise RulesetError(diagnostics, sources)
    # A clean check always compiles: a CompileError here is a bug of the engine, not a
    # problem of the ruleset, and is not dressed up as a diagnostic.
    result = loaded.result
    compiled = compile_model(result.model, result.typed)
    return Program(result.model, result.typed, compiled, diagnostics)
