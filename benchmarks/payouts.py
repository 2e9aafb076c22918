"""Benchmark: pay for 10,000 reps over 1M won deals on contech-saas's quarterly AE plan (three
measures on a curve, 60/30/10), paid each month (`pays monthly`, the issue's case; `--quarterly`
pays each quarter), with pay per deal, end to end: `Program.evaluate` on the tables as a client's
files give them (every cell text, rows and ids in a random order), validation, deals, KPIs,
payouts, payments and `payout_lines` included. Beside it, in the same run on the same data, a
hand-written pandas groupby + Decimal version computing the same quarterly payouts and the same
per-deal lines (checked equal to the cent first).

    .venv/bin/python benchmarks/payouts.py [--reps 10000] [--deals 1000000] [--year]
        [--quarterly] [--repeat 1]

Prints the times (and the part spent on pay per deal: the credited deals' rows, the lines and
their table), the ratio to the hand-written code, and the process peak RSS (VmHWM) with the
data generated and after the engine ran. Not a test: figures go in the notes.
`benchmarks/scale.py` reuses `tables` and `hand_written`.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.loader import load  # noqa: E402
from engine.program import Program  # noqa: E402

HERE = Path(__file__).resolve().parent
RULESET = HERE.parent / "rulesets" / "contech-saas"
TYPES = ("new_logo", "upsell", "renewal")
QUOTA = {"new_logo": 150_000_00, "upsell": 60_000_00, "renewal": 40_000_00}  # cents per quarter


def tables(n_reps: int, n_deals: int, days: int = 90, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Typed tables as `engine.data.validate_table` returns them (money: Decimal + cents).

    Deals close in the first `days` days of 2026 (90: all of them in 2026-Q1).
    """
    rng = np.random.default_rng(seed)
    rep_ids = np.asarray([f"R{i:05d}" for i in range(n_reps)], dtype=object)
    reps = pd.DataFrame(
        {
            "id": pd.Series(rep_ids, dtype="str"),
            "name": pd.Series(rep_ids, dtype="str"),
            "role": pd.Series(["AE"] * n_reps, dtype="str"),
            "territory": pd.Series(["idf"] * n_reps, dtype="str"),
            "hire_date": pd.Series(pd.to_datetime(["2020-01-01"] * n_reps)),
        }
    )
    kind = rng.choice(3, size=n_deals, p=(0.55, 0.30, 0.15))
    owner = rng.integers(0, n_reps, n_deals)
    cents = np.rint(rng.lognormal(np.log(25_000), 0.7, n_deals) * 100).astype(np.int64)
    day = np.datetime64("2026-01-01") + rng.integers(0, days, n_deals)
    distinct, inverse = np.unique(cents, return_inverse=True)
    decimals = np.asarray([Decimal(int(c)).scaleb(-2) for c in distinct.tolist()], object)[inverse]
    deals = pd.DataFrame(
        {
            "id": pd.Series([f"D{i:07d}" for i in range(n_deals)], dtype="str"),
            "rep_id": pd.Series(rep_ids[owner], dtype="str"),
            "type": pd.Series(np.asarray(TYPES, dtype=object)[kind], dtype="str"),
            "amount": pd.Series(decimals, dtype=object),
            "amount__cents": pd.array(cents, dtype="Int64"),
            "cost": pd.Series([None] * n_deals, dtype=object),
            "cost__cents": pd.array([pd.NA] * n_deals, dtype="Int64"),
            "stage": pd.Series(["signature"] * n_deals, dtype="str"),
            "close_date": pd.Series(day.astype("datetime64[ns]")),
            "status": pd.Series(["won"] * n_deals, dtype="str"),
        }
    )
    periods = [f"2026-Q{q}" for q in range(1, 5)]
    rows = [(r, p, m, QUOTA[m]) for m in TYPES for p in periods for r in rep_ids.tolist()]
    quota_cents = np.asarray([row[3] for row in rows], dtype=np.int64)
    quotas = pd.DataFrame(
        {
            "rep_id": pd.Series([row[0] for row in rows], dtype="str"),
            "period": pd.Series([row[1] for row in rows], dtype="str"),
            "measure": pd.Series([row[2] for row in rows], dtype="str"),
            "quota": pd.Series([Decimal(int(c)).scaleb(-2) for c in quota_cents], dtype=object),
            "quota__cents": pd.array(quota_cents, dtype="Int64"),
        }
    )
    return {"deals": deals, "reps": reps, "quotas": quotas}


