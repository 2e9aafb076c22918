"""The pre-commit hooks (`.pre-commit-hooks.yaml`) run by the real `pre-commit` tool in a
client's git repository, with the project installed by pre-commit itself (pip, in a virtual
environment of its own) from a git copy of this working tree.

The first run installs the project and its dependencies into pre-commit's cache: 60 to 70 s
on the CI machine (2 cores, shared), once for the module; every hook run after that takes 1 to
8 s. The module is marked `slow`: it runs by default, `-m "not slow"` leaves it out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from ci_support import commit_all, git

from engine.cli.main import main as koncept

ROOT = Path(__file__).parents[2]
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
pytestmark = pytest.mark.slow
#: What pip needs to install the project (`pyproject.toml` names README.md as the readme).
_PROJECT = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "dsl", "engine")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository holding this working tree's project files, committed: pre-commit
    clones hook repositories at a commit, and the tree has uncommitted changes."""
    copy = tmp_path_factory.mktemp("koncept-rules")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in _PROJECT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=ignore)
        else:
            shutil.copy2(source, copy / name)
    git(copy, "init", "-q")
    return copy, commit_all(copy, "koncept-rules, as in the working tree")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's cache (its hook environments), shared by the module's tests."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def client(
    tmp_path: Path, project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A client's repository made by `koncept init`, its pre-commit config pointed at the copy."""
    repo = tmp_path / "client"
    repo.mkdir()
    git(repo, "init", "-q")
    monkeypatch.chdir(repo)
    assert koncept(["init", "acme", "--dir", "."]) == 0
    config = repo / ".pre-commit-config.yaml"
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert settings["repos"][0]["repo"].startswith("https://github.com/")
    settings["repos"][0].update(repo=str(project[0]), rev=project[1])
    config.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    commit_all(repo, "acme")
    yield repo


def pre_commit(repo: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(cache), "NO_COLOR": "1"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [str(PRE_COMMIT), "run", "--color", "never", *args],
        cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip


def test_the_hooks_pass_on_a_clean_client(client: Path, cache: Path) -> None:
    done = pre_commit(client, cache, "--all-files")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.endswith(("Passed", "Failed"))]
    assert [(line.split(".")[0], line.rsplit(".", 1)[-1]) for line in lines] == [
        ("koncept fmt", "Passed"), ("koncept check", "Passed"), ("koncept test", "Passed")
    ], done.stdout  # fmt: skip


def test_a_badly_formatted_file_fails_koncept_fmt_and_is_rewritten(
    client: Path, cache: Path
) -> None:
    team = client / "team.krl"
    formatted = team.read_text(encoding="utf-8")
    team.write_text(formatted.replace("kpis bookings, win_rate", "kpis   bookings,win_rate"))
    git(client, "add", "team.krl")
    done = pre_commit(client, cache, "koncept-fmt", "--files", "team.krl")
    assert done.returncode == 1
    assert "files were modified by this hook" in done.stdout
    assert "reformatted team.krl" in done.stdout
    assert team.read_text(encoding="utf-8") == formatted


def test_a_broken_rule_fails_koncept_check(client: Path, cache: Path) -> None:
    pipeline = client / "pipeline.krl"
    text = pipeline.read_text(encoding="utf-8")
    pipeline.write_text(text.replace(": need_identified", ": need_identifed"), encoding="utf-8")
    git(client, "add", "pipeline.krl")
    done = pre_commit(client, cache, "koncept-check", "--files", "pipeline.krl")
    assert done.returncode == 1
    assert "error[E201]: unknown field `need_identifed` on deal" in done.stdout
    assert "did you mean `need_identified`?" in done.stdout


def test_a_rule_change_that_breaks_a_fixture_fails_koncept_test(client: Path, cache: Path) -> None:
    plans = client / "plans.krl"
    text = plans.read_text(encoding="utf-8")
    plans.write_text(text.replace("[90%, 100%) 75%", "[90%, 100%) 80%"), encoding="utf-8")
    git(client, "add", "plans.krl")
    done = pre_commit(client, cache, "koncept-test", "--files", "plans.krl")
    assert done.returncode == 1
    assert "FAIL   90000 signés sur un quota de 100 000 paient 4500.00" in done.stdout
    assert "43 cases in 4 files: 40 passed, 3 failed" in done.stdout


def test_init_works_from_the_installed_package(client: Path, cache: Path, tmp_path: Path) -> None:
    """pre-commit installed the project as a wheel (not editable): `koncept init` finds its
    template in the package data there too."""
    [installed] = cache.glob("repo*/py_env-*/bin/koncept")
    done = subprocess.run(
        [str(installed), "init", "beta", "--dir", str(tmp_path / "beta")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    folder = tmp_path / "beta"
    made = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert len(made) == 14
    assert ".github/workflows/koncept.yml" in made and "tests/plans.yaml" in made
