"""A rep's variable-pay statement for a period, in plain French.

Every line says where it comes from (the plan's measure, `file:line`) and what it is made of:
the deals behind the credited value (id, date, value, share), the quota and the attainment, the
method with its numbers ("Paliers : 95 % atteint -> palier [90%, 100%) = 75 % de 7 500,00 =
5 625,00"), thresholds, accelerators, bonuses and caps. The amounts shown add up exactly to the
total: a rounding line appears when showing the steps to the cent would not.

The statement is computed by the per-record reference path (`engine.pay.reference`) over the
plans and periods of the pay schedule (`engine.pay.schedule`): the same numbers `koncept eval`
reports in its payouts table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsl.diagnostics import closest
from engine.money import format_french, round_money
from engine.pay.lines import DealLine, plan_lines
from engine.periods import PERIODS_PER_YEAR, coarser_or_same, parse_period
from engine.results import error_text, text_or_none

if TYPE_CHECKING:
    from engine.program import Inputs, Program

__all__ = ["Statement", "build_statement"]

_CENT = Decimal("0.01")
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF"}
_ROLE_WORDS = {True: "plan payé", False: "pour comparaison, non payé"}


# ============================================================================ the statement
@dataclass(frozen=True, slots=True)
class Statement:
    """The text of a statement, whether everything could be paid and credited, and the input
    errors behind it (`table row N, column = value: message`, as `koncept eval` lists them)."""

    text: str
    ok: bool
    totals: Mapping[str, Decimal]
    errors: tuple[str, ...] = ()


def build_statement(
    program: Program, tables: Mapping[str, Any], rep_id: str, period: str
) -> Statement:
    """The statement of one rep for one period (a plan period or a longer one).

    `tables` holds the input tables by name (`deals`, `reps`, `quotas`, `territories`,
    `stage_events`, `splits`; others, such as `leads`, are not needed and left alone), as read
    from files: every row is validated as `koncept eval` validates it. Raises ValueError for
    an unknown rep or period, or a splits table without its columns (deal_id, rep_id, share);
    a split row without a deal id is an error of the statement (listed, `ok` false).
    """
    from engine.pay.reference import pay_everyone, payments_of

    asked = parse_period(period)
    splits_table, split_errors = _checked_splits(tables.get("splits"))
    inputs = program.validate(
        **{name: tables.get(name) for name in ("deals", "stage_events", "reps", "quotas",
                                              "territories", "quota_relief", "cancellations")}
    )  # fmt: skip
    if inputs.valid.get("reps") is None:
        raise ValueError("no reps table in the data: a statement needs the rep's role")
    rep = _rep(inputs, rep_id)
    book = program.book
    role = text_or_none(rep.get("role"))
    plans = book.roles.get(role or "", ())
    out = _Writer(_SYMBOLS.get(book.currency, book.currency))
    name = text_or_none(rep.get("name"))
    role_label = _role_label(program, role)
    out.line(f"Relevé de rémunération variable — {name + ' ' if name else ''}({rep_id})")
    out.line(
        f"Rôle : {role_label or role or 'inconnu'} · Période demandée : {asked.id} "
        f"(du {_date(asked.start)} au {_date(asked.end)})"
    )
    ok = not split_errors
    totals: dict[str, Decimal] = {}
    errors = tuple(error_text(e.table, e.row, e.column, e.value, e.message) for e in inputs.errors)
    errors += split_errors
    if not plans:
        why = (
            f"le rôle {role} n'a pas de plan de rémunération" if role else "le rep n'a pas de rôle"
        )
        out.blank()
        out.line(f"Aucun plan : {why}.")
        _split_lines(out, split_errors)
        return Statement(out.text(), False, totals, errors)
    deals, splits, events = _rep_inputs(program, inputs, splits_table, rep_id, plans)
    territory_id = text_or_none(rep.get("territory"))
    territory = None
    if territory_id is not None:
        found = inputs.records("territories", _equal(inputs, "territories", "id", territory_id))
        territory = found[0] if found else None
    # The pay schedule says which plan periods the rep is paid on; its refusals are shown.
    payments, refused = pay_everyone(
        book,
        program.compiled,
        reps=[rep],
        deals=deals,
        quotas=inputs.records("quotas", _equal(inputs, "quotas", "rep_id", rep_id)),
        territories={territory_id: territory} if territory_id and territory else None,
        splits=splits,
        stage_events=events,
        period=asked,
        quota_relief=inputs.records(
            "quota_relief", _equal(inputs, "quota_relief", "rep_id", rep_id)
        ),
    )
    for rank, plan_name in enumerate(plans):
        plan = book.plans[plan_name]
        out.blank()
        title = plan.label or plan.name
        out.line(f"Plan « {title} » ({plan.name}) — {_ROLE_WORDS[rank == 0]} · {_where(plan.span)}")
        mine = [p for p in payments if (p.head or p.plan) == plan_name and p.is_payout]
        versions = len(book.chain(plan_name)) > 1
        skipped = [i for i in refused if i.plan == plan_name]
        every = plan.pays or plan.unit
        if not coarser_or_same(asked.unit, every):
            out.line(
                f"  Ce plan paie par {_UNITS[every]} : demandez un(e) {_UNITS[every]}"
                f" ou une période plus longue, pas {asked.id}."
            )
            ok = False
            continue
        steps = sorted(
            [(p.period.id, p) for p in mine] + [(i.period or "", i) for i in skipped],
            key=lambda step: step[0],
        )
        plan_total = Decimal(0)
        for shown, step in steps:
            version = getattr(step, "plan", plan_name)
            if versions and version != plan_name:
                spec = book.plans[version]
                shown += f" · version {spec.label or spec.name} ({spec.name})"
            if len(steps) > 1:
                out.blank()
                out.line(f"  ── {shown} ──")
            if not hasattr(step, "outcome"):
                ok = False
                out.line("  Non calculé :")
                out.line(f"    - {_issue_text(step)}")
                continue
            outcome = step.outcome
            if outcome.payout is None:
                ok = False
                out.line("  Non calculé :")
                for issue in outcome.issues:
                    out.line(f"    - {_issue_text(issue)}")
                continue
            plan_total += _plan_lines(out, book.plans[version], outcome.payout, rep, territory)
            if outcome.issues:
                ok = False
                out.line("  À vérifier (non crédité) :")
                for issue in outcome.issues:
                    out.line(f"    - {_issue_text(issue)}")
        if (plan.over_time or versions) and rank == 0:
            mine_ids = {str(d["id"]) for d in deals}
            settled = payments_of(
                book,
                [p for p in payments if (p.head or p.plan) == plan_name],
                [c for c in inputs.records("cancellations") if str(c["deal_id"]) in mine_ids],
                mine_ids,
            )
            plan_total = _payment_lines(out, plan, settled)
            if settled.issues:
                ok = False
                out.line("  À vérifier (annulations) :")
                for issue in settled.issues:
                    out.line(f"    - {_issue_text(issue)}")
        totals[plan_name] = plan_total
        if len(steps) > 1 or plan.over_time or versions:
            out.line(f"  Total {asked.id} du plan : {out.money(plan_total)}")
    if inputs.errors:
        out.blank()
        out.line(
            f"{len(inputs.errors)} ligne(s) des données ont été écartées à la validation "
            "(voir koncept eval)."
        )
    _split_lines(out, split_errors)
    return Statement(out.text(), ok, totals, errors)


def _checked_splits(splits: Any) -> tuple[Any, tuple[str, ...]]:
    """The splits table without its rows that name no deal, and an error for each of them (a
    share of no deal cannot be credited: it is never silently dropped)."""
    if splits is None or not len(splits):
        return splits, ()
    names = [str(c) for c in splits.columns]
    missing = [c for c in ("deal_id", "rep_id", "share") if c not in names]
    if missing:
        raise ValueError(
            f"the splits table has no {', '.join(missing)} column "
            f"(it needs deal_id, rep_id and share; it has {', '.join(names) or 'none'})"
        )
    no_deal = [text_or_none(v) is None for v in splits["deal_id"].tolist()]
    errors = tuple(
        f"splits row {position + 1}, deal_id: a split row must name its deal "
        f"(rep_id = {text_or_none(rep)!r}, share = {text_or_none(share)!r})"
        for position, (empty, rep, share) in enumerate(
            zip(no_deal, splits["rep_id"].tolist(), splits["share"].tolist(), strict=True)
        )
        if empty
    )
    if not errors:
        return splits, ()
    return splits[[not empty for empty in no_deal]], errors


def _split_lines(out: _Writer, errors: Sequence[str]) -> None:
    if not errors:
        return
    out.blank()
    out.line(f"{len(errors)} ligne(s) de la table des partages (splits) sans deal_id, ignorées :")
    for error in errors:
        out.line(f"  - {error}")


_UNITS = {"month": "mois", "quarter": "trimestre", "half": "semestre", "year": "année"}
_OPS = {">=": "≥", "<=": "≤", "!=": "≠", "==": "="}
#: How credited values are called on a statement.
_VALUES = {
    "amount": "montant",
    "gross_margin": "marge brute",
    "count": "nombre",
    "weighted_value": "valeur pondérée",
}


def _rep(inputs: Inputs, rep_id: str) -> dict[str, Any]:
    found = inputs.records("reps", _equal(inputs, "reps", "id", rep_id))
    if found:
        return found[0]
    reps = inputs.valid["reps"]
    known = [str(v) for v in reps["id"].dropna().tolist()] if "id" in reps.columns else []
    close = closest(rep_id, known)
    hint = f"; did you mean {close}?" if close else ""
    raise ValueError(f"rep {rep_id!r} is not in the reps table{hint}")


def _equal(inputs: Inputs, table: str, column: str, value: str) -> Any:
    """The rows of a valid table whose text column is `value` (a boolean mask)."""
    frame = inputs.valid.get(table)
    if frame is None or column not in frame.columns:
        return [False] * (0 if frame is None else len(frame))
    found = frame[column].astype("str").str.strip() == value
    return found.to_numpy(dtype=bool, na_value=False)


def _rep_inputs(
    program: Program, inputs: Inputs, splits: Any, rep_id: str, plans: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The deals that may be credited to the rep (owned, named in a `to` field, or split to
    them), the split rows of those deals and their stage events."""
    deals = inputs.valid.get("deals")
    if deals is None or not len(deals):
        return [], [], []
    split_rows: list[dict[str, Any]] = []
    split_deals: set[str] = set()
    if splits is not None and len(splits):
        names = [str(c) for c in splits.columns]
        every = [dict(zip(names, row, strict=True)) for row in splits.itertuples(index=False)]
        split_deals = {
            str(r.get("deal_id")).strip() for r in every if text_or_none(r.get("rep_id")) == rep_id
        }
        split_rows = [r for r in every if text_or_none(r.get("deal_id")) in split_deals]
    fields = {"rep_id"}
    for name in plans:
        for measure in program.book.plans[name].measures:
            fields.add(measure.credit.to)
    ids = deals["id"].astype("str").str.strip()
    mask = ids.isin(split_deals)
    for name in fields:
        if name in deals.columns:
            mask |= deals[name].astype("str").str.strip() == rep_id
    chosen = mask.to_numpy(dtype=bool, na_value=False)
    events = inputs.valid.get("stage_events")
    event_rows: list[dict[str, Any]] = []
    if events is not None and len(events):
        wanted = set(ids[chosen].tolist())
        picked = events["deal_id"].astype("str").str.strip().isin(wanted)
        event_rows = inputs.records("stage_events", picked.to_numpy(dtype=bool))
    return inputs.records("deals", chosen), split_rows, event_rows


