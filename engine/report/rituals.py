"""The ritual reports of a ruleset: what each meeting of the method looks at, as a `Document`.

The method runs four rituals (seed, "Pilier 3"): a weekly team meeting on the pipeline, a
monthly coaching session per rep, a monthly business review, a quarterly review. A ruleset's
`ritual` declarations name its own; each is mapped to one of these four kinds:

  * `every week`                                  -> weekly pipeline review
  * `every quarter`                               -> quarterly review
  * `every month`, with `coach` in its id or label -> monthly coaching (one rep: `rep`)
  * any other `every month`                       -> monthly business review

and what its `show` list names (`stale_deals`, `missing_exit_criteria`, `kpis`, `alerts`,
`attainment`, `funnel`, a KPI id) is shown too, when its kind does not show it already. The
four rituals of the method are available under their ids (`weekly_pipeline`,
`monthly_coaching`, `monthly_business_review`, `quarterly_review`) in every ruleset that does
not declare a ritual of that id, so a client without declarations still gets the reports.

Every figure comes from `Program.evaluate` (the path of `koncept eval`): KPIs, stages, days in
stage, staleness, exit criteria, weighted values, funnel, payouts, attainments, budgets, alerts.
What the engine does not report is only counted or summed here from the validated input rows
(deals entering a stage in the last seven days, amounts won by type, open pipeline closing in
the period), never a KPI, a stage or a payout computed a second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dsl import nodes as n
from dsl.diagnostics import closest
from engine.periods import PayPeriod, parse_period
from engine.report.charts import bins
from engine.report.document import (
    Chart,
    Column,
    Document,
    Section,
    Series,
    Table,
    decimal_of_cell,
    show_cell,
)
from engine.results import error_text, is_missing
from engine.vector.deals import win_rate

if TYPE_CHECKING:
    import pandas as pd

    from engine.program import Inputs, Program
    from engine.results import Results

__all__ = [
    "KINDS",
    "METHOD_RITUALS",
    "Report",
    "ReportError",
    "Ritual",
    "build_report",
    "find_ritual",
    "kpi_kind",
    "ritual_kind",
    "rituals",
]

#: The four rituals of the method, by kind.
KINDS = ("weekly_pipeline", "monthly_coaching", "monthly_business_review", "quarterly_review")
#: Deals listed in full in a table; beyond, the table says how many are left out.
MAX_ROWS = 500
_WEEK = 7


@dataclass(frozen=True, eq=False)
class Report:
    """A ritual's report, and the evaluation of the asked period it was built from (the
    results `koncept eval` gives on the same data: counts, errors, alerts)."""

    document: Document
    results: Results


class ReportError(ValueError):
    """A report that cannot be built as asked: an unknown ritual or rep, a missing table."""


@dataclass(frozen=True, slots=True)
class Ritual:
    """A ritual: its id, label, cadence (week, month, quarter), kind and what it shows."""

    id: str
    label: str
    cadence: str
    kind: str
    shows: tuple[str, ...] = ()
    declared: bool = False


#: The method's rituals, offered when the ruleset does not declare one of the same id.
METHOD_RITUALS = (
    Ritual("weekly_pipeline", "Point hebdo équipe : revue du pipeline", "week", KINDS[0]),
    Ritual("monthly_coaching", "Coaching individuel mensuel", "month", KINDS[1]),
    Ritual("monthly_business_review", "Business review mensuelle", "month", KINDS[2]),
    Ritual("quarterly_review", "Revue trimestrielle", "quarter", KINDS[3]),
)


def ritual_kind(ritual_id: str, label: str | None, cadence: str) -> str:
    """The kind of report a declared ritual gets (see the module note)."""
    if cadence == "week":
        return "weekly_pipeline"
    if cadence == "quarter":
        return "quarterly_review"
    words = f"{ritual_id} {label or ''}".lower()
    return "monthly_coaching" if "coach" in words else "monthly_business_review"


def rituals(program: Program) -> dict[str, Ritual]:
    """The rituals a report can be asked for: the ruleset's, then the method's others."""
    found: dict[str, Ritual] = {}
    for name, declared in program.model.rituals.items():
        cadence = declared.every.name
        found[name] = Ritual(
            name,
            declared.label or name,
            cadence,
            ritual_kind(name, declared.label, cadence),
            tuple(s.name for s in declared.shows),
            declared=True,
        )
    for ritual in METHOD_RITUALS:
        found.setdefault(ritual.id, ritual)
    return found


def find_ritual(program: Program, ritual_id: str) -> Ritual:
    """The ritual of this id; ReportError naming the known ones (and the closest) otherwise."""
    known = rituals(program)
    if ritual_id in known:
        return known[ritual_id]
    # A misspelling, or the start of an id (`weekly` for weekly_pipeline).
    starts = [k for k in known if k.startswith(ritual_id)] if ritual_id else []
    close = closest(ritual_id, known) or (starts[0] if len(starts) == 1 else None)
    hint = f"; did you mean {close!r}?" if close else ""
    raise ReportError(f"unknown ritual {ritual_id!r} (expected one of {', '.join(known)}){hint}")


def kpi_kind(program: Program, name: str) -> str:
    """How a KPI's value reads: money and counts by the KPI's type; a number whose target is
    written as a percentage (`target >= 80%`) is a rate; a duration is a number of days."""
    kpi = program.compiled.kpis[name]
    kind = kpi.type.kind
    if kind == "money":
        return "money"
    if kind == "integer":
        return "int"
    if kind == "percent":
        return "percent"
    declared = program.model.kpis.get(name)
    target = declared.target if declared is not None else None
    if target is not None and isinstance(target.value, n.Percent):
        return "percent"
    return "number"


# ============================================================================ the facts
class _Run:
    """One report's inputs and the engine's results on them, each computed once, when needed."""

    def __init__(
        self,
        program: Program,
        tables: Mapping[str, pd.DataFrame],
        period: PayPeriod,
        as_of: dt.date,
        whole_year: bool = False,
    ) -> None:
        self.program = program
        self.tables = tables
        self.period = period
        self.as_of = as_of
        #: Evaluate the period's year once (its payouts per plan period) rather than the period
        #: and then the year: the quarterly review shows both.
        self.scope = parse_period(str(period.start.year)) if whole_year else period

    def evaluate(self, period: str, tables: Mapping[str, Any] | None = None) -> Results:
        """`Program.evaluate` as `koncept eval` calls it."""
        given = self.tables if tables is None else tables
        return self.program.evaluate(**given, as_of=self.as_of, period=period)

    @cached_property
    def results(self) -> Results:
        """The evaluation of the report: KPIs, pipeline, funnel, alerts, payouts, counts."""
        return self.evaluate(self.scope.id)

    @cached_property
    def period_results(self) -> Results:
        """The evaluation of the asked period itself (the quarter of a quarterly review, whose
        `results` cover the year)."""
        if self.scope.id == self.period.id:
            return self.results
        return self.evaluate(self.period.id)

    @cached_property
    def year(self) -> PayPeriod:
        return parse_period(str(self.period.start.year))

    @cached_property
    def year_results(self) -> Results:
        """The evaluation for the asked period's year: the payouts of each of its periods."""
        if self.scope.id == self.year.id:
            return self.results
        return self.evaluate(self.year.id)

    @cached_property
    def inputs(self) -> Inputs:
        """The validated deals and reps (typed: amounts, dates, statuses), as evaluate reads
        them (the stage events, large, are only read by the evaluation)."""
        return self.program.validate(**{t: self.tables.get(t) for t in ("deals", "reps")})

    @cached_property
    def events(self) -> pd.DataFrame | None:
        """The valid stage events (validated here only for the reports that list them)."""
        given = self.tables.get("stage_events")
        if given is None:
            return None
        return self.program.validate(stage_events=given).valid.get("stage_events")

    @cached_property
    def deals(self) -> pd.DataFrame | None:
        """The valid deals with the engine's result for each (same rows, same order)."""
        valid = self.inputs.valid.get("deals")
        found = self.results.deals
        if valid is None:
            return None
        import pandas as pd

        # Columns as validation typed them (text, integer cents, datetimes): compared and
        # summed whole, converted to Python values only for the rows a table lists.
        frame = pd.DataFrame(
            {
                name: valid[source].reset_index(drop=True) if source in valid else None
                for name, source in (
                    ("id", "id"),
                    ("rep_id", "rep_id"),
                    ("type", "type"),
                    ("status", "status"),
                    ("amount_cents", "amount__cents"),
                    ("close_date", "close_date"),
                )
            }
        )
        if len(found) != len(frame) or list(found["id"]) != list(frame["id"]):
            raise ReportError("internal error: the deals' results are not in the input's order")
        for column in found.columns:
            if column != "id":
                frame[column] = found[column].to_numpy(dtype=object)
        return frame

    @cached_property
    def reps(self) -> dict[str, dict[str, Any]]:
        """The valid reps by id (name, role, territory, team...)."""
        return {str(r["id"]): r for r in self.inputs.records("reps")}

    def money(self, value: Decimal) -> str:
        """An amount in French with the ruleset's currency (`1 234,50 €`)."""
        return show_cell(value, "money", self.program.compiled.currency)

    def stage_label(self, stage: object) -> str | None:
        """A stage's label (its id when it has none); None for a deal without a stage."""
        if stage is None or is_missing(stage):
            return None
        found = self.program.compiled.stages.get(str(stage))
        return (found.label or found.name) if found is not None else str(stage)

    def rep_name(self, rep_id: object) -> str | None:
        rep = self.reps.get(str(rep_id))
        name = rep.get("name") if rep else None
        return None if name is None else str(name)


