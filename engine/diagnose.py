"""The diagnostic of the method's five dimensions, from a ruleset and its data.

The method (`/work/shared/seed`, "Étape 1 : Diagnostic") audits five dimensions: stratégie
commerciale, structure de l'équipe, processus de vente, systèmes et outils, plan de
rémunération; its deliverable is a factual inventory and the three priority workstreams. Here
each dimension is a list of criteria read from the ruleset (what is declared) and from the
engine's results on the data (`Program.validate`, `Program.evaluate`: deals, funnel, payouts,
budget, errors, counts); nothing is computed a second time.

Levels (decision: the seed names no scale; this one is documented in `docs/simulate.md`):
  0 absent    the dimension is not declared at all (no strategy, no role, no pipeline, no
              plan; no input row for systems)
  1 fragile   under half of its measurable criteria met
  2 en place  half or more met, not all
  3 maîtrisé  every measurable criterion met
A criterion that the data cannot decide (no open deal, no payout) is "non mesurable" and left
out of the count. The three priorities are the worst unmet criterion of the three weakest
dimensions (lowest level first, then the widest gap to the threshold), each with its figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dsl import nodes as n
from engine.money import exact_div

if TYPE_CHECKING:
    from engine.program import Inputs, Program
    from engine.report.document import Document
    from engine.results import Results

__all__ = [
    "DIMENSIONS",
    "LEVELS",
    "Criterion",
    "Diagnosis",
    "Dimension",
    "diagnose",
    "diagnosis_document",
    "diagnosis_text",
]

#: The five dimensions, as the seed names them, with the question it asks of each.
DIMENSIONS = (
    ("strategy", "Stratégie commerciale", "Est-elle claire ? Partagée ? Différenciante ?"),
    ("team", "Structure de l'équipe", "Les rôles sont-ils bien définis ? Spécialisés ?"),
    ("process", "Processus de vente", "Sont-ils documentés ? Suivis ?"),
    (
        "systems",
        "Systèmes et outils",
        "Le CRM est-il bien utilisé ? Les données sont-elles propres ?",
    ),
    ("pay", "Plan de rémunération", "Est-il aligné avec la stratégie ? Simple ? Juste ?"),
)
LEVELS = ("absent", "fragile", "en place", "maîtrisé")

#: Thresholds (decisions, documented in docs/simulate.md).
MAX_KPIS = 7  # the seed: "On ne suit jamais plus de 7 KPI par rôle"
MIN_EXIT_READY = Decimal("0.6")  # open deals whose current stage's exit criteria hold
MAX_STALE = Decimal("0.2")  # open deals past their stage's maximum days
MAX_SKIPPED = Decimal("0.1")  # deals that skipped a stage of the path
MAX_REJECTED = Decimal("0.02")  # input rows refused by validation
MAX_MISSING = Decimal("0.05")  # empty cells of the most incomplete deal column
MAX_MEASURES = 3  # a plan a rep can compute in his head
MAX_WEIGHT_GAP = Decimal("0.1")  # pay weight vs strategy growth share, in points
MIN_AT_QUOTA = Decimal("0.6")  # rep-periods at or above 100% (the FinTech case: 55%, then 82%)
DEFAULT_GUARDRAIL = Decimal("1.05")  # budget used, when the plan declares no guardrail


@dataclass(frozen=True, slots=True)
class Criterion:
    """One fact of a dimension: its value as text, the threshold, whether it is met (None: not
    measurable on this data), the figures behind it, and how far it is from the threshold."""

    label: str
    value: str
    threshold: str
    met: bool | None
    gap: Decimal = Decimal(0)
    number: Decimal | None = None
    kind: str = "text"  # how `number` reads: percent, int, ratio, text


@dataclass(frozen=True, slots=True)
class Dimension:
    """A dimension's level and its criteria."""

    key: str
    title: str
    question: str
    level: int
    criteria: tuple[Criterion, ...]

    @property
    def level_name(self) -> str:
        """The level in words."""
        return LEVELS[self.level]

    @property
    def met(self) -> int:
        """Criteria met."""
        return sum(1 for c in self.criteria if c.met)

    @property
    def measured(self) -> int:
        """Criteria the ruleset and data could decide."""
        return sum(1 for c in self.criteria if c.met is not None)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The five dimensions, then the three priorities (dimension, criterion)."""

    ruleset: str
    origin: str
    as_of: dt.date | None
    period: str | None
    dimensions: tuple[Dimension, ...]
    priorities: tuple[tuple[Dimension, Criterion], ...]


# ----------------------------------------------------------------------------- helpers
def _share(part: int, whole: int) -> Decimal | None:
    return exact_div(Decimal(part), Decimal(whole)) if whole else None


def _pct(value: Decimal | None) -> str:
    if value is None:
        return "—"
    shown = (value * 100).quantize(Decimal("0.1"))
    return f"{shown:f} %".replace(".", ",")


def _at_most(label: str, value: Decimal | None, limit: Decimal, detail: str = "") -> Criterion:
    """A share that must stay at or under a limit."""
    if value is None:
        return Criterion(label, "non mesurable" + detail, f"≤ {_pct(limit)}", None)
    gap = max(value - limit, Decimal(0)) / (1 - limit if limit < 1 else 1)
    return Criterion(
        label, _pct(value) + detail, f"≤ {_pct(limit)}", value <= limit, gap, value, "percent"
    )


def _at_least(label: str, value: Decimal | None, limit: Decimal, detail: str = "") -> Criterion:
    """A share that must reach a limit."""
    if value is None:
        return Criterion(label, "non mesurable" + detail, f"≥ {_pct(limit)}", None)
    gap = max(limit - value, Decimal(0)) / limit if limit else Decimal(0)
    return Criterion(
        label, _pct(value) + detail, f"≥ {_pct(limit)}", value >= limit, gap, value, "percent"
    )


def _yes(label: str, ok: bool | None, value: str, threshold: str = "oui") -> Criterion:
    """A yes/no criterion (None: not measurable here)."""
    return Criterion(label, value, threshold, ok, Decimal(0) if ok is not False else Decimal(1))


def _level(declared: bool, criteria: Sequence[Criterion]) -> int:
    if not declared:
        return 0
    measured = [c for c in criteria if c.met is not None]
    if not measured:
        return 1
    met = sum(1 for c in measured if c.met)
    if met == len(measured):
        return 3
    return 2 if 2 * met >= len(measured) else 1


# ----------------------------------------------------------------------------- dimensions
def _strategy(program: Program) -> tuple[bool, list[Criterion]]:
    model = program.model
    items = [item for s in model.strategies for item in s.items]
    growth = [i for i in items if isinstance(i, n.StrategyGrowth)]
    shares = sum((g.share.value for g in growth), Decimal(0))
    tracked_ids = set(model.kpis) | {
        m for p in program.book.plans.values() for m in (x.name for x in p.measures)
    }
    followed = [g.name.name for g in growth if g.name.name in tracked_ids]
    unfollowed = [g.name.name for g in growth if g.name.name not in tracked_ids]
    criteria = [
        _yes(
            "Stratégie déclarée",
            bool(model.strategies),
            f"{len(model.strategies)} déclaration(s)" if model.strategies else "aucune",
        ),
        _yes(
            "Croissance répartie par type de deal (parts = 100 %)",
            bool(growth) and shares == 1,
            ", ".join(f"{g.name.name} {g.share.raw}" for g in growth) or "aucune part",
        ),
        _yes(
            "Cible prioritaire (focus) déclarée",
            any(isinstance(i, n.StrategyFocus) for i in items),
            "oui" if any(isinstance(i, n.StrategyFocus) for i in items) else "non",
        ),
        _yes(
            "Approche go-to-market (canal) déclarée",
            any(isinstance(i, n.StrategyChannel) for i in items),
            ", ".join(
                f"{i.name.name} {i.share.raw}" for i in items if isinstance(i, n.StrategyChannel)
            )
            or "non",
        ),
        _yes(
            "Chaque part de croissance suivie par une mesure ou un KPI",
            (len(followed) == len(growth)) if growth else None,
            f"{len(followed)} sur {len(growth)}"
            + (f" (non suivies : {', '.join(unfollowed)})" if unfollowed else ""),
        ),
    ]
    return bool(model.strategies), criteria


def _kpi_count(role: n.Role) -> int:
    return sum(len(i.names) for i in role.items if isinstance(i, n.RoleKpis))


def _team(program: Program, inputs: Inputs) -> tuple[bool, list[Criterion]]:
    roles = program.model.roles
    missions = [name for name, r in roles.items() if any(isinstance(i, n.Mission) for i in r.items)]
    counts = {name: _kpi_count(role) for name, role in roles.items()}
    over = {name: k for name, k in counts.items() if k > MAX_KPIS}
    reps = inputs.valid.get("reps")
    team = reps["role"].astype("string").value_counts().to_dict() if reps is not None else {}
    undeclared = sorted(str(r) for r in team if str(r) not in roles)
    criteria = [
        _yes("Rôles déclarés", bool(roles), ", ".join(roles) or "aucun"),
        _yes(
            "Chaque rôle a une mission",
            bool(roles) and len(missions) == len(roles),
            f"{len(missions)} sur {len(roles)}",
        ),
        _yes(
            f"Au plus {MAX_KPIS} KPI par rôle",
            not over,
            ", ".join(f"{name} {k}" for name, k in counts.items()) or "aucun KPI",
            f"≤ {MAX_KPIS}",
        ),
        _yes(
            "Rôles spécialisés (au moins deux rôles distincts)",
            len(roles) >= 2,
            f"{len(roles)} rôle(s)",
            "≥ 2",
        ),
        _yes(
            "Commerciaux des données dans un rôle déclaré",
            reps is not None and not undeclared,
            ("; ".join(f"{k} {v}" for k, v in sorted(team.items())) or "aucun commercial")
            + (f" (rôles inconnus : {', '.join(undeclared)})" if undeclared else ""),
        ),
    ]
    return bool(roles), criteria


def _process(program: Program, results: Results, inputs: Inputs) -> tuple[bool, list[Criterion]]:
    model = program.model
    stages = [stage for p in model.pipelines.values() for stage in p.stages]
    with_exit = [s for s in stages if any(isinstance(i, n.ExitCriterion) for i in s.items)]
    with_days = [s for s in stages if any(isinstance(i, n.MaxDays) for i in s.items)]
    deals = results.deals
    status = _status_by_id(inputs)
    open_rows = deals[deals["id"].map(lambda i: status.get(i) == "open").astype(bool)]
    ready = open_rows["exit_ready"].dropna()
    stale = open_rows["stale"].dropna()
    skipped = deals["skipped"].map(lambda s: bool(s)) if len(deals) else deals["skipped"]
    criteria = [
        _yes("Parcours de vente déclaré", bool(stages), f"{len(stages)} étape(s)"),
        _yes(
            "Chaque étape a ses critères de passage",
            (len(with_exit) == len(stages)) if stages else None,
            f"{len(with_exit)} sur {len(stages)}",
        ),
        _yes(
            "Chaque étape a une durée maximale",
            (len(with_days) == len(stages)) if stages else None,
            f"{len(with_days)} sur {len(stages)}",
        ),
        _yes(
            "Qualification et playbooks documentés",
            bool(model.qualifications) and bool(model.playbooks),
            f"{len(model.qualifications)} qualification(s), {len(model.playbooks)} playbook(s)",
        ),
        _at_least(
            "Deals ouverts dont les critères de l'étape sont remplis",
            _share(int(ready.sum()), len(ready)),
            MIN_EXIT_READY,
            f" ({int(ready.sum())} sur {len(ready)})" if len(ready) else "",
        ),
        _at_most(
            "Deals ouverts en retard (au-delà de la durée de l'étape)",
            # Without any stage duration nothing can be late: not measurable, not "0% late".
            _share(int(stale.sum()), len(stale)) if with_days else None,
            MAX_STALE,
            f" ({int(stale.sum())} sur {len(stale)})" if len(stale) else "",
        ),
        _at_most(
            "Deals ayant sauté une étape",
            _share(int(skipped.sum()), len(deals)) if stages else None,
            MAX_SKIPPED,
            f" ({int(skipped.sum())} sur {len(deals)})" if len(deals) else "",
        ),
    ]
    return bool(stages), criteria


def _status_by_id(inputs: Inputs) -> dict[Any, Any]:
    deals = inputs.valid.get("deals")
    if deals is None or "status" not in deals.columns:
        return {}
    return dict(zip(deals["id"].astype("string"), deals["status"].astype("string"), strict=True))


def _systems(results: Results, inputs: Inputs) -> tuple[bool, list[Criterion]]:
    counts = list(results.counts.values())
    rows_in = sum(c.rows_in for c in counts)
    rejected = sum(c.rejected for c in counts)
    errors = results.errors
    duplicates = int(errors["message"].astype("string").str.startswith("duplicate").sum())
    deals = inputs.valid.get("deals")
    worst: tuple[str, Decimal] | None = None
    if deals is not None and len(deals):
        shares = deals.isna().mean()
        shares.index = [str(c).removesuffix("__cents") for c in shares.index]
        name = str(shares.idxmax())
        worst = (name, Decimal(repr(float(shares.max()))))
    # Pay's findings about the data (a deal not credited, a quota missing or not positive):
    # their message starts with where they are, a measure among it (`engine.pay.vector`);
    # a role without a plan is a finding about the ruleset, not the data.
    payouts = errors[errors["table"] == "payouts"]
    where = payouts["message"].astype("string").str.split(": ", n=1).str[0]
    pay_errors = payouts[where.str.contains(r"(?:^|, )measure \S", regex=True).fillna(False)]
    criteria = [
        _at_most(
            "Lignes refusées à la validation",
            _share(rejected, rows_in),
            MAX_REJECTED,
            f" ({rejected} sur {rows_in})",
        ),
        _yes("Aucun identifiant en double", duplicates == 0, f"{duplicates} doublon(s)", "0"),
        _at_most(
            "Colonne des deals la moins remplie (cellules vides)",
            worst[1] if worst else None,
            MAX_MISSING,
            f" ({worst[0]})" if worst else "",
        ),
        _yes(
            "Deals et quotas utilisables par la paie",
            len(pay_errors) == 0,
            f"{len(pay_errors)} anomalie(s) de paie",
            "0",
        ),
    ]
    return rows_in > 0, criteria


def _pay(program: Program, results: Results) -> tuple[bool, list[Criterion]]:
    book = program.book
    paid_plans = [book.plans[names[0]] for names in book.roles.values() if names]
    growth = {
        i.name.name: i.share.value
        for s in program.model.strategies
        for i in s.items
        if isinstance(i, n.StrategyGrowth)
    }
    gaps: list[str] = []
    worst_gap = Decimal(0)
    for plan in paid_plans:
        weights = {m.name: m.weight for m in plan.measures}
        for name, share in growth.items():
            weight = weights.get(name, Decimal(0))
            worst_gap = max(worst_gap, abs(weight - share))
            gaps.append(f"{name} : stratégie {_pct(share)}, paie {_pct(weight)}")
    most = max((len(p.measures) for p in paid_plans), default=0)
    controlled = [
        p.name
        for p in paid_plans
        if p.cap is not None
        or p.guardrail is not None
        or any(m.cap is not None for m in p.measures)
    ]
    payouts = results.payouts
    paid = payouts[payouts["paid"].astype(bool)] if len(payouts) else payouts
    attainments = [
        exact_div(Decimal(e["credited"]), Decimal(e["quota"]))
        for measures in paid["measures"]
        for e in measures
        if e.get("quota") is not None and Decimal(e["quota"]) > 0
    ]
    at_quota = _share(sum(1 for a in attainments if a >= 1), len(attainments))
    spread = ""
    if attainments:
        ordered = sorted(attainments)
        p10 = ordered[int(0.1 * (len(ordered) - 1))]
        p90 = ordered[int(0.9 * (len(ordered) - 1))]
        spread = f" ; P10 {_pct(p10)}, P90 {_pct(p90)}"
    budget = results.budget
    paid_budget = budget[budget["paid"].astype(bool)] if len(budget) else budget
    totals = [
        (Decimal(t), Decimal(b))
        for t, b in zip(paid_budget["total"], paid_budget["budget"], strict=True)
        if b is not None
    ]
    paid_total = sum((t for t, _ in totals), Decimal(0))
    budget_total = sum((b for _, b in totals), Decimal(0))
    used = exact_div(paid_total, budget_total) if budget_total else None
    limits = [p.guardrail.value for p in paid_plans if p.guardrail and p.guardrail.percent]
    limit = min(limits) if limits else DEFAULT_GUARDRAIL
    criteria = [
        _yes(
            "Chaque rôle avec des objectifs est payé sur un plan",
            bool(paid_plans),
            f"{len(paid_plans)} plan(s) payé(s)",
        ),
        _yes(
            "Poids de la paie alignés sur la stratégie (écart ≤ 10 points)",
            (worst_gap <= MAX_WEIGHT_GAP) if growth and paid_plans else None,
            "; ".join(gaps) if gaps else "pas de part de croissance à comparer",
            "écart ≤ 10 points",
        ),
        _yes(
            f"Plan simple (au plus {MAX_MEASURES} mesures)",
            bool(paid_plans) and most <= MAX_MEASURES,
            f"{most} mesure(s) au plus",
            f"≤ {MAX_MEASURES}",
        ),
        _yes(
            "Coût maîtrisé (plafond ou garde-fou budgétaire)",
            bool(paid_plans) and len(controlled) == len(paid_plans),
            f"{len(controlled)} plan(s) sur {len(paid_plans)}",
        ),
        _at_least(
            "Commerciaux × périodes à 100 % de l'objectif ou plus",
            at_quota,
            MIN_AT_QUOTA,
            f" ({len(attainments)} atteintes{spread})",
        ),
        _at_most("Budget variable consommé (payé / variable cible)", used, limit),
    ]
    return bool(book.plans), criteria


# ----------------------------------------------------------------------------- diagnosis
def diagnose(
    program: Program,
    tables: Mapping[str, Any],
    *,
    as_of: dt.date | None = None,
    period: str | None = None,
    origin: str = "",
) -> Diagnosis:
    """The five dimensions and the three priorities, from the ruleset and the engine's results
    on the tables (validated once more for the missing cells per column)."""
    results = program.evaluate(**tables, as_of=as_of, period=period)
    inputs = program.validate(**{k: v for k, v in tables.items() if k != "splits"})
    built = (
        _strategy(program),
        _team(program, inputs),
        _process(program, results, inputs),
        _systems(results, inputs),
        _pay(program, results),
    )
    dimensions = tuple(
        Dimension(key, title, question, _level(declared, criteria), tuple(criteria))
        for (key, title, question), (declared, criteria) in zip(DIMENSIONS, built, strict=True)
    )
    ranked = sorted(
        (
            (d.level, -max((c.gap for c in d.criteria if c.met is False), default=Decimal(0)), i, d)
            for i, d in enumerate(dimensions)
            if any(c.met is False for c in d.criteria)
        ),
        key=lambda x: (x[0], x[1], x[2]),
    )
    priorities = tuple(
        (d, max((c for c in d.criteria if c.met is False), key=lambda c: c.gap))
        for *_, d in ranked[:3]
    )
    ruleset = program.model.ruleset
    name = (ruleset.label or ruleset.name.name) if ruleset is not None else ""
    return Diagnosis(name, origin, results.as_of, results.period, dimensions, priorities)


def diagnosis_text(diagnosis: Diagnosis) -> str:
    """The scorecard as plain text (what `koncept diagnose` prints without --out)."""
    lines = [f"Diagnostic – {diagnosis.ruleset}", diagnosis.origin, ""]
    width = max(len(d.title) for d in diagnosis.dimensions)
    for d in diagnosis.dimensions:
        lines.append(
            f"{d.title:<{width}}  {d.level}/3 {d.level_name:<9} {d.met}/{d.measured} critères"
        )
        for c in d.criteria:
            mark = {True: "ok", False: "!!", None: "--"}[c.met]
            lines.append(f"  {mark} {c.label} : {c.value} (seuil {c.threshold})")
    lines.append("")
    lines.append("Trois chantiers prioritaires :")
    if not diagnosis.priorities:
        lines.append("  aucun critère manqué")
    for rank, (d, c) in enumerate(diagnosis.priorities, start=1):
        lines.append(f"  {rank}. {d.title} – {c.label} : {c.value} (seuil {c.threshold})")
    return "\n".join(lines) + "\n"


def diagnosis_document(diagnosis: Diagnosis) -> Document:
    """The diagnostic as a report: scorecard, priorities, one section per dimension."""
    from engine.report.document import Chart, Column, Document, Section, Series, Table

    status = {True: "atteint", False: "non atteint", None: "non mesurable"}
    scorecard = Table(
        "scorecard",
        "Tableau de bord des cinq dimensions",
        (
            Column("dimension", "Dimension"),
            Column("level", "Niveau (0 à 3)", "int"),
            Column("level_name", "Niveau"),
            Column("met", "Critères atteints", "int"),
            Column("measured", "Critères mesurés", "int"),
        ),
        tuple((d.title, d.level, d.level_name, d.met, d.measured) for d in diagnosis.dimensions),
        note="Niveaux : 0 absent (rien de déclaré), 1 fragile (moins de la moitié des critères "
        "atteints), 2 en place (la moitié ou plus), 3 maîtrisé (tous).",
    )
    chart = Chart(
        "levels",
        "Niveau de chaque dimension",
        "hbar",
        (Series("Niveau", tuple((d.title, d.level) for d in diagnosis.dimensions)),),
        y_label="Niveau (0 à 3)",
    )
    priorities = Table(
        "priorities",
        "Les trois chantiers prioritaires",
        (
            Column("rank", "Rang", "int"),
            Column("dimension", "Dimension"),
            Column("criterion", "Constat"),
            Column("value", "Chiffre"),
            Column("threshold", "Seuil"),
        ),
        tuple(
            (rank, d.title, c.label, c.value, c.threshold)
            for rank, (d, c) in enumerate(diagnosis.priorities, start=1)
        ),
    )
    sections = [
        Section(
            "Synthèse",
            (
                "Diagnostic des cinq dimensions de la méthode Koncept, établi à partir du "
                "jeu de règles et des données du CRM.",
            ),
            (scorecard, priorities),
            (chart,),
        )
    ]
    for d in diagnosis.dimensions:
        sections.append(
            Section(
                d.title,
                (d.question, f"Niveau {d.level}/3 : {d.level_name}."),
                (
                    Table(
                        f"criteria_{d.key}",
                        f"Critères – {d.title}",
                        (
                            Column("criterion", "Critère"),
                            Column("value", "Valeur"),
                            Column("threshold", "Seuil"),
                            Column("status", "Statut"),
                        ),
                        tuple((c.label, c.value, c.threshold, status[c.met]) for c in d.criteria),
                    ),
                ),
            )
        )
    when = diagnosis.as_of.strftime("%d/%m/%Y") if diagnosis.as_of else ""
    subtitle = " · ".join(
        p for p in (diagnosis.origin, f"au {when}" if when else "", diagnosis.period or "") if p
    )
    return Document(f"Diagnostic – {diagnosis.ruleset}", subtitle, tuple(sections))