# ----------------------------------------------------------------------------- hand-written
CENT = Decimal("0.01")
SNAP = Decimal("1e-30")


def _curve(att: Decimal) -> Decimal:
    """The contech-saas curve, by hand: % of target at an attainment."""
    if att < Decimal("0.8"):
        return Decimal(0)
    if att < 1:
        return Decimal("0.5") + Decimal("2.5") * (att - Decimal("0.8"))
    if att <= Decimal("1.3"):
        return 1 + Decimal("1.5") * (att - 1)
    return Decimal("1.45") + 2 * (att - Decimal("1.3"))


def hand_measures(
    data: dict[str, pd.DataFrame], period: str, snap: bool = True
) -> dict[tuple[str, str], Decimal]:
    """Each rep's payout per measure (type), rounded: pandas groupby for the credits, Decimal
    for the money (what an analyst would write).

    `snap`: settle the 60-digit result to 30 decimals before rounding to the cent. Without it,
    a payout whose exact value is a half cent (5734.145) comes out of the inexact division as
    5734.14499... and is rounded down: a careful implementation must do it too.
    """
    deals = data["deals"]
    start = pd.Period(period, freq="Q").start_time
    end = pd.Period(period, freq="Q").end_time
    won = deals[(deals["status"] == "won") & deals["close_date"].between(start, end)]
    credited = won.groupby(["rep_id", "type"])["amount__cents"].sum()
    quotas = data["quotas"]
    quotas = quotas[quotas["period"] == period].set_index(["rep_id", "measure"])["quota__cents"]
    weights = {"new_logo": Decimal("0.6"), "upsell": Decimal("0.3"), "renewal": Decimal("0.1")}
    target = Decimal(10_000)
    found: dict[tuple[str, str], Decimal] = {}
    with localcontext() as ctx:
        ctx.prec = 60
        for rep in data["reps"]["id"]:
            for kind in TYPES:
                cents = int(credited.get((rep, kind), 0))
                quota = int(quotas[(rep, kind)])
                pay = _curve(Decimal(cents) / Decimal(quota)) * target * weights[kind]
                if snap:
                    pay = pay.quantize(SNAP)
                cap = (2 * target * weights[kind]).quantize(CENT, rounding=ROUND_DOWN)
                found[(rep, kind)] = min(pay, cap).quantize(CENT, rounding=ROUND_HALF_UP)
    return found


def hand_written(data: dict[str, pd.DataFrame], period: str, snap: bool = True) -> pd.DataFrame:
    """Each rep's payout for the period (the sum of its measures', see `hand_measures`)."""
    totals: dict[str, Decimal] = {}
    for (rep, _), pay in hand_measures(data, period, snap).items():
        totals[rep] = totals.get(rep, Decimal(0)) + pay
    return pd.DataFrame({"rep_id": list(totals), "payout": [f"{v:.2f}" for v in totals.values()]})


