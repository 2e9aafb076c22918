"""Real git repositories for the tests: git with an identity, dates and settings of its own, so
no configuration of the machine is read and the commits are the same on every run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_AUTHOR_DATE": "2026-06-01T12:00:00Z", "GIT_COMMITTER_DATE": "2026-06-01T12:00:00Z",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}  # fmt: skip


def git(repo: Path, *args: str) -> str:
    """Run git in `repo`; its output, stripped (a failure raises)."""
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "init.defaultBranch=main", *args],
        capture_output=True, text=True, check=True, env={**os.environ, **ENV},
    )  # fmt: skip
    return done.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    """Stage everything in `repo`, commit, and return the new commit's id."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")
