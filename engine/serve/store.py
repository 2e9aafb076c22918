"""The rulesets `koncept serve` answers with: a folder of client rulesets, or a git revision.

A *snapshot* is every ruleset of the served folder at one moment, each compiled once and named
by its id (the folder name, `fintech`) and its version (a hash of its `.krl` files and its
`mapping.yaml`, plus the commit when served from git). Requests read `Store.current` once and
use that snapshot to the end, so a reload never mixes two versions in one answer.

Reloading builds a whole new snapshot beside the old one, then swaps it in one assignment:
  * a ruleset whose files did not change keeps its compiled Program (no work, same version);
  * a ruleset that no longer checks is *refused*: the old version keeps serving, and the
    refusal (version, diagnostics) is kept for `/v1/rulesets` and logged;
  * a ruleset folder that disappeared stops being served.
Files are copied (or extracted from git with `git archive`) into a private folder before they
are hashed and loaded, so the version always names what was compiled, and the user's working
tree and index are never touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from dsl.diagnostics import Diagnostic, Severity
from dsl.parser import ruleset_files
from dsl.workspace import template_files, template_folders
from engine import revisions

if TYPE_CHECKING:
    from engine.data import CrmMapping
    from engine.program import Program

__all__ = ["Refusal", "Snapshot", "SourceError", "Store", "Version"]

#: Files copied from the served folder: the rules, and the mappings that read the exports.
_COPIED = ("*.krl", "mapping.yaml")


class SourceError(Exception):
    """The served path cannot be read at all (no such folder, not a git repository, an unknown
    revision): `koncept serve` says so and does not start."""


@dataclass(frozen=True, slots=True)
class Version:
    """One compiled version of one client ruleset."""

    id: str
    digest: str
    program: Program
    mapping: CrmMapping | None
    commit: str | None
    loaded_at: dt.datetime

    @property
    def version(self) -> str:
        """The short content hash that names this version in every answer."""
        return self.digest[:12]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A version of a ruleset that did not check, so the served one was kept."""

    id: str
    digest: str
    commit: str | None
    at: dt.datetime
    diagnostics: tuple[Diagnostic, ...]

    @property
    def version(self) -> str:
        """The short content hash of the refused files."""
        return self.digest[:12]

    @property
    def message(self) -> str:
        """The first error, as `path:line: message`."""
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR] or list(
            self.diagnostics
        )
        if not errors:
            return "the ruleset could not be loaded"
        first = errors[0]
        return f"{first.span.path}:{first.span.line}: {first.message}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every served ruleset at one moment, and the versions refused since they were loaded."""

    rulesets: Mapping[str, Version] = field(default_factory=lambda: MappingProxyType({}))
    refused: Mapping[str, Refusal] = field(default_factory=lambda: MappingProxyType({}))
    commit: str | None = None


