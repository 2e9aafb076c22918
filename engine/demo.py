"""Deterministic synthetic input tables for demos, tests and benchmarks.

`generate` draws every table from one seeded `numpy.random.Generator`, vectorized, so the same
arguments give the same tables from 100 rows to millions. The tables are text, exactly as
`engine.data.read_table` returns a CSV written by `write`: validation and the engine see generated
data the way they see a client's export.

What makes them realistic: deals are owned by AEs (new logos) or AMs (upsell, renewal), amounts
are log-normal around typical B2B sizes with some round figures (so thresholds such as 50k are
hit exactly), every deal has a stage event for each stage it reached with increasing dates,
won deals reached the last stage, and about 2% of the optional cells are empty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from dsl.canonical import FIRST_DAY, LAST_DAY, TABLES, Column
from engine.schemas import FILE_NAMES, RECORD_NAMES

if TYPE_CHECKING:
    from engine.program import Program

__all__ = [
    "DEFAULT_MEASURES", "DEFAULT_STAGES", "TERRITORIES", "demo_tables", "generate", "write",
]  # fmt: skip

DEFAULT_STAGES = (
    "detection",
    "qualification",
    "discovery",
    "demo",
    "proposal",
    "negotiation",
    "signature",
)
DEFAULT_MEASURES = ("new_logo", "upsell", "renewal")

#: The sample territories of the domain: id -> (name, potential index).
TERRITORIES: dict[str, tuple[str, float]] = {
    "idf": ("Île-de-France", 1.3),
    "ara": ("Auvergne-Rhône-Alpes", 1.0),
    "hdf": ("Hauts-de-France", 0.9),
    "bre": ("Bretagne", 0.7),
}

MISSING_RATE = 0.02

_DEAL_TYPES = ("new_logo", "upsell", "renewal")
_TYPE_SHARES = (0.55, 0.30, 0.15)
_MEDIAN_AMOUNT = {"new_logo": 40_000.0, "upsell": 18_000.0, "renewal": 25_000.0}
_QUOTA_BASE = {"new_logo": 150_000, "upsell": 60_000, "renewal": 40_000}
_DEFAULT_QUOTA = 250_000  # any other measure: a bookings-like quarterly quota
_SOURCES = ("inbound", "outbound", "referral", "partner", "event")
_SOURCE_SHARES = (0.35, 0.25, 0.15, 0.10, 0.15)
_FIRST_NAMES = (
    "Camille", "Léa", "Hugo", "Louis", "Chloé", "Nathan", "Emma", "Lucas", "Manon", "Jules",
    "Inès", "Théo", "Sarah", "Arthur", "Julie", "Paul", "Zoé", "Tom", "Alice", "Maxime",
)  # fmt: skip
_LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
)  # fmt: skip

Ints = npt.NDArray[np.int64]
Range = tuple[float, float]


def generate(
    columns: Mapping[str, tuple[Column, ...]] | None = None,
    n_leads: int = 1_000,
    n_deals: int = 1_000,
    seed: int = 0,
    stages: tuple[str, ...] = DEFAULT_STAGES,
    measures: tuple[str, ...] = DEFAULT_MEASURES,
    ranges: Mapping[tuple[str, str], Range] | None = None,
    year: int = 2026,
    texts: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Generate leads, deals, stage_events, reps, quotas and territories as text tables."""
    if not stages:
        raise ValueError("at least one stage is needed to generate deals")
    if n_leads < 0 or n_deals < 0:
        raise ValueError("table sizes cannot be negative")
    described = {RECORD_NAMES.get(name, name): cols for name, cols in (columns or {}).items()}
    layout = {record: described.get(record, TABLES[record]) for record in FILE_NAMES}
    bounds = {(RECORD_NAMES.get(t, t), c): r for (t, c), r in (ranges or {}).items()}
    known = {(RECORD_NAMES.get(t, t), c): v for (t, c), v in (texts or {}).items()}
    rng = np.random.default_rng(seed)
    gen = _Generator(rng, year, bounds, known)

    territories = gen.territories()
    reps = gen.reps(n_deals)
    deals, events = gen.deals(n_deals, reps, stages)
    leads = gen.leads(n_leads)
    quotas = gen.quotas(reps, measures)
    drawn = {
        "lead": leads,
        "deal": deals,
        "stage_event": events,
        "rep": reps,
        "quota": quotas,
        "territory": territories,
    }
    return {
        FILE_NAMES[record]: gen.table(record, drawn[record], layout[record])
        for record in FILE_NAMES
        if record in drawn  # optional tables (quota relief) are not generated
    }


