"""Paths -> rulesets: find the `.krl` files, group them by folder, parse and check each group.

One folder is one client ruleset (its files share names); a folder of client folders, such as
`rulesets/`, holds several. Naming one file checks the whole folder it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dsl.check import CheckResult, check
from dsl.diagnostics import Diagnostic, sort_diagnostics
from dsl.parser import ParsedFile, parse, read_source, ruleset_files
from dsl.source import SourceFile

#: Codes that mean the input could not be read at all (exit code 2 rather than 1).
UNREADABLE = frozenset({"E001", "E002", "E003"})


@dataclass(frozen=True, slots=True)
class LoadedRuleset:
    """One client ruleset: its folder, parsed files, check result (None after syntax errors)."""

    folder: Path
    files: tuple[ParsedFile, ...]
    result: CheckResult | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(d.severity.value == "error" for d in self.diagnostics)


@dataclass(frozen=True, slots=True)
class Workspace:
    """Every ruleset named by some paths, the sources (for rendering) and all diagnostics."""

    rulesets: tuple[LoadedRuleset, ...]
    sources: dict[str, SourceFile]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def unreadable(self) -> bool:
        """Whether some input could not be read at all."""
        return any(d.code in UNREADABLE for d in self.diagnostics)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # elsewhere, or a symbolic link loop
        return str(path)


def group_by_folder(paths: Iterable[Path]) -> tuple[dict[Path, list[Path]], list[Diagnostic]]:
    """The ruleset folders the paths name, each with its `.krl` files in order."""
    named = list(paths)
    files, problems = ruleset_files(named)
    groups: dict[Path, list[Path]] = {}
    for file in files:
        # A file named on its own brings its folder along: its names live there.
        siblings = _siblings(file) if file in named else [file]
        group = groups.setdefault(file.parent, [])
        group.extend(s for s in siblings if s not in group)
    return groups, problems


def _siblings(file: Path) -> list[Path]:
    """The `.krl` files beside a named file, itself included; a link that cannot be followed
    is kept, so that reading it reports why (E001)."""
    return sorted(p for p in file.parent.glob("*.krl") if not p.is_dir())


def load_workspace(paths: Sequence[Path], *, strict: bool = False) -> Workspace:
    """Parse and check every ruleset the paths name; never raises on bad input."""
    groups, problems = group_by_folder(paths)
    sources: dict[str, SourceFile] = {}
    rulesets: list[LoadedRuleset] = []
    everything: list[Diagnostic] = list(problems)
    for folder, files in groups.items():
        loaded = load_files(folder, files, strict=strict)
        sources.update({f.source.path: f.source for f in loaded.files})
        rulesets.append(loaded)
        everything.extend(loaded.diagnostics)
    return Workspace(tuple(rulesets), sources, tuple(sort_diagnostics(everything)))


def load_files(folder: Path, files: Sequence[Path], *, strict: bool = False) -> LoadedRuleset:
    """Read, parse and check the files of one ruleset."""
    sources: list[SourceFile] = []
    unreadable: list[Diagnostic] = []
    for path in files:
        source, problems = read_source(path, _display(path))
        unreadable.extend(problems)
        if source is not None:
            sources.append(source)
    return check_sources(folder, sources, strict=strict, problems=unreadable)


def check_sources(
    folder: Path,
    sources: Sequence[SourceFile],
    *,
    strict: bool = False,
    problems: Sequence[Diagnostic] = (),
) -> LoadedRuleset:
    """Parse the sources of one ruleset and, when they all parse, check them together."""
    parsed = [parse(source) for source in sources]
    diagnostics = [*problems, *(d for p in parsed for d in p.diagnostics)]
    modules = [p.module for p in parsed if p.module is not None]
    checked = None
    if not diagnostics and modules:
        checked = check(modules, strict=strict)
        diagnostics.extend(checked.diagnostics)
    return LoadedRuleset(folder, tuple(parsed), checked, tuple(sort_diagnostics(diagnostics)))
