"""`koncept serve`: API keys scope callers to their rulesets; rulesets are versioned, served
from git revisions, and reloaded under load with no failed or mixed-version answer."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

import engine
from tests.git_repo import git
from tests.serve.conftest import LEAD, RULESETS, koncept, serving


def _new_key(keys: Path, key_id: str, allow: str) -> str:
    done = koncept("serve", "--keys", keys, "--new-key", key_id, "--allow", allow)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_keys_scope_each_caller_to_its_rulesets(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    fintech_key = _new_key(keys, "fintech-crm", "fintech")
    admin_key = _new_key(keys, "admin", "*")
    stored = keys.read_text(encoding="utf-8")
    assert fintech_key not in stored and admin_key not in stored  # hashes only
    assert [k["id"] for k in yaml.safe_load(stored)["keys"]] == ["fintech-crm", "admin"]
    duplicate = koncept("serve", "--keys", keys, "--new-key", "admin")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr

    with serving(
        [RULESETS, "--keys", keys, "--decision-log", tmp_path / "log.jsonl"], tmp_path
    ) as s:
        with s.client() as anonymous:
            missing = anonymous.get("/v1/rulesets")
        with s.client(authorization="Bearer not-a-key") as wrong:
            unknown = wrong.get("/v1/rulesets")
        with s.client(authorization=f"Bearer {fintech_key}") as client:
            listed = client.get("/v1/rulesets").json()
            own = client.post("/v1/rulesets/fintech/lead", json=LEAD)
            other = client.post("/v1/rulesets/contech-saas/lead", json=LEAD)
            absent = client.post("/v1/rulesets/no-such-client/lead", json=LEAD)
        with s.client(**{"x-api-key": admin_key}) as admin:
            everything = admin.get("/v1/rulesets").json()
            nowhere = admin.post("/v1/rulesets/no-such-client/lead", json=LEAD)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert unknown.status_code == 401 and unknown.json()["code"] == "unauthorized"
    assert [r["id"] for r in listed["rulesets"]] == ["fintech"]
    assert own.status_code == 200 and own.json()["lead"]["status"] == "MQL"
    # Another client's ruleset and a ruleset that does not exist look the same: 403, no name.
    assert other.status_code == absent.status_code == 403
    assert other.json() == absent.json()
    assert "contech" not in other.text and "no-such" not in absent.text
    assert len(everything["rulesets"]) == len([p for p in RULESETS.iterdir() if p.is_dir()])
    assert nowhere.status_code == 404  # a key for every ruleset may learn which exist
    log = (tmp_path / "log.jsonl").read_text(encoding="utf-8")
    assert '"key":"fintech-crm"' in log and fintech_key not in log


def test_a_bad_key_file_is_refused_at_start(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys:\n  - id: a\n    sha256: abc\n    rulesets: [fintech]\n")
    done = koncept("serve", RULESETS, "--keys", keys)
    assert done.returncode == 2
    assert "key 1 (a): sha256 must be 64 lowercase hex digits" in done.stderr


def _threshold(folder: Path, level: int) -> None:
    """Set fintech's SQL threshold, written as an editor saves: a new file moved in place."""
    leads = folder / "leads.krl"
    text = leads.read_text(encoding="utf-8")
    start = text.index("when score >= ") + len("when score >= ")
    end = text.index("\n", start)
    temporary = folder / "leads.krl.tmp"
    temporary.write_text(text[:start] + str(level) + text[end:], encoding="utf-8")
    temporary.replace(leads)


def _version_of(folder: Path) -> str:
    from engine.serve.store import Store

    store = Store(folder)
    return store.load().rulesets[folder.name].version


