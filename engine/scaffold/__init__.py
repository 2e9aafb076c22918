"""`koncept init`: a new client folder, from the generic template or from an existing ruleset.

The generic template (`engine/scaffold/template/`, package data) is itself a ruleset that
checks, formats and tests clean: its client id is the identifier `__client__`, replaced by the
new client's id. Files whose names start with `dot-` become hidden files (`dot-github` ->
`.github`): package data leaves hidden files out. `--from` copies a client's folder instead,
renames the id in its header and rewrites its `extends` paths for the new place (both found by
the parser, never by a text search), then adds the CI files and the README the copy lacks.
`--from` a house template (`template` in its header) makes a client that extends it: a header
with `extends`, the template's fixtures, and the CI files and README.

The folder is written under a temporary name beside the target, then renamed (into a folder
that exists, empty or holding only `.git`, entry by entry): an error halfway leaves nothing
behind.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from dsl import nodes as n
from dsl.diagnostics import render_all
from dsl.workspace import load_workspace

__all__ = [
    "DEFAULT_REPOSITORY",
    "TEMPLATE",
    "ScaffoldError",
    "client_id",
    "scaffold",
    "suggest_id",
]

#: The generic template shipped with the package.
TEMPLATE = Path(__file__).parent / "template"
#: Where the generated CI files find the GitHub Action and the pre-commit hooks (owner/name).
DEFAULT_REPOSITORY = "koncept-rules/koncept-rules"
#: What the template writes in place of the client id, the repository and its tag.
_CLIENT, _REPOSITORY, _REVISION = "__client__", "__koncept_repo__", "__koncept_rev__"
#: The files of the template that `--from` adds when the copied folder lacks them.
_CI_FILES = ("README.md", "dot-github/workflows/koncept.yml", "dot-pre-commit-config.yaml")
#: The grammar's NAME (dsl/grammar.lark): a client id is a ruleset name.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SKIP = frozenset({".git", "__pycache__", ".pytest_cache", ".venv", "venv", "node_modules"})


class ScaffoldError(Exception):
    """The folder cannot be created: the message says why (and how to fix it)."""


@dataclass(frozen=True, slots=True)
class _Header:
    """A ruleset's header: its folder and file, the offsets of its id, and of each template
    path of `extends` with the folder it names (relative paths move with the copy)."""

    folder: Path
    path: Path
    start: int
    end: int
    extends: tuple[tuple[int, int, Path], ...] = ()
    #: The folder is a house template (`template` in its header): the client extends it.
    template: bool = False


def suggest_id(text: str) -> str:
    """An identifier close to `text`: `acme-corp` -> `acme_corp`, `3m` -> `client_3m`,
    `Égée` -> `Egee`."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", plain).strip("_") or "client"
    return cleaned if _IDENTIFIER.fullmatch(cleaned) else f"client_{cleaned}"


def client_id(text: str) -> str:
    """`text` when it is a valid client id (a ruleset name), else a ScaffoldError."""
    if _IDENTIFIER.fullmatch(text):
        return text
    raise ScaffoldError(
        f"{text!r} is not a valid client id (letters, digits and `_`, not starting with a "
        f"digit); try `{suggest_id(text)}`"
    )


def scaffold(
    client: str,
    target: Path,
    *,
    source: Path | None = None,
    repository: str = DEFAULT_REPOSITORY,
    revision: str = "main",
) -> list[Path]:
    """Create the client folder `target` (absent or empty) for the client id `client`, from
    the generic template or from the ruleset folder `source`; returns the files written."""
    client = client_id(client)
    if target.exists() and not target.is_dir():
        raise ScaffoldError(f"{target} already exists and is not a folder: nothing was written")
    if target.exists() and _holds_files(target):
        raise ScaffoldError(f"{target} already exists and is not empty: nothing was written")
    if source is not None and not source.is_dir():
        raise ScaffoldError(f"--from {source}: not a folder")
    header = _header(source) if source is not None else None
    parent = target.resolve().parent  # beside the target, on the same file system
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".koncept-init-{client}-", dir=parent))
    moved: list[Path] = []
    try:
        if header is None:
            for relative in _template_files():
                _write_template(relative, staging, client, repository, revision)
        else:
            if header.template:
                _extend_template(header, staging, client, target.resolve())
            else:
                _copy_ruleset(header, staging, client, target.resolve())
            for relative in _CI_FILES:
                if not (staging / _shown(relative)).exists():
                    _write_template(relative, staging, client, repository, revision)
        written = sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file())
        if target.exists():  # empty, or a fresh git repository: the entries move in one by one
            for entry in sorted(staging.iterdir()):
                os.rename(entry, target / entry.name)
                moved.append(target / entry.name)
            staging.rmdir()
        else:
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for entry in moved:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        raise
    return [target / p for p in written]