def _is(deals: pd.DataFrame, column: str, value: object) -> pd.Series[bool]:
    """Whether each deal's `column` is `value` (False when missing)."""
    return (deals[column] == value).fillna(False).astype(bool)


def _amount(deals: pd.DataFrame) -> Decimal:
    """The exact sum of the deals' amounts (missing ones left out)."""
    return Decimal(int(deals["amount_cents"].sum())).scaleb(-2)


def _timestamp(day: dt.date) -> Any:
    """A day as pandas compares it with a datetime column."""
    import pandas as pd

    return pd.Timestamp(day)


def _between(deals: pd.DataFrame, first: dt.date, last: dt.date) -> pd.Series[bool]:
    """Whether each deal's close date is within `first`..`last` (False when missing)."""
    import pandas as pd

    close = deals["close_date"]
    inside = (close >= pd.Timestamp(first)) & (close <= pd.Timestamp(last))
    return inside.fillna(False).astype(bool)


def _cents(value: object) -> Decimal | None:
    return None if value is None else Decimal(int(value)).scaleb(-2)  # type: ignore[call-overload]


def _cell(value: object) -> object:
    """A results cell as a plain value: missing as None, numpy scalars unwrapped, lists joined."""
    if value is None or is_missing(value):
        return None
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or None
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, str) else value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    names = [str(c) for c in frame.columns]
    return [
        {name: _cell(value) for name, value in zip(names, row, strict=True)}
        for row in frame.itertuples(index=False)
    ]


def _n(count: int) -> str:
    """A count in French (`1 234`)."""
    return show_cell(count, "int")


def _y(value: object) -> Any:
    """A chart's y value: a missing one is not drawn (NaN)."""
    return float("nan") if value is None else value


def _sum(values: Sequence[object]) -> Decimal:
    return sum((d for d in map(decimal_of_cell, values) if d is not None), Decimal(0))


def _capped(
    rows: list[tuple[object, ...]], what: str, total: int | None = None
) -> tuple[tuple[tuple[object, ...], ...], str]:
    """At most `MAX_ROWS` rows, and a note saying how many there are (`total`: all of them,
    when `rows` holds only the first ones)."""
    total = len(rows) if total is None else total
    if total <= MAX_ROWS:
        return tuple(rows), ""
    return tuple(rows[:MAX_ROWS]), (
        f"Les {_n(MAX_ROWS)} premiers sur {_n(total)} {what} (tous : koncept eval)."
    )


# ============================================================================ sections
def _pipeline_by_stage(run: _Run) -> Section:
    deals = run.deals
    if deals is None:
        return _absent("Pipeline par étape", "deals")
    open_deals = deals[_is(deals, "status", "open")]
    rows = []
    for stage in run.program.compiled.stages:
        here = open_deals[open_deals["stage"] == stage]
        rows.append(
            (
                run.stage_label(stage),
                len(here),
                _amount(here),
                _sum(here["weighted_value"].tolist()),
                int(here["stale"].eq(True).sum()),
                int(here["exit_ready"].eq(False).sum()),
            )
        )
    table = Table(
        "pipeline_by_stage",
        "Pipeline ouvert par étape",
        (
            Column("stage", "Étape"),
            Column("deals", "Deals ouverts", "int"),
            Column("amount", "Montant", "money"),
            Column("weighted_value", "Valeur pondérée", "money"),
            Column("stale", "En retard", "int"),
            Column("not_ready", "Critères de sortie non remplis", "int"),
        ),
        tuple(rows),
        note="Valeur pondérée : montant x probabilité de l'étape (résultats du moteur).",
    )
    value = Chart(
        "pipeline_value",
        "Montant et valeur pondérée par étape",
        "bar",
        (
            Series("Montant", tuple((r[0], r[2]) for r in rows)),
            Series("Valeur pondérée", tuple((r[0], r[3]) for r in rows)),
        ),
        x_label="Étape",
        y_label="Montant",
        y_format="money",
    )
    ageing = Chart(
        "stage_ageing",
        "Ancienneté dans l'étape : deals dans les délais et en retard",
        "stacked_bar",
        (
            Series("Dans les délais", tuple((r[0], r[1] - r[4]) for r in rows)),
            Series("En retard", tuple((r[0], r[4]) for r in rows)),
        ),
        x_label="Étape",
        y_label="Deals ouverts",
    )
    total = sum(r[1] for r in rows)
    return Section(
        "Pipeline par étape",
        (
            f"{_n(total)} deals ouverts au {run.as_of:%d/%m/%Y}, pour une valeur pondérée de "
            f"{run.money(_sum([r[3] for r in rows]))}.",
        ),
        (table,),
        (value, ageing),
    )


