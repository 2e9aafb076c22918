"""Benchmark: the evaluation engine on contech-saas, against hand-written code and other engines.

    .venv/bin/python benchmarks/engine.py [--leads 1000000] [--deals 1000000] [--events 5000000]

One run, on one generated data set (`engine.demo.generate`, seed 7), measures:
1. the leads table scored with BMANTER through `program.evaluate(leads=...)` against a
   hand-written pandas/numpy version of the same scoring (goal: within 1.5x), after checking that
   both give the same scores and statuses on every lead;
2. the same leads one at a time through `program.evaluate_lead` (goal: under 3 µs per lead,
   issue 14: the ruleset's generated function, `engine.codegen`) and the reference evaluator,
   beside a plain Python loop, zen-engine (GoRules: a decision graph of decision tables, and a
   compiled expression) and rule-engine (one compiled rule per criterion), each checked against
   the engine on a sample first (`pip install -e '.[bench]'` for the peers; missing ones are
   skipped);
3. the deals table (pipeline, qualification, playbooks; goal under 3 s) and the funnel over the
   stage events (goal under 3 s);
4. the peak memory of each table evaluation, in a fresh process per scenario (goal under 3 GB).

Timings are the best of `--repeat` runs (3): other processes may share the machine. `--profile`
adds the engine functions that dominate each table evaluation. Not a test: figures go in the
notes.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import itertools
import json
import math
import os
import pickle
import platform
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `engine` package: look in the repository root instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from dsl.canonical import TABLES  # noqa: E402
from engine.data import validate_table  # noqa: E402
from engine.demo import generate  # noqa: E402
from engine.loader import load  # noqa: E402
from engine.program import Program  # noqa: E402
from engine.record import LeadEvaluator  # noqa: E402
from engine.results import Results  # noqa: E402
from engine.schemas import table_columns  # noqa: E402

RULESET = ROOT / "rulesets" / "contech-saas"
AS_OF = dt.date(2026, 12, 31)
SEED = 7
#: Client fields without a declared range get realistic ones (the generator's default for an
#: integer is 0..10: every company would be small).
LEAD_RANGES = {("lead", "employees"): (1.0, 5000.0), ("lead", "timing_months"): (0.0, 12.0)}
#: Stage events per generated deal, on average (won deals reach all seven stages): used to size
#: the deals drawn so that there are enough events.
EVENTS_PER_DEAL = 4.8
#: The fields an application holds for a lead to score (the dicts of the one-at-a-time part).
LEAD_FIELDS = (
    "id",
    "source",
    "budget",
    "sector",
    "authority",
    "need",
    "timing_months",
    "employees",
)
MEMORY_SCENARIOS = ("leads", "leads-hand", "deals", "stage_events", "deals+stage_events")
GB = 2**30

Ints = npt.NDArray[np.int64]
Score = tuple[int, str]
Lead = dict[str, Any]


class Mismatch(Exception):
    """Two implementations disagree: no timing of them means anything."""


# ----------------------------------------------------------------------------- data
def load_program() -> Program:
    """The contech-saas ruleset, compiled."""
    return load(RULESET)


def evaluate(program: Program, tables: Mapping[str, pd.DataFrame]) -> Results:
    """`program.evaluate` on some of the input tables, as of the benchmark's date."""
    return program.evaluate(
        leads=tables.get("leads"),
        deals=tables.get("deals"),
        stage_events=tables.get("stage_events"),
        as_of=AS_OF,
    )


