"""The CI examples (`examples/ci/`): valid YAML, every `koncept ...` command line parses with
the real argument parser, the workflow only gives inputs the action has, and the GitLab job's
script runs with bash as a GitLab runner runs it (a client's repository, a merge request)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ci_support import commit_all, git

from engine.cli.main import build_parser
from engine.cli.main import main as koncept

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "ci"
#: Values for the variables the examples' commands use (CI variables and their own).
VALUES = {
    "KONCEPT_PATHS": "rulesets",
    "KONCEPT_DATA": "donnees",
    "data": "--data donnees",
    "CI_MERGE_REQUEST_DIFF_BASE_SHA": "1a2b3c",
    "CI_COMMIT_SHA": "4d5e6f",
}


def commands(script: str) -> list[list[str]]:
    """Every `koncept ...` command of a shell script, its variables filled in, cut at the
    first shell operator."""
    found = []
    for line in script.splitlines():
        if re.match(r"\s*koncept\s", line):
            text = re.split(r"\s(?:\|\||&&|>|\||;)\s?", line.strip())[0]
            text = re.sub(r"\$\{?(\w+)\}?", lambda m: VALUES[m.group(1)], text)
            found.append(shlex.split(text))
    return found


def _script(job: dict[str, list[str]]) -> str:
    return "\n".join(job["script"])


def test_every_koncept_command_of_the_gitlab_example_parses() -> None:
    config = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text(encoding="utf-8"))
    job = config["koncept"]
    assert job["artifacts"]["reports"]["junit"] == "koncept-tests.xml"
    assert job["artifacts"]["expose_as"] == "koncept diff"
    found = commands(_script(job))
    assert [argv[1] for argv in found] == ["check", "fmt", "test", "diff"]
    parser = build_parser()
    for argv in found:
        assert argv[0] == "koncept"
        try:
            args = parser.parse_args(argv[1:])
        except SystemExit:
            raise AssertionError(f"does not parse: {shlex.join(argv)}") from None
        assert args.command == argv[1]
    diff = parser.parse_args(found[3][1:])
    assert (diff.format, diff.fail_on, str(diff.data)) == ("markdown", ["budget"], "donnees")


def test_the_commands_filter_catches_a_wrong_option() -> None:
    [argv] = commands("koncept test $KONCEPT_PATHS --format junitx > out.xml || true")
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv[1:])


def test_the_github_example_uses_the_action_with_its_inputs() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-workflow.yml").read_text(encoding="utf-8"))
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["koncept"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert steps[0]["with"]["fetch-depth"] == 0
    ours = next(s for s in steps if s.get("id") == "koncept")
    assert ours["uses"].startswith("koncept-rules/koncept-rules@")
    assert set(ours["with"]) <= set(action["inputs"])
    assert workflow["permissions"]["pull-requests"] == "write"
    clients = workflow["jobs"]["koncept"]["strategy"]["matrix"]["client"]
    assert all((ROOT / "rulesets" / client).is_dir() for client in clients)
    for step in steps:
        assert not any(commands(str(value)) for value in step.values())


@pytest.mark.skipif(
    not (ROOT / "engine/cli/diff.py").exists(), reason="koncept diff is not in this tree"
)
def test_the_gitlab_script_runs_on_a_merge_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    monkeypatch.chdir(repo)
    assert koncept(["init", "acme", "--dir", "rulesets/acme"]) == 0
    base = commit_all(repo, "acme")
    pipeline = repo / "rulesets/acme/pipeline.krl"
    text = pipeline.read_text(encoding="utf-8").replace("probability 10%", "probability 15%")
    pipeline.write_text(text, encoding="utf-8")
    fixture = repo / "rulesets/acme/tests/pipeline.yaml"
    fixture.write_text(
        fixture.read_text(encoding="utf-8").replace("[detection, 4000.00]", "[detection, 6000.00]"),
        encoding="utf-8",
    )
    head = commit_all(repo, "acme: 15% at detection")
    job = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text(encoding="utf-8"))["koncept"]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "KONCEPT_PATHS": "rulesets",
        "KONCEPT_DATA": "",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
        "CI_COMMIT_SHA": head,
    }
    script = tmp_path / "job.sh"
    script.write_text(_script(job))  # GitLab runs the lines as one script, stopping on error
    done = subprocess.run(
        ["bash", "-eo", "pipefail", str(script)],
        cwd=repo, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    diff = (repo / "koncept-diff.md").read_text(encoding="utf-8")
    assert "detection" in diff and "15%" in diff
    assert diff in done.stdout
    assert 'tests="43" failures="0"' in (repo / "koncept-tests.xml").read_text(encoding="utf-8")
    # Every command runs, then the job fails naming those that failed (no merge request here).
    env.update(KONCEPT_PATHS="rulesets/absent", CI_MERGE_REQUEST_DIFF_BASE_SHA="")
    done = subprocess.run(
        ["bash", "-eo", "pipefail", str(script)],
        cwd=repo, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (1, "koncept failed: check fmt test\n")