def _deal_rows(run: _Run, frame: pd.DataFrame) -> list[tuple[object, ...]]:
    return [
        (
            r["id"],
            r["rep_id"],
            run.rep_name(r["rep_id"]),
            run.stage_label(r["stage"]),
            r["days_in_stage"],
            _max_days(run, r["stage"]),
            _cents(r["amount_cents"]),
            r["weighted_value"],
            r["missing"],
            r["playbook_missing"],
        )
        for r in _records(frame.head(MAX_ROWS))
    ]


def _max_days(run: _Run, stage: object) -> int | None:
    found = run.program.compiled.stages.get(str(stage))
    return None if found is None else found.max_days


_DEAL_COLUMNS = (
    Column("id", "Deal"),
    Column("rep_id", "Commercial"),
    Column("rep_name", "Nom"),
    Column("stage", "Étape"),
    Column("days_in_stage", "Jours dans l'étape", "int"),
    Column("max_days", "Maximum (jours)", "int"),
    Column("amount", "Montant", "money"),
    Column("weighted_value", "Valeur pondérée", "money"),
    Column("missing", "Critères de sortie manquants"),
    Column("playbook_missing", "Exigences du playbook manquantes"),
)


def _stale_deals(run: _Run, rep: str | None = None) -> Section:
    deals = run.deals
    if deals is None:
        return _absent("Deals en retard", "deals")
    mask = _is(deals, "status", "open") & deals["stale"].eq(True)
    if rep is not None:
        mask &= _is(deals, "rep_id", rep)
    frame = deals[mask.to_numpy(dtype=bool)].sort_values("days_in_stage", ascending=False)
    rows, note = _capped(_deal_rows(run, frame), "deals", len(frame))
    return Section(
        "Deals en retard",
        (f"{_n(len(frame))} deal(s) ouvert(s) au-delà du nombre de jours maximum de leur étape.",),
        (Table("stale_deals", "Deals en retard", _DEAL_COLUMNS, rows, note),),
    )


def _missing_exit_criteria(run: _Run, rep: str | None = None) -> Section:
    deals = run.deals
    if deals is None:
        return _absent("Critères de sortie manquants", "deals")
    mask = _is(deals, "status", "open") & deals["exit_ready"].ne(True)
    if rep is not None:
        mask &= _is(deals, "rep_id", rep)
    frame = deals[mask.to_numpy(dtype=bool, na_value=True)]
    rows, note = _capped(_deal_rows(run, frame), "deals", len(frame))
    return Section(
        "Critères de sortie manquants",
        (f"{_n(len(frame))} deal(s) ouvert(s) ne peuvent pas encore quitter leur étape.",),
        (
            Table(
                "missing_exit_criteria",
                "Deals sans leurs critères de sortie",
                _DEAL_COLUMNS,
                rows,
                note,
            ),
        ),
    )


def _movement(run: _Run) -> Section:
    title = "Mouvements depuis la semaine dernière"
    deals = run.deals
    first, last = run.as_of - dt.timedelta(days=_WEEK - 1), run.as_of
    window = f"Du {first:%d/%m/%Y} au {last:%d/%m/%Y}"
    events = run.events
    entered: dict[str, int] = {}
    if events is not None:
        # Every entry into a stage during the week, from the stage events (a deal that went
        # through two stages counts in both).
        day = events["entered_at"]
        inside = ((day >= _timestamp(first)) & (day <= _timestamp(last))).fillna(False)
        recent = events[inside.astype(bool)]
        entered = {str(k): int(v) for k, v in recent["stage"].value_counts().items()}
        paragraphs = [f"{window} : les entrées en étape (stage_events) et les deals clos."]
    elif deals is not None:
        # No stage events: the open deals whose current stage was entered this week.
        days = deals["days_in_stage"].astype("Float64")
        recent = deals[((days < _WEEK) & _is(deals, "status", "open")).fillna(False).astype(bool)]
        entered = {str(k): int(v) for k, v in recent["stage"].value_counts().items()}
        paragraphs = [
            f"{window} : pas de table stage_events, les deals ouverts entrés dans leur étape "
            "actuelle cette semaine (date d'entrée dans l'étape), et les deals clos."
        ]
    else:
        paragraphs = [f"{window} : pas de table deals ni stage_events."]
    rows = [(run.stage_label(s), entered.get(s, 0)) for s in run.program.compiled.stages]
    closed = []
    if deals is not None:
        for status, label in (("won", "Gagnés"), ("lost", "Perdus")):
            here = deals[_is(deals, "status", status) & _between(deals, first, last)]
            closed.append((label, len(here), _amount(here)))
    return Section(
        title,
        tuple(paragraphs),
        (
            Table(
                "stage_entries",
                "Entrées en étape sur 7 jours",
                (Column("stage", "Étape"), Column("entered", "Deals entrés", "int")),
                tuple(rows),
            ),
            Table(
                "closed_this_week",
                "Deals clos sur 7 jours",
                (
                    Column("status", "Issue"),
                    Column("deals", "Deals", "int"),
                    Column("amount", "Montant", "money"),
                ),
                tuple(closed),
            ),
        ),
        (
            Chart(
                "stage_entries",
                "Entrées en étape sur les 7 derniers jours",
                "bar",
                (Series("Deals entrés", tuple(rows)),),
                x_label="Étape",
                y_label="Deals",
            ),
        ),
    )


def _measure_rows(results: Results) -> list[dict[str, Any]]:
    """One row per measure of each payout: rep, plan, period, paid, then the measure's fields
    (`engine.results.MEASURE_FIELDS`: amounts and ratios as pay writes them)."""
    rows = []
    names = [str(c) for c in results.payouts.columns]
    for values in results.payouts.itertuples(index=False):
        payout = {
            name: _cell(v) if name != "measures" else v
            for name, v in zip(names, values, strict=True)
        }
        measures: Any = payout.get("measures") or ()
        for measure in measures:
            rows.append(
                {**{k: payout.get(k) for k in ("rep_id", "plan", "period", "paid")}, **measure}
            )
    return rows