def generate_data(
    program: Program,
    n_leads: int,
    n_deals: int,
    n_events: int,
    seed: int = SEED,
    shuffle: bool = False,
) -> dict[str, pd.DataFrame]:
    """Text tables as read from CSV: `n_leads` leads, `n_deals` deals and `n_events` events.

    The generator makes about 4.8 events per deal: enough deals are drawn for the events, the
    deals table keeps the first `n_deals` of them (the other events are of deals known only from
    their events, which the funnel counts all the same). Generated rows come sorted by id (and
    events by deal); `shuffle` puts each table's rows in a random order, as some exports are.
    """
    columns = {record: table_columns(program.model, record) for record in TABLES}
    ranges = {
        (record, name): (float(kind.range[0]), float(kind.range[1]))
        for record, fields in program.model.records.items()
        for name, kind in fields.items()
        if kind.range is not None
    }
    ranges.update(LEAD_RANGES)
    drawn = max(n_deals, math.ceil(n_events / EVENTS_PER_DEAL))
    while True:
        tables = generate(columns, n_leads=n_leads, n_deals=drawn, seed=seed, ranges=ranges)
        if len(tables["stage_events"]) >= n_events:
            break
        drawn = math.ceil(drawn * 1.05)
    chosen = {
        "leads": tables["leads"],
        "deals": tables["deals"].iloc[:n_deals],
        "stage_events": tables["stage_events"].iloc[:n_events],
    }
    rng = np.random.default_rng(seed)
    return {
        name: (frame.iloc[rng.permutation(len(frame))] if shuffle else frame).reset_index(drop=True)
        for name, frame in chosen.items()
    }


def lead_dicts(program: Program, leads: pd.DataFrame, n: int) -> list[Lead]:
    """The first `n` leads as an application holds them: typed values, None when missing."""
    valid = validate_table("leads", leads.iloc[:n], table_columns(program.model, "lead")).valid
    columns = {}
    for name in LEAD_FIELDS:
        column = valid[name]
        columns[name] = column.astype(object).where(column.notna(), None).tolist()
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


# ----------------------------------------------------------------------------- hand-written
BUDGET = {"confirmed": 20, "to_validate": 10, "blocking": 0}
MARKET = {"industrie": 15, "services": 15}
AUTHORITY = {"decision_maker": 20, "influencer": 10, "user": 3}
NEED = {"urgent": 15, "medium_term": 8, "exploration": 2}
REFERENCE = {"referral": 5, "partner": 5, "inbound": 4, "event": 3, "outbound": 2}
SQL_ABOVE = 70


def _points(column: pd.Series[Any], points: Mapping[str, int]) -> Ints:
    """Points of a picklist column: factorize, then one numpy lookup (missing: code -1 -> 0)."""
    codes, uniques = pd.factorize(column)
    table = np.asarray([points.get(value, 0) for value in uniques] + [0], dtype=np.int64)
    return table[codes]


def _numbers(column: pd.Series[Any]) -> npt.NDArray[np.float64]:
    return np.asarray(pd.to_numeric(column).to_numpy(dtype=np.float64, na_value=np.nan))


def hand_scores(leads: pd.DataFrame) -> tuple[Ints, npt.NDArray[Any]]:
    """BMANTER by hand with pandas and numpy: scores and statuses of every lead.

    Works on the text table (numbers parsed with `pd.to_numeric`) and on typed columns. A missing
    value scores 0, as the engine scores an undecided criterion.
    """
    timing = _numbers(leads["timing_months"])
    employees = _numbers(leads["employees"])
    score = (
        _points(leads["budget"], BUDGET)
        + _points(leads["sector"], MARKET)
        + _points(leads["authority"], AUTHORITY)
        + _points(leads["need"], NEED)
        # NaN fails every comparison: a missing value scores the default, 0.
        + np.select([timing < 3, (timing >= 3) & (timing <= 6), timing > 6], [15, 8, 2], 0)
        + np.select(
            [np.isnan(employees), employees >= 250, (employees >= 50) & (employees <= 249)],
            [0, 10, 6],
            2,
        )
        + _points(leads["source"], REFERENCE)
    )
    return score, np.where(score > SQL_ABOVE, "SQL", "MQL")


def python_score(lead: Lead) -> Score:
    """BMANTER of one lead dict in plain Python."""
    timing = lead["timing_months"]
    employees = lead["employees"]
    score = (
        BUDGET.get(lead["budget"], 0)
        + MARKET.get(lead["sector"], 0)
        + AUTHORITY.get(lead["authority"], 0)
        + NEED.get(lead["need"], 0)
        + (0 if timing is None else 15 if timing < 3 else 8 if timing <= 6 else 2)
        + (0 if employees is None else 10 if employees >= 250 else 6 if employees >= 50 else 2)
        + REFERENCE.get(lead["source"], 0)
    )
    return score, "SQL" if score > SQL_ABOVE else "MQL"