# ============================================================================ one plan period
def _plan_lines(
    out: _Writer, plan: Any, payout: Any, rep: Mapping[str, Any], territory: Any
) -> Decimal:
    """Print a plan's lines for one period; returns its total."""
    if len(payout.measures) and payout.target is not None:
        if payout.proration == 1:
            yearly = payout.target * PERIODS_PER_YEAR[plan.unit]
            note = f" ({out.money(yearly)} par an)"
        else:
            note = f" ({out.money(plan.target)} avant prorata)"
        out.line(f"  Variable cible de la période : {out.money(payout.target)}{note}")
    if payout.proration != 1 and payout.days is not None:
        hired = text_or_none(rep.get("hire_date"))
        out.line(
            f"  Prorata : {payout.days} jours travaillés sur la période"
            + (f" (arrivée le {_date(_as_date(rep.get('hire_date')))})" if hired else "")
            + f" → objectifs et variable cible × {out.pct(payout.proration)}"
        )
    if payout.part is not None:
        since, until, share, split = payout.part
        days = (until - since).days + 1
        how = (
            "ses affaires signées sur ces jours, objectifs et variable cible × "
            if split == "close_date"
            else "le montant de toute la période × "
        )
        out.line(
            f"  Version en vigueur du {_date(since)} au {_date(until)} ({days} jours sur la "
            f"période) : {how}{out.pct(share)}"
        )
    shown_total = Decimal(0)
    per_deal: dict[str, list[DealLine]] = {}
    for deal_line in plan_lines(plan, payout):
        per_deal.setdefault(deal_line.measure, []).append(deal_line)
    for number, (spec, line) in enumerate(zip(plan.measures, payout.measures, strict=True), 1):
        out.blank()
        label = spec.label or spec.name
        if spec.kind == "spiff":
            shown_total += _spiff_lines(out, spec, line, payout.deals.get(spec.name, ()))
            continue
        out.line(f"  {number}. {label} ({spec.name}) · {_where(spec.span)}")
        _credit_lines(out, spec, line, payout.deals.get(spec.name, ()))
        steps = payout.quota_steps.get(spec.name, ())
        _quota_line(out, spec, line, plan, territory, steps)
        _quota_step_lines(out, steps, line)
        shown = Decimal(0)
        for part in line.parts:
            text = _part_text(out, spec, line, part)
            if text is None:
                continue
            out.line(f"     {text}")
            shown += _cents(part.amount)
        if shown != line.payout:
            out.line(
                f"     Arrondi ({plan.rounding[0]} {out.number(plan.rounding[1])}) : "
                f"{out.signed(line.payout - shown)}"
            )
        out.line(f"     = {out.money(line.payout)}")
        after = (
            " (après plafond du plan)"
            if payout.cap_adjustment
            else " (après la part de la version)"
            if payout.part_adjustment
            else ""
        )
        _deal_lines(out, spec, per_deal.get(spec.name, ()), after)
        shown_total += line.payout
    out.blank()
    if payout.cap_adjustment:
        out.line(
            f"  Plafond du plan {out.money(payout.plan_cap)} : {out.money(shown_total)} "
            f"ramené au plafond → {out.signed(payout.cap_adjustment)}"
        )
    if payout.part_adjustment:
        assert payout.part is not None
        before = payout.payout - payout.part_adjustment
        out.line(
            f"  Part de la version : {out.money(before)} × {out.pct(payout.part[2])} → "
            f"{out.signed(payout.part_adjustment)}"
        )
    out.line(f"  Total {payout.period} : {out.money(payout.payout)}")
    return Decimal(payout.payout)


