"""Paths -> rulesets: find the `.krl` files, group them by folder, parse and check each group.

One folder is one client ruleset (its files share names); a folder of client folders, such as
`rulesets/`, holds several. Naming one file checks the whole folder it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dsl import nodes as n
from dsl.check import CheckResult, check
from dsl.diagnostics import Diagnostic, Severity, sort_diagnostics
from dsl.parser import ParsedFile, parse, read_source, ruleset_files
from dsl.source import SourceFile
from dsl.templates import Deviation, Template, apply_templates

#: Codes that mean the input could not be read at all (exit code 2 rather than 1).
UNREADABLE = frozenset({"E001", "E002", "E003"})


@dataclass(frozen=True, slots=True)
class LoadedRuleset:
    """One client ruleset: its folder, parsed files, check result (None after syntax errors)."""

    folder: Path
    files: tuple[ParsedFile, ...]
    result: CheckResult | None
    diagnostics: tuple[Diagnostic, ...]
    #: The files of the templates it extends (`extends "../house"`), for rendering findings.
    templates: tuple[ParsedFile, ...] = ()
    #: Where it differs from its templates (`koncept check --deviations`).
    deviations: tuple[Deviation, ...] = ()

    @property
    def sources(self) -> dict[str, SourceFile]:
        """Every source a finding may point into: its own files and its templates'."""
        return {p.source.path: p.source for p in (*self.files, *self.templates)}

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
        sources.update(loaded.sources)
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
    extended = _Extended(tuple(modules))
    if not diagnostics and modules:
        home = folder if not folder.is_file() else folder.parent  # `load("one.krl")`
        extended = _extend(home, modules, (home.resolve(),))
        diagnostics.extend(extended.diagnostics)
    if not diagnostics and modules:
        inherited = frozenset(p.source.path for p in extended.files)
        checked = check(extended.modules, strict=strict, inherited=inherited)
        diagnostics.extend(checked.diagnostics)
    return LoadedRuleset(
        folder,
        tuple(parsed),
        checked,
        tuple(sort_diagnostics(diagnostics)),
        extended.files,
        extended.deviations,
    )


def template_folders(folder: Path) -> list[Path]:
    """Every template folder a ruleset folder extends, directly or not, each once in `extends`
    order (resolved paths): with the ruleset's own files, everything its meaning depends on.
    Missing or broken templates are left for the loader to report."""
    seen = [folder.resolve()]

    def visit(current: Path) -> None:
        files, _ = ruleset_files([current])
        header = None
        for path in files:
            source, _ = read_source(path, str(path))
            module = parse(source).module if source is not None else None
            if module is not None:
                header = next((d for d in module.declarations if isinstance(d, n.Ruleset)), None)
            if header is not None:
                break
        for written in header.extends if header is not None else ():
            target = (current / written.path).resolve()
            if target not in seen and target.is_dir():
                seen.append(target)
                visit(target)

    visit(folder)
    return seen[1:]


def template_files(folder: Path) -> list[Path]:
    """The `.krl` files of the templates a ruleset folder extends (`template_folders`)."""
    return [path for template in template_folders(folder) for path in ruleset_files([template])[0]]


@dataclass(frozen=True, slots=True)
class _Extended:
    """Modules with their templates applied, the templates' files, findings, deviations."""

    modules: tuple[n.Module, ...]
    files: tuple[ParsedFile, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    deviations: tuple[Deviation, ...] = ()


def _extend(folder: Path, modules: Sequence[n.Module], chain: tuple[Path, ...]) -> _Extended:
    """Apply the templates the header `extends`, each resolved first (they may extend others).

    A path is relative to the ruleset's folder. A template that is missing, does not parse or
    extends back into the chain stops the merge, with a finding at its path in `extends`."""
    header = next((d for m in modules for d in m.declarations if isinstance(d, n.Ruleset)), None)
    if header is None or not header.extends:
        if any(isinstance(d, n.Override) for m in modules for d in m.declarations):
            merged = apply_templates((), modules)  # each override: "extends no template"
            return _Extended(merged.modules, (), merged.diagnostics)
        return _Extended(tuple(modules))
    templates: list[Template] = []
    files: list[ParsedFile] = []
    found: list[Diagnostic] = []
    for written in header.extends:
        target = (folder / written.path).resolve()
        if target in chain:
            loop = " -> ".join(_display(p) for p in (*chain, target))
            found.append(
                Diagnostic(
                    "E218",
                    f"templates extend each other: {loop}",
                    written.span,
                    help="a template cannot extend, directly or not, the ruleset that extends it",
                )
            )
            continue
        paths, problems = ruleset_files([target]) if target.is_dir() else ([], [])
        if not paths:
            why = "is not a folder" if not target.is_dir() else "holds no .krl file"
            found.append(
                Diagnostic(
                    "E219",
                    f"template `{written.path}` {why} ({_display(target)})",
                    written.span,
                    help=f"the path is relative to this ruleset's folder, {_display(folder)}",
                )
            )
            continue
        parsed = []
        for path in paths:
            source, unreadable = read_source(path, _display(path))
            problems.extend(unreadable)
            if source is not None:
                parsed.append(parse(source))
        problems.extend(d for p in parsed for d in p.diagnostics)
        files.extend(parsed)
        if problems:
            found.extend(problems)
            continue
        inner = _extend(target, [p.module for p in parsed if p.module], (*chain, target))
        files.extend(inner.files)
        found.extend(inner.diagnostics)
        templates.append(Template(written.path, inner.modules))
    if any(d.severity is Severity.ERROR for d in found):
        return _Extended(tuple(modules), tuple(files), tuple(found))
    merged = apply_templates(templates, modules)
    return _Extended(merged.modules, tuple(files), (*found, *merged.diagnostics), merged.deviations)
