"""Concept coverage of `koncept test`, from what the evaluators report when they trace.

Coverage is by business concept: which criteria cases, statuses, routes, exit criteria, stale
limits, playbook requirements, tier bands, steps, curve segments, caps, thresholds,
accelerators, bonuses, KPI targets, alerts and strategy lines (on track and off; a focus
measured) the cases exercised, each with its `file:line`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.results import Trace
from engine.testing.fixtures import cell_text

if TYPE_CHECKING:
    from engine.program import Program

__all__ = ["Concept", "Coverage", "Tracer", "catalog", "coverage"]


@dataclass(frozen=True, slots=True)
class Concept:
    """A business concept of a ruleset that fixtures should exercise, and the outcomes needed
    (an exit criterion must be seen met and unmet, a band reached...)."""

    key: tuple[str, ...]
    kind: str
    text: str
    path: str
    line: int
    outcomes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Coverage:
    """Concept coverage of one ruleset: what is covered, and what is not (with the outcomes
    still missing)."""

    ruleset: str
    concepts: tuple[Concept, ...]
    missing: Mapping[tuple[str, ...], tuple[str, ...]]

    @property
    def total(self) -> int:
        """Number of concepts."""
        return len(self.concepts)

    @property
    def covered(self) -> int:
        """Concepts with every outcome seen."""
        return self.total - len(self.missing)

    @property
    def percent(self) -> float:
        """Covered share, in percent (100 for a ruleset without concepts)."""
        return 100.0 if not self.total else 100.0 * self.covered / self.total

    def uncovered(self) -> list[tuple[Concept, tuple[str, ...]]]:
        """Concepts not fully covered, by file and line, with the outcomes never seen."""
        return [(c, self.missing[c.key]) for c in self.concepts if c.key in self.missing]


def catalog(program: Program) -> tuple[Concept, ...]:
    """Every concept of a ruleset, in file and line order."""
    from dsl import nodes as n

    model = program.model
    found: list[Concept] = []
    sources: dict[str, list[str]] = {}

    def text(span: Any) -> str:
        """The source text of a span's first line (what the reader sees at file:line)."""
        if span.path not in sources:
            try:
                sources[span.path] = Path(span.path).read_text(encoding="utf-8").splitlines()
            except OSError:
                sources[span.path] = []
        lines = sources[span.path]
        line = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
        end = span.end_column - 1 if span.end_line == span.line else len(line)
        return " ".join(line[span.column - 1 : end].split()) or line.strip()

    def add(key: tuple[str, ...], kind: str, node: Any, outcomes: tuple[str, ...],
            shown: str) -> None:  # fmt: skip
        found.append(Concept(key, kind, shown, node.span.path, node.span.line, outcomes))

    both, reached = ("met", "unmet"), ("reached", "not reached")
    for score in model.scores.values():
        name = score.name.name
        for criterion in score.criteria:
            cname = criterion.name.name
            if isinstance(criterion, n.FieldCriterion):
                add(("field", name, cname), "criterion", criterion, ("scored",),
                    f"{name}: {text(criterion.span)}")  # fmt: skip
                continue
            for j, case in enumerate(criterion.cases):
                add(("case", name, cname, str(j)), "criterion case", case, ("matched",),
                    f"{name}.{cname}: {text(case.span)}")  # fmt: skip
        for status in score.statuses:
            add(("status", name, status.name.name), "status", status, ("given",),
                f"{name}: {text(status.span)}")  # fmt: skip
    for subject, qualify in model.qualifications.items():
        for i, route in enumerate(qualify.routes):
            add(("route", subject, str(i)), "route", route, ("chosen",),
                f"qualify {subject}: {text(route.span)}")  # fmt: skip
    for pipeline in model.pipelines.values():
        for entry in pipeline.items:
            if isinstance(entry, n.ExpectConversion):
                add(("conversion", entry.source.name, entry.target.name), "expectation", entry,
                    both, text(entry.span))  # fmt: skip
                continue
            stage = entry.name.name
            for part in entry.items:
                if isinstance(part, n.ExitCriterion):
                    add(("exit", stage, part.name.name), "exit criterion", part, both,
                        f"{stage}: exit {part.name.name}")  # fmt: skip
                elif isinstance(part, n.MaxDays):
                    add(("max_days", stage), "max days", part, ("stale", "not stale"),
                        f"{stage}: {text(part.span)}")  # fmt: skip
    for playbook in model.playbooks.values():
        pname = playbook.name.name
        add(("playbook", pname), "playbook", playbook, ("applied",), f"playbook {pname}")
        for item in playbook.items:
            if isinstance(item, n.Requirement):
                add(("require", pname, item.name.name), "playbook requirement", item, both,
                    f"{pname}: {item.kind} {item.name.name}")  # fmt: skip
            else:
                add(("win_rate", pname), "expectation", item, ("inside", "outside"),
                    f"{pname}: {text(item.span)}")  # fmt: skip
    for kpi in model.kpis.values():
        kname = kpi.name.name
        if kpi.target is not None:
            add(("kpi", kname), "kpi target", kpi, both, f"{kname}: {text(kpi.target.span)}")
        else:
            add(("kpi", kname), "kpi", kpi, ("computed",), kname)
    for alert in model.alerts.values():
        add(("alert", alert.name.name), "alert", alert, ("raised",), f"alert {alert.name.name}")
    # A strategy's lines are compiled in the order written (its tolerance is no line): each
    # is keyed as its row of the strategy table names it.
    for strategy, measured in zip(model.strategies, program.compiled.strategies, strict=True):
        lines = [i for i in strategy.items if not isinstance(i, n.StrategyTolerance)]
        for written, line in zip(lines, measured.lines, strict=True):
            key = ("strategy", measured.label or "", line.kind, line.name)
            outcomes = ("measured",) if line.target is None else ("on track", "off")
            add(key, "strategy line", written, outcomes, f"strategy: {text(written.span)}")
    for plan in model.plans.values():
        pname = plan.name.name
        for plan_item in plan.items:
            if isinstance(plan_item, n.Cap):
                add(("plan_cap", pname), "cap", plan_item, reached,
                    f"{pname}: {text(plan_item.span)}")  # fmt: skip
            elif isinstance(plan_item, n.BudgetGuardrail):
                add(("guardrail", pname), "cap", plan_item, ("over", "under"),
                    f"{pname}: {text(plan_item.span)}")  # fmt: skip
            elif isinstance(plan_item, n.Ramp):
                add(("ramp", pname), "ramp", plan_item, ("applied",),
                    f"{pname}: {text(plan_item.span)}")  # fmt: skip
            elif isinstance(plan_item, n.Spiff):
                # Paid like a per-unit measure line (its parts name it), capped if declared.
                skey = (pname, plan_item.name.name)
                add(("per_unit", *skey), "spiff", plan_item, ("paid",),
                    f"{pname}: spiff {plan_item.name.name}")  # fmt: skip
                if plan_item.cap is not None:
                    add(("cap", *skey), "cap", plan_item.cap, reached,
                        f"{pname}.{plan_item.name.name}: {text(plan_item.cap.span)}")  # fmt: skip
        for measure in plan.measures:
            mkey = (pname, measure.name.name)
            where = f"{pname}.{measure.name.name}"
            for part_ in measure.items:
                shown = f"{where}: {text(part_.span)}"
                if isinstance(part_, n.Commission):
                    add(("commission", *mkey), "commission", part_, ("paid",), shown)
                elif isinstance(part_, n.PerUnit):
                    add(("per_unit", *mkey), "per unit", part_, ("paid",), shown)
                elif isinstance(part_, (n.Rates, n.Steps)):
                    kind = "step" if isinstance(part_, n.Steps) else "tier band"
                    for i, band in enumerate(part_.bands):
                        add(("band", *mkey, str(i)), kind, band, ("reached",),
                            f"{where}: {text(band.span)}")  # fmt: skip
                elif isinstance(part_, n.Curve):
                    for i, point in enumerate(part_.points):
                        add(("curve", *mkey, str(i)), "curve segment", point, ("reached",),
                            f"{where}: {text(point.span)}")  # fmt: skip
                elif isinstance(part_, n.Threshold):
                    add(("threshold", *mkey), "threshold", part_, reached, shown)
                elif isinstance(part_, n.Accelerator):
                    add(("accelerator", *mkey), "accelerator", part_, reached, shown)
                elif isinstance(part_, n.Cap):
                    add(("cap", *mkey), "cap", part_, reached, shown)
                elif isinstance(part_, n.Bonus):
                    add(("bonus", *mkey), "bonus", part_, ("won", "not won"), shown)
    found.sort(key=lambda c: (c.path, c.line))
    return tuple(found)