def _deal_lines(out: _Writer, spec: Any, lines: Sequence[DealLine], after: str) -> None:
    """Each deal's share of the measure's payout (`engine.pay.lines`): "Affaire D0042
    (12/03/2026) : 20 000,00 € crédités → 1 100,00 €"."""
    if not lines:
        return
    out.line(f"     Par affaire{after} :")
    for deal in lines:
        if deal.deal_id is None:
            out.line(f"       Sans affaire créditée : {out.money(deal.payout)}")
            continue
        if spec.credit.value is None:
            unit = "unité créditée" if deal.credited == 1 else "unités créditées"
            credited = f"{out.count(deal.credited)} {unit}"
        else:
            credited = f"{out.money(deal.credited)} crédités"
        out.line(
            f"       Affaire {deal.deal_id} ({_date(deal.date)}) : {credited} → "
            f"{out.money(deal.payout)}"
        )


def _credit_lines(out: _Writer, spec: Any, line: Any, deals: Sequence[Any]) -> None:
    credit = spec.credit
    what = _VALUES.get(credit.value_text, credit.value_text)
    count = len(deals)
    noun = "affaire" if count == 1 else "affaires"
    value = out.count(line.credited) if credit.value is None else out.money(line.credited)
    out.line(f"     Crédité ({what}) : {value} sur {count} {noun}")
    for deal in deals:
        shown = out.count(deal.value) if credit.value is None else out.amount(deal.value)
        share = ""
        if deal.share != 1:
            share = f" × {out.pct(deal.share)} = {out.amount(deal.credited)}"
        out.line(f"       {deal.deal_id}  {_date(deal.date)}  {shown}{share}")


