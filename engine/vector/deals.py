from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from engine.ir import (
    AS_OF,
    FieldRef,
)
from engine.record import (
    probability_units,
)
from engine.results import (
    DEAL_COLUMNS,
    FUNNEL_COLUMNS,
)
from engine.vector.context import (
    Alerts,
    Context,
)
from engine.vector.expr import (
    OPS,
)
from engine.vector.frame import Frame
from engine.vector.history import (
    History,
)
from engine.vector.scores import (
    Bits,
    computed,
    names_by_bits,
    present,
    qualifying,
    routed,
    score_column,
)
from engine.vector.values import (
    Array,
    Bools,
    V,
    bool_value,
    date_days,
    decimal_array,
    filled_array,
    full_known,
    object_array,
    result_table,
    truth,
)


def deal_rows(
    ctx: Context, data: pd.DataFrame | None, history: History, alerts: Alerts
) -> tuple[pd.DataFrame, Frame | None, Array | None]:
    """One row per valid deal (see DEAL_COLUMNS); also the evaluated frame for KPIs and
    each deal's playbook by number (-1: none)."""
    if data is None:
        return pd.DataFrame(columns=list(DEAL_COLUMNS)), None, None
    compiled = ctx.compiled
    compiler = ctx.deal_compiler
    n = len(data)
    extras = {AS_OF: V(np.asarray(date_days(ctx.as_of))), **ctx.linked("deal", data)}
    frame = Frame(data, extras, codes=ctx.codes.get("deals"))
    frame.history = history
    frame.stage_reach = {name: history.reach(name) for name in compiled.pipelines}
    if len(history.event_deal):
        # Exports often lack the entry date of the current stage; the stage events have it.
        entered = frame.field(FieldRef("stage_entered_at", "date"))
        known = full_known(entered, n)
        latest, found = history.current_entry()
        fill = ~known & found
        if fill.any():
            filled = np.where(fill, latest, np.broadcast_to(entered.values, (n,)))
            frame.extras["stage_entered_at"] = V(filled, known | fill)
    for name, node in compiled.derived.items():
        frame.extras[name] = compiler.compile(node)(frame)
    stage_codes, stage_uniques = frame.codes("stage")
    stage_irs = [compiled.stages.get(u) for u in stage_uniques] + [None]
    where = np.where(stage_codes < 0, len(stage_uniques), stage_codes)
    pipelines = list(compiled.pipelines)
    known_stage = np.asarray([s is not None for s in stage_irs])[where]
    pipe = np.asarray([pipelines.index(s.pipeline) if s else -1 for s in stage_irs])[where]
    index = np.asarray([s.index if s else -1 for s in stage_irs])[where]
    # Weighted value: cents x probability, exact. It comes from the stage alone, so exit
    # criteria may read it.
    scale = compiled.weighted_scale
    units = np.asarray(
        [
            probability_units(s.probability, scale) if s and s.probability is not None else -1
            for s in stage_irs
        ],
        dtype=np.int64,
    )[where]
    amount = frame.field(FieldRef("amount", "fixed", 2))
    weighted_known = full_known(amount, n) & (units >= 0)
    weighted_values = np.where(weighted_known, amount.values * units, 0)
    frame.extras["weighted_value"] = V(weighted_values, weighted_known)
    # Exit criteria: unmet per criterion, per stage, and those of the current stage.
    unmet_stage: dict[str, Bools] = {}
    exit_bits = Bits(n)
    for stage in compiled.stages.values():
        at_stage = (pipe == pipelines.index(stage.pipeline)) & (index == stage.index)
        any_unmet = np.zeros(n, dtype=bool)
        for bit, exit_ in enumerate(stage.exits):
            unmet = ~truth(compiler.compile(exit_.condition)(frame), n)
            any_unmet |= unmet
            exit_bits.add(bit, at_stage & unmet)
        unmet_stage[stage.name] = any_unmet
    skipped_bits = Bits(n)
    for stage in compiled.stages.values():
        later = (pipe == pipelines.index(stage.pipeline)) & (index > stage.index)
        skipped_bits.add(stage.index, later & unmet_stage[stage.name])
    exit_ready = known_stage & exit_bits.empty()
    stage_list = list(compiled.stages.values())
    stage_number = np.asarray([stage_list.index(s) if s else -1 for s in stage_irs])[where]

    def exit_names(stage: int, bits: int) -> tuple[str, ...]:
        if stage < 0:
            return ()
        exits = stage_list[stage].exits
        return tuple(e.name for i, e in enumerate(exits) if bits >> i & 1)

    def skipped_names(pipeline: int, bits: int) -> tuple[str, ...]:
        if pipeline < 0:
            return ()
        stages = compiled.pipelines[pipelines[pipeline]].stages
        return tuple(s.name for s in stages if bits >> s.index & 1)

    missing = names_by_bits(stage_number, exit_bits, exit_names, n)
    skipped = names_by_bits(pipe, skipped_bits, skipped_names, n)
    # Days in stage and staleness.
    days = frame.extras["days_in_stage"]
    days_known = full_known(days, n)
    days_values = np.broadcast_to(days.values, (n,))
    is_open = frame.matches("status", "open")
    max_days = np.asarray([s.max_days if s and s.max_days is not None else -1 for s in stage_irs])[
        where
    ]
    has_max = max_days >= 0
    stale_value = is_open & has_max & days_known & (days_values > max_days)
    # Closed deals and stages without a maximum are never stale; unknown otherwise.
    stale_known = ~is_open | (known_stage & (~has_max | days_known))
    frame.extras["exit_ready"] = bool_value(exit_ready, known_stage)
    frame.extras["stale"] = bool_value(stale_value, stale_known)
    # Qualification and playbooks.
    framework, qualification, scores = routed(ctx, compiled.routes["deal"], frame, "deal")
    # What playbooks, alerts and KPIs read of the qualification.
    computed(
        ctx,
        "deal",
        frame,
        {
            "framework": (framework, present(framework)),
            "qualification_score": qualifying(ctx, qualification, "deal"),
            "qualification_status": (qualification.status, qualification.status_code >= 0),
        },
    )
    if "qualification_status" in frame.extras:
        frame.coded("qualification_status", qualification.codes())
    playbook_number, playbook_missing, conflict = _playbooks(
        ctx, frame, pipe, index, pipelines, alerts
    )
    labels = object_array([*(p.name for p in compiled.playbooks), None])
    computed(ctx, "deal", frame, {"playbook": (labels[playbook_number], playbook_number >= 0)})
    ctx.frames["deal"] = frame
    result = result_table(
        {
            "id": data["id"],
            "stage": data["stage"],
            "exit_ready": pd.arrays.BooleanArray(exit_ready, ~known_stage),
            "missing": missing,
            "skipped": skipped,
            "days_in_stage": pd.arrays.IntegerArray(
                np.asarray(days_values, dtype=np.int64), ~days_known
            ),
            "stale": pd.arrays.BooleanArray(stale_value, ~stale_known),
            # Exact decimals in one Arrow column (not a Decimal object per deal): the same
            # values as the record path's, with the column's scale.
            "weighted_value": pd.arrays.ArrowExtensionArray(
                decimal_array(weighted_values, scale, weighted_known)
            ),
            "framework": framework,
            "qualification_score": score_column(ctx, qualification, "deal"),
            "qualification_status": qualification.status,
            "playbook": labels[playbook_number],
            "playbook_missing": playbook_missing,
            "playbook_conflict": conflict,
            "scores": scores,
        }
    )
    for alert in (a for a in compiled.alerts if a.subject == "deal"):
        holds = truth(compiler.compile(alert.condition)(frame), n)
        alerts.records(alert.name, alert.label, alert.severity, data["id"][holds])
    return result, frame, playbook_number