# ----------------------------------------------------------------------------- peers
#: BMANTER as first-hit decision table rows (unary tests on one field -> points), per criterion.
ZEN_TABLES: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {
    "budget": ("budget", (('"confirmed"', 20), ('"to_validate"', 10), ('"blocking"', 0))),
    "market": ("sector", (('"industrie", "services"', 15), ("", 0))),
    "authority": (
        "authority",
        (('"decision_maker"', 20), ('"influencer"', 10), ('"user"', 3)),
    ),
    "need": ("need", (('"urgent"', 15), ('"medium_term"', 8), ('"exploration"', 2))),
    "timing": ("timing_months", (("< 3", 15), ("[3..6]", 8), ("> 6", 2))),
    "company": ("employees", ((">= 250", 10), ("[50..249]", 6), ("", 2))),
    "reference": (
        "source",
        (('"referral"', 5), ('"partner"', 5), ('"inbound"', 4), ('"event"', 3), ('"outbound"', 2)),
    ),
}
#: The same criteria as expressions (ZEN and rule-engine share the ternary syntax).
EXPRESSIONS = {
    "budget": 'budget == "confirmed" ? 20 : (budget == "to_validate" ? 10 : 0)',
    "market": 'sector in ["industrie", "services"] ? 15 : 0',
    "authority": (
        'authority == "decision_maker" ? 20 : '
        '(authority == "influencer" ? 10 : (authority == "user" ? 3 : 0))'
    ),
    "need": 'need == "urgent" ? 15 : (need == "medium_term" ? 8 : (need == "exploration" ? 2 : 0))',
    "timing": (
        "timing_months == null ? 0 : (timing_months < 3 ? 15 : (timing_months <= 6 ? 8 : 2))"
    ),
    "company": "employees == null ? 0 : (employees >= 250 ? 10 : (employees >= 50 ? 6 : 2))",
    "reference": (
        'source in ["referral", "partner"] ? 5 : (source == "inbound" ? 4 : '
        '(source == "event" ? 3 : (source == "outbound" ? 2 : 0)))'
    ),
}