def _forecast(run: _Run) -> Section:
    title = "Prévision vs objectif"
    measures = [
        m for m in _measure_rows(run.results) if m.get("paid") and m.get("quota") is not None
    ]
    target = _sum([m["quota"] for m in measures])
    done = _sum([m["credited"] for m in measures])
    deals = run.deals
    pipeline = Decimal(0)
    if deals is not None:
        closing = deals[
            _is(deals, "status", "open") & _between(deals, run.period.start, run.period.end)
        ]
        pipeline = _sum(closing["weighted_value"].tolist())
    forecast = done + pipeline
    ratio = forecast / target if target else None
    table = Table(
        "forecast",
        f"Prévision de la période {run.period.id}",
        (
            Column("what", "Élément"),
            Column("amount", "Montant", "money"),
            Column("share", "Part de l'objectif", "percent"),
        ),
        (
            ("Objectif (somme des quotas)", target, Decimal(1) if target else None),
            ("Réalisé (crédité aux mesures à quota)", done, done / target if target else None),
            (
                "Pipeline pondéré clôturant dans la période",
                pipeline,
                pipeline / target if target else None,
            ),
            ("Prévision (réalisé + pipeline pondéré)", forecast, ratio),
        ),
        note="Réalisé et objectif : les mesures à quota des plans payés (payouts du moteur); "
        "pipeline : la valeur pondérée des deals ouverts dont la date de clôture tombe dans "
        "la période.",
    )
    chart = Chart(
        "forecast",
        "Prévision vs objectif",
        "stacked_bar",
        (
            Series("Réalisé", ((run.period.id, done),)),
            Series("Pipeline pondéré", ((run.period.id, pipeline),)),
        ),
        y_label="Montant",
        y_format="money",
        reference_lines=(("Objectif", float(target)),) if target else (),
    )
    return Section(title, (), (table,), (chart,))


def _kpi_label(run: _Run, name: object) -> str:
    found = run.program.compiled.kpis.get(str(name))
    return (found.label or found.name) if found is not None else str(name)


def _kpi_rows(run: _Run, frame: pd.DataFrame) -> tuple[list[tuple[object, ...]], list[str]]:
    """KPI rows and the kind of each row's value (a KPI table mixes amounts, counts and rates)."""
    rows: list[tuple[object, ...]] = []
    kinds: list[str] = []
    for r in _records(frame):
        name = str(r["kpi"])
        kind = kpi_kind(run.program, name) if name in run.program.compiled.kpis else "number"
        op = (
            run.program.compiled.kpis[name].target_op if name in run.program.compiled.kpis else None
        )
        rows.append(
            (
                _kpi_label(run, name),
                r.get("role"),
                r.get("rep_id"),
                _kpi_value(r.get("value"), kind),
                f"{op} " if op else "",
                _kpi_value(r.get("target"), kind),
                {True: "oui", False: "non"}.get(r.get("met")),  # type: ignore[arg-type]
            )
        )
        kinds.append(kind)
    return rows, kinds


def _kpi_value(value: object, kind: str) -> object:
    if value is None:
        return None
    if kind == "money":
        return decimal_of_cell(value)
    return value


def _kpi_table(run: _Run, table_id: str, title: str, frame: pd.DataFrame) -> list[Table]:
    """KPI tables, one per kind of value so each column has one kind."""
    rows, kinds = _kpi_rows(run, frame)
    tables = []
    for kind, label in (
        ("money", "montants"),
        ("int", "nombres"),
        ("percent", "taux"),
        ("number", "autres"),
    ):
        chosen = [row for row, k in zip(rows, kinds, strict=True) if k == kind]
        if not chosen:
            continue
        tables.append(
            Table(
                f"{table_id}_{kind}",
                f"{title} ({label})",
                (
                    Column("kpi", "KPI"),
                    Column("role", "Rôle"),
                    Column("rep_id", "Commercial"),
                    Column("value", "Valeur", kind),
                    Column("op", "Cible"),
                    Column("target", "Objectif", kind),
                    Column("met", "Atteint"),
                ),
                tuple(chosen),
            )
        )
    return tables


def _kpis(run: _Run) -> Section:
    kpis = run.results.kpis
    if not len(kpis):
        return Section("KPI vs objectifs", ("Aucun KPI déclaré ou calculable sur ces données.",))
    team = kpis[kpis["rep_id"].isna().to_numpy(dtype=bool)]
    per_rep = kpis[kpis["rep_id"].notna().to_numpy(dtype=bool)]
    met = int(team["met"].eq(True).sum())
    judged = int(team["met"].notna().sum())
    tables = _kpi_table(run, "kpis_team", "KPI par rôle", team)
    tables += _kpi_table(run, "kpis_rep", "KPI par commercial", per_rep)
    charts = []
    rates = [r for r in _records(team) if kpi_kind(run.program, str(r["kpi"])) == "percent"]
    names = [f"{_kpi_label(run, r['kpi'])} ({r['role']})" for r in rates]
    if rates:
        charts.append(
            Chart(
                "kpi_rates",
                "KPI en taux par rôle vs objectif",
                "bar",
                (
                    Series(
                        "Valeur", tuple(zip(names, [_y(r["value"]) for r in rates], strict=True))
                    ),
                    Series(
                        "Objectif", tuple(zip(names, [_y(r["target"]) for r in rates], strict=True))
                    ),
                ),
                y_format="percent",
            )
        )
    return Section(
        "KPI par rôle et équipe vs objectifs",
        (
            f"{met} KPI sur {judged} atteignent leur objectif au niveau du rôle "
            f"(période {run.period.id}).",
        ),
        tuple(tables),
        tuple(charts),
    )


def _one_kpi(name: str) -> Callable[[_Run], Section]:
    def section(run: _Run) -> Section:
        kpis = run.results.kpis
        frame = kpis[(kpis["kpi"] == name).to_numpy(dtype=bool)]
        return Section(
            f"KPI : {_kpi_label(run, name)}",
            (),
            tuple(_kpi_table(run, f"kpi_{name}", _kpi_label(run, name), frame)),
        )

    return section


def _funnel(run: _Run) -> Section:
    funnel = _records(run.results.funnel)
    if not funnel:
        return Section("Entonnoir", ("Pas de deals : pas d'entonnoir.",))
    expected: dict[tuple[str, str], tuple[str, Decimal]] = {}
    for pipeline in run.program.compiled.pipelines.values():
        for e in pipeline.expectations:
            expected[(e.source, e.target)] = (e.op, e.value)
    stages = list(run.program.compiled.stages)
    rows = []
    for r in funnel:
        stage = str(r["stage"])
        following = (
            stages[stages.index(stage) + 1]
            if stage in stages and stages.index(stage) + 1 < len(stages)
            else None
        )
        expect = expected.get((stage, following)) if following else None
        rows.append(
            (
                run.stage_label(stage),
                r["reached"],
                r["conversion_to_next"],
                f"{expect[0]} " if expect else None,
                expect[1] if expect else None,
                r["mean_days"],
                r["median_days"],
                _max_days(run, stage),
            )
        )
    table = Table(
        "funnel",
        "Conversion et durée par étape",
        (
            Column("stage", "Étape"),
            Column("reached", "Deals ayant atteint l'étape", "int"),
            Column("conversion_to_next", "Conversion vers l'étape suivante", "percent"),
            Column("expected_op", "Attendu"),
            Column("expected", "Conversion attendue", "percent"),
            Column("mean_days", "Jours moyens dans l'étape", "number"),
            Column("median_days", "Jours médians", "number"),
            Column("max_days", "Maximum prévu (jours)", "int"),
        ),
        tuple(rows),
        note="Conversion par cohorte : un deal a atteint une étape s'il y est entré ou est "
        "allé plus loin.",
    )
    charts = (
        Chart(
            "funnel",
            "Entonnoir : deals ayant atteint chaque étape",
            "funnel",
            (Series("Deals", tuple((r[0], r[1]) for r in rows)),),
        ),
        Chart(
            "days_per_stage",
            "Jours par étape vs maximum prévu",
            "bar",
            (
                Series(
                    "Jours moyens",
                    tuple((r[0], _y(r[5])) for r in rows),
                ),
                Series(
                    "Maximum prévu",
                    tuple((r[0], _y(r[7])) for r in rows),
                ),
            ),
            y_label="Jours",
        ),
    )
    return Section("Entonnoir : conversion et jours par étape vs attendus", (), (table,), charts)


