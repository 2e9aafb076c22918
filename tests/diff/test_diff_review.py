"""`koncept diff` on real git repositories built in a temporary folder: crafted changes to every
client ruleset, reported in words and in money, the money equal to two independent `eval` runs;
golden text and Markdown; JSON valid against its schema; bad input; the user's tree untouched."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from engine.cli.main import main
from engine.schemas import diff_schema, dumps
from tests.git_repo import git

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
CLIENTS = sorted(
    p.name for p in (ROOT / "rulesets").iterdir() if p.is_dir() and (p / "tests").is_dir()
)
ROWS = "200"


def make_repo(tmp: Path, client: str) -> Path:
    """A repository holding one client ruleset, committed on `main`."""
    repo = tmp / "repo"
    repo.mkdir()
    # Every client and the templates they extend; the review is about `client`.
    shutil.copytree(ROOT / "rulesets", repo / "rulesets")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return repo


def untouched(repo: Path) -> tuple[str, str]:
    """What a diff must leave as it was: the status, and the index file's hash."""
    index = hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest()
    return git(repo, "status", "--porcelain"), index


def koncept(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


# ----------------------------------------------------------------------------- crafted edits
def _edit(path: Path, pattern: str, change: Any, count: int = 1) -> bool:
    text = path.read_text(encoding="utf-8")
    new, done = re.subn(pattern, change, text, count=count, flags=re.MULTILINE)
    if done:
        path.write_text(new, encoding="utf-8")
    return bool(done)


def _percent(text: str, by: int) -> str:
    return f"{Decimal(text) + by}%"


def craft(folder: Path) -> dict[str, str]:
    """Apply every edit the ruleset has a construct for; returns edit -> words expected."""
    done: dict[str, str] = {}
    files = sorted(folder.glob("*.krl"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        if "rate" not in done:
            m = re.search(r"^(\s*)commission (\d+)%", text, re.MULTILINE)
            if m:
                new = _percent(m.group(2), 1)
                _edit(
                    path, rf"^{m.group(1)}commission {m.group(2)}%", f"{m.group(1)}commission {new}"
                )
                done["rate"] = f"commission {m.group(2)}% -> commission {new}"
                text = path.read_text(encoding="utf-8")
        point = re.search(r"^(\s*)at (\d+)% pay (\d+)%$", text, re.MULTILINE)
        if point and "rate" not in done:  # a point of a payout curve: its pay
            new = _percent(point.group(3), 5)
            _edit(
                path, re.escape(point.group(0)), f"{point.group(1)}at {point.group(2)}% pay {new}"
            )
            done["rate"] = f"at {point.group(2)}%: pay {point.group(3)}% -> {new}"
            text = path.read_text(encoding="utf-8")
        bands = list(re.finditer(r"^(\s*)\[(\d+)%, (\d+)%\) (\d+)%$", text, re.MULTILINE))
        if bands and "band edge" not in done:
            first = bands[-1]  # the last closed band: its high edge is the next band's low
            high = first.group(3)
            new_high = _percent(high, 2)[:-1]
            lines = text.split("\n")
            at = text[: first.start()].count("\n")
            lines[at] = lines[at].replace(f", {high}%)", f", {new_high}%)")
            lines[at + 1] = lines[at + 1].replace(f"[{high}%, ", f"[{new_high}%, ")
            text = "\n".join(lines)
            if "rate" not in done and len(bands) > 2:  # a band away from the moved edge
                band = bands[0]
                at = text[: band.start()].count("\n")
                value = band.group(4)
                lines[at] = lines[at].replace(f") {value}%", f") {_percent(value, 5)}")
                text = "\n".join(lines)
                done["rate"] = f"band [{band.group(2)}%, {band.group(3)}%): "
            path.write_text(text, encoding="utf-8")
            done["band edge"] = f"[{first.group(2)}%, {high}%) {first.group(4)}%"
        if "threshold" not in done:
            m = re.search(r"^(\s*)(\w+) (\"[^\"]*\" )?when score (>=|>) (\d+)$", text, re.MULTILINE)
            if m:
                new = (
                    str(int(m.group(5)) + 5) if int(m.group(5)) >= 20 else str(int(m.group(5)) + 1)
                )
                _edit(
                    path,
                    rf"when score {m.group(4)} {m.group(5)}$",
                    f"when score {m.group(4)} {new}",
                )
                done["threshold"] = (
                    f"status {m.group(2)}: when score {m.group(4)} {m.group(5)}"
                    f" -> score {m.group(4)} {new}"
                )
                text = path.read_text(encoding="utf-8")
        if "points" not in done:
            m = re.search(
                r"^\s*(\w+) \"[^\"]*\" \{ (\w+) -> (\d+), (\w+) -> (\d+), ", text, re.MULTILINE
            )
            if m and int(m.group(5)) + 1 < int(m.group(3)):
                old = f"{m.group(4)} -> {m.group(5)},"
                _edit(path, re.escape(old), f"{m.group(4)} -> {int(m.group(5)) + 1},")
                done["points"] = (
                    f"criterion {m.group(1)}, case {m.group(4)}: points {m.group(5)}"
                    f" -> {int(m.group(5)) + 1}"
                )
                text = path.read_text(encoding="utf-8")
        if "stage criterion" not in done:
            m = re.search(r"^(\s*)exit \w+ .*$", text, re.MULTILINE)
            if m:
                line = f'{m.group(1)}exit amount_known "Montant connu": amount is not missing'
                _edit(path, re.escape(m.group(0)), m.group(0) + "\n" + line)
                done["stage criterion"] = (
                    'added exit amount_known "Montant connu": amount is not missing'
                )
                text = path.read_text(encoding="utf-8")
        if "effective" not in done:
            m = re.search(r"effective (\d{4})-01-01 to", text)
            if m:
                _edit(path, rf"effective {m.group(1)}-01-01 to", f"effective {m.group(1)}-04-01 to")
                done["effective"] = (
                    f"effective {m.group(1)}-01-01 to {m.group(1)}-12-31"
                    f" -> effective {m.group(1)}-04-01"
                )
    return done


def eval_json(capsys: pytest.CaptureFixture[str], folder: Path, *options: str) -> dict[str, Any]:
    code, out, _ = koncept(capsys, "eval", str(folder), *options)
    assert code == 0
    return json.loads(out)  # type: ignore[no-any-return]


def payouts(document: dict[str, Any]) -> dict[tuple[str, str, str], Decimal]:
    return {
        (p["rep_id"], p["plan"], p["period"]): Decimal(p["payout"]) for p in document["payouts"]
    }


def statuses(document: dict[str, Any]) -> dict[str, Any]:
    return {lead["id"]: lead["status"] for lead in document["leads"]}


@pytest.mark.parametrize("client", CLIENTS)
def test_crafted_changes_in_words_and_money(
    client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path, client)
    shutil.copytree(repo / "rulesets", tmp_path / "before")
    before_copy = tmp_path / "before" / client
    edits = craft(repo / "rulesets" / client)
    assert len(edits) >= 2, edits  # every client ruleset has something to change
    git(repo, "commit", "-q", "-am", "crafted")
    state = untouched(repo)
    monkeypatch.chdir(repo)
    code, out, err = koncept(
        capsys, "diff", "main~1", "main", f"rulesets/{client}", "--demo", ROWS, "--format", "json"
    )
    assert code == 0, err
    document = json.loads(out)
    jsonschema.Draft202012Validator(diff_schema()).validate(document)
    [item] = document["rulesets"]
    assert item["path"] == f"rulesets/{client}" and item["status"] == "changed"
    texts = "\n".join(c["text"] for c in item["changes"])
    for edit, words in edits.items():
        assert words in texts, f"{edit}: {words!r} not in\n{texts}"
    for change in item["changes"]:
        at = change["after_at"] or change["before_at"]
        assert re.fullmatch(rf"rulesets/{client}/\w+\.krl:\d+", at), change
    # The money: equal to two independent `koncept eval` runs on the same data.
    old = eval_json(capsys, before_copy, "--demo", ROWS)
    new = eval_json(capsys, repo / "rulesets" / client, "--demo", ROWS)
    old_pay, new_pay = payouts(old), payouts(new)
    wanted = {
        key: (old_pay.get(key), new_pay.get(key))
        for key in old_pay.keys() | new_pay.keys()
        if old_pay.get(key) != new_pay.get(key)
    }
    impact = item["impact"]
    got = {
        (p["rep_id"], p["plan"], p["period"]): (
            None if p["before"] is None else Decimal(p["before"]),
            None if p["after"] is None else Decimal(p["after"]),
        )
        for p in impact["payouts"]["changes"]
    }
    assert got == wanted
    paid = [abs(Decimal(p["delta"])) for p in impact["payouts"]["changes"]]
    assert paid == sorted(paid, reverse=True)  # largest change first
    flips = {k for k, v in statuses(new).items() if statuses(old)[k] != v}
    assert {i for t in impact["leads"]["transitions"] for i in t["ids"]} == flips
    assert sum(t["count"] for t in impact["leads"]["transitions"]) == len(flips)
    old_budget = {(b["plan"], b["period"]): b["total"] for b in old["budget"]}
    for row in impact["budget"]:
        key = (row["plan"], row["period"])
        assert row["before"] == old_budget.get(key)
        after = {(b["plan"], b["period"]): b["total"] for b in new["budget"]}.get(key)
        assert row["after"] == after
        assert Decimal(row["delta"]) == Decimal(after or 0) - Decimal(row["before"] or 0)
    assert untouched(repo) == state


def _issue_repo(tmp_path: Path) -> Path:
    """The issue's example: fintech's `[90%, 100%) 75%` step paid 80%, in the working tree."""
    repo = make_repo(tmp_path, "fintech")
    plans = repo / "rulesets" / "fintech" / "plans.krl"
    assert _edit(plans, r"\[90%, 100%\) 75%", "[90%, 100%) 80%")
    return repo


def _golden(name: str, text: str) -> None:
    # The base commit's hash changes with any file of the copied rulesets: not compared.
    text = re.sub(r"\(([0-9a-f]{12})\)", "(<commit>)", text)
    path = GOLDEN / name
    if os.environ.get("KONCEPT_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs (KONCEPT_UPDATE_GOLDEN=1)"


@pytest.mark.parametrize(
    ("fmt", "golden"), [("text", "fintech_rate.txt"), ("markdown", "fintech_rate.md")]
)
def test_issue_example_golden(
    fmt: str, golden: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    repo = _issue_repo(tmp_path)
    state = untouched(repo)
    monkeypatch.chdir(repo)
    out_file = tmp_path / "review.out"
    code, out, err = koncept(
        capsys, "diff", "--demo", "--format", fmt, "--out", str(out_file),
        "--fail-on", "pay-change", "--max-change", "10%",
    )  # fmt: skip
    assert code == 0, err  # +6.67% is within 10%
    assert out == ""
    text = out_file.read_text(encoding="utf-8")
    assert "R0002" in text and "5,625.00" in text and "6,000.00" in text and "+375.00" in text
    _golden(golden, text)
    assert untouched(repo) == state


def test_issue_example_gates_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _issue_repo(tmp_path)
    monkeypatch.chdir(repo)
    code, out, _ = koncept(capsys, "diff", "main", "--demo", "--format", "json",
                             "--fail-on", "pay-change", "--max-change", "5%")  # fmt: skip
    assert code == 1
    document = json.loads(out)
    jsonschema.Draft202012Validator(diff_schema()).validate(document)
    impact = document["rulesets"][0]["impact"]
    assert impact["payouts"]["changes"] == [{
        "rep_id": "R0002", "plan": "fintech_after", "period": "2026-Q2", "paid": True,
        "before": "5625.00", "after": "6000.00", "delta": "375.00", "percent": "0.066667",
    }]  # fmt: skip
    assert Decimal(impact["payouts"]["delta"]) == Decimal("375.00")
    [budget] = impact["budget"]
    assert (budget["before"], budget["after"], budget["delta"]) == (
        "35625.00",
        "36000.00",
        "375.00",
    )
    assert document["gates"] == [{
        "gate": "pay-change (--max-change 5%)", "tripped": True,
        "reasons": ["rulesets/fintech: R0002 fintech_after 2026-Q2: 5625.00 -> 6000.00 (+375.00)"],
    }]  # fmt: skip
    # An amount limit above the change passes; the budget gate fails (HEAD is over guardrail).
    code, *_ = koncept(capsys, "diff", "--demo", "--fail-on", "pay-change", "--max-change", "375")
    assert code == 0
    code, out, _ = koncept(capsys, "diff", "--demo", "--fail-on", "budget")
    assert code == 1 and "FAILED: --fail-on budget" in out
    code, out, _ = koncept(capsys, "diff", "--demo", "--fail-on", "status-flips=0")
    assert code == 0 and "passed: --fail-on status-flips=0" in out


def test_threshold_flips_leads_with_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path, "fintech")
    assert _edit(repo / "rulesets/fintech/leads.krl", r"score >= 70", "score >= 75")
    monkeypatch.chdir(repo)
    code, out, _ = koncept(capsys, "diff", "--demo", "--format", "json",
                           "--fail-on", "status-flips=0")  # fmt: skip
    assert code == 1
    item = json.loads(out)["rulesets"][0]
    assert [c["text"] for c in item["changes"]] == [
        "score bmanter, status SQL: when score >= 70 -> score >= 75"
    ]
    [move] = item["impact"]["leads"]["transitions"]
    assert (move["from"], move["to"]) == ("SQL", "MQL") and move["count"] == len(move["ids"]) > 0


def test_reformatting_and_comments_are_no_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path, "fintech")
    plans = repo / "rulesets/fintech/plans.krl"
    # Spacing, a comment added and one removed, `30K` written `30_000`, files formatted.
    _edit(plans, r"target_variable 30K per year", "target_variable   30_000 per year  # moved")
    _edit(plans, r"^# Variable pay.*\n", "")
    assert koncept(capsys, "fmt", "--write", str(repo / "rulesets/fintech"))[0] == 0
    assert git(repo, "status", "--porcelain")  # the text did change
    monkeypatch.chdir(repo)
    code, out, _ = koncept(capsys, "diff", "--demo", "100")
    assert code == 0
    assert "rulesets/fintech: no change in meaning" in out and "0 payout(s) changed" in out


def test_rename_and_reorder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    repo = make_repo(tmp_path, "fintech")
    leads = repo / "rulesets/fintech/leads.krl"
    _edit(leads, r"company \"Entreprise\"", 'size "Entreprise"')
    monkeypatch.chdir(repo)
    code, out, _ = koncept(capsys, "diff")
    assert code == 0
    assert "score bmanter: renamed criterion company -> criterion size" in out
    assert "removed" not in out and "added" not in out


def test_added_and_removed_rulesets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path, "fintech")
    shutil.copytree(ROOT / "rulesets/maven-crm", repo / "rulesets/newco")
    shutil.rmtree(repo / "rulesets/fintech")
    monkeypatch.chdir(repo)
    code, out, _ = koncept(capsys, "diff", "--format", "json")
    assert code == 0
    found = {r["path"]: r["status"] for r in json.loads(out)["rulesets"]}
    assert found == {"rulesets/fintech": "removed", "rulesets/newco": "added"}


# ----------------------------------------------------------------------------- bad input
def test_bad_input_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path, "fintech")
    state = untouched(repo)
    monkeypatch.chdir(repo)
    code, _, err = koncept(capsys, "diff", "v9", "main")
    assert code == 2 and "'v9' is neither a revision nor a path" in err
    code, _, err = koncept(capsys, "diff", "main", "v9")
    assert code == 2 and "v9" in err
    code, _, err = koncept(capsys, "diff", "--fail-on", "everything")
    assert code == 2 and "expected budget, pay-change or status-flips=N" in err
    code, _, err = koncept(capsys, "diff", "--max-change", "2%")
    assert code == 2 and "--max-change goes with --fail-on pay-change" in err
    assert untouched(repo) == state
    # Outside a repository: revisions are refused, two folders still work.
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    code, _, err = koncept(capsys, "diff", "main")
    assert code == 2 and "not a git repository" in err
    shutil.copytree(ROOT / "rulesets", tmp_path / "old")
    shutil.copytree(ROOT / "rulesets", tmp_path / "new")
    old, new = tmp_path / "old/fintech", tmp_path / "new/fintech"
    _edit(new / "plans.krl", r"commission 5%", "commission 6%")
    code, out, _ = koncept(capsys, "diff", str(old), str(new))
    assert code == 0
    assert "plan fintech_before, measure bookings: commission 5% -> commission 6%" in out
    assert f"({old.as_posix()}/plans.krl:10 -> {new.as_posix()}/plans.krl:10)" in out


def test_a_revision_that_does_not_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path, "fintech")
    _edit(repo / "rulesets/fintech/plans.krl", r"period quarter", "period fortnight")
    git(repo, "commit", "-q", "-am", "broken")
    state = untouched(repo)
    monkeypatch.chdir(repo)
    code, out, err = koncept(capsys, "diff", "main~1", "main", "--demo", "100")
    assert code == 1
    assert "rulesets/fintech (head) does not check:" in err
    assert re.search(r"rulesets/fintech/plans\.krl:\d+:\d+: error\[E\d+\]", err)
    assert "rulesets/fintech: does not check in head" in out
    assert untouched(repo) == state


