"""The GitHub Action (`action.yml`): valid, every command it runs exists, and its shell steps
run in order with bash, as a runner runs them, in a real git repository of a client with a
base and a head commit; the comment goes to the fake GitHub API of conftest.py."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_support import REPOSITORY, TOKEN, FakeGithub, commit_all, git

from engine.cli.main import build_parser
from engine.cli.main import main as koncept

ROOT = Path(__file__).parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
STEPS = ACTION["runs"]["steps"]
_EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def subcommands() -> set[str]:
    """The subcommands of the real argument parser."""
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


def test_the_action_is_a_valid_composite_action() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) == {
        "paths", "data", "fail-on", "max-change", "python-version", "comment", "github-token"
    }  # fmt: skip
    ids = [step.get("id") for step in STEPS]
    assert ids == [None, "install", "prepare", "check", "fmt", "test", "diff", "comment", "verdict"]
    assert STEPS[0]["uses"].startswith("actions/setup-python@")
    for step in STEPS[1:]:
        assert step["shell"] == "bash"  # a composite step must name its shell
        for expression in _EXPRESSION.findall(step["run"]):
            raise AssertionError(f"{step['id']}: {expression} pasted into the script")
    outputs = {
        name: re.findall(r"^\$\{\{ steps\.(\w+)\.outputs\.([\w-]+) \}\}$", output["value"])
        for name, output in ACTION["outputs"].items()
    }
    assert outputs == {
        "diff": [("diff", "diff")],
        "junit": [("test", "junit")],
        "comment-url": [("comment", "comment-url")],  # written by engine.ci.comment
    }
    for step, key in (("diff", "diff"), ("test", "junit")):
        assert f'echo "{key}=' in next(s for s in STEPS if s.get("id") == step)["run"]


def test_every_command_of_the_action_exists() -> None:
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "koncept"), "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    used = set()
    for step in STEPS[1:]:
        used.update(re.findall(r"\bkoncept (\w+)", step["run"]))
    assert used == {"check", "fmt", "test", "diff"}
    assert used <= subcommands()
    for name in used:
        assert re.search(rf"^\s+{name}\s", listed, re.MULTILINE), name
    assert "python -m engine.ci.comment" in STEPS[7]["run"]
    assert importlib.util.find_spec("engine.ci.comment") is not None


# ============================================================================ running it
@dataclass
class Run:
    """What one step did."""

    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]


def _expression(expression: str, inputs: Mapping[str, str], event: Mapping[str, Any]) -> str:
    """An expression as GitHub evaluates the few the action uses; anything else fails."""
    if expression.startswith("inputs."):
        name = expression.removeprefix("inputs.")
        assert name in ACTION["inputs"], f"undeclared input {name}"
        value = inputs.get(name, ACTION["inputs"][name].get("default", ""))
        return _substitute(str(value), inputs, event)
    if expression == "github.action_path":
        return str(ROOT)
    if expression == "github.token":
        return TOKEN
    if expression.startswith("github.event."):
        value: Any = event
        for key in expression.removeprefix("github.event.").split("."):
            value = value.get(key, {}) if isinstance(value, dict) else {}
        return "" if value == {} else str(value)
    raise AssertionError(f"the test does not know the expression {expression!r}")


def _substitute(text: str, inputs: Mapping[str, str], event: Mapping[str, Any]) -> str:
    return _EXPRESSION.sub(lambda m: _expression(m.group(1), inputs, event), text)


def run_action(
    repo: Path,
    temp: Path,
    github: FakeGithub,
    inputs: Mapping[str, str],
    event: Mapping[str, Any],
    only: set[str] | None = None,
) -> dict[str, Run]:
    """Run the action's bash steps in order in `repo` (the pip install step aside: the tool is
    installed already), with the variables a runner sets; stop after a failing step."""
    temp.mkdir(exist_ok=True)
    event_file = temp / "event.json"
    event_file.write_text(json.dumps(event))
    summary = temp / "summary.md"
    runs: dict[str, Run] = {}
    for step in STEPS:
        if "run" not in step or step["id"] == "install" or (only and step["id"] not in only):
            continue
        output = temp / f"output-{step['id']}"
        output.write_text("")
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", str(temp)),
            "RUNNER_TEMP": str(temp),
            "GITHUB_WORKSPACE": str(repo),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_EVENT_PATH": str(event_file),
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_API_URL": github.url,
            "GITHUB_ACTIONS": "true",
        }
        env.update({k: _substitute(str(v), inputs, event) for k, v in step.get("env", {}).items()})
        script = temp / f"{step['id']}.sh"
        script.write_text(step["run"])
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=repo, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        pairs = [line.split("=", 1) for line in output.read_text().splitlines() if "=" in line]
        runs[step["id"]] = Run(done.returncode, done.stdout, done.stderr, dict(pairs))
        if done.returncode != 0:
            break
    return runs


def _client_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A client's repository: the folder `koncept init` makes, demo data, one commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    monkeypatch.chdir(repo)
    assert koncept(["init", "acme"]) == 0
    assert koncept(["demo", "acme", "--out", "data", "--leads", "40", "--deals", "40"]) == 0
    monkeypatch.chdir(tmp_path)
    return repo, commit_all(repo, "acme: the generic template")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _raise_the_rate(repo: Path) -> None:
    """The pull request: the band [90%, 100%) pays 80% instead of 75%, fixtures updated."""
    _replace(repo / "acme/plans.krl", "[90%, 100%) 75%", "[90%, 100%) 80%")
    fixture = repo / "acme/tests/plans.yaml"
    for old, new in (
        ("[90000, 4500.00]", "[90000, 4800.00]"),
        ("[95000, 4500.00]", "[95000, 4800.00]"),
        ("payout: 4500.00", "payout: 4800.00"),
        ("rate_or_pct: 75%", "rate_or_pct: 80%"),
    ):
        _replace(fixture, old, new)


def _event(base: str, head: str) -> dict[str, Any]:
    return {"pull_request": {"number": 12, "base": {"sha": base}, "head": {"sha": head}}}


@pytest.mark.skipif(
    not (ROOT / "engine/cli/diff.py").exists(), reason="koncept diff is not in this tree"
)
def test_the_action_checks_tests_diffs_and_keeps_one_comment(
    tmp_path: Path, github: FakeGithub, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, base = _client_repo(tmp_path, monkeypatch)
    _raise_the_rate(repo)
    head = commit_all(repo, "acme: 80% from 90% of quota")
    inputs = {"paths": "acme", "data": "data", "fail-on": "budget, pay-change", "max-change": "99%"}
    runs = run_action(repo, tmp_path / "runner", github, inputs, _event(base, head))
    assert {step: run.code for step, run in runs.items()} == dict.fromkeys(
        ("prepare", "check", "fmt", "test", "diff", "comment", "verdict"), 0
    ), {step: run.stderr for step, run in runs.items()}
    assert runs["check"].stdout == ""  # no annotation: the ruleset is clean
    junit = ET.parse(runs["test"].outputs["junit"]).getroot()
    assert (junit.get("tests"), junit.get("failures"), junit.get("errors")) == ("43", "0", "0")
    diff = Path(runs["diff"].outputs["diff"]).read_text(encoding="utf-8")
    assert "ae_plan" in diff and "75%" in diff and "80%" in diff
    assert (tmp_path / "runner/summary.md").read_text(encoding="utf-8") == diff
    comment = dict(github.comments[12][0])
    assert len(github.comments[12]) == 1
    assert comment["body"] == f"<!-- koncept-diff acme -->\n{diff}"
    assert runs["comment"].outputs == {"comment-url": comment["html_url"]}
    assert runs["verdict"].stdout == "koncept: every step passed\n"
    assert TOKEN not in "".join(r.stdout + r.stderr for r in runs.values())

    # A second push to the pull request: the same comment is updated, never a second one.
    _replace(repo / "acme/leads.krl", "when score >= 70", "when score >= 75")
    _replace(repo / "acme/tests/leads.yaml", "{id: L70, score: 70, status: SQL}", "{id: L70}")
    again = commit_all(repo, "acme: SQL from 75 points")
    runs = run_action(
        repo, tmp_path / "runner", github, inputs, _event(base, again),
        only={"prepare", "diff", "comment", "verdict"},
    )  # fmt: skip
    assert [run.code for run in runs.values()] == [0, 0, 0, 0]
    [updated] = github.comments[12]
    assert updated["id"] == comment["id"]
    assert updated["body"] != comment["body"] and "75" in updated["body"]
    assert [m for m, _ in github.requests] == ["GET", "POST", "GET", "PATCH"]


def test_the_action_reports_every_failure_then_fails(
    tmp_path: Path, github: FakeGithub, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = _client_repo(tmp_path, monkeypatch)
    # The rate changes without its fixtures, and a file is not formatted.
    _replace(repo / "acme/plans.krl", "[90%, 100%) 75%", "[90%, 100%) 80%")
    _replace(repo / "acme/team.krl", "kpis bookings, win_rate", "kpis   bookings,win_rate")
    head = commit_all(repo, "acme: 80% from 90%")
    inputs = {"paths": "acme", "comment": "false"}
    unknown = "0" * 40  # a base commit git does not have: koncept diff cannot compare
    runs = run_action(repo, tmp_path / "runner", github, inputs, _event(unknown, head))
    assert {step: run.code for step, run in runs.items()} == {
        "prepare": 0, "check": 0, "fmt": 0, "test": 0, "diff": 0, "comment": 0, "verdict": 1
    }  # fmt: skip
    assert runs["diff"].stderr.startswith("error: ")
    assert (tmp_path / "runner/summary.md").read_text(encoding="utf-8") == (
        "### koncept diff\n\n"
        "La comparaison n'a pas pu être faite (code 2) : voir le journal de la CI.\n"
    )
    assert runs["fmt"].stdout == "would reformat acme/team.krl\n"
    annotations = [line for line in runs["test"].stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == 3  # 90000, 95000 and the lost-and-open-deals case
    assert all(a.startswith("::error file=acme/tests/plans.yaml,line=") for a in annotations)
    assert runs["comment"].stdout == "no pull request comment (comment: false)\n"
    assert runs["verdict"].stdout == (
        "::error title=koncept::failed: koncept fmt --check;koncept test;koncept diff (exit 2)\n"
    )
    assert github.requests == []