def _win_rates(run: _Run) -> Section:
    deals = run.deals
    title = "Taux de gain vs fourchettes des playbooks"
    if deals is None:
        return _absent(title, "deals")
    rows = []
    for playbook in run.program.compiled.playbooks:
        here = deals[deals["playbook"] == playbook.name]
        won = int(_is(here, "status", "won").sum())
        lost = int(_is(here, "status", "lost").sum())
        exact, inside = win_rate(won, lost, playbook.win_rate)  # the engine's rule (its alert)
        rate = None if exact is None else Decimal(exact.numerator) / exact.denominator
        low, high = playbook.win_rate if playbook.win_rate else (None, None)
        shown = None if inside is None else ("oui" if inside else "non")
        rows.append((playbook.label or playbook.name, len(here), won, lost, rate, low, high, shown))
    if not rows:
        return Section(title, ("Aucun playbook déclaré.",))
    chart = Chart(
        "win_rates",
        "Taux de gain par playbook vs fourchette attendue",
        "bar",
        (
            Series(
                "Taux de gain",
                tuple((r[0], _y(r[4])) for r in rows),
            ),
            Series(
                "Attendu min.",
                tuple((r[0], _y(r[5])) for r in rows),
            ),
            Series(
                "Attendu max.",
                tuple((r[0], _y(r[6])) for r in rows),
            ),
        ),
        y_format="percent",
    )
    return Section(
        title,
        (
            "Taux de gain = gagnés / (gagnés + perdus) parmi les deals auxquels le playbook "
            "s'applique (le playbook de chaque deal est le résultat du moteur).",
        ),
        (
            Table(
                "win_rates",
                "Taux de gain par playbook",
                (
                    Column("playbook", "Playbook"),
                    Column("deals", "Deals", "int"),
                    Column("won", "Gagnés", "int"),
                    Column("lost", "Perdus", "int"),
                    Column("win_rate", "Taux de gain", "percent"),
                    Column("low", "Attendu min.", "percent"),
                    Column("high", "Attendu max.", "percent"),
                    Column("inside", "Dans la fourchette"),
                ),
                tuple(rows),
            ),
        ),
        (chart,),
    )


_SEVERITY = {"critical": "critique", "warning": "avertissement", "info": "info"}


def _alerts(run: _Run, rep: str | None = None) -> Section:
    alerts = run.results.alerts
    title = "Alertes"
    records = _records(alerts)
    if rep is not None and run.deals is not None:
        mine = set(run.deals.loc[_is(run.deals, "rep_id", rep), "id"])
        records = [a for a in records if a.get("id") in mine or a.get("id") == rep]
    compiled = run.program.compiled
    # An alert's subject: an alert, a KPI off target, a playbook's win rate, a stage...
    labels = {
        **{s.name: s.label or s.name for s in compiled.stages.values()},
        **{p.name: p.label or p.name for p in compiled.playbooks},
        **{k.name: k.label or k.name for k in compiled.kpis.values()},
        **{a.name: a.label or a.name for a in compiled.alerts},
    }
    counts: dict[tuple[str, str], int] = {}
    for a in records:
        key = (
            labels.get(str(a["subject"]), str(a["subject"])),
            _SEVERITY.get(str(a["severity"]), str(a["severity"])),
        )
        counts[key] = counts.get(key, 0) + 1
    summary = sorted(((k[0], k[1], v) for k, v in counts.items()), key=lambda r: -r[2])
    listed, note = _capped(
        [
            (
                labels.get(str(a["subject"]), a["subject"]),
                a["id"],
                a["message"],
                _SEVERITY.get(str(a["severity"]), a["severity"]),
            )
            for a in records
        ],
        "alertes",
    )
    return Section(
        title,
        (f"{_n(len(records))} alerte(s) levée(s).",),
        (
            Table(
                "alerts_summary",
                "Alertes par type",
                (
                    Column("alert", "Alerte"),
                    Column("severity", "Gravité"),
                    Column("count", "Nombre", "int"),
                ),
                tuple(summary),
            ),
            Table(
                "alerts",
                "Alertes levées",
                (
                    Column("alert", "Alerte"),
                    Column("id", "Sujet"),
                    Column("message", "Message"),
                    Column("severity", "Gravité"),
                ),
                listed,
                note,
            ),
        ),
        (
            Chart(
                "alerts",
                "Alertes par type",
                "hbar",
                (Series("Alertes", tuple((f"{r[0]} ({r[1]})", r[2]) for r in summary)),),
            ),
        )
        if summary
        else (),
    )


def _attainment(run: _Run, rep: str | None = None) -> Section:
    results = run.year_results
    measures = [m for m in _measure_rows(results) if _within(m.get("period"), run.period)]
    if rep is not None:
        measures = [m for m in measures if m.get("rep_id") == rep]
    rows = [
        (
            m["rep_id"],
            run.rep_name(m["rep_id"]),
            m["plan"],
            m["period"],
            m["measure"],
            decimal_of_cell(m.get("credited")),
            decimal_of_cell(m.get("quota")),
            decimal_of_cell(m.get("attainment")),
            decimal_of_cell(m.get("payout")),
            "oui" if m.get("paid") else "non (comparaison)",
        )
        for m in measures
    ]
    with_quota = [r for r in rows if r[7] is not None and r[9] == "oui"]
    edges = [0.0, 0.5, 0.8, 0.9, 1.0, 1.2, 1.5, float("inf")]
    series = []
    for name in dict.fromkeys(r[4] for r in with_quota):
        counted = bins([float(r[7]) for r in with_quota if r[4] == name], edges)[0]  # type: ignore[arg-type]
        series.append(Series(str(name), counted.points))
    table = Table(
        "attainment",
        f"Atteinte par commercial et par mesure ({run.period.id})",
        (
            Column("rep_id", "Commercial"),
            Column("name", "Nom"),
            Column("plan", "Plan"),
            Column("period", "Période"),
            Column("measure", "Mesure"),
            Column("credited", "Crédité", "money"),
            Column("quota", "Quota", "money"),
            Column("attainment", "Atteinte", "percent"),
            Column("payout", "Rémunération", "money"),
            Column("paid", "Plan payé"),
        ),
        tuple(rows),
        note="Atteinte = crédité / quota, tronquée (jamais arrondie au-dessus), comme le "
        "moteur la calcule.",
    )
    charts = (
        (
            Chart(
                "attainment_distribution",
                "Distribution de l'atteinte (commerciaux x mesures)",
                "histogram" if len(series) == 1 else "bar",
                tuple(series),
                x_label="Atteinte",
                y_label="Commerciaux",
            ),
        )
        if series
        else ()
    )
    paragraphs: tuple[str, ...] = ()
    if with_quota:
        reached = sum(1 for r in with_quota if r[7] is not None and r[7] >= 1)
        paragraphs = (f"{reached} mesure(s) sur {len(with_quota)} à 100 % ou plus de leur quota.",)
    return Section("Atteinte par commercial", paragraphs, (table,), charts)