def coverage(
    ruleset: str, program: Program, hits: Iterable[tuple[tuple[str, ...], str]]
) -> Coverage:
    """Concept coverage of a ruleset from the hits of the cases run on it."""
    seen: dict[tuple[str, ...], set[str]] = {}
    for key, outcome in hits:
        seen.setdefault(key, set()).add(outcome)
    concepts = catalog(program)
    missing = {
        c.key: tuple(o for o in c.outcomes if o not in seen.get(c.key, set())) for c in concepts
    }
    return Coverage(ruleset, concepts, {k: v for k, v in missing.items() if v})


class Tracer:
    """Records which concepts one evaluation exercised, from what the evaluators report: the
    per-record path's traces (route, case of each criterion, playbook items due), results
    (status, exits, staleness) and the payout parts (band, curve point, threshold...)."""

    def __init__(self, program: Program) -> None:
        self.compiled = program.compiled
        self.qualified = frozenset(program.model.qualifications)

    def _score(
        self,
        subject: str,
        trace: Trace,
        status: str | None,
        hits: set[tuple[tuple[str, ...], str]],
    ) -> None:
        score = trace.score
        # Every score of the record is computed (a status may read any): each one's cases.
        for name, cases in (trace.scores or ({score: trace.cases} if score else {})).items():
            for criterion in self.compiled.scores[name].criteria:
                case = cases.get(criterion.name)
                if case is None or case < 0:
                    continue
                if criterion.field is not None:
                    hits.add((("field", name, criterion.name), "scored"))
                else:
                    hits.add((("case", name, criterion.name, str(case)), "matched"))
        if score is None:
            return
        if trace.route is not None and subject in self.qualified:
            hits.add((("route", subject, str(trace.route)), "chosen"))
        if status is not None:
            hits.add((("status", score, status), "given"))

    def lead(self, one: Any, trace: Trace, hits: set[tuple[tuple[str, ...], str]]) -> None:
        """Route, criteria cases and status of one lead."""
        self._score("lead", trace, one.status, hits)

    def deal(
        self,
        record: Mapping[str, Any],
        one: Any,
        trace: Trace,
        hits: set[tuple[tuple[str, ...], str]],
    ) -> None:
        """Route, qualification cases and status, exits, stale, playbook of one deal."""
        self._score("deal", trace, one.qualification_status, hits)
        stage = self.compiled.stages.get(one.stage) if one.stage else None
        if stage is not None:
            for exit_ in stage.exits:
                met = "unmet" if exit_.name in one.missing else "met"
                hits.add((("exit", stage.name, exit_.name), met))
            is_open = (cell_text(record.get("status")) or "").strip() == "open"
            if stage.max_days is not None and one.stale is not None and is_open:
                hits.add((("max_days", stage.name), "stale" if one.stale else "not stale"))
        if one.playbook is not None:
            hits.add((("playbook", one.playbook), "applied"))
            for item, done in trace.items.items():
                hits.add((("require", one.playbook, item), "met" if done else "unmet"))

    def payout(self, paid: Any, hits: set[tuple[tuple[str, ...], str]]) -> None:
        """Bands, steps, curve points, thresholds, accelerators, bonuses and caps of a payout,
        as its parts name them."""
        plan = paid.plan
        if paid.plan_cap is not None:
            hits.add((("plan_cap", plan), "reached" if paid.cap_adjustment else "not reached"))
        if any(s.kind == "ramp" for steps in paid.quota_steps.values() for s in steps):
            hits.add((("ramp", plan), "applied"))
        for line in paid.measures:
            key = (plan, line.measure)
            for part in line.parts:
                kind = part.kind
                reached = "reached" if part.reached else "not reached"
                if part.band is not None:
                    # The band that applied (under a closed gate: the one the value lies in).
                    hits.add((("band", *key, str(part.band.index)), "reached"))
                if kind in ("commission", "per_unit") and part.base:
                    hits.add(((kind, *key), "paid"))
                elif kind == "curve" and part.point is not None:
                    hits.add((("curve", *key, str(part.point)), "reached"))
                elif kind in ("gate", "floor"):
                    hits.add((("threshold", *key), reached))
                elif kind in ("accelerator", "cap"):
                    hits.add(((kind, *key), reached))
                elif kind == "bonus":
                    hits.add((("bonus", *key), "won" if part.reached else "not won"))

    def budget(
        self, rows: Sequence[Mapping[str, Any]], hits: set[tuple[tuple[str, ...], str]]
    ) -> None:
        """Budget guardrails over or under."""
        for row in rows:
            if row.get("guardrail") is not None and row.get("budget") is not None:
                hits.add((("guardrail", str(row["plan"])), "over" if row["alert"] else "under"))

    def tables(
        self,
        got: Mapping[str, Any],
        deals: Sequence[Mapping[str, Any]],
        hits: set[tuple[tuple[str, ...], str]],
    ) -> None:
        """Concepts only the table path shows: conversion expectations, win rates, KPIs,
        alerts."""
        alerts = got["alerts"]
        raised = {(a["kind"], str(a["subject"])) for a in alerts}
        for kind, subject in raised:
            if kind == "alert":
                hits.add((("alert", subject), "raised"))
        for lead in got["leads"].values():
            for name in lead.get("alerts", ()):
                hits.add((("alert", name), "raised"))
        for deal in got["deals"].values():
            for name in deal.get("alerts", ()):
                hits.add((("alert", name), "raised"))
        reached = {row["stage"]: row["reached"] for row in got["funnel"]}
        for pipeline in self.compiled.pipelines.values():
            for expect in pipeline.expectations:
                subject = f"{expect.source}->{expect.target}"
                if ("conversion", subject) in raised:
                    hits.add((("conversion", expect.source, expect.target), "unmet"))
                elif reached.get(expect.source):
                    hits.add((("conversion", expect.source, expect.target), "met"))
        statuses = {str(d.get("id")): d.get("status") for d in deals}
        for playbook in self.compiled.playbooks:
            if playbook.win_rate is None:
                continue
            closed = [
                key
                for key, deal in got["deals"].items()
                if deal["playbook"] == playbook.name and statuses.get(key) in ("won", "lost")
            ]
            if ("win_rate", playbook.name) in raised:
                hits.add((("win_rate", playbook.name), "outside"))
            elif closed:
                hits.add((("win_rate", playbook.name), "inside"))
        for row in got.get("strategy", ()):
            line = ("strategy", row["strategy"] or "", str(row["kind"]), str(row["name"]))
            if row["status"] is not None:
                hits.add((line, "on track" if row["status"] == "on_track" else "off"))
            elif row["actual"] is not None:
                hits.add((line, "measured"))
        for row in got["kpis"]:
            key = ("kpi", str(row["kpi"]))
            if row["met"] is True:
                hits.add((key, "met"))
            elif row["met"] is False:
                hits.add((key, "unmet"))
            if row["value"] is not None:
                hits.add((key, "computed"))