def test_invalid_rows_are_the_rows_eval_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _issue_repo(tmp_path)
    data = tmp_path / "data"
    code, *_ = koncept(capsys, "demo", str(repo / "rulesets/fintech"), "--leads", "100",
                       "--deals", "100", "--out", str(data))  # fmt: skip
    assert code == 0
    deals = data / "deals.csv"
    lines = deals.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("amount")] = "12.5x"
    lines[1] = ",".join(cells)
    deals.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(repo)
    code, out, err = koncept(capsys, "diff", "--data", str(data), "--format", "json")
    assert code == 0, err
    errors = json.loads(out)["rulesets"][0]["impact"]["errors"]
    evaluated = eval_json(capsys, repo / "rulesets/fintech", "--data", str(data))
    assert [(e["table"], e["row"], e["column"], e["message"]) for e in errors] == [
        (e["table"], e["row"], e["column"], e["message"]) for e in evaluated["errors"]
    ]
    assert any(e["table"] == "deals" for e in errors)


def test_the_published_schema_is_what_the_code_writes() -> None:
    path = ROOT / "schemas" / "diff.schema.json"
    assert path.read_text(encoding="utf-8") == dumps(diff_schema())
    jsonschema.Draft202012Validator.check_schema(diff_schema())


def test_markdown_stays_under_githubs_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.diff import render

    repo = make_repo(tmp_path, "fintech")
    _edit(repo / "rulesets/fintech/leads.krl", r"score >= 70", "score >= 75")
    _edit(repo / "rulesets/fintech/deals.krl", r"score >= 8$", "score >= 6")
    monkeypatch.chdir(repo)
    code, out, _ = koncept(capsys, "diff", "--demo", "2000", "--format", "json")
    assert code == 0
    # The same review, written under a small limit: rows are left out and counted.
    monkeypatch.setattr(render, "MARKDOWN_LIMIT", 1_100)
    code, out, _ = koncept(capsys, "diff", "--demo", "2000", "--format", "markdown")
    assert code == 0
    assert len(out) <= 1_100
    assert re.search(r"_[\d,]+ line\(s\) left out to stay under GitHub's 1,100-character", out)
    assert out.count("<details>") == out.count("</details>")