class Store:
    """The served rulesets: `load()` once, then `reload()` on every change; `current` is the
    snapshot to answer with."""

    def __init__(self, path: Path, ref: str | None = None) -> None:
        self.path = Path(path)
        self.ref = ref
        self.current = Snapshot()
        self._lock = threading.Lock()  # one reload at a time; readers never wait
        if not self.path.is_dir():
            what = "not a folder" if self.path.exists() else "no such folder"
            raise SourceError(f"{self.path}: {what}")
        self._git_root = _git_root(self.path) if ref is not None else None

    @property
    def watched(self) -> Path:
        """The folder whose changes mean a reload: the rulesets, or the repository's refs."""
        return self._git_root / ".git" if self._git_root is not None else self.path

    def load(self) -> Snapshot:
        """Load (or reload) every ruleset; returns the new current snapshot."""
        with self._lock:
            old = self.current
            with tempfile.TemporaryDirectory(prefix="koncept-serve-") as scratch:
                root, commit = self._materialize(Path(scratch))
                found = dict(_ruleset_folders(root, self.path.resolve().name))
                served: dict[str, Version] = {}
                refused: dict[str, Refusal] = {}
                for ruleset_id, folder in sorted(found.items()):
                    digest = _digest(folder)
                    before = old.rulesets.get(ruleset_id)
                    if before is not None and before.digest == digest:
                        served[ruleset_id] = before
                        continue
                    loaded = _load(ruleset_id, folder, digest, commit)
                    if isinstance(loaded, Version):
                        served[ruleset_id] = loaded
                        continue
                    refused[ruleset_id] = loaded
                    if before is not None:
                        served[ruleset_id] = before
            self.current = Snapshot(
                MappingProxyType(served), MappingProxyType(refused), commit
            )  # one assignment: the swap
            return self.current

    reload = load

    def _materialize(self, scratch: Path) -> tuple[Path, str | None]:
        """A private copy of the served files (rules and mappings only), and the commit."""
        if self._git_root is None:
            # The templates the rulesets extend come along, at the same place relative to them
            # (`extends "../house"` from `rulesets/fintech` when serving that folder alone).
            served = self.path.resolve()
            rulesets = [folder for _, folder in _ruleset_folders(served, served.name)]
            templates = {t for folder in rulesets for t in template_folders(folder)}
            folders = [served, *sorted(t for t in templates if not t.is_relative_to(served))]
            base = Path(os.path.commonpath(folders))
            for folder in folders:
                for pattern in _COPIED:
                    for source in folder.rglob(pattern):
                        if source.is_file():
                            target = scratch / source.relative_to(base)
                            target.parent.mkdir(parents=True, exist_ok=True)
                            shutil.copyfile(source, target)
            return scratch / served.relative_to(base), None
        assert self.ref is not None
        inside = self.path.resolve().relative_to(self._git_root).as_posix()
        try:
            commit = revisions.resolve(self._git_root, self.ref)
            # The rule files of the whole tree: the templates a ruleset extends come along at
            # their place, even outside the served folder (`--ref v1 rulesets/fintech`).
            root = revisions.archive(self._git_root, commit, inside, scratch, patterns=_COPIED)
            return root, commit
        except revisions.RevisionError as error:
            raise SourceError(str(error)) from None


def _ruleset_folders(root: Path, name: str) -> Iterator[tuple[str, Path]]:
    """Each client ruleset under the root (a copy of the served folder called `name`), by id:
    the root itself when it holds `.krl` files directly, else each sub-folder holding some."""
    if not root.is_dir():
        return
    if any(p.is_file() for p in root.glob("*.krl")):
        yield name, root
        return
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if any(p.is_file() for p in folder.rglob("*.krl")):
            yield folder.name, folder


def _digest(folder: Path) -> str:
    """A hash of the files that make the ruleset's meaning, by path and content: every `.krl`
    file the loader reads (the templates' it extends included), and the `mapping.yaml` that
    reads the client's exports."""
    digest = hashlib.sha256()
    files, _ = ruleset_files([folder])  # the files the loader reads, as it finds them
    files.extend(template_files(folder))  # a change in the house template is a new version
    if (folder / "mapping.yaml").is_file():
        files.append(folder / "mapping.yaml")
    for path in files:
        name = Path(os.path.relpath(path, folder)).as_posix().encode()
        content = path.read_bytes()
        digest.update(len(name).to_bytes(8, "big") + name + len(content).to_bytes(8, "big"))
        digest.update(content)
    return digest.hexdigest()


def _load(ruleset_id: str, folder: Path, digest: str, commit: str | None) -> Version | Refusal:
    from engine.data import DataError, load_mapping
    from engine.loader import RulesetError, load_as

    now = dt.datetime.now(dt.UTC)
    try:
        program = load_as(folder, ruleset_id)
        mapping_file = folder / "mapping.yaml"
        mapping = load_mapping(mapping_file) if mapping_file.is_file() else None
    except RulesetError as error:
        return Refusal(ruleset_id, digest, commit, now, error.diagnostics)
    except DataError as error:  # the mapping is unreadable: the exports could not be read
        where = f"{ruleset_id}/mapping.yaml"
        from dsl.source import SourceFile

        problem = Diagnostic("E001", error.reason, SourceFile(where, "").span(0, 0))
        return Refusal(ruleset_id, digest, commit, now, (problem,))
    return Version(ruleset_id, digest, program, mapping, commit, now)


def _git_root(path: Path) -> Path:
    try:
        return revisions.repository_root(path)
    except revisions.RevisionError as error:
        raise SourceError(f"{error} (serve the folder without --ref)") from None