def _within(period: object, asked: PayPeriod) -> bool:
    if period is None:
        return False
    try:
        found = parse_period(str(period))
    except ValueError:
        return False
    return asked.start <= found.start and found.end <= asked.end


def _budget(run: _Run) -> Section:
    budget = [b for b in _records(run.year_results.budget) if _within(b.get("period"), run.period)]
    rows = [
        (
            b["plan"],
            b["period"],
            "oui" if b.get("paid") else "non (comparaison)",
            b.get("reps"),
            decimal_of_cell(b.get("total")),
            decimal_of_cell(b.get("budget")),
            decimal_of_cell(b.get("ratio")),
            decimal_of_cell(b.get("guardrail")),
            "oui" if b.get("alert") else "non",
        )
        for b in budget
    ]
    chart = Chart(
        "budget",
        "Rémunération versée vs budget à 100 %",
        "bar",
        (
            Series("Versé", tuple((f"{r[0]} {r[1]}", r[4] or 0) for r in rows)),
            Series(
                "Budget à 100 %",
                tuple((f"{r[0]} {r[1]}", _y(r[5])) for r in rows),
            ),
        ),
        y_format="money",
    )
    ratio = Chart(
        "budget_ratio",
        "Budget consommé vs garde-fou",
        "bar",
        (
            Series(
                "Versé / budget",
                tuple((f"{r[0]} {r[1]}", _y(r[6])) for r in rows),
            ),
        ),
        y_format="percent",
        reference_lines=tuple(
            dict.fromkeys((f"Garde-fou {r[0]}", float(r[7])) for r in rows if r[7] is not None)
        ),
    )
    return Section(
        "Rémunération et budget vs garde-fou",
        (),
        (
            Table(
                "budget",
                "Rémunération et budget par plan",
                (
                    Column("plan", "Plan"),
                    Column("period", "Période"),
                    Column("paid", "Plan payé"),
                    Column("reps", "Commerciaux", "int"),
                    Column("total", "Versé", "money"),
                    Column("budget", "Budget à 100 %", "money"),
                    Column("ratio", "Versé / budget", "percent"),
                    Column("guardrail", "Garde-fou", "percent"),
                    Column("alert", "Alerte"),
                ),
                tuple(rows),
            ),
        ),
        tuple(c for c in (chart, ratio) if not c.empty),
    )


def _strategy(run: _Run) -> Section:
    title = "Stratégie : objectifs vs réalisé"
    deals = run.deals
    if not run.program.model.strategies:
        return Section(title, ("Aucune stratégie déclarée dans le ruleset.",))
    tables = _strategy_tables(run)
    charts = []
    if deals is not None:
        won = deals[_is(deals, "status", "won") & _between(deals, run.period.start, run.period.end)]
        total = _amount(won)
        for field, label in (("type", "type de deal"), ("sector", "secteur"), ("channel", "canal")):
            values = (
                run.inputs.valid["deals"][field]
                if field in run.inputs.valid["deals"].columns
                else None
            )
            if values is None:
                continue
            keyed = won.assign(key=values.to_numpy(dtype=object)[won.index.to_numpy()])
            groups: dict[str, Decimal] = {}
            for key, cents in zip(keyed["key"], keyed["amount_cents"], strict=True):
                amount = _cents(None if is_missing(cents) else cents)
                name = "(non renseigné)" if key is None or is_missing(key) else str(key)
                groups[name] = groups.get(name, Decimal(0)) + (amount or Decimal(0))
            rows = sorted(
                ((k, v, v / total if total else None) for k, v in groups.items()),
                key=lambda r: -r[1],
            )
            tables.append(
                Table(
                    f"won_by_{field}",
                    f"CA signé par {label} ({run.period.id})",
                    (
                        Column(field, label.capitalize()),
                        Column("amount", "CA signé", "money"),
                        Column("share", "Part", "percent"),
                    ),
                    tuple(rows),
                )
            )
            if field == "type":
                charts.append(
                    Chart(
                        "won_by_type",
                        f"CA signé par type de deal ({run.period.id})",
                        "bar",
                        (Series("CA signé", tuple((r[0], r[1]) for r in rows)),),
                        y_format="money",
                    )
                )
    return Section(
        title,
        (
            "Le réalisé : les deals gagnés dont la date de clôture tombe dans la période. "
            "L'objectif de chiffre d'affaires est annuel, ramené à la période; la part de "
            "croissance d'un segment se mesure sur le CA des deals que les lignes de croissance "
            "retiennent, le focus et les canaux sur le CA des deals où ils sont renseignés. Une "
            "ligne est hors cible quand elle s'écarte de sa cible de plus de la tolérance.",
        ),
        tuple(tables),
        tuple(charts),
    )


#: A strategy line's status as the report says it.
_STRATEGY_STATUS = {"on_track": "dans la cible", "off": "hors cible"}
#: A strategy line's kind as the report says it.
_STRATEGY_KIND = {
    "growth": "Part de la croissance",
    "focus": "Focus",
    "channel": "Canal",
}


def _strategy_tables(run: _Run) -> list[Table]:
    """The strategy table of the evaluation (`engine.vector.strategy`), in two tables: the
    revenue target (amounts), then the mix (shares)."""
    rows = run.period_results.tables()["strategy"].to_dict("records")
    status = [
        _STRATEGY_STATUS.get(str(r["status"]))
        or ("non mesurable" if is_missing(r["actual"]) else "sans cible")
        for r in rows
    ]
    revenue = tuple(
        (r["name"], r["target"], r["actual"], r["gap"], r["tolerance"], shown)
        for r, shown in zip(rows, status, strict=True)
        if r["kind"] == "revenue"
    )
    figures = ("name", "target", "actual", "gap", "tolerance")
    mix = tuple(
        (_STRATEGY_KIND[r["kind"]], *(r[k] for k in figures), shown)
        for r, shown in zip(rows, status, strict=True)
        if r["kind"] != "revenue"
    )
    return [
        Table(
            "strategy_revenue",
            f"Objectif de chiffre d'affaires ({run.period.id})",
            (
                Column("name", "Mesure"),
                Column("target", "Cible de la période", "money"),
                Column("actual", "Réalisé", "money"),
                Column("gap", "Écart", "money"),
                Column("tolerance", "Tolérance", "percent"),
                Column("status", "Statut"),
            ),
            revenue,
        ),
        Table(
            "strategy_mix",
            f"Mix de la stratégie ({run.period.id})",
            (
                Column("what", "Ligne"),
                Column("name", "Nom"),
                Column("target", "Cible", "percent"),
                Column("actual", "Réalisé", "percent"),
                Column("gap", "Écart (points)", "percent"),
                Column("tolerance", "Tolérance", "percent"),
                Column("status", "Statut"),
            ),
            mix,
        ),
    ]