def zen_graph() -> dict[str, Any]:
    """BMANTER as a GoRules JDM graph: input -> one decision table per criterion -> total ->
    status -> output, each node passing its input through."""

    def node(name: str, kind: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
        found: dict[str, Any] = {"id": name, "name": name, "type": kind}
        found["position"] = {"x": 0, "y": 0}  # where the GoRules editor draws it
        if content is not None:
            found["content"] = content
        return found

    def table(criterion: str, field: str, rules: tuple[tuple[str, int], ...]) -> dict[str, Any]:
        # A missing field matches `null` first: 0 points, as the engine scores it.
        rows = [("null", 0), *rules]
        return node(
            criterion,
            "decisionTableNode",
            {
                "hitPolicy": "first",
                "passThrough": True,
                "inputs": [{"id": "in", "name": field, "field": field}],
                "outputs": [{"id": "out", "name": criterion, "field": f"points.{criterion}"}],
                "rules": [
                    {"_id": f"{criterion}{i}", "in": test, "out": str(points)}
                    for i, (test, points) in enumerate(rows)
                ],
            },
        )

    def expression(name: str, key: str, value: str) -> dict[str, Any]:
        content = {"passThrough": True, "expressions": [{"id": key, "key": key, "value": value}]}
        return node(name, "expressionNode", content)

    total = " + ".join(f"points.{criterion}" for criterion in ZEN_TABLES)
    nodes = [
        node("request", "inputNode"),
        *(table(criterion, *spec) for criterion, spec in ZEN_TABLES.items()),
        # An expression node cannot read a key it sets itself: the status comes next.
        expression("total", "score", total),
        expression("status", "status", f"score > {SQL_ABOVE} ? 'SQL' : 'MQL'"),
        node("response", "outputNode"),
    ]
    names = [n["id"] for n in nodes]
    edges = [
        {"id": f"edge{i}", "type": "edge", "sourceId": a, "targetId": b}
        for i, (a, b) in enumerate(itertools.pairwise(names))
    ]
    return {"contentType": "application/vnd.gorules.decision", "nodes": nodes, "edges": edges}


@dataclass(frozen=True)
class Peer:
    """One way to score one lead dict, ready to call."""

    name: str
    score: Callable[[Lead], Score]
    slow: bool  # timed on the smaller peer sample


def peers(program: Program) -> tuple[list[Peer], list[str]]:
    """Every implementation of the one-lead path, and install hints for the missing ones."""
    found = [
        Peer("koncept program.evaluate_lead", _engine_score(program), False),
        Peer("plain Python function", python_score, False),
    ]
    missing = []
    try:
        import zen
    except ImportError:
        missing.append("zen-engine: pip install zen-engine (or pip install -e '.[bench]')")
    else:
        # A static loader keeps the compiled decision: `create_decision(...).evaluate` is
        # several times slower per call.
        engine = zen.ZenEngine({"loader": {"type": "static", "content": {"bmanter": zen_graph()}}})

        def zen_decision(lead: Lead) -> Score:
            result = engine.evaluate("bmanter", lead)["result"]
            return int(result["score"]), result["status"]

        total = zen.compile_expression(" + ".join(f"({e})" for e in EXPRESSIONS.values()))

        def zen_expression(lead: Lead) -> Score:
            score = int(total.evaluate(lead))
            return score, "SQL" if score > SQL_ABOVE else "MQL"

        found.append(Peer("zen-engine decision graph (7 tables)", zen_decision, True))
        found.append(Peer("zen-engine compiled expression", zen_expression, False))
    try:
        import rule_engine  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        missing.append("rule-engine: pip install rule-engine (or pip install -e '.[bench]')")
    else:
        context = rule_engine.Context(default_value=None)
        rules = [rule_engine.Rule(text, context=context) for text in EXPRESSIONS.values()]

        def rule_engine_score(lead: Lead) -> Score:
            score = int(sum(rule.evaluate(lead) for rule in rules))
            return score, "SQL" if score > SQL_ABOVE else "MQL"

        found.append(Peer("rule-engine (a rule per criterion)", rule_engine_score, True))
    return found, missing


def _engine_score(program: Program) -> Callable[[Lead], Score]:
    def score(lead: Lead) -> Score:
        result = program.evaluate_lead(lead)
        return result.score, result.status  # type: ignore[return-value]

    return score


def check_peer(peer: Peer, program: Program, leads: Sequence[Lead]) -> None:
    """Raise `Mismatch` unless `peer` scores every lead as `program.evaluate_lead` does."""
    for lead in leads:
        want = program.evaluate_lead(lead)
        got = peer.score(lead)
        if got != (want.score, want.status):
            raise Mismatch(f"{peer.name} gives {got} for {lead}, the engine {want}")


# ----------------------------------------------------------------------------- timing
def best_of(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Fastest wall time (s) of `repeat` calls, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def profile_hint(run: Callable[[], Any], top: int = 6) -> list[str]:
    """The engine functions with the most cumulative time in one call of `run`."""
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = [
        (cumulative, f"{Path(file).parent.name}/{Path(file).name}:{line}({name})")
        for (file, line, name), (_, _, _, cumulative, _) in stats.items()
        if f"{os.sep}engine{os.sep}" in file and name not in ("evaluate", "evaluate_tables")
    ]
    rows.sort(reverse=True)
    return [f"{seconds:7.2f} s  {where}" for seconds, where in rows[:top]]


@dataclass
class Line:
    """One printed figure."""

    label: str
    seconds: float | None = None
    rows: int | None = None
    per_row_us: float | None = None
    ratio: str = ""
    goal: str = ""


def _goal(ok: bool, text: str) -> str:
    return f"{text}: {'met' if ok else 'MISSED'}"


def leads_table(program: Program, leads: pd.DataFrame, repeat: int) -> list[Line]:
    """The leads table through the engine and by hand; both checked equal first."""
    results = program.evaluate(leads=leads, as_of=AS_OF)
    scores, statuses = hand_scores(leads)
    mine = results.leads
    if len(mine) != len(leads) or not results.errors.empty:
        raise Mismatch(f"the engine kept {len(mine):,} of {len(leads):,} leads")
    if not np.array_equal(mine["score"].to_numpy(dtype=np.int64), scores):
        raise Mismatch("the engine's and the hand-written scores differ")
    if not np.array_equal(mine["status"].to_numpy(dtype=object), statuses.astype(object)):
        raise Mismatch("the engine's and the hand-written statuses differ")
    columns = table_columns(program.model, "lead")
    valid = validate_table("leads", leads, columns).valid
    engine_s, _ = best_of(lambda: program.evaluate(leads=leads, as_of=AS_OF), repeat)
    # As the engine validates them: amounts as cents only, no Decimal objects.
    validation_s, _ = best_of(
        lambda: validate_table("leads", leads, columns, decimals=False), repeat
    )
    hand_s, _ = best_of(lambda: hand_scores(leads), repeat)
    typed_s, _ = best_of(lambda: hand_scores(valid), repeat)
    n = len(leads)
    ratio = engine_s / hand_s
    rest = engine_s - validation_s
    return [
        Line(
            "koncept program.evaluate(leads=...)",
            engine_s,
            n,
            ratio=f"{ratio:.2f}x",
            goal=_goal(ratio <= 1.5, "<= 1.5x hand-written"),
        ),
        Line("  of which validation (engine.data.validate_table)", validation_s, n),
        Line(
            "  of which the rest: ranges, scoring, result table",
            rest,
            n,
            ratio=f"{rest / typed_s:.2f}x typed",
        ),
        Line("hand-written pandas/numpy, from the text table", hand_s, n, ratio="1.00x"),
        Line("hand-written pandas/numpy, from typed columns", typed_s, n),
    ]


def one_at_a_time(
    program: Program,
    leads: pd.DataFrame,
    sample: int,
    peer_sample: int,
    check: int,
    repeat: int,
) -> tuple[list[Line], list[str]]:
    """Each implementation on the same typed lead dicts, checked on `check` leads first."""
    typed = lead_dicts(program, leads, sample)
    text = leads.iloc[:sample].to_dict("records")
    found, missing = peers(program)
    for peer in found:
        check_peer(peer, program, typed[:check])
    lines = []
    base: float | None = None
    for peer in found:
        chosen = typed[: peer_sample if peer.slow else sample]
        seconds, _ = best_of(_loop(peer.score, chosen), repeat)
        per_lead = seconds / len(chosen) * 1e6
        if base is None:
            base = per_lead
        goal = _goal(per_lead < 3, "< 3 µs") if peer is found[0] else ""
        lines.append(
            Line(peer.name, seconds, len(chosen), per_lead, f"{per_lead / base:.2f}x", goal)
        )
    seconds, _ = best_of(_loop(program.evaluate_lead, text), repeat)
    per_lead = seconds / len(text) * 1e6
    assert base is not None
    lines.insert(
        1,
        Line(
            "  same, the lead's text cells (a CSV row)",
            seconds,
            len(text),
            per_lead,
            f"{per_lead / base:.2f}x",
        ),
    )
    # The reference evaluator, which evaluate_lead's generated function must equal.
    reference = LeadEvaluator(program.compiled)
    seconds, _ = best_of(_loop(reference, typed), repeat)
    per_lead = seconds / len(typed) * 1e6
    lines.insert(
        2,
        Line(
            "  the reference evaluator (engine.record)",
            seconds,
            len(typed),
            per_lead,
            f"{per_lead / base:.2f}x",
        ),
    )
    return lines, missing


def _loop(score: Callable[[Any], Any], leads: Sequence[Any]) -> Callable[[], list[Any]]:
    """A plain loop calling `score` on each lead, as an embedding application would."""
    return lambda: [score(lead) for lead in leads]


def deals_and_funnel(
    program: Program, deals: pd.DataFrame, events: pd.DataFrame, repeat: int
) -> list[Line]:
    """Deals alone, stage events alone (the funnel), and both together."""
    stages = {"stage": tuple(program.compiled.stages)}
    deal_columns = table_columns(program.model, "deal")
    event_columns = table_columns(program.model, "stage_event")
    for name, frame in (("deals", deals), ("stage_events", events)):
        counts = evaluate(program, {name: frame}).counts[name]
        if counts.rejected:
            raise Mismatch(f"{counts.rejected:,} generated {name} rows were rejected")
    deals_s, _ = best_of(lambda: program.evaluate(deals=deals, as_of=AS_OF), repeat)
    deals_valid_s, _ = best_of(
        lambda: validate_table("deals", deals, deal_columns, stages, decimals=False), repeat
    )
    funnel_s, _ = best_of(lambda: program.evaluate(stage_events=events, as_of=AS_OF), repeat)
    events_valid_s, _ = best_of(
        lambda: validate_table("stage_events", events, event_columns, stages, decimals=False),
        repeat,
    )
    both_s, _ = best_of(
        lambda: program.evaluate(deals=deals, stage_events=events, as_of=AS_OF), repeat
    )
    n_deals, n_events = len(deals), len(events)
    return [
        Line(
            "deals: program.evaluate(deals=...)", deals_s, n_deals, goal=_goal(deals_s < 3, "< 3 s")
        ),
        Line("  of which validation (validate_table)", deals_valid_s, n_deals),
        Line(
            "  of which the rest: pipeline, qualification, playbooks",
            deals_s - deals_valid_s,
            n_deals,
        ),
        Line(
            "funnel: program.evaluate(stage_events=...)",
            funnel_s,
            n_events,
            goal=_goal(funnel_s < 3, "< 3 s"),
        ),
        Line("  of which validation (validate_table)", events_valid_s, n_events),
        Line("  of which the rest: history codes, funnel", funnel_s - events_valid_s, n_events),
        Line("deals + stage_events in one call", both_s, n_deals + n_events),
        Line("  the events' share (both - deals alone)", both_s - deals_s, n_events),
    ]


# ----------------------------------------------------------------------------- memory
def run_scenario(name: str, program: Program, tables: Mapping[str, pd.DataFrame]) -> object:
    """One memory scenario on tables already in memory."""
    if name == "leads-hand":
        return hand_scores(tables["leads"])
    given = {table: tables[table] for table in name.split("+")}
    return evaluate(program, given)


def _memory(key: str) -> int | None:
    """A memory figure of this process from /proc/self/status (Linux), in bytes."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024  # "VmHWM:   123456 kB"
    return None


def _peak() -> int:
    """Peak resident memory of this process, in bytes.

    VmHWM where there is one: Linux carries the parent's ru_maxrss over fork and exec, so in a
    child started from a 3 GB benchmark ru_maxrss reads 3 GB whatever the child does.
    """
    found = _memory("VmHWM")
    if found is not None:
        return found
    import resource

    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit


def child(name: str, folder: Path) -> dict[str, Any]:
    """In a fresh process: load the pickled tables, run one scenario, report its memory."""
    program = load_program()
    needed = ("leads",) if name == "leads-hand" else tuple(name.split("+"))
    tables = {}
    for table in needed:
        with (folder / f"{table}.pkl").open("rb") as file:
            tables[table] = pickle.load(file)
    gc.collect()
    loaded, loading_peak = _memory("VmRSS"), _peak()
    run_scenario(name, program, tables)
    return {"scenario": name, "loaded": loaded, "loading_peak": loading_peak, "peak": _peak()}


def peak_memory(
    tables: Mapping[str, pd.DataFrame], scenarios: Sequence[str]
) -> list[dict[str, Any]]:
    """Memory of each scenario, each in a fresh process given the tables as pickles."""
    found = []
    with tempfile.TemporaryDirectory(prefix="koncept-bench-") as folder:
        for name, frame in tables.items():
            with (Path(folder) / f"{name}.pkl").open("wb") as file:
                pickle.dump(frame, file, protocol=pickle.HIGHEST_PROTOCOL)
        for name in scenarios:
            command = [sys.executable, str(Path(__file__).resolve()), "--child", name, folder]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                raise RuntimeError(f"memory scenario {name} failed:\n{done.stderr}")
            found.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return found


# ----------------------------------------------------------------------------- output
def machine() -> str:
    """Cores, CPU, load, Python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    import pyarrow  # type: ignore[import-untyped, unused-ignore]

    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"load average {load}\nPython {platform.python_version()}, pandas {pd.__version__}, "
        f"numpy {np.__version__}, pyarrow {pyarrow.__version__}"
    )


def revision() -> str:
    """The commit measured, and whether engine/ or dsl/ have uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "engine", "dsl"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split()[1::2]
    except OSError:
        return "unknown (no git)"
    return head + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


def table(title: str, lines: Sequence[Line]) -> Iterator[str]:
    """A section of the report."""
    yield f"\n{title}"
    yield f"  {'':62} {'rows':>10} {'time (s)':>9} {'µs/row':>8} {'ratio':>9}  goal"
    for line in lines:
        seconds = "" if line.seconds is None else f"{line.seconds:9.3f}"
        rows = "" if line.rows is None else f"{line.rows:10,}"
        per_row = "" if line.per_row_us is None else f"{line.per_row_us:8.2f}"
        yield f"  {line.label:62} {rows:>10} {seconds:>9} {per_row:>8} {line.ratio:>9}  {line.goal}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the report; 1 when implementations disagree."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--sample", type=int, default=200_000, help="leads one at a time")
    parser.add_argument(
        "--peer-sample", type=int, default=20_000, help="leads one at a time for slow peers"
    )
    parser.add_argument("--check", type=int, default=5_000, help="leads each peer is checked on")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    parser.add_argument("--shuffle", action="store_true", help="rows in random order, not by id")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory scenarios")
    parser.add_argument("--profile", action="store_true", help="top engine functions per table")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return 0
    try:
        report(args, sys.argv[1:] if argv is None else argv)
    except Mismatch as error:
        print(f"\nMISMATCH: {error}")
        return 1
    return 0


def report(args: argparse.Namespace, argv: Sequence[str]) -> None:
    """Generate the data, then measure and print each part in turn."""
    print(f"command: python benchmarks/engine.py {' '.join(argv)}".rstrip())
    print(machine())
    print(f"code: {revision()}")
    print(f"timings: best of {args.repeat} runs (other processes may be running on this machine)")
    print("goals (issue 3) are stated for the default sizes")
    program = load_program()
    start = time.perf_counter()
    tables = generate_data(program, args.leads, args.deals, args.events, shuffle=args.shuffle)
    order = "rows shuffled" if args.shuffle else "rows sorted by id, events by deal"
    print(
        f"data: {len(tables['leads']):,} leads, {len(tables['deals']):,} deals, "
        f"{len(tables['stage_events']):,} stage events (engine.demo.generate, seed {SEED}, text "
        f"columns as read from CSV, {order}), generated in {time.perf_counter() - start:.1f} s",
        flush=True,
    )
    leads = tables["leads"]
    title = "1. Leads table, contech-saas BMANTER (scores and statuses checked equal on all leads)"
    show(title, leads_table(program, leads, args.repeat))

    sample = min(args.sample, len(leads))
    check = min(args.check, sample)
    lines, missing = one_at_a_time(
        program, leads, sample, min(args.peer_sample, sample), check, args.repeat
    )
    show(
        f"2. One lead at a time: dicts of {len(LEAD_FIELDS)} typed fields, each peer checked "
        f"against the engine on {check:,} leads first; ratio to evaluate_lead",
        lines,
    )
    for hint in missing:
        print(f"  skipped {hint}")

    show(
        "3. Deals and funnel",
        deals_and_funnel(program, tables["deals"], tables["stage_events"], args.repeat),
    )
    if not args.no_memory:
        print(
            "\n4. Peak memory, one fresh process per scenario (VmHWM: peak resident memory of the "
            "whole process, which holds Python, pandas, the ruleset and the input tables)"
        )
        for found in peak_memory(tables, MEMORY_SCENARIOS):
            loaded = "?" if found["loaded"] is None else f"{found['loaded'] / GB:.2f} GB"
            peak = found["peak"] / GB
            goal = _goal(peak < 3, "< 3 GB") if found["scenario"] != "leads-hand" else ""
            print(
                f"  {found['scenario']:20} inputs loaded {loaded:>7} (peak while loading "
                f"{found['loading_peak'] / GB:.2f} GB), peak {peak:.2f} GB  {goal}"
            )
    if args.profile:
        print("\n5. Where the time goes (cProfile, cumulative, engine functions)")
        for name in ("leads", "deals", "stage_events"):
            print(f"  {name}:")
            given = {name: tables[name]}
            for text in profile_hint(lambda: evaluate(program, given)):  # noqa: B023
                print(f"    {text}")


def show(title: str, lines: Sequence[Line]) -> None:
    """Print one section of the report now (a long run shows its progress)."""
    print(*table(title, lines), sep="\n", flush=True)


if __name__ == "__main__":
    sys.exit(main())
