"""Benchmark: how the cost of each stage grows with rows and reps (issue 14).

    .venv/bin/python benchmarks/scale.py [--sizes 100k,1M,10M] [--reps 1k,10k,100k]
        [--deals-for-reps 1M] [--only leads,deals,pay] [--parquet] [--repeat 3]
    .venv/bin/python benchmarks/scale.py --guard [--guard-reps 2000] [--guard-deals 8000]

Each scenario runs in a fresh process per size (so its peak RSS is its own), on contech-saas:
* leads: N leads as a client frame holds them (text columns, ids in a random order, the two
  numeric columns already typed) through `program.evaluate(leads=...)`, validation included,
  beside the hand-written numpy scorer of `benchmarks/engine.py` (factorize + lookup) on the
  same frame; scores checked equal first;
* deals: N deals and 5N stage events through `program.evaluate(deals=..., stage_events=...)`
  (pipeline, qualification, playbooks, funnel), beside a hand-written floor (stage
  probabilities by factorize + lookup, the funnel by a groupby); with `--parquet` the tables
  are written to Parquet by one process and read (`engine.data.read.read_table`) and
  evaluated by another;
* pay: R reps and `--deals-for-reps` won deals (`benchmarks/payouts.py`'s tables, as text)
  through the full `program.evaluate(deals, reps, quotas, period=2026-Q1)` (validation,
  deals, KPIs per rep, payouts), with its stages timed apart, beside the hand-written pandas
  groupby + Decimal payouts of `benchmarks/payouts.py`; payouts checked equal first.

Prints, per size: the best time of `--repeat`, the time per row, the ratio to the previous size,
the peak RSS of the process (data included), and the hand-written time; for leads, also the CPU
time of both (every thread), steadier than wall time when other work shares the machine.

`--guard`: the linearity guard, in one process. Each stage (validation, deals + KPIs, pay)
is timed at R reps / D deals, at 2R reps / D deals and at 2R / 2D (median of 3): a linear stage
takes at most about twice as long, a quadratic one about four times. Exit 1 when a ratio is
above `--bound` (3.5). `tests/engine/test_scale_guard.py` runs it on small sizes.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from engine.loader import load  # noqa: E402
from engine.periods import parse_period  # noqa: E402
from engine.program import Program  # noqa: E402

PERIOD = "2026-Q1"
EVENTS_PER_DEAL = 5
SCENARIOS = ("leads", "deals", "pay")


def _module(name: str) -> ModuleType:
    """A sibling benchmark as a module (its file name would shadow the `engine` package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


bench_engine = _module("engine")
bench_payouts = _module("payouts")


# ----------------------------------------------------------------------------- sizes
def size(text: str) -> int:
    """`100k`, `1M`, `10M`, `2500` -> a count."""
    text = text.strip()
    factor = {"k": 1_000, "K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if factor > 1 else text
    return int(float(number) * factor)


def sizes(text: str) -> list[int]:
    """A comma-separated list of sizes."""
    return [size(part) for part in text.split(",") if part.strip()]


def shown(n: int) -> str:
    """A count as the flags write it."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def peak_rss() -> int:
    """Peak resident memory of this process in bytes (VmHWM: ru_maxrss carries the parent's
    peak over fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def best(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of `repeat` runs, and the last result."""
    seconds, _, result = timed(run, repeat)
    return seconds, result


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time and best CPU time (every thread of the process) of `repeat` runs, and the
    last result. On a shared machine CPU time varies less than wall time: the work done."""
    times, cpu, result = [], [], None
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(times), min(cpu), result


# ----------------------------------------------------------------------------- data
def lead_frame(program: Program, n: int) -> pd.DataFrame:
    """N leads as a client's frame: text columns, ids shuffled, two numeric columns typed."""
    leads: pd.DataFrame = bench_engine.generate_data(program, n, 0, 0, shuffle=True)["leads"]
    return leads.assign(
        timing_months=pd.to_numeric(leads["timing_months"]),
        employees=pd.to_numeric(leads["employees"]).astype("Int64"),
    )


def deal_tables(program: Program, n: int) -> dict[str, pd.DataFrame]:
    """N deals and 5N stage events as read from CSV (text)."""
    found = bench_engine.generate_data(program, 0, n, EVENTS_PER_DEAL * n)
    return {"deals": found["deals"], "stage_events": found["stage_events"]}


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A typed table of `benchmarks/payouts.py` as read from CSV: every cell text."""
    columns: dict[str, Any] = {}
    for name in frame.columns:
        if str(name).endswith("__cents"):
            continue
        column = frame[name]
        if column.dtype.kind == "M":
            column = column.dt.strftime("%Y-%m-%d")
        elif column.dtype == object:
            codes, uniques = pd.factorize(column)  # Decimals: one str() per distinct value
            texts = np.asarray([str(u) for u in uniques] + [None], dtype=object)
            column = pd.Series(texts[codes], dtype="str")
        columns[str(name)] = column.astype("str")
    return pd.DataFrame(columns)


def pay_tables(n_reps: int, n_deals: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(text tables for the engine, typed tables for the hand-written payouts)."""
    typed = bench_payouts.tables(n_reps, n_deals)
    return {name: as_text(frame) for name, frame in typed.items()}, typed


# ----------------------------------------------------------------------------- hand-written
def hand_deals(deals: pd.DataFrame, events: pd.DataFrame, program: Program) -> Any:
    """A floor for the deals scenario: weighted value by stage (factorize + lookup) and the
    funnel (distinct deals per stage)."""
    codes, uniques = pd.factorize(deals["stage"])
    stages = program.compiled.stages
    probability = np.asarray(
        [float(stages[u].probability or 0) if u in stages else 0.0 for u in uniques] + [0.0]
    )
    amount = pd.to_numeric(deals["amount"]).to_numpy(dtype=np.float64, na_value=np.nan)
    weighted = amount * probability[codes]
    funnel = events.drop_duplicates(["deal_id", "stage"]).groupby("stage").size()
    return weighted, funnel


# ----------------------------------------------------------------------------- scenarios
def run_leads(program: Program, n: int, repeat: int) -> dict[str, Any]:
    leads = lead_frame(program, n)
    results = program.evaluate(leads=leads)
    scores, _ = bench_engine.hand_scores(leads)
    mine = results.leads.set_index("id")["score"].reindex(leads["id"]).to_numpy(dtype=np.int64)
    if not np.array_equal(mine, scores):
        raise RuntimeError("the engine's and the hand-written scores differ")
    seconds, cpu, _ = timed(lambda: program.evaluate(leads=leads), repeat)
    validation, _ = best(lambda: program.validate(leads=leads), repeat)
    hand, hand_cpu, _ = timed(lambda: bench_engine.hand_scores(leads), repeat)
    parts = {"validation": validation, "cpu": cpu, "hand cpu": hand_cpu}
    return {"seconds": seconds, "hand": hand, "parts": parts}


def run_deals(program: Program, n: int, repeat: int, parquet: Path | None = None) -> dict[str, Any]:
    if parquet is not None:
        from engine.data.read import read_table

        tables = {
            name: read_table(parquet / f"{name}.parquet") for name in ("deals", "stage_events")
        }
    else:
        tables = deal_tables(program, n)
    deals, events = tables["deals"], tables["stage_events"]
    gc.collect()
    seconds, found = best(
        lambda: program.evaluate(deals=deals, stage_events=events, as_of=bench_engine.AS_OF),
        repeat,
    )
    if len(found.deals) + int((found.errors["table"] == "deals").sum()) != len(deals):
        raise RuntimeError("deals in != deals out + rejected")
    hand, _ = best(lambda: hand_deals(deals, events, program), repeat)
    return {"seconds": seconds, "hand": hand, "rows": len(deals) + len(events), "parts": {}}


def write_parquet(program: Program, n: int, folder: Path) -> None:
    """The deals scenario's tables as Parquet files (read back by `run_deals`)."""
    for name, frame in deal_tables(program, n).items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)


def pay_stages(program: Program, text: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Wall time of each stage of a full evaluation: validation, pay, deals + KPIs."""
    from engine.vector import evaluate_tables

    asked = parse_period(PERIOD)
    times: dict[str, float] = {}
    start = time.perf_counter()
    inputs = program.validate(**text)
    times["validation"] = time.perf_counter() - start
    start = time.perf_counter()
    paid = program.pay(inputs, asked)
    attainments = paid.attainments(asked)
    times["pay"] = time.perf_counter() - start
    start = time.perf_counter()
    evaluate_tables(
        program.compiled, inputs.valid, inputs.codes, bench_engine.AS_OF, asked, lambda: attainments
    )
    times["deals+kpis"] = time.perf_counter() - start
    return times


def run_pay(program: Program, n_reps: int, n_deals: int, repeat: int) -> dict[str, Any]:
    text, typed = pay_tables(n_reps, n_deals)
    found = program.evaluate(**text, period=PERIOD)
    hand = bench_payouts.hand_written(typed, PERIOD)
    mine = found.payouts.set_index("rep_id")["payout"].sort_index()
    if not mine.equals(hand.set_index("rep_id")["payout"].sort_index()):
        raise RuntimeError("the engine's and the hand-written payouts differ")
    seconds, _ = best(lambda: program.evaluate(**text, period=PERIOD), repeat)
    parts = [pay_stages(program, text) for _ in range(repeat)]
    hand_s, _ = best(lambda: bench_payouts.hand_written(typed, PERIOD), 1)
    return {
        "seconds": seconds,
        "hand": hand_s,
        "parts": {key: min(p[key] for p in parts) for key in parts[0]},
    }


def child(argv: list[str]) -> int:
    """One scenario at one size, in this (fresh) process: print its figures as JSON."""
    scenario, n, reps, repeat = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    program = load(bench_engine.RULESET)
    if scenario == "write-parquet":
        write_parquet(program, n, Path(argv[4]))
        print(json.dumps({"written": n}))
        return 0
    before = peak_rss()
    if scenario == "leads":
        found = run_leads(program, n, repeat)
    elif scenario == "deals":
        found = run_deals(program, n, repeat, Path(argv[4]) if len(argv) > 4 else None)
    else:
        found = run_pay(program, reps, n, repeat)
    found["rss"] = peak_rss()
    found["rss_before"] = before
    print(json.dumps(found))
    return 0


def spawn(*args: object) -> dict[str, Any]:
    """Run `child` in a fresh process."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[2:])} failed:\n{done.stderr[-3000:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


# ----------------------------------------------------------------------------- guard
def guard(n_reps: int, n_deals: int, repeat: int = 3) -> dict[str, float]:
    """Per stage, the median time over the median time at R reps / D deals: at 2R reps and
    the same deals (`<stage> x2 reps`), and at 2R reps / 2D deals (`<stage> x2 all`)."""
    program = load(bench_engine.RULESET)
    medians: list[dict[str, float]] = []
    for reps, deals in ((n_reps, n_deals), (2 * n_reps, n_deals), (2 * n_reps, 2 * n_deals)):
        text, _ = pay_tables(reps, deals)
        pay_stages(program, text)  # warm-up: first calls import and compile
        runs = [pay_stages(program, text) for _ in range(repeat)]
        medians.append({key: statistics.median(r[key] for r in runs) for key in runs[0]})
    base, reps_only, both = medians
    ratios = {f"{key} x2 reps": reps_only[key] / base[key] for key in base}
    ratios.update({f"{key} x2 all": both[key] / base[key] for key in base})
    return ratios


# ----------------------------------------------------------------------------- main
def report(scenario: str, label: str, rows: int, found: dict[str, Any], previous: Any) -> None:
    seconds = found["seconds"]
    ratio = f"{seconds / previous:6.2f}x" if previous else "      -"
    parts = "  ".join(f"{k} {v:.3f}s" for k, v in found.get("parts", {}).items())
    print(
        f"{scenario:6} {label:>16} {seconds:9.3f}s {seconds / rows * 1e6:8.3f} µs/row "
        f"{ratio}  peak RSS {found['rss'] / 2**30:6.2f} GB  hand {found['hand']:8.3f}s "
        f"({seconds / found['hand']:.2f}x)  {parts}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios at the sizes asked and print one line per size."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1M", help="rows: leads, deals (10M is long)")
    parser.add_argument("--reps", default="1k,10k,100k", help="reps of the pay scenario")
    parser.add_argument("--deals-for-reps", default="1M", help="won deals of the pay scenario")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="leads,deals,pay")
    parser.add_argument("--parquet", action="store_true", help="deals read from Parquet")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--guard", action="store_true", help="the linearity guard only")
    parser.add_argument("--guard-reps", type=int, default=2_000)
    parser.add_argument("--guard-deals", type=int, default=8_000)
    parser.add_argument("--bound", type=float, default=3.5)
    args = parser.parse_args(argv)
    if args.guard:
        ratios = guard(args.guard_reps, args.guard_deals)
        for stage, ratio in ratios.items():
            print(f"{stage:22} -> {ratio:.2f}x time (bound {args.bound})")
        return 0 if max(ratios.values()) <= args.bound else 1
    only = [s.strip() for s in args.only.split(",")]
    print(f"contech-saas; best of {args.repeat}; ratio = time / time at the previous size")
    if "leads" in only:
        previous = None
        for n in sizes(args.sizes):
            found = spawn("leads", n, 0, args.repeat)
            report("leads", shown(n), n, found, previous)
            previous = found["seconds"]
    if "deals" in only:
        previous = None
        for n in sizes(args.sizes):
            if args.parquet:
                with tempfile.TemporaryDirectory(prefix="koncept-scale-") as folder:
                    spawn("write-parquet", n, 0, 1, folder)
                    found = spawn("deals", n, 0, args.repeat if n < 10**7 else 1, folder)
            else:
                found = spawn("deals", n, 0, args.repeat if n < 10**7 else 1)
            report("deals", f"{shown(n)}+events", found["rows"], found, previous)
            previous = found["seconds"]
    if "pay" in only:
        previous = None
        deals = size(args.deals_for_reps)
        for reps in sizes(args.reps):
            found = spawn("pay", deals, reps, args.repeat)
            report("pay", f"{shown(reps)}r x {shown(deals)}", deals, found, previous)
            previous = found["seconds"]
    return 0


if __name__ == "__main__":
    sys.exit(main())