def _spiff_lines(out: _Writer, spec: Any, line: Any, deals: Sequence[Any]) -> Decimal:
    """A SPIFF: its window, the deals it pays on and its amount per deal, capped if declared:
    "SPIFF Lancement produit X : 3 affaires × 500,00 € = 1 500,00 €"."""
    window = spec.credit.window
    out.line(
        f"  SPIFF {spec.label or spec.name} ({spec.name}) · du {_date(window[0])} au "
        f"{_date(window[1])} · {_where(spec.span)}"
    )
    for deal in deals:
        share = f" × {out.pct(deal.share)}" if deal.share != 1 else ""
        out.line(f"       {deal.deal_id}  {_date(deal.date)}{share}")
    count = out.count(line.credited)
    noun = "affaire" if line.credited == 1 else "affaires"
    gross = line.credited * spec.rate
    out.line(
        f"     SPIFF {spec.label or spec.name} : {count} {noun} × {out.money(spec.rate)} = "
        f"{out.money(gross)}"
    )
    capped = next((p for p in line.parts if p.kind == "cap" and p.reached), None)
    if capped is not None:
        out.line(
            f"     Plafond du SPIFF {out.money(capped.base)} : {out.money(gross)} ramené au "
            f"plafond → {out.signed(capped.amount)}"
        )
    if _cents(line.raw) != line.payout:
        out.line(f"     Arrondi : {out.signed(line.payout - _cents(line.raw))}")
    out.line(f"     = {out.money(line.payout)}")
    return Decimal(line.payout)