def _playbooks(
    ctx: Context, frame: Frame, pipe: Array, index: Array, pipelines: list[str], alerts: Alerts
) -> tuple[Array, Array, Array]:
    """Each deal's playbook by number (-1: none), its due requirements not met, and the
    playbooks that all apply when more than one does (the deal then gets none)."""
    compiled = ctx.compiled
    playbooks = compiled.playbooks
    n = frame.n
    applying = Bits(n)
    default = -1
    count = np.zeros(n, dtype=np.int64)
    chosen = np.full(n, -1, dtype=np.int64)
    for number, playbook in enumerate(playbooks):
        if playbook.condition is None:
            default = number
            continue
        holds = truth(ctx.deal_compiler.compile(playbook.condition)(frame), n)
        applying.add(number, holds)
        count += holds
        chosen[holds] = number
    # One playbook applies: it; none: the default; several: none, and the conflict is named.
    chosen[count == 0] = default
    chosen[count > 1] = -1
    bits = Bits(n)
    for number, playbook in enumerate(playbooks):
        here = chosen == number
        if not here.any():
            continue
        required = [r for r in playbook.requirements if r.kind == "require"]
        for bit, item in enumerate(required):
            if item.before_index is None:
                due = here
            else:
                assert item.pipeline is not None
                same = pipe == pipelines.index(item.pipeline)
                due = here & same & (index >= item.before_index)
            unmet = ~truth(ctx.deal_compiler.compile(item.condition)(frame), n)
            bits.add(bit, due & unmet)

    def names(playbook: int, mask: int) -> tuple[str, ...]:
        if playbook < 0:
            return ()
        required = [r for r in playbooks[playbook].requirements if r.kind == "require"]
        return tuple(r.name for i, r in enumerate(required) if mask >> i & 1)

    def conflict(_: int, mask: int) -> tuple[str, ...]:
        return tuple(playbooks[i].name for i in Bits.members(mask)) if mask & (mask - 1) else ()

    several = count > 1
    conflicts = filled_array(n, ())
    if several.any():  # rare: only then are the sets of applying playbooks named
        conflicts = names_by_bits(np.where(several, 0, -1), applying, conflict, n)
    rows = np.flatnonzero(several)
    ids = frame.data["id"].iloc[rows].to_numpy(dtype=object)  # only the rows named
    for position, row in enumerate(rows.tolist()):
        both = conflicts[row]
        alerts.append(
            {
                "kind": "playbook_conflict",
                "subject": ", ".join(both),
                "id": ids[position],
                "message": f"deal {ids[position]} matches playbooks {_and(both)}: it gets none; "
                "make their `when` conditions exclusive",
                "severity": "warning",
            }
        )
    return chosen, names_by_bits(chosen, bits, names, n), conflicts


