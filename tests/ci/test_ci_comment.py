"""The pull-request comment step (`python -m engine.ci.comment`) against a fake GitHub API on
127.0.0.1: create, then update the same comment (never two), pagination, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ci_support import REPOSITORY, TOKEN, FakeGithub

from engine.ci.comment import MARKER, MAX_BODY, main


@pytest.fixture
def runner_env(github: FakeGithub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment a GitHub runner gives a step of a `pull_request` run (PR #7)."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": 7}}))
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    body = tmp_path / "diff.md"
    body.write_text("### koncept diff\n\n| plan | avant | après |\n", encoding="utf-8")
    return body


def test_first_run_creates_the_comment_then_updates_it(
    github: FakeGithub, runner_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    github.add(7, "LGTM")  # a reviewer's comment: never touched
    assert main(["--body", str(runner_env)]) == 0
    created = capsys.readouterr().out
    assert len(github.comments[7]) == 2
    ours = github.comments[7][1]
    assert ours["body"] == f"{MARKER}\n### koncept diff\n\n| plan | avant | après |\n"
    assert created == f"pull request #7: comment created {ours['html_url']}\n"
    runner_env.write_text("### koncept diff\n\nplus rien\n", encoding="utf-8")
    assert main(["--body", str(runner_env)]) == 0
    assert capsys.readouterr().out == f"pull request #7: comment updated {ours['html_url']}\n"
    assert [c["body"] for c in github.comments[7]] == [
        "LGTM",
        f"{MARKER}\n### koncept diff\n\nplus rien\n",
    ]
    patched = f"/repos/{REPOSITORY}/issues/comments/{ours['id']}"
    assert github.requests[-1] == ("PATCH", patched)
    assert set(github.authorizations) == {f"Bearer {TOKEN}"}
    output = Path(os.environ["GITHUB_OUTPUT"]).read_text()
    assert output == f"comment-url={ours['html_url']}\n" * 2


def test_the_marked_comment_is_found_on_a_later_page(github: FakeGithub, runner_env: Path) -> None:
    github.max_per_page = 2
    for text in ("one", "two", "three"):
        github.add(7, text)
    ours = github.add(7, f"{MARKER}\nold diff")
    github.add(7, "after it")
    assert main(["--body", str(runner_env)]) == 0
    assert len(github.comments[7]) == 5  # updated in place, not a sixth comment
    assert ours["body"].startswith(f"{MARKER}\n### koncept diff")
    pages = [path for method, path in github.requests if method == "GET"]
    assert pages == [
        f"/repos/{REPOSITORY}/issues/7/comments?per_page=100",
        f"/repos/{REPOSITORY}/issues/7/comments?per_page=2&page=2",
    ]


def test_an_error_status_is_one_clear_line_without_the_token(
    github: FakeGithub, runner_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    github.failure = (403, f"Resource not accessible by integration ({TOKEN})")
    assert main(["--body", str(runner_env)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"error: GitHub API: GET /repos/{REPOSITORY}/issues/7/comments answered 403 "
        "Forbidden: Resource not accessible by integration (***)\n"
    )


def test_a_wrong_token_and_an_unreachable_api(
    github: FakeGithub,
    runner_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_wrong")
    assert main(["--body", str(runner_env)]) == 1
    assert capsys.readouterr().err.endswith("answered 401 Unauthorized: Bad credentials\n")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    assert main(["--body", str(runner_env)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: GitHub API: GET /repos/cabinet/client-acme/issues/7/comments: ")
    assert "cannot reach http://127.0.0.1:9" in err
    assert "Traceback" not in err


def test_usage_errors_and_events_without_a_pull_request(
    github: FakeGithub,
    runner_env: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(["--body", str(tmp_path / "absent.md")]) == 2
    assert "cannot read the comment body" in capsys.readouterr().err
    monkeypatch.delenv("GITHUB_TOKEN")
    assert main(["--body", str(runner_env)]) == 2
    assert "GITHUB_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main", "commits": []}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(push))
    assert main(["--body", str(runner_env)]) == 0
    assert capsys.readouterr().out == "not a pull request: no comment to post\n"
    assert github.requests == []


def test_a_body_over_the_limit_is_cut_and_says_so(github: FakeGithub, runner_env: Path) -> None:
    runner_env.write_text("x" * (MAX_BODY + 10), encoding="utf-8")
    assert main(["--body", str(runner_env)]) == 0
    body = github.comments[7][0]["body"]
    assert len(body) == MAX_BODY
    assert body.endswith("la limite de GitHub est de 65 536 caractères)")


def test_the_module_runs_as_the_action_calls_it(github: FakeGithub, runner_env: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engine.ci.comment", "--body", str(runner_env)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("pull request #7: comment created https://github.com/")
    assert TOKEN not in done.stdout


def test_each_marker_keeps_its_own_comment(
    github: FakeGithub, runner_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for marker in ("<!-- koncept-diff rulesets/a -->", "<!-- koncept-diff rulesets/b -->") * 2:
        assert main(["--body", str(runner_env), "--marker", marker]) == 0
    assert [c["body"].split("\n")[0] for c in github.comments[7]] == [
        "<!-- koncept-diff rulesets/a -->",
        "<!-- koncept-diff rulesets/b -->",
    ]
    capsys.readouterr()
    assert main(["--body", str(runner_env), "--marker", "koncept"]) == 2
    assert capsys.readouterr().err == "error: --marker must be one HTML comment, not 'koncept'\n"