def _quota_step_lines(out: _Writer, steps: Sequence[Any], line: Any) -> None:
    """How the quota was ramped and relieved, step by step, down to the quota used."""
    for step in steps:
        if step.kind == "ramp":
            months = [str(m) for m in step.months]
            listed = months[0] if len(months) == 1 else f"{', '.join(months[:-1])} et {months[-1]}"
            mean = " en moyenne" if len(months) > 1 else ""
            out.line(
                f"     Montée en charge : mois {listed} d'ancienneté, {out.pct(step.share)} de "
                f"l'objectif{mean} : {out.money(step.before)} → {out.money(step.after)}"
            )
        else:
            shown = out.pct(step.share) if step.share is not None else out.money(step.amount)
            cut = f"-{shown}"
            why = f" ({step.reason})" if step.reason else ""
            out.line(
                f"     Allègement d'objectif : {cut}{why} : {out.money(step.before)} → "
                f"{out.money(step.after)}"
            )
    if steps:
        attained = out.pct(line.attainment)
        out.line(f"     Objectif retenu : {out.money(line.quota)} → atteinte {attained}")


def _quota_line(
    out: _Writer, spec: Any, line: Any, plan: Any, territory: Any, steps: Sequence[Any] = ()
) -> None:
    if line.quota is None:
        return
    if spec.quota_formula is not None:
        formula = _snippet(spec.lines.get("quota")) or "formule"
        potential = ""
        if territory is not None and territory.get("potential") is not None:
            potential = (
                f", territoire {text_or_none(territory.get('id'))} : potentiel "
                f"{out.number(Decimal(str(territory.get('potential'))))}"
            )
        source = f"{formula}{potential}"
    else:
        source = f"table des objectifs, mesure {spec.quota_measure}"
    if steps:  # ramped or relieved: the lines that follow lead to the quota used
        out.line(f"     Objectif : {out.money(steps[0].before)} ({source})")
        return
    out.line(
        f"     Objectif : {out.money(line.quota)} ({source}) → atteinte {out.pct(line.attainment)}"
    )