#: The mapping written beside demo tables: they are canonical already. A mapping in the data
#: folder is used before the ruleset's own (which describes the client's CRM export).
CANONICAL_MAPPING = """\
# Written by `koncept demo`: these tables are the canonical ones, with nothing to translate.
# A mapping.yaml in the data folder is used before the one beside the ruleset (meant for the
# client's CRM export), so `koncept eval --data` reads these files as they are.
tables: {}
"""


def write(tables: Mapping[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """Write each table as `<folder>/<name>.csv` (UTF-8, comma, empty cell = missing), and a
    `mapping.yaml` saying they are canonical."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = target / f"{name}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    mapping = target / "mapping.yaml"
    mapping.write_text(CANONICAL_MAPPING, encoding="utf-8")
    paths.append(mapping)
    return paths


class _Generator:
    """Draws the tables in a fixed order from one random generator."""

    def __init__(
        self,
        rng: np.random.Generator,
        year: int,
        ranges: Mapping[tuple[str, str], Range],
        texts: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
    ):
        self.rng = rng
        self.year = year
        self.ranges = ranges
        self.texts = texts or {}
        self.year_start = np.datetime64(f"{year}-01-01", "D")
        self.year_end = np.datetime64(f"{year}-12-31", "D")
        self.first_day = np.datetime64(FIRST_DAY, "D")
        self.n_ae = self.n_sdr = self.n_am = 0  # set by reps(), which deals() needs first

    # -- tables ------------------------------------------------------------------------------

    def territories(self) -> dict[str, pd.Series[Any]]:
        return {
            "id": _pick(list(TERRITORIES), np.arange(len(TERRITORIES))),
            "name": _pick([name for name, _ in TERRITORIES.values()], np.arange(len(TERRITORIES))),
            "potential": _pick(
                [f"{potential:.1f}" for _, potential in TERRITORIES.values()],
                np.arange(len(TERRITORIES)),
            ),
        }

    def reps(self, n_deals: int) -> dict[str, pd.Series[Any]]:
        # One AE per 2,500 deals keeps a few hundred deals per AE per quarter at any size.
        n_ae = max(3, math.ceil(n_deals / 2_500))
        n_sdr = max(2, math.ceil(n_ae / 2))
        n_am = max(1, math.ceil(n_ae / 3))
        n = n_ae + n_sdr + n_am
        self.n_ae, self.n_sdr, self.n_am = n_ae, n_sdr, n_am
        roles = np.repeat(np.arange(3), (n_ae, n_sdr, n_am))
        potentials = np.array([potential for _, potential in TERRITORIES.values()])
        territory = self.rng.choice(len(TERRITORIES), size=n, p=potentials / potentials.sum())
        first = self.rng.integers(0, len(_FIRST_NAMES), n)
        last = self.rng.integers(0, len(_LAST_NAMES), n)
        names = [f"{_FIRST_NAMES[f]} {_LAST_NAMES[la]}" for f, la in zip(first, last, strict=True)]
        hired = np.datetime64(f"{self.year - 8}-01-01", "D") + self.rng.integers(0, 8 * 365, n)
        hired = np.maximum(hired, self.first_day)  # validation refuses older dates
        return {
            "id": _ids("R", n),
            "name": _pick(names, np.arange(n)),
            "role": _pick(("AE", "SDR", "AM"), roles),
            "territory": _pick(list(TERRITORIES), territory),
            "hire_date": _dates(hired),
        }

    def deals(
        self, n: int, reps: dict[str, pd.Series[Any]], stages: tuple[str, ...]
    ) -> tuple[dict[str, pd.Series[Any]], dict[str, pd.Series[Any]]]:
        rng = self.rng
        n_ae, n_sdr, n_am = self.n_ae, self.n_sdr, self.n_am
        rep_ids = reps["id"].tolist()
        kind = rng.choice(len(_DEAL_TYPES), size=n, p=_TYPE_SHARES)
        # AMs own most upsells and renewals, AEs the rest.
        owner = rng.integers(0, n_ae, n)
        by_am = (kind != 0) & (rng.random(n) < 0.7)
        owner[by_am] = n_ae + n_sdr + rng.integers(0, n_am, int(by_am.sum()))

        medians = np.array([_MEDIAN_AMOUNT[t] for t in _DEAL_TYPES])[kind]
        amount = np.clip(rng.lognormal(np.log(medians), 0.8), 1_000, 2_000_000)
        rounding = rng.random(n)
        cents = np.where(
            rounding < 0.10,
            np.rint(amount / 10_000) * 10_000 * 100,  # round figures: 50k, 120k...
            np.where(rounding < 0.85, np.rint(amount / 100) * 100 * 100, np.rint(amount * 100)),
        ).astype(np.int64)
        cents = np.maximum(cents, 100_000)
        cost = np.rint(cents * rng.uniform(0.3, 0.9, n)).astype(np.int64)

        # won 30%, lost 25%, open 45%; won deals reached the last stage.
        outcome = rng.choice(3, size=n, p=(0.30, 0.25, 0.45))
        last = len(stages) - 1
        reached = np.where(outcome == 0, last, rng.integers(0, len(stages), n))
        counts = reached + 1

        created = self.year_start - 180 + rng.integers(0, 180 + 300, n)
        total = int(counts.sum())
        deal_of_event = np.repeat(np.arange(n), counts)
        first_event = np.cumsum(counts) - counts
        position = np.arange(total) - np.repeat(first_event, counts)
        step = 1 + rng.exponential(9.0, total).astype(np.int64)
        step[position == 0] = 0  # the first stage is entered the day the deal is created
        running = np.cumsum(step)
        offset = running - np.repeat(running[first_event], counts)
        entered = np.repeat(created, counts) + offset
        stage_entered = entered[first_event + reached]
        close = stage_entered + np.where(
            outcome == 2, rng.integers(15, 91, n), rng.integers(1, 31, n)
        )
        # Open deals are alive at the year's end: their current stage was entered in its last
        # weeks (an open deal 400 days into a 14-day stage is not what a pipeline looks like).
        # The lag reuses drawn values, so the random streams of later tables do not move.
        is_open = outcome == 2
        lag = (close - stage_entered).astype(np.int64) % 30
        open_shift = np.where(is_open, self.year_end - 1 - lag - stage_entered, 0).astype(np.int64)
        created = created + open_shift
        stage_entered = stage_entered + open_shift
        close = np.where(
            is_open, stage_entered + 1 + lag // 2, close
        )  # expected close, in the year
        entered = entered + np.repeat(open_shift, counts)
        # Keep every date inside the year: shift a whole deal back rather than clip (no ties).
        excess = np.maximum((close - self.year_end).astype(np.int64), 0)
        created = created - excess
        stage_entered = stage_entered - excess
        close = close - excess
        entered = entered - np.repeat(excess, counts)
        # A deal created before the first day validation accepts (a plan year of 1900) moves
        # forward as a whole; in any later year nothing moves.
        early = np.maximum((self.first_day - created).astype(np.int64), 0)
        created = created + early
        stage_entered = stage_entered + early
        close = close + early
        entered = entered + np.repeat(early, counts)

        deal_ids = _ids("D", n)
        deals = {
            "id": deal_ids,
            "rep_id": _pick(rep_ids, owner),
            "account": _ids("ACC", max(1, n // 3), rng.integers(0, max(1, n // 3), n)),
            "type": _pick(_DEAL_TYPES, kind),
            "amount": _money(cents),
            "cost": _money(cost),
            "stage": _pick(stages, reached),
            "stage_entered_at": _dates(stage_entered),
            "created_at": _dates(created),
            "close_date": _dates(close),
            "status": _pick(("won", "lost", "open"), outcome),
            "contacts": _text(1 + rng.poisson(2.0, n)),
        }
        events = {
            "deal_id": _pick(deal_ids, deal_of_event),
            "stage": _pick(stages, position),
            "entered_at": _dates(entered),
        }
        return deals, events

    def leads(self, n: int) -> dict[str, pd.Series[Any]]:
        created = self.year_start - 90 + self.rng.integers(0, 90 + 365, n)
        created = np.maximum(created, self.first_day)
        source = self.rng.choice(len(_SOURCES), size=n, p=_SOURCE_SHARES)
        return {
            "id": _ids("L", n),
            "created_at": _dates(created),
            "source": _pick(_SOURCES, source),
        }

    def quotas(self, reps: dict[str, pd.Series[Any]], measures: tuple[str, ...]) -> dict[str, Any]:
        carrying = reps["role"].isin(["AE", "AM"]).to_numpy()
        rep_ids = [rep for rep, keep in zip(reps["id"].tolist(), carrying, strict=True) if keep]
        index = {key: value for key, (_, value) in TERRITORIES.items()}
        potential = [index[t] for t, keep in zip(reps["territory"], carrying, strict=True) if keep]
        periods = [f"{self.year}-Q{quarter}" for quarter in range(1, 5)]
        rows = [
            (rep, period, measure, round(_QUOTA_BASE.get(measure, _DEFAULT_QUOTA) * p / 1_000))
            for measure in measures
            for period in periods
            for rep, p in zip(rep_ids, potential, strict=True)
        ]
        return {
            "rep_id": _pick([row[0] for row in rows], np.arange(len(rows))),
            "period": _pick([row[1] for row in rows], np.arange(len(rows))),
            "measure": _pick([row[2] for row in rows], np.arange(len(rows))),
            "quota": _money(np.array([row[3] * 1_000 * 100 for row in rows], dtype=np.int64)),
        }

    # -- columns -----------------------------------------------------------------------------

    def table(
        self, record: str, drawn: Mapping[str, Any], columns: tuple[Column, ...]
    ) -> pd.DataFrame:
        """The described columns in order: drawn ones, then generic draws for client fields."""
        n = len(next(iter(drawn.values()))) if drawn else 0
        data: dict[str, pd.Series[Any]] = {}
        blank_ok = record in ("lead", "deal")  # reference tables stay complete
        for column in columns:
            known = drawn.get(column.name)
            values = self.generic(record, column, n) if known is None else known
            values = pd.Series(values, dtype="str").reset_index(drop=True)
            if blank_ok and not column.required and column.name not in ("id", "deal_id"):
                values = values.mask(self.rng.random(n) < MISSING_RATE)
            data[column.name] = values
        return pd.DataFrame(data, index=pd.RangeIndex(n))

    def generic(self, record: str, column: Column, n: int) -> pd.Series[Any]:
        """Values for a client field from its type (and its range when one is given)."""
        rng = self.rng
        low, high = self.ranges.get((record, column.name), _default_range(column.type))
        if column.type == "one_of" and column.options:
            return _pick(column.options, rng.integers(0, len(column.options), n))
        if column.type == "boolean":
            return _pick(("false", "true"), (rng.random(n) < 0.5).astype(np.int64))
        if column.type == "integer":
            lo, hi = math.ceil(low), math.floor(high)
            if lo >= 1 and hi >= 100 * lo:
                # Wide positive ranges (head counts...) are log-uniform, like real companies.
                drawn = np.exp(rng.uniform(np.log(lo), np.log(hi + 1), n)).astype(np.int64)
                return _text(np.clip(drawn, lo, hi))
            return _text(rng.integers(lo, hi + 1, n))
        if column.type in ("number", "percent"):
            return _text(np.round(rng.uniform(low, high, n), 1 if column.type == "number" else 3))
        if column.type == "money":
            return _money(np.rint(rng.uniform(low, high, n) * 100).astype(np.int64))
        if column.type == "date":
            return _dates(self.year_start + rng.integers(0, 365, n))
        # A text the rules compare with (`sector in ["industrie", "services"]`) is drawn as often
        # as each of a few others, so the sample exercises both sides of the rule.
        compared = self.texts.get((record, column.name), ())
        options = [*compared, *(f"{column.name}_{k}" for k in range(10 - min(len(compared), 7)))]
        return _pick(options, rng.integers(0, len(options), n))


def _default_range(kind: str) -> Range:
    return {
        "integer": (0.0, 10.0),
        "number": (0.0, 100.0),
        "percent": (0.0, 1.0),
        "money": (1_000.0, 100_000.0),
    }.get(kind, (0.0, 1.0))


def _pick(options: Sequence[str] | pd.Series[Any], codes: npt.NDArray[Any]) -> pd.Series[Any]:
    """`options[codes]` as text, decoded by Arrow (building millions of Python strings is slow)."""
    dictionary = pa.array(
        options.array if isinstance(options, pd.Series) else list(options), type=pa.large_string()
    )
    indices = pa.array(np.asarray(codes, dtype=np.int64))
    decoded = pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode()
    return pd.Series(decoded.to_pandas(), dtype="str")


def _text(values: npt.NDArray[Any]) -> pd.Series[Any]:
    """Numbers as text, converting each distinct value once."""
    distinct, codes = np.unique(np.asarray(values), return_inverse=True)
    return _pick([str(value) for value in distinct.tolist()], codes)


def _ids(prefix: str, n: int, numbers: Ints | None = None) -> pd.Series[Any]:
    width = max(4, len(str(n)))
    numbers = np.arange(n) if numbers is None else numbers
    return prefix + pd.Series(numbers + 1).astype("str").str.zfill(width)


def _dates(days: npt.NDArray[np.datetime64]) -> pd.Series[Any]:
    distinct, codes = np.unique(days.astype("datetime64[D]"), return_inverse=True)
    return _pick(np.datetime_as_string(distinct, unit="D").tolist(), codes)


def _money(cents: Ints) -> pd.Series[Any]:
    cents = np.asarray(cents, dtype=np.int64)
    sign = pd.Series(np.where(cents < 0, "-", ""), dtype="str")
    size = np.abs(cents)
    whole = pd.Series(size // 100).astype("str")
    fraction = pd.Series(size % 100).astype("str").str.zfill(2)
    return sign + whole + "." + fraction


def demo_tables(
    program: Program, n_leads: int = 1_000, n_deals: int = 1_000, seed: int = 0
) -> tuple[dict[str, pd.DataFrame], int]:
    """Deterministic synthetic tables for a ruleset (its roles, stages, quota measures and
    plan year), and the year they cover."""
    from engine.schemas import table_columns

    model = program.model
    book = program.book
    years = sorted(p.effective[0].year for p in book.plans.values() if p.effective is not None)
    # Within the years validation accepts (the checker holds a ruleset's dates to them too).
    year = min(max(years[0] if years else 2026, FIRST_DAY.year), LAST_DAY.year)
    ranges = {
        (record, name): (float(kind.range[0]), float(kind.range[1]))
        for record, fields in model.records.items()
        for name, kind in fields.items()
        if kind.range is not None
    }
    tables = generate(
        {record: table_columns(model, record) for record in TABLES},
        n_leads=n_leads,
        n_deals=n_deals,
        seed=seed,
        stages=tuple(program.compiled.stages) or DEFAULT_STAGES,
        measures=tuple(sorted(book.quota_measures)) if book.plans else DEFAULT_MEASURES,
        ranges=ranges,
        year=year,
        texts={
            (record, name): values
            for record, fields in program.compiled.compared_texts.items()
            for name, values in fields.items()
        },
    )
    declared = list(model.roles)
    if declared:
        tables["reps"] = _client_roles(
            tables["reps"], declared, [r for r in declared if book.roles.get(r)]
        )
    return tables, year


def _client_roles(reps: pd.DataFrame, declared: list[str], planned: list[str]) -> pd.DataFrame:
    """The generated team (AE, SDR, AM) in the ruleset's roles.

    A quota-carrying rep (AE, AM) of a role the ruleset lacks takes its first role with a plan
    (maven: agents); an SDR of a missing role takes a role without a plan, or leaves (SDRs own
    no deal and have no quota, so nothing else changes).
    """
    role = reps["role"]
    known = role.isin(declared)
    carrying = ~known & role.isin(["AE", "AM"])
    unplanned = [r for r in declared if r not in planned]
    renamed = role.mask(carrying, (planned or declared)[0])
    if unplanned:
        renamed = renamed.mask(~known & ~carrying, unplanned[0])
        return reps.assign(role=renamed)
    return reps.assign(role=renamed)[(known | carrying).to_numpy()].reset_index(drop=True)
