"""Benchmark: `koncept diff` with impact, two git revisions of contech-saas, on 100,000 leads,
100,000 deals and 1,000 reps.

    .venv/bin/python benchmarks/diff.py [--leads 100000] [--deals 100000] [--reps 1000]

A temporary git repository holds the client rulesets; a second commit moves the SQL threshold
(70 -> 75) and a band of the AE curve, so leads flip and payouts change. The input tables are
generated once (`engine.demo`, seed 7) and written as CSV, the way a client's export arrives;
the team is widened to `--reps` reps (copies of the generated ones, deals spread over them,
each with its quotas). Before timing, the review is checked against two independent
evaluations (`Program.evaluate` on each revision): the same payouts to the cent and the same
lead transitions.

Measured: the whole command in a fresh process (`koncept diff main~1 main --data DIR --format
json`, interpreter start-up included: median and best of `--repeat`), and one in-process run
split by stage (read revisions, load, read data, evaluate both, compare, write). Goal (issue 9):
under 5 s. Not a test: figures go in the notes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from engine.demo import demo_tables, write  # noqa: E402
from engine.loader import load_as  # noqa: E402

CLIENT = "contech-saas"
SEED = 7
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}  # fmt: skip


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True, text=True, check=True, env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    return done.stdout.strip()


def make_repo(where: Path) -> Path:
    """The rulesets committed on main, then the change committed on top."""
    repo = where / "repo"
    repo.mkdir()
    shutil.copytree(ROOT / "rulesets", repo / "rulesets")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    leads = repo / "rulesets" / CLIENT / "leads.krl"
    text = leads.read_text(encoding="utf-8")
    assert "when score > 70" in text
    leads.write_text(text.replace("when score > 70", "when score > 75"), encoding="utf-8")
    plans = repo / "rulesets" / CLIENT / "plans.krl"
    text = plans.read_text(encoding="utf-8")
    changed = text.replace("at 100% pay 100%", "at 100% pay 105%", 1)
    if changed == text:
        print("note: no `at 100% pay 100%` curve point to change; the threshold only")
    plans.write_text(changed, encoding="utf-8")
    git(repo, "commit", "-q", "-am", "SQL at 75, a curve point")
    return repo


def widen_team(tables: dict[str, pd.DataFrame], n_reps: int) -> dict[str, pd.DataFrame]:
    """`n_reps` reps: copies of the generated ones (new ids), the deals of each generated rep
    spread over its copies, each copy with the quotas of the rep it copies."""
    reps, deals, quotas = tables["reps"], tables["deals"], tables["quotas"]
    copies = math.ceil(n_reps / len(reps))
    rows = []
    for k in range(copies):
        part = reps.copy()
        part["source"] = reps["id"]
        part["id"] = [f"R{k * len(reps) + i + 1:05d}" for i in range(len(reps))]
        rows.append(part)
    team = pd.concat(rows, ignore_index=True).head(n_reps)
    by_source = team.groupby("source")["id"].agg(list).to_dict()
    owners = deals["rep_id"].tolist()
    spread = [
        by_source[o][i % len(by_source[o])] if o in by_source else o for i, o in enumerate(owners)
    ]
    deals = deals.assign(rep_id=spread)
    mapped = team[["id", "source"]].merge(quotas, left_on="source", right_on="rep_id")
    quotas = mapped.drop(columns=["rep_id", "source"]).rename(columns={"id": "rep_id"})
    return {**tables, "reps": team.drop(columns=["source"]), "deals": deals, "quotas": quotas}


def check(repo: Path, data: Path, as_of: dt.date) -> dict[str, object]:
    """The review's figures against two independent evaluations; returns the review."""
    from engine.data import load_inputs

    done = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "diff", "main~1", "main", "--data", str(data),
         "--as-of", as_of.isoformat(), "--format", "json"],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    review = json.loads(done.stdout)
    [item] = review["rulesets"]
    impact = item["impact"]
    with tempfile.TemporaryDirectory() as scratch:
        found = {}
        for side, commit in (("before", "main~1"), ("after", "main")):
            folder = Path(scratch) / side
            folder.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(repo), "archive", commit, "rulesets"], capture_output=True,
                check=True,
            ).stdout  # fmt: skip
            subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
            program = load_as(folder / "rulesets" / CLIENT, f"rulesets/{CLIENT}")
            found[side] = program.evaluate(**load_inputs(data, None, {}), as_of=as_of)
    pay = {}
    for side, results in found.items():
        for row in results.payouts.itertuples(index=False):
            pay.setdefault((row.rep_id, row.plan, row.period), {})[side] = Decimal(row.payout)
    wanted = {k: v for k, v in pay.items() if v.get("before") != v.get("after")}
    got = {(p["rep_id"], p["plan"], p["period"]) for p in impact["payouts"]["changes"]}
    assert got == set(wanted), (len(got), len(wanted))
    for p in impact["payouts"]["changes"]:
        key = (p["rep_id"], p["plan"], p["period"])
        assert Decimal(p["after"] or 0) - Decimal(p["before"] or 0) == Decimal(p["delta"])
        assert p["after"] is None or Decimal(p["after"]) == wanted[key]["after"]
    old = dict(zip(found["before"].leads["id"], found["before"].leads["status"], strict=True))
    flips = sum(1 for i, s in zip(found["after"].leads["id"], found["after"].leads["status"],
                                  strict=True) if old[i] != s)  # fmt: skip
    assert flips == sum(t["count"] for t in impact["leads"]["transitions"])
    return {"review": review, "flips": flips, "payouts": len(got)}