def test_the_command_runs_as_installed(tmp_path: Path) -> None:
    """The installed entry point: usage errors and the working tree, through a real process."""
    repo = _issue_repo(tmp_path)
    state = untouched(repo)
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "diff", "--demo", "100", "--format", "markdown"],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("### koncept diff: `merge-base with main")
    assert "Traceback" not in done.stderr
    assert untouched(repo) == state


def test_side_by_side_evaluation_gives_the_same_review() -> None:
    """Big inputs evaluate the two revisions in a forked process: the same impact as one
    evaluation after the other."""
    import datetime as dt

    from engine.demo import demo_tables
    from engine.diff.impact import compare_results, evaluate_both
    from engine.loader import load_text

    text = (ROOT / "rulesets/fintech/leads.krl").read_text(encoding="utf-8")
    header = 'ruleset t "T" {}\n'
    old = load_text(header + text, "t.krl")
    new = load_text(header + text.replace("score >= 70", "score >= 60"), "t.krl")
    tables, year = demo_tables(old, 300, 10, 3)
    day = dt.date(year, 12, 31)
    apart = compare_results(*evaluate_both(old, new, tables, as_of=day, parallel=True))
    together = compare_results(*evaluate_both(old, new, tables, as_of=day, parallel=False))
    assert apart == together
    assert apart.transitions and apart.transitions[0].before == "MQL"