def _holds_files(folder: Path) -> bool:
    """Whether the folder holds anything besides a `.git` (a fresh `git init` is welcome)."""
    return any(entry.name != ".git" for entry in folder.iterdir())


def _template_files() -> list[str]:
    files = [
        path.relative_to(TEMPLATE).as_posix()
        for path in sorted(TEMPLATE.rglob("*"))
        if path.is_file() and not _skipped(path.relative_to(TEMPLATE))
    ]
    if "main.krl" not in files:  # an installation without the package data
        raise ScaffoldError(f"the client template is missing from this installation ({TEMPLATE})")
    return files


def _skipped(relative: Path) -> bool:
    return any(part in _SKIP or part.endswith(".pyc") for part in relative.parts)


def _shown(relative: str) -> str:
    """The name a template file gets: `dot-x` parts become `.x`."""
    return "/".join(
        "." + part.removeprefix("dot-") if part.startswith("dot-") else part
        for part in relative.split("/")
    )


def _write_template(
    relative: str, folder: Path, client: str, repository: str, revision: str
) -> None:
    text = (TEMPLATE / relative).read_text(encoding="utf-8")
    text = text.replace(_CLIENT, client).replace(_REPOSITORY, repository)
    text = text.replace(_REVISION, revision)
    path = folder / _shown(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _header(source: Path) -> _Header:
    """Where the id of the one ruleset in `source` is written; a ScaffoldError when the
    folder does not hold exactly one ruleset that parses."""
    workspace = load_workspace([source])
    errors = [d for d in workspace.diagnostics if d.severity.value == "error"]
    if errors:
        raise ScaffoldError(
            f"--from {source}: the ruleset has errors; fix them first:\n"
            + render_all(errors, workspace.sources).rstrip()
        )
    folders = [r for r in workspace.rulesets if r.folder.resolve() == source.resolve()]
    if len(workspace.rulesets) != 1 or not folders:
        raise ScaffoldError(f"--from {source}: expected one ruleset folder with .krl files")
    for parsed in folders[0].files:
        for declaration in parsed.module.declarations if parsed.module else ():
            if isinstance(declaration, n.Ruleset):
                span = declaration.name.span
                path = next(p for p in source.glob("*.krl") if _same(p, parsed.source.path))
                extends = tuple(
                    (e.span.start, e.span.end, (source / e.path).resolve())
                    for e in declaration.extends
                )
                template = declaration.template is not None
                return _Header(source, path, span.start, span.end, extends, template)
    raise ScaffoldError(f"--from {source}: no `ruleset` header found")  # E005 says it first


def _same(path: Path, shown: str) -> bool:
    return path.resolve() == Path(shown).resolve()


def _extend_template(header: _Header, folder: Path, client: str, target: Path) -> None:
    """A client of a house template: a header that extends it (from where the client goes),
    and the template's fixtures and mapping, which hold for the client until it overrides
    something."""
    path = Path(os.path.relpath(header.folder.resolve(), target)).as_posix()
    (folder / "main.krl").write_text(
        f"# {client}: starts from the house method ({path}). Change one of its items with\n"
        "# `override`; add the client's own rules in more .krl files beside this one.\n"
        f'ruleset {client} "{client}" {{\n  extends "{path}"\n}}\n',
        encoding="utf-8",
    )
    for name in ("tests", "mapping.yaml"):
        source = header.folder / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns(*_SKIP))
        elif source.is_file():
            shutil.copy2(source, folder / name)


def _copy_ruleset(header: _Header, folder: Path, client: str, target: Path) -> None:
    """Copy the ruleset folder's files (not caches nor version control), its id renamed and
    its `extends` paths written from `target`, where the copy goes."""
    source = header.folder
    edits = [(header.start, header.end, client)]
    for start, end, template in header.extends:
        edits.append((start, end, '"' + Path(os.path.relpath(template, target)).as_posix() + '"'))
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if _skipped(relative) or not path.is_file():
            continue
        copy = folder / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        if path.resolve() == header.path.resolve():
            text = path.read_text(encoding="utf-8-sig")
            for start, end, replacement in sorted(edits, reverse=True):
                text = text[:start] + replacement + text[end:]
            copy.write_text(text, encoding="utf-8")
        else:
            shutil.copy2(path, copy)