def _trends(run: _Run) -> Section:
    results = run.year_results
    periods: dict[str, dict[str, Decimal]] = {}
    for m in _measure_rows(results):
        if not m.get("paid") or not _until(m.get("period"), run.period):
            continue
        found = periods.setdefault(
            str(m["period"]), {"credited": Decimal(0), "quota": Decimal(0), "payout": Decimal(0)}
        )
        found["credited"] += decimal_of_cell(m.get("credited")) or 0
        if m.get("quota") is not None:
            found["quota"] += decimal_of_cell(m.get("quota")) or 0
        found["payout"] += decimal_of_cell(m.get("payout")) or 0
    order = sorted(periods, key=lambda p: parse_period(p).start)
    rows = [(p, periods[p]["credited"], periods[p]["quota"], periods[p]["payout"]) for p in order]
    return Section(
        "Tendances d'une période à l'autre",
        (f"Périodes de plan de {run.year.id} jusqu'à la fin de {run.period.id}.",),
        (
            Table(
                "trends",
                "Crédité, quotas et rémunération par période",
                (
                    Column("period", "Période"),
                    Column("credited", "Crédité", "money"),
                    Column("quota", "Quotas", "money"),
                    Column("payout", "Rémunération", "money"),
                ),
                tuple(rows),
            ),
        ),
        (
            Chart(
                "trends",
                "Crédité et rémunération par période",
                "line",
                (
                    Series("Crédité", tuple((r[0], r[1]) for r in rows)),
                    Series("Quotas", tuple((r[0], r[2]) for r in rows)),
                    Series("Rémunération", tuple((r[0], r[3]) for r in rows)),
                ),
                y_format="money",
            ),
        )
        if rows
        else (),
    )


def _until(period: object, asked: PayPeriod) -> bool:
    if period is None:
        return False
    try:
        found = parse_period(str(period))
    except ValueError:
        return False
    return found.start.year == asked.start.year and found.end <= asked.end


def _absent(title: str, table: str) -> Section:
    return Section(title, (f"Pas de table {table} dans les données : rien à montrer ici.",))


def _data_quality(run: _Run) -> Section:
    counts = [(c.table, c.rows_in, c.rows_out, c.rejected) for c in run.results.counts.values()]
    errors = run.results.errors
    listed = [error_text(*row[:5]) for row in errors.head(50).itertuples(index=False)]
    paragraphs = [f"{_n(len(errors))} erreur(s) dans les données ou la paie."]
    paragraphs += listed
    if len(errors) > len(listed):
        paragraphs.append(
            f"... et {_n(len(errors) - len(listed))} autre(s) (koncept eval les liste toutes)."
        )
    return Section(
        "Qualité des données",
        tuple(paragraphs),
        (
            Table(
                "counts",
                "Lignes lues, évaluées et rejetées",
                (
                    Column("table", "Table"),
                    Column("in", "Lues", "int"),
                    Column("out", "Évaluées", "int"),
                    Column("rejected", "Rejetées", "int"),
                ),
                tuple(counts),
                note="Lues = évaluées + rejetées, comme koncept eval les compte.",
            ),
        ),
    )


# ============================================================================ coaching
def _coaching(run: _Run, rep: str) -> list[Section]:
    deals = run.deals
    kpis = run.results.kpis
    mine = kpis[(kpis["rep_id"] == rep).to_numpy(dtype=bool, na_value=False)]
    role = run.reps.get(rep, {}).get("role")
    team = kpis[
        (kpis["rep_id"].isna() & (kpis["role"] == role)).to_numpy(dtype=bool, na_value=False)
    ]
    sections = [
        Section(
            "KPI du commercial vs objectifs",
            (
                f"Les KPI de {run.rep_name(rep) or rep} ({role or 'rôle inconnu'}), puis ceux "
                "de son rôle pour comparaison.",
            ),
            tuple(
                _kpi_table(run, "kpis_rep", "KPI du commercial", mine)
                + _kpi_table(run, "kpis_role", "KPI du rôle", team)
            ),
        )
    ]
    # The engine on the rep's own tables, for the year: the rep's funnel (deals and their stage
    # events; the funnel takes no period) and the payouts of every plan period of the year.
    own = run.evaluate(run.year.id, _rep_tables(run, rep))
    rep_funnel = {str(r["stage"]): r for r in _records(own.funnel)}
    team_funnel = {str(r["stage"]): r for r in _records(run.results.funnel)}
    rows = [
        (
            run.stage_label(stage),
            rep_funnel.get(stage, {}).get("reached"),
            rep_funnel.get(stage, {}).get("conversion_to_next"),
            team_funnel.get(stage, {}).get("reached"),
            team_funnel.get(stage, {}).get("conversion_to_next"),
        )
        for stage in run.program.compiled.stages
    ]
    sections.append(
        Section(
            "Entonnoir : commercial vs équipe",
            (),
            (
                Table(
                    "funnel_rep_team",
                    "Conversion par étape, commercial et équipe",
                    (
                        Column("stage", "Étape"),
                        Column("rep_reached", "Deals du commercial", "int"),
                        Column("rep_conversion", "Conversion du commercial", "percent"),
                        Column("team_reached", "Deals de l'équipe", "int"),
                        Column("team_conversion", "Conversion de l'équipe", "percent"),
                    ),
                    tuple(rows),
                ),
            ),
            (
                Chart(
                    "funnel_rep_team",
                    "Conversion vers l'étape suivante : commercial vs équipe",
                    "bar",
                    (
                        Series(
                            "Commercial",
                            tuple((r[0], _y(r[2])) for r in rows[:-1]),
                        ),
                        Series(
                            "Équipe",
                            tuple((r[0], _y(r[4])) for r in rows[:-1]),
                        ),
                    ),
                    y_format="percent",
                ),
            ),
        )
    )
    # Attainment and pay to date: every plan period of the year ending by the end of the period.
    paid = own
    measures = [
        m
        for m in _measure_rows(paid)
        if m.get("rep_id") == rep and _until(m.get("period"), run.period)
    ]
    pay_rows = [
        (
            m["plan"],
            m["period"],
            m["measure"],
            decimal_of_cell(m.get("credited")),
            decimal_of_cell(m.get("quota")),
            decimal_of_cell(m.get("attainment")),
            decimal_of_cell(m.get("payout")),
            "oui" if m.get("paid") else "non (comparaison)",
        )
        for m in measures
    ]
    total = _sum([r[6] for r in pay_rows if r[7] == "oui"])
    sections.append(
        Section(
            "Atteinte et rémunération à date",
            (
                f"Rémunération variable des plans payés à date ({run.year.id}, jusqu'à "
                f"{run.period.id}) : "
                f"{run.money(total)}.",
            ),
            (
                Table(
                    "pay_to_date",
                    "Atteinte et rémunération par période et mesure",
                    (
                        Column("plan", "Plan"),
                        Column("period", "Période"),
                        Column("measure", "Mesure"),
                        Column("credited", "Crédité", "money"),
                        Column("quota", "Quota", "money"),
                        Column("attainment", "Atteinte", "percent"),
                        Column("payout", "Rémunération", "money"),
                        Column("paid", "Plan payé"),
                    ),
                    tuple(pay_rows),
                ),
            ),
            (
                Chart(
                    "attainment_to_date",
                    "Atteinte par période et mesure",
                    "bar",
                    tuple(
                        Series(
                            str(name),
                            tuple(
                                (r[1], r[5])
                                for r in pay_rows
                                if r[2] == name and r[5] is not None and r[7] == "oui"
                            ),
                        )
                        for name in dict.fromkeys(r[2] for r in pay_rows)
                    ),
                    y_format="percent",
                    reference_lines=(("Objectif", 1.0),),
                ),
            )
            if pay_rows
            else (),
        )
    )
    if deals is not None:
        mask = (
            _is(deals, "rep_id", rep)
            & _is(deals, "status", "open")
            & (deals["stale"].eq(True) | deals["exit_ready"].ne(True))
        )
        frame = deals[mask.to_numpy(dtype=bool, na_value=True)]
        rows_at_risk, note = _capped(_deal_rows(run, frame), "deals", len(frame))
        sections.append(
            Section(
                "Deals à risque",
                (f"{len(frame)} deal(s) ouvert(s) en retard ou sans leurs critères de sortie.",),
                (
                    Table(
                        "deals_at_risk",
                        "Deals à risque du commercial",
                        _DEAL_COLUMNS,
                        rows_at_risk,
                        note,
                    ),
                ),
            )
        )
    return sections