def test_a_template_change_reviews_the_clients_that_extend_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path, "fintech")
    house = repo / "rulesets/house/pipeline.krl"
    if not house.is_file():
        pytest.skip("no house template in rulesets/")
    assert _edit(
        house,
        r"^(\s*)(exit need .*)$",
        r'\1\2\n\1exit amount_known "Montant": amount is not missing',
    )
    monkeypatch.chdir(repo)
    code, out, err = koncept(capsys, "diff", "--format", "json")
    assert code == 0, err
    found = {r["path"]: r for r in json.loads(out)["rulesets"]}
    extending = {
        f"rulesets/{p.parent.name}"
        for p in (repo / "rulesets").glob("*/main.krl")
        if 'extends "../house"' in p.read_text(encoding="utf-8")
    }
    assert extending and extending <= set(found)
    for path in extending:
        [change] = found[path]["changes"]
        assert change["kind"] == "added" and "exit amount_known" in change["after"]
        assert change["after_at"].startswith("rulesets/house/pipeline.krl:")


def test_eval_fail_on_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`koncept eval --fail-on budget`: the results are written, then exit 1 per breach."""
    fintech = ROOT / "rulesets/fintech"
    out = tmp_path / "over"
    code, _, err = koncept(capsys, "eval", str(fintech), "--demo", "--out", str(out),
                           "--fail-on", "budget")  # fmt: skip
    assert code == 1 and (out / "results.json").is_file()
    breaches = [line for line in err.splitlines() if line.startswith("error: --fail-on budget:")]
    written = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(breaches) == sum(1 for b in written["budget"] if b["alert"]) > 0
    # Under the guardrail (few deals, little pay): exit 0, and the flag is what decides.
    code, _, err = koncept(capsys, "eval", str(fintech), "--demo", "50", "--fail-on", "budget")
    assert code == 0 and "--fail-on budget" not in err
    code, _, _ = koncept(capsys, "eval", str(fintech), "--demo")
    assert code == 0


def test_template_spans_are_named_in_the_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path, "fintech")
    house = repo / "rulesets/house/pipeline.krl"
    if not house.is_file():
        pytest.skip("no house template in rulesets/")
    assert _edit(house, r"^(\s*)exit need (.*)$", r"\1exit needs \2")
    git(repo, "commit", "-q", "-am", "rename an exit criterion of the house")
    monkeypatch.chdir(repo)
    code, out, err = koncept(
        capsys, "diff", "main~1", "main", "rulesets/fintech", "--format", "json"
    )
    assert code == 0, err
    [change] = json.loads(out)["rulesets"][0]["changes"]
    assert change["kind"] == "renamed" and (change["before"], change["after"]) == (
        "exit need", "exit needs",
    )  # fmt: skip
    assert change["before_at"] == change["after_at"] == "rulesets/house/pipeline.krl:11"