def in_process(repo: Path, data: Path, as_of: dt.date) -> dict[str, float]:
    """One run split by stage, the way `koncept diff` does it."""
    from engine import revisions
    from engine.data import load_inputs
    from engine.diff import render
    from engine.diff.impact import compare_results, evaluate_both
    from engine.diff.meaning import compare_models
    from engine.diff.review import Review, RulesetDiff
    from engine.output import money_kpis

    times: dict[str, float] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        folders = []
        for side, name in (("base", "main~1"), ("head", "main")):
            commit = revisions.resolve(repo, name)
            target = Path(scratch) / side
            revisions.archive(repo, commit, ".", target, ("*.krl", "mapping.yaml"))
            folders.append(target / "rulesets" / CLIENT)
        times["read both revisions (git archive)"] = time.perf_counter() - start
        mark = time.perf_counter()
        old, new = (load_as(f, f"rulesets/{CLIENT}") for f in folders)
        changes = compare_models(old.model, new.model)
        times["load both, compare meaning"] = time.perf_counter() - mark
    mark = time.perf_counter()
    tables = load_inputs(data, None, {})
    times["read the data (CSV)"] = time.perf_counter() - mark
    mark = time.perf_counter()
    results = evaluate_both(old, new, tables, as_of=as_of)
    times["evaluate both"] = time.perf_counter() - mark
    mark = time.perf_counter()
    impact = compare_results(*results, money_kpis(new.compiled))
    times["compare results"] = time.perf_counter() - mark
    mark = time.perf_counter()
    review = Review("main~1", "main", [RulesetDiff(f"rulesets/{CLIENT}", "changed", changes,
                                                   impact, str(data))])  # fmt: skip
    for write_out in (render.write_json, render.write_markdown, render.write_text):
        write_out(review)
    times["write json, markdown and text"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - start
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.platform()}")
    with tempfile.TemporaryDirectory(prefix="koncept-bench-diff-") as scratch:
        where = Path(scratch)
        repo = make_repo(where)
        program = load_as(repo / "rulesets" / CLIENT, CLIENT)
        tables, year = demo_tables(program, args.leads, args.deals, SEED)
        tables = widen_team(tables, args.reps)
        data = where / "data"
        write(tables, data)
        as_of = dt.date(year, 12, 31)
        sizes = ", ".join(f"{len(frame):,} {name}" for name, frame in tables.items())
        print(f"data: {sizes} (CSV, {sum(p.stat().st_size for p in data.iterdir()) >> 20} MB)")
        checked = check(repo, data, as_of)
        print(f"checked against two evaluations: {checked['flips']:,} lead flips, "
              f"{checked['payouts']:,} payouts changed")  # fmt: skip
        parquet = where / "parquet"
        parquet.mkdir()
        for name, frame in tables.items():
            frame.to_parquet(parquet / f"{name}.parquet", index=False)
        for label, folder in (("CSV", data), ("Parquet", parquet)):
            walls, cpus = [], []
            for _ in range(args.repeat):
                used = resource.getrusage(resource.RUSAGE_CHILDREN)
                mark = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "engine.cli.main", "diff", "main~1", "main", "--data",
                     str(folder), "--as-of", as_of.isoformat(), "--format", "json", "--out",
                     str(where / "review.json")],
                    cwd=repo, capture_output=True, check=True,
                )  # fmt: skip
                walls.append(time.perf_counter() - mark)
                now = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime)
            print(
                f"koncept diff, {label} data (fresh process, {args.repeat} runs): wall median "
                f"{statistics.median(walls):.2f} s, best {min(walls):.2f} s; CPU (both "
                f"processes) median {statistics.median(cpus):.2f} s (goal: under 5 s)"
            )
        print(f"load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        for stage, seconds in in_process(repo, data, as_of).items():
            print(f"  {stage:<36} {seconds:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
