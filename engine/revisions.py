"""Rulesets at a git revision, read with git itself: never a checkout over the user's tree.

A revision's files are extracted with `git archive` into a private folder the caller owns, so
the user's working tree, index and HEAD are never touched. Revisions are resolved to commits
once (`resolve`); the default branch of a repository is `origin/HEAD`, else `main`, else
`master`. Every failure is a `RevisionError` with a message made for the user: git missing,
not a git repository, an unknown revision, a path absent at a revision.

Standard library only (git is run as a program), so `koncept serve` and `koncept diff` can use
it before anything heavy is imported.
"""

from __future__ import annotations

import fnmatch
import io
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "NotARepository",
    "RevisionError",
    "UnknownRevision",
    "archive",
    "changed_paths",
    "default_branch",
    "git",
    "has_path",
    "merge_base",
    "repository_root",
    "resolve",
]


class RevisionError(Exception):
    """A revision that cannot be read: the message says why, in the user's words."""


class NotARepository(RevisionError):
    """The path is not inside a git working tree."""


class UnknownRevision(RevisionError):
    """A name git does not resolve to a commit."""


def git(where: Path, *args: str) -> str:
    """git's output (stripped) for `git -C where args`, or "" when git fails.

    Raises RevisionError when git itself cannot be run."""
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise RevisionError("git is not installed (it is needed to read a revision)") from None
    return done.stdout.strip() if done.returncode == 0 else ""


def repository_root(path: Path) -> Path:
    """The top folder of the git working tree holding `path`; NotARepository outside one."""
    where = path if path.is_dir() else path.parent
    top = git(where, "rev-parse", "--show-toplevel") if where.is_dir() else ""
    if not top:
        raise NotARepository(f"{path}: not in a git repository")
    return Path(top).resolve()


def resolve(root: Path, revision: str) -> str:
    """The commit a revision names (a branch, tag, sha, `HEAD~2`...); UnknownRevision else."""
    if revision.startswith("-"):  # never an option of git's
        raise UnknownRevision(f"{revision!r} is not a branch, tag or commit of {root}")
    commit = git(
        root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"
    )
    if not commit:
        raise UnknownRevision(f"{revision!r} is not a branch, tag or commit of {root}")
    return commit


def default_branch(root: Path) -> str:
    """The repository's default branch: `origin/HEAD`, else `main`, else `master`."""
    remote = git(root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    for name in (remote, "main", "master"):
        if name and git(root, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"):
            return name
    raise UnknownRevision(
        f"{root}: no default branch to compare with (no origin/HEAD, main or master); "
        "name the base revision"
    )


def merge_base(root: Path, commit: str, other: str) -> str:
    """The best common ancestor of two commits (where a branch left the other)."""
    base = git(root, "merge-base", commit, other)
    if not base:
        raise UnknownRevision(f"{root}: {commit[:12]} and {other[:12]} have no common ancestor")
    return base


def has_path(root: Path, commit: str, inside: str) -> bool:
    """Whether a file or folder (relative to the root, POSIX) exists at a commit."""
    spec = f"{commit}:{inside}" if inside not in ("", ".") else f"{commit}^{{tree}}"
    return bool(git(root, "rev-parse", "--verify", "--quiet", spec))


def changed_paths(root: Path, base: str, head: str | None) -> list[str]:
    """Files (relative to the root) that differ between a commit and another commit, or the
    working tree when `head` is None (untracked files included, ignored ones left out)."""
    listed = git(root, "diff", "--name-only", "--no-renames", base, *([head] if head else []))
    names = set(listed.splitlines())
    if head is None:
        names.update(git(root, "ls-files", "--others", "--exclude-standard").splitlines())
    return sorted(n for n in names if n)


def archive(root: Path, commit: str, inside: str, into: Path, patterns: Sequence[str] = ()) -> Path:
    """Extract the folder `inside` (relative to the root; "." for all) at a commit into the
    folder `into`; returns where it landed (`into/inside`). Nothing else is written.

    With `patterns` (file name patterns), only the files of the whole
    tree whose file name matches one of them (`*.krl`, `mapping.yaml`) are extracted: a
    ruleset and the templates it extends elsewhere."""
    spec = [inside or "."]
    if patterns:
        listed = git(root, "ls-tree", "-r", "--name-only", "--full-tree", commit)
        spec = [
            name for name in listed.splitlines()
            if any(fnmatch.fnmatchcase(name.rsplit("/", 1)[-1], p) for p in patterns)
        ]  # fmt: skip
        if not spec:
            into.mkdir(parents=True, exist_ok=True)
            return into / inside
    run = subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", commit, "--", *spec],
        capture_output=True,
        check=False,
    )
    if run.returncode != 0:
        reason = run.stderr.decode(errors="replace").strip().splitlines()
        raise RevisionError(
            f"{inside} at {commit[:12]}: " + (reason[-1] if reason else "git archive failed")
        )
    with tarfile.open(fileobj=io.BytesIO(run.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / inside