def _part_text(out: _Writer, spec: Any, line: Any, part: Any) -> str | None:
    """One step of a measure in words, or None for a step with nothing to say."""
    kind = part.kind
    att = out.pct(line.attainment) if line.attainment is not None else ""
    if kind == "commission":
        return (
            f"Commission : {out.pct(part.rate)} × {out.amount(part.base)} = "
            f"{out.amount(part.amount)}"
        )
    if kind == "per_unit":
        return (
            f"Prime par unité : {out.count(part.base)} × {out.amount(part.rate)} = "
            f"{out.amount(part.amount)}"
        )
    if kind == "rates":
        method = "rétroactif" if spec.rates_method == "retroactive" else "marginal"
        where = f"{att} atteint" if part.band.on_attainment else f"{out.amount(line.credited)}"
        if spec.rates_method == "retroactive":
            return (
                f"Taux ({method}) : {where} → tranche {_band(out, part.band)} = "
                f"{out.pct(part.rate)} × {out.amount(part.base)} = {out.amount(part.amount)}"
            )
        return (
            f"Tranche {_band(out, part.band)} ({method}) : {out.pct(part.rate)} × "
            f"{out.amount(part.base)} = {out.amount(part.amount)}"
        )
    if kind == "no_band":
        return f"Aucune tranche ne s'applique ({att or out.amount(line.credited)}) : 0,00"
    if kind == "steps":
        return (
            f"Paliers : {att} atteint → palier {_band(out, part.band)} = {out.pct(part.rate)} "
            f"de {out.amount(part.base)} = {out.amount(part.amount)}"
        )
    if kind == "curve":
        return (
            f"Courbe : {att} atteint → {_piece(out, part)} = {out.pct(part.rate)} de "
            f"{out.amount(part.base)} = {out.amount(part.amount)}"
        )
    if kind == "gate":
        if part.reached:
            return f"Seuil de déclenchement {out.pct(part.level)} : atteint ({att})"
        return (
            f"Seuil de déclenchement {out.pct(part.level)} non atteint ({att}) : rien n'est "
            "versé sur cette mesure, 0,00"
        )
    if kind == "floor":
        return (
            f"Seuil plancher {out.pct(part.level)} : seule la part au-delà de "
            f"{out.amount(part.base)} est rémunérée" + ("" if part.reached else " (non dépassé)")
        )
    if kind == "accelerator":
        if not part.reached:
            return f"Accélérateur au-delà de {out.pct(part.level)} : non atteint ({att})"
        return (
            f"Accélérateur : {out.number(part.factor)} × ({att} − {out.pct(part.level)}) × "
            f"{out.amount(part.base)} = {out.amount(part.amount)}"
        )
    if kind == "bonus":
        condition = f"atteinte {_OPS.get(part.note, part.note)} {out.pct(part.level)}"
        if part.reached:
            amount = out.amount(part.amount)
            return f"Prime {out.amount(part.base)} si {condition} : obtenue ({att}) = {amount}"
        return f"Prime {out.amount(part.base)} si {condition} : non obtenue ({att})"
    if kind == "cap":
        if not part.reached:
            return None
        limit = (
            f"{out.pct(part.level)} de {out.amount(line.target)}"
            if part.note == "percent"
            else out.amount(part.base)
        )
        before = part.base - part.amount
        return (
            f"Plafond {limit} = {out.amount(part.base)} : {out.amount(before)} ramené au "
            f"plafond → {out.signed(part.amount)}"
        )
    return None


_TRUE_UPS = {
    "carry_forward": "un solde négatif est reporté sur les paiements suivants",
    "recover": "un solde négatif est repris sur le paiement suivant",
    "floor": "un paiement n'est jamais négatif ; le solde négatif restant en fin de période "
    "est abandonné",
}


def _payment_lines(out: _Writer, plan: Any, settled: Any) -> Decimal:
    """The payments of an over-time plan, with the true-up, clawback and draw arithmetic;
    their total."""
    out.blank()
    every = _UNITS[plan.pays]
    out.line(
        f"  Paiements (par {every}, mesure par {_UNITS[plan.unit]} : chaque paiement = dû à "
        f"date − déjà payé ; {_TRUE_UPS[plan.true_up]}) :"
    )
    total = Decimal(0)
    for line in settled.lines:
        out.line(
            f"    {line.period} : dû sur {line.plan_period} au {_date(line.through)} "
            f"{out.money(line.due)} − déjà payé {out.money(line.paid_before)} = "
            f"{out.money(line.earned)}"
        )
        if line.catch_up:
            new = line.earned - line.catch_up
            out.line(
                f"      dont affaires de {line.period} : {out.money(new)} et rattrapage sur les "
                f"affaires précédentes (nouveau palier atteint) : {out.money(line.catch_up)}"
            )
        for taken in settled.clawed:
            if taken.period == line.period:
                out.line(f"      {_clawback_text(out, plan, taken)}")
        if line.held:
            out.line(f"      Solde négatif retenu : {out.signed(line.held)}")
        if line.recovered:
            out.line(f"      Solde antérieur récupéré : {out.signed(line.recovered)}")
        if line.draw > 0:
            out.line(f"      Avance garantie (draw) : complément {out.signed(line.draw)}")
        elif line.draw < 0:
            out.line(f"      Avance garantie (draw) récupérée : {out.signed(line.draw)}")
        if line.written_off:
            written = out.money(line.written_off)
            out.line(f"      Solde négatif abandonné en fin de période : {written}")
        tail = []
        if line.carried:
            tail.append(f"reste dû par le rep {out.money(line.carried)}")
        if line.advanced:
            tail.append(f"avance à récupérer {out.money(line.advanced)}")
        rest = f" ({' ; '.join(tail)})" if tail else ""
        out.line(f"      Paiement {line.period} : {out.money(line.payment)}{rest}")
        total += line.payment
    return total