def funnel_rows(ctx: Context, history: History, alerts: Alerts) -> pd.DataFrame:
    """Per stage: deals that reached it, conversion to the next, days spent (events)."""
    rows: list[dict[str, Any]] = []
    compiled = ctx.compiled
    stages = list(compiled.stages.values())
    durations = history.durations()
    for name, pipeline in compiled.pipelines.items():
        furthest = history.furthest(name)
        size = len(pipeline.stages)
        at = np.bincount(furthest[furthest >= 0], minlength=size)
        reached = np.cumsum(at[::-1])[::-1] if size else at
        counts = {s.name: int(reached[s.index]) for s in pipeline.stages}
        for stage in pipeline.stages:
            nxt = stage.index + 1
            here = counts[stage.name]
            conversion = counts[pipeline.stages[nxt].name] / here if nxt < size and here else None
            mean, median = durations.get(stages.index(stage), (None, None))
            rows.append(
                {
                    "stage": stage.name,
                    "reached": here,
                    "conversion_to_next": conversion,
                    "mean_days": mean,
                    "median_days": median,
                }
            )
        for expect in pipeline.expectations:
            base, target = counts.get(expect.source, 0), counts.get(expect.target, 0)
            if not base:
                continue
            rate = Fraction(target, base)
            if not OPS[expect.op](rate, Fraction(expect.value)):
                alerts.append(
                    {
                        "kind": "conversion",
                        "subject": f"{expect.source}->{expect.target}",
                        "id": name,
                        "message": (
                            f"conversion {expect.source} -> {expect.target} is "
                            f"{_percent(rate)} ({target}/{base}), expected {expect.op} "
                            f"{_percent(Fraction(expect.value))}"
                        ),
                        "severity": "warning",
                    }
                )
    funnel = pd.DataFrame(rows, columns=list(FUNNEL_COLUMNS))
    # Numbers throughout; NaN where there is none (a last stage, a stage never left).
    return funnel.astype(
        {
            "reached": np.int64,
            "conversion_to_next": float,
            "mean_days": float,
            "median_days": float,
        }
    )


def win_rate(
    won: int, lost: int, expected: tuple[Any, Any] | None
) -> tuple[Fraction | None, bool | None]:
    """The rule of `expect win_rate LOW..HIGH`: won / (won + lost) over a playbook's closed
    deals, inside the range with both ends included; None without a closed deal (and `inside`
    None without a range)."""
    if won + lost == 0:
        return None, None
    rate = Fraction(won, won + lost)
    if expected is None:
        return rate, None
    low, high = (Fraction(v) for v in expected)
    return rate, low <= rate <= high


def win_rate_alerts(
    ctx: Context, frame: Frame | None, playbooks: Array | None, alerts: Alerts
) -> None:
    """Alerts for playbooks whose closed deals' win rate is outside the expected range.

    `playbooks`: each deal's playbook, by its number (-1: none)."""
    if frame is None or playbooks is None:
        return
    won_deals, lost_deals = frame.matches("status", "won"), frame.matches("status", "lost")
    for number, playbook in enumerate(ctx.compiled.playbooks):
        if playbook.win_rate is None:
            continue
        here = playbooks == number
        won = int(np.count_nonzero(here & won_deals))
        lost = int(np.count_nonzero(here & lost_deals))
        rate, inside = win_rate(won, lost, playbook.win_rate)
        if rate is not None and not inside:
            low, high = (Fraction(v) for v in playbook.win_rate)
            alerts.append(
                {
                    "kind": "win_rate",
                    "subject": playbook.name,
                    "id": None,
                    "message": (
                        f"{playbook.label or playbook.name}: win rate {_percent(rate)} "
                        f"({won}/{won + lost}), expected {_percent(low)} to {_percent(high)}"
                    ),
                    "severity": "warning",
                }
            )


def _and(names: Sequence[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _percent(value: Fraction) -> str:
    return f"{float(value) * 100:.1f}%"