def test_reload_under_load_never_fails_or_mixes_versions(tmp_path: Path) -> None:
    served = tmp_path / "served"
    folder = served / "fintech"
    shutil.copytree(RULESETS / "fintech", folder)
    shutil.copytree(RULESETS / "house", served / "house")  # the template fintech extends
    # The lead scores 69: MQL at the threshold 70, SQL at 65.
    expected: dict[str, str] = {}
    versions: dict[int, str] = {}
    for level, status in ((65, "SQL"), (70, "MQL")):
        _threshold(folder, level)
        versions[level] = _version_of(folder)
        expected[versions[level]] = status
    assert engine.load(folder).evaluate_lead(LEAD).status == "MQL"

    answers: list[tuple[int, str | None, str | None]] = []
    stop = threading.Event()

    def hammer(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set():
                answer = client.post("/v1/rulesets/fintech/lead", json=LEAD)
                body = answer.json()
                version = body.get("ruleset", {}).get("version")
                answers.append((answer.status_code, version, body.get("lead", {}).get("status")))

    with serving([served, "--reload", "--decision-log", "-"], tmp_path) as server:
        workers = [threading.Thread(target=hammer, args=(server.url,)) for _ in range(3)]
        for worker in workers:
            worker.start()
        try:
            seen: list[str] = []
            for level in (65, 70, 65):
                _threshold(folder, level)
                seen.append(_wait_for_version(server.url, versions[level]))
            # A version that does not check is refused; the last good one keeps serving.
            leads = folder / "leads.krl"
            good = leads.read_text(encoding="utf-8")
            leads.write_text(good.replace("when score >= 65", "when scor >= 65"), encoding="utf-8")
            refused = _wait_for_refusal(server.url)
            leads.write_text(good, encoding="utf-8")
            time.sleep(0.5)
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        log = server.stderr()
    assert len(answers) > 50
    assert {code for code, _, _ in answers} == {200}
    for _, version, status in answers:
        assert version in expected and status == expected[version]  # one version per answer
    assert {version for _, version, _ in answers} == set(expected)
    assert seen[0] != seen[1] and seen[2] == seen[0]
    assert refused["version"] == seen[2] and "scor" in refused["refused"]["message"]
    assert "refused fintech version" in log and f"still serving {seen[2]}" in log


def _wait_for_version(url: str, wanted: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        version = httpx.get(f"{url}/v1/rulesets/fintech").json()["version"]
        if version == wanted:
            return str(version)
        time.sleep(0.05)
    pytest.fail(f"the server did not reload to version {wanted}")


def _wait_for_refusal(url: str) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = httpx.get(f"{url}/v1/rulesets/fintech").json()
        if found["refused"] is not None:
            return dict(found)
        time.sleep(0.05)
    pytest.fail("the broken version was not refused")


def test_a_git_tag_is_served_without_touching_the_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "practice"
    shutil.copytree(RULESETS / "fintech", repo / "clients" / "fintech")
    shutil.copytree(RULESETS / "house", repo / "clients" / "house")
    git(repo, "init", "-q", "-b", "main")
    _threshold(repo / "clients" / "fintech", 65)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fintech: SQL at 65")
    git(repo, "tag", "v1")
    tagged = git(repo, "rev-parse", "v1")
    _threshold(repo / "clients" / "fintech", 70)  # an edit not committed
    status_before = git(repo, "status", "--porcelain")

    args = [repo / "clients", "--ref", "v1", "--decision-log", "-"]
    with serving(args, tmp_path) as server, server.client() as client:
        answer = client.post("/v1/rulesets/fintech/lead", json=LEAD).json()
    assert answer["ruleset"]["commit"] == tagged
    assert answer["lead"]["status"] == "SQL"  # the tag's rules, not the working tree's
    assert git(repo, "status", "--porcelain") == status_before
    assert "at v1" in server.stderr()

    unknown = koncept("serve", repo / "clients", "--ref", "v9")
    assert unknown.returncode == 2 and "'v9' is not a branch, tag or commit" in unknown.stderr
    outside = tmp_path / "plain"
    shutil.copytree(RULESETS / "fintech", outside / "fintech")
    not_git = koncept("serve", outside, "--ref", "main")
    assert not_git.returncode == 2 and "not in a git repository" in not_git.stderr


def test_one_ruleset_served_from_git_brings_the_template_it_extends(tmp_path: Path) -> None:
    from engine.serve.store import Store

    repo = tmp_path / "practice"
    shutil.copytree(RULESETS / "fintech", repo / "clients" / "fintech")
    shutil.copytree(RULESETS / "house", repo / "house")  # outside the served folder
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fintech on the house method")
    main = (repo / "clients" / "fintech" / "main.krl").read_text(encoding="utf-8")
    (repo / "clients" / "fintech" / "main.krl").write_text(
        main.replace('extends "../house"', 'extends "../../house"'), encoding="utf-8"
    )
    git(repo, "commit", "-q", "-am", "the house moves to the top of the repository")
    store = Store(repo / "clients" / "fintech", ref="main")
    served = store.load()
    assert list(served.rulesets) == ["fintech"] and not served.refused
    first = served.rulesets["fintech"].version
    # A change to the house alone is a new version of the ruleset that extends it.
    deals = repo / "house" / "deals.krl"
    deals.write_text(deals.read_text("utf-8").replace(">= 14", ">= 13"), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "house: strong from 13")
    assert store.load().rulesets["fintech"].version != first
