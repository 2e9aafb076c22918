"""`engine.revisions`: rulesets read at a git revision with git itself, in a real repository."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine import revisions
from tests.git_repo import git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """master: a.krl, notes.txt; feature (checked out): a.krl changed, b/c.krl added."""
    root = tmp_path / "repo"
    (root / "rules").mkdir(parents=True)
    (root / "rules/a.krl").write_text("one\n", encoding="utf-8")
    (root / "notes.txt").write_text("not a ruleset\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "master")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    git(root, "checkout", "-q", "-b", "feature")
    (root / "rules/a.krl").write_text("two\n", encoding="utf-8")
    (root / "rules/b").mkdir()
    (root / "rules/b/c.krl").write_text("three\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "second")
    return root


def test_resolve_default_branch_and_merge_base(repo: Path) -> None:
    assert revisions.repository_root(repo / "rules") == repo.resolve()
    assert revisions.default_branch(repo) == "master"  # no origin/HEAD, no main
    first = revisions.resolve(repo, "master")
    head = revisions.resolve(repo, "HEAD")
    assert first != head and revisions.resolve(repo, "HEAD~1") == first
    assert revisions.merge_base(repo, head, first) == first
    with pytest.raises(revisions.UnknownRevision, match="'nope' is not a branch, tag or commit"):
        revisions.resolve(repo, "nope")
    with pytest.raises(revisions.UnknownRevision):
        revisions.resolve(repo, "--all")  # never passed to git as an option


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(revisions.NotARepository, match="not in a git repository"):
        revisions.repository_root(tmp_path)


def test_archive_reads_a_revision_without_touching_the_tree(repo: Path, tmp_path: Path) -> None:
    (repo / "rules/a.krl").write_text("uncommitted\n", encoding="utf-8")
    (repo / "rules/new.krl").write_text("untracked\n", encoding="utf-8")
    status = git(repo, "status", "--porcelain")
    index = hashlib.sha256((repo / ".git/index").read_bytes()).hexdigest()
    first = revisions.resolve(repo, "master")
    folder = revisions.archive(repo, first, "rules", tmp_path / "old")
    assert folder == tmp_path / "old/rules"
    assert (folder / "a.krl").read_text(encoding="utf-8") == "one\n"
    assert not (folder / "b").exists()
    # Only the files whose name matches, from the whole tree.
    head = revisions.resolve(repo, "HEAD")
    revisions.archive(repo, head, ".", tmp_path / "new", ("*.krl",))
    found = sorted(
        p.relative_to(tmp_path / "new").as_posix() for p in (tmp_path / "new").rglob("*.*")
    )
    assert found == ["rules/a.krl", "rules/b/c.krl"]
    assert revisions.has_path(repo, head, "rules/b") and not revisions.has_path(
        repo, first, "rules/b"
    )
    assert revisions.changed_paths(repo, first, head) == ["rules/a.krl", "rules/b/c.krl"]
    assert revisions.changed_paths(repo, head, None) == ["rules/a.krl", "rules/new.krl"]
    assert git(repo, "status", "--porcelain") == status
    assert hashlib.sha256((repo / ".git/index").read_bytes()).hexdigest() == index
    with pytest.raises(revisions.RevisionError, match="rules/none"):
        revisions.archive(repo, head, "rules/none", tmp_path / "x")