def _rep_tables(run: _Run, rep: str) -> dict[str, Any]:
    """The input tables restricted to one rep: its row, quotas, deals and their stage events."""
    tables = dict(run.tables)
    for name, column in (("reps", "id"), ("quotas", "rep_id"), ("deals", "rep_id")):
        frame = tables.get(name)
        if frame is not None and column in frame.columns:
            tables[name] = frame[
                (frame[column].astype("str").str.strip() == rep).to_numpy(dtype=bool)
            ]
    deals = tables.get("deals")
    events = tables.get("stage_events")
    if (
        deals is not None
        and events is not None
        and "deal_id" in events.columns
        and "id" in deals.columns
    ):
        ids = set(deals["id"].astype("str").str.strip())
        tables["stage_events"] = events[
            events["deal_id"].astype("str").str.strip().isin(ids).to_numpy(dtype=bool)
        ]
    return tables


# ============================================================================ the report
_KIND_SECTIONS: dict[str, tuple[str, ...]] = {
    "weekly_pipeline": ("pipeline", "stale_deals", "missing_exit_criteria", "movement", "forecast"),
    "monthly_business_review": ("kpis", "funnel", "win_rates", "alerts"),
    "quarterly_review": ("attainment", "budget", "strategy", "trends"),
    "monthly_coaching": (),
}
_SECTIONS: dict[str, Callable[[_Run], Section]] = {
    "pipeline": _pipeline_by_stage,
    "stale_deals": _stale_deals,
    "missing_exit_criteria": _missing_exit_criteria,
    "movement": _movement,
    "forecast": _forecast,
    "kpis": _kpis,
    "funnel": _funnel,
    "win_rates": _win_rates,
    "alerts": _alerts,
    "attainment": _attainment,
    "budget": _budget,
    "strategy": _strategy,
    "trends": _trends,
}
#: The sections `--rep` narrows to one rep's deals, alerts and attainment.
_PER_REP: dict[str, Callable[[_Run, str | None], Section]] = {
    "stale_deals": _stale_deals,
    "missing_exit_criteria": _missing_exit_criteria,
    "alerts": _alerts,
    "attainment": _attainment,
}
_CADENCE = {"week": "hebdomadaire", "month": "mensuel", "quarter": "trimestriel"}


def build_report(
    program: Program,
    tables: Mapping[str, pd.DataFrame],
    ritual_id: str,
    period: str,
    as_of: dt.date,
    rep: str | None = None,
    origin: str = "",
    ruleset: str = "",
) -> Report:
    """The report of one ritual on input tables (as read from files, before validation).

    Raises ReportError for an unknown ritual, a coaching report without a known rep, and
    ValueError for a period that is not one (`2026-Q1`, `2026-03`, `2026-H1`, `2026`).
    """
    ritual = find_ritual(program, ritual_id)
    asked = parse_period(period)
    run = _Run(program, tables, asked, as_of, whole_year=ritual.kind == "quarterly_review")
    if ritual.kind == "monthly_coaching" and rep is None:
        known = ", ".join(sorted(_rep_ids(tables))[:10])
        raise ReportError(f"the {ritual.id} report is about one rep: give --rep ID ({known})")
    if rep is not None:
        known_reps = _rep_ids(tables)
        if rep not in known_reps:
            close = closest(rep, known_reps)
            hint = f"; did you mean {close!r}?" if close else ""
            raise ReportError(f"unknown rep {rep!r}: not in the reps table{hint}")
    sections: list[Section] = []
    if ritual.kind == "monthly_coaching":
        assert rep is not None
        sections += _coaching(run, rep)
    else:
        for name in _KIND_SECTIONS[ritual.kind]:
            narrowed = _PER_REP.get(name) if rep is not None else None
            sections.append(narrowed(run, rep) if narrowed else _SECTIONS[name](run))
    covered = set(_KIND_SECTIONS[ritual.kind]) | (
        {"attainment", "kpis"} if ritual.kind == "monthly_coaching" else set()
    )
    for show in ritual.shows:
        if show in covered:
            continue
        covered.add(show)
        if show in _SECTIONS:
            narrowed = _PER_REP.get(show) if rep is not None else None
            sections.append(narrowed(run, rep) if narrowed else _SECTIONS[show](run))
        elif show in program.compiled.kpis:
            sections.append(_one_kpi(show)(run))
    sections.append(_data_quality(run))
    header = program.model.ruleset
    name = ruleset or (header.label or header.name.name if header is not None else "")
    subtitle = " · ".join(
        part
        for part in (
            name,
            f"rituel {_CADENCE.get(ritual.cadence, ritual.cadence)} « {ritual.id} »"
            + (f" (montre : {', '.join(ritual.shows)})" if ritual.shows else ""),
            f"période {asked.id}",
            f"au {as_of:%d/%m/%Y}",
            f"{run.rep_name(rep) or rep} ({rep})" if rep else "",
            f"données : {origin}" if origin else "",
        )
        if part
    )
    document = Document(ritual.label, subtitle, tuple(sections), program.compiled.currency)
    return Report(document, run.results)


def _rep_ids(tables: Mapping[str, Any]) -> list[str]:
    reps = tables.get("reps")
    if reps is None or "id" not in reps.columns:
        return []
    return [str(v).strip() for v in reps["id"].dropna().tolist()]