def _clawback_text(out: _Writer, plan: Any, taken: Any) -> str:
    window = plan.clawback.days
    why = f" ({taken.reason})" if taken.reason else ""
    head = (
        f"Reprise {taken.deal_id} : annulée le {_date(taken.cancelled_on)}{why}, "
        f"{taken.days} jours après son crédit du {_date(taken.credited_on)}"
    )
    if taken.days > window:
        return f"{head} : hors de la fenêtre de {window} jours, rien n'est repris"
    share = (
        f"prorata ({window} − {taken.days}) / {window} = {out.pct(taken.share)}"
        if plan.clawback.prorata
        else "en totalité"
    )
    return (
        f"{head} ; fenêtre {window} jours, {share} de {out.money(taken.earned)} → "
        f"−{out.money(taken.amount)}"
    )


def _band(out: _Writer, band: Any) -> str:
    left = "[" if band.low_inclusive else "("
    right = "]" if band.high_inclusive else ")"
    show = out.pct if band.on_attainment else out.amount
    high = "..." if band.high is None else show(band.high)
    return f"{left}{show(band.low)}, {high}{right}"


def _piece(out: _Writer, part: Any) -> str:
    numbers = part.piece
    if part.note == "below":
        return f"sous {out.pct(numbers[0])}, la courbe paie {out.pct(numbers[1])}"
    if part.note == "before":
        return f"avant le premier point ({out.pct(numbers[0])}), rien"
    if part.note == "between":
        l0, p0, l1, p1 = numbers
        return (
            f"entre {out.pct(l0)} (payé {out.pct(p0)}) et {out.pct(l1)} (payé "
            f"{out.pct(p1)}), en ligne droite"
        )
    if part.note == "at":
        return f"au point {out.pct(numbers[0])}"
    if part.note == "slope":
        level, pay, slope = numbers
        return f"pente {out.number(slope)} au-delà de {out.pct(level)} (payé {out.pct(pay)})"
    return f"au-delà du dernier point ({out.pct(numbers[0])}), palier à {out.pct(numbers[1])}"


# ============================================================================ words and numbers
class _Writer:
    """Collects lines; formats numbers the French way (7 500,00 €, 87,5 %, 12/02/2026)."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text.rstrip())

    def blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"

    def amount(self, value: Decimal | None) -> str:
        if value is None:
            return "—"
        return _grouped(_cents(value))

    def money(self, value: Decimal | None) -> str:
        return f"{self.amount(value)} {self.currency}"

    def signed(self, value: Decimal) -> str:
        return ("+" if value >= 0 else "−") + self.amount(abs(value))

    def count(self, value: Decimal) -> str:
        return format_french(value.normalize() if value == value.to_integral_value() else value)

    def number(self, value: Decimal | None) -> str:
        return "—" if value is None else format_french(value.normalize())

    def pct(self, value: Decimal | None) -> str:
        if value is None:
            return "—"
        # Truncated, as attainments are shown (engine.pay.format): 99.999% is never "100 %"
        # beside the band below 100% it was paid in.
        percent = (value * 100).quantize(_CENT, rounding=ROUND_FLOOR).normalize()
        return f"{format_french(percent)} %"


def _grouped(value: Decimal) -> str:
    text = format_french(value)
    return text if "," in text else f"{text},00"


def _cents(value: Decimal) -> Decimal:
    return round_money(value, _CENT, "half_up")


def _date(value: dt.date | None) -> str:
    return "—" if value is None else value.strftime("%d/%m/%Y")


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _where(span: Any) -> str:
    return f"{span.path}:{span.line}"


def _snippet(span: Any) -> str | None:
    """The source text of a span (e.g. a quota formula), when its file can be read."""
    if span is None:
        return None
    try:
        text = Path(span.path).read_text(encoding="utf-8")
    except OSError:
        return None
    snippet = text[span.start : span.end].strip()
    snippet = snippet.removeprefix("quota").strip().removeprefix("formula").strip()
    return f"formule {snippet}" if snippet else None


def _role_label(program: Program, role: str | None) -> str | None:
    declared = program.model.roles.get(role) if role else None
    return declared.label if declared is not None else None


def _issue_text(issue: Any) -> str:
    measure = f"[{issue.measure}] " if issue.measure else ""
    return f"{measure}{issue.reason}"