def hand_lines(
    data: dict[str, pd.DataFrame], period: str, measures: dict[tuple[str, str], Decimal]
) -> pd.DataFrame:
    """Pay per deal by hand: each measure's payout shared over its deals pro rata of their
    amounts, floored to the cent, the cents left over to the largest remainders (ties to the
    earlier deal by close date, then id): a pandas sort, then Python ints per deal."""
    deals = data["deals"]
    start = pd.Period(period, freq="Q").start_time
    end = pd.Period(period, freq="Q").end_time
    won = deals[(deals["status"] == "won") & deals["close_date"].between(start, end)]
    won = won.sort_values(["rep_id", "type", "close_date", "id"])
    reps = won["rep_id"].to_numpy(dtype=object)
    kinds = won["type"].to_numpy(dtype=object)
    ids = won["id"].to_numpy(dtype=object)
    cents = won["amount__cents"].to_numpy(dtype=np.int64).tolist()
    bounds = np.flatnonzero((reps[1:] != reps[:-1]) | (kinds[1:] != kinds[:-1])) + 1
    starts = [0, *bounds.tolist()]
    ends = [*bounds.tolist(), len(won)]
    out_rep: list[str] = []
    out_kind: list[str] = []
    out_id: list[str] = []
    out_pay: list[str] = []
    for first, last in zip(starts, ends, strict=True):
        if first == last:
            continue
        rep, kind = reps[first], kinds[first]
        total = int(measures[(rep, kind)].scaleb(2))
        values = cents[first:last]
        whole = sum(values)
        shares = [total * v // whole for v in values]
        rest = [total * v - s * whole for v, s in zip(values, shares, strict=True)]
        for i in sorted(range(len(values)), key=lambda i: (-rest[i], i))[: total - sum(shares)]:
            shares[i] += 1
        out_rep += [rep] * len(values)
        out_kind += [kind] * len(values)
        out_id += ids[first:last].tolist()
        out_pay += [f"{Decimal(s).scaleb(-2):.2f}" for s in shares]
    return pd.DataFrame(
        {"rep_id": out_rep, "measure": out_kind, "deal_id": out_id, "payout": out_pay}
    )


# ----------------------------------------------------------------------------- measuring
def peak_rss() -> int:
    """Peak resident memory of this process so far, in bytes (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _sibling(name: str) -> ModuleType:
    """A sibling benchmark as a module (its file name would shadow the `engine` package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def client_tables(typed: dict[str, pd.DataFrame], seed: int = 11) -> dict[str, pd.DataFrame]:
    """The typed tables as a client's files give them: every cell text (`scale.as_text`), rows
    (and so ids) in a random order."""
    as_text = _sibling("scale").as_text
    rng = np.random.default_rng(seed)
    found = {}
    for name, frame in typed.items():
        text = as_text(frame)
        found[name] = text.iloc[rng.permutation(len(text))].reset_index(drop=True)
    return found


def monthly_program(folder: Path) -> Program:
    """contech-saas with its quarterly AE plan paid each month (`pays monthly`), copied to
    `folder` (the ruleset itself pays each quarter)."""
    copy = folder / "contech-saas"
    shutil.copytree(RULESET, copy)
    shutil.copytree(RULESET.parent / "house", folder / "house")  # its template
    plans = copy / "plans.krl"
    text = plans.read_text(encoding="utf-8")
    edited = text.replace("  period quarter\n", "  period quarter\n  pays monthly\n", 1)
    if edited == text:
        raise SystemExit("contech-saas's plan has no `period quarter` line to pay monthly")
    plans.write_text(edited, encoding="utf-8")
    return load(copy)


class Stopwatch:
    """Wall and CPU time spent in some functions (wrapped in place while the stopwatch is on).
    CPU time (this process's) is what the code costs on a machine other jobs share."""

    def __init__(self, targets: Sequence[tuple[Any, str]]) -> None:
        self.targets = targets
        self.seconds = 0.0
        self.cpu = 0.0
        self._saved: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> Stopwatch:
        for owner, name in self.targets:
            original = getattr(owner, name)
            self._saved.append((owner, name, original))
            setattr(owner, name, self._wrap(original))
        return self

    def _wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.cpu += time.process_time() - cpu

        return timed_call

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument(
        "--year", action="store_true", help="deals over all of 2026, paid for its four quarters"
    )
    parser.add_argument(
        "--quarterly", action="store_true", help="pay each quarter (default: each month)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="engine runs (best time shown)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="koncept-payouts-") as folder:
        program = load(RULESET) if args.quarterly else monthly_program(Path(folder))
    where = "2026" if args.year else "2026-Q1"
    quarters = [f"2026-Q{q}" for q in range(1, 5)] if args.year else ["2026-Q1"]
    print(
        f"generating {args.reps:,} reps, {args.deals:,} won deals in {where} "
        f"(paid {'quarterly' if args.quarterly else 'monthly'}) ...",
        flush=True,
    )
    typed = tables(args.reps, args.deals, days=365 if args.year else 90)
    text = client_tables(typed)
    rss_data = peak_rss()
    import engine.pay.credit as credit
    import engine.pay.vector as vector

    per_deal = Stopwatch(
        [(credit.Crediting, "_deal_rows"), (vector, "vector_lines"), (vector, "_lines_frame")]
    )
    best: tuple[float, float, float, float] | None = None  # wall, cpu, per deal wall, cpu
    result: Any = None
    for _ in range(args.repeat):
        gc.collect()
        per_deal.seconds = per_deal.cpu = 0.0
        with per_deal:
            start, cpu = time.perf_counter(), time.process_time()
            result = program.evaluate(**text, period=where)
            found = (time.perf_counter() - start, time.process_time() - cpu)
        if best is None or found[0] < best[0]:
            best = (*found, per_deal.seconds, per_deal.cpu)
    assert best is not None
    rss_engine = peak_rss()
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    hand_payouts, hand_deal_lines = [], []
    for quarter in quarters:
        measures = hand_measures(typed, quarter)
        totals: dict[str, Decimal] = {}
        for (rep, _), pay in measures.items():
            totals[rep] = totals.get(rep, Decimal(0)) + pay
        hand_payouts.append(
            pd.DataFrame(
                {
                    "rep_id": list(totals),
                    "period": quarter,
                    "payout": [f"{v:.2f}" for v in totals.values()],
                }
            )
        )
        hand_deal_lines.append(hand_lines(typed, quarter, measures).assign(period=quarter))
    hand_seconds, hand_cpu = time.perf_counter() - start, time.process_time() - cpu
    hand = pd.concat(hand_payouts, ignore_index=True)
    hand_by_deal = pd.concat(hand_deal_lines, ignore_index=True)

    payouts = result.payouts[result.payouts["period"].isin(quarters)]
    mine = payouts.set_index(["rep_id", "period"])["payout"].sort_index()
    same = mine.equals(hand.set_index(["rep_id", "period"])["payout"].sort_index())
    lines = result.payout_lines
    lines = lines[lines["period"].isin(quarters)]
    key = ["rep_id", "period", "measure", "deal_id"]
    ours_lines = lines[[*key, "payout"]].astype(str).sort_values(key).reset_index(drop=True)
    hand_sorted = hand_by_deal[[*key, "payout"]].astype(str).sort_values(key)
    same_lines = ours_lines.equals(hand_sorted.reset_index(drop=True))
    wall, cpu_s, deal_wall, deal_cpu = best
    print(f"\n{'implementation':54} {'wall (s)':>9} {'cpu (s)':>8} {'vs hand':>8}")
    print(
        f"{'koncept Program.evaluate (text tables, everything)':54} {wall:9.3f} {cpu_s:8.3f} "
        f"{cpu_s / hand_cpu:7.2f}x"
    )
    print(f"{'  of which pay per deal (rows, lines, table)':54} {deal_wall:9.3f} {deal_cpu:8.3f}")
    by_hand = "pandas groupby + Decimal, payouts and lines, by hand"
    print(f"{by_hand:54} {hand_seconds:9.3f} {hand_cpu:8.3f} {1:7.2f}x")
    print(
        f"\npeak RSS: {rss_data / 2**30:.2f} GB with the data generated (typed + text tables), "
        f"{rss_engine / 2**30:.2f} GB after Program.evaluate (goal: under 3 GB, 3 s)"
    )
    print(
        f"payout rows: {len(result.payouts):,} ({len(payouts):,} for the quarters); "
        f"payout lines: {len(result.payout_lines):,}; payments: "
        f"{len(result.tables().get('payments', [])):,}; errors: {len(result.errors):,}\n"
        f"same payouts as by hand to the cent: {same}; same pay per deal: {same_lines}"
    )
    return 0 if same and same_lines else 1


if __name__ == "__main__":
    sys.exit(main())
