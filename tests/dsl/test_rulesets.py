"""The client rulesets (the four briefs and the maven-crm export): they parse, check clean in
strict mode, are formatted canonically, and together use every construct of the language."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from lark import Lark, Token

from dsl import nodes as n
from dsl.diagnostics import CODES
from dsl.formatter import format_text
from dsl.parser import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_SYNTAX_ERRORS_PER_FILE,
    ParsedFile,
    parse,
    read_source,
    ruleset_files,
)
from dsl.syntax import MAX_NESTING
from dsl.workspace import load_workspace

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
#: The client rulesets and the practice's house template (contech-saas and fintech extend it).
CLIENTS = ("contech-saas", "fintech", "house", "industrie-services", "maven-crm", "services-b2b")

#: Grammar alternatives that no clean ruleset can hold, and why.
NOT_IN_CLIENT_RULESETS = {
    # `a = b` parses only to be reported (E104, "write `==`"): it is never valid.
    "single_eq": "always an error",
    # Unary minus: no client brief has a negative quantity to write (the parser tests cover it).
    "negate": "no negative quantity in any brief",
    # contech-saas's one curve is shared by three measures, so it is a named definition; no
    # client writes a curve for one measure only (tests/dsl/test_definitions.py covers both).
    "curve": "every client curve is shared, so named",
    # No client repeats a rate or step table: each is written in the one measure that pays it.
    "rates_def": "no client shares a rate table",
    "use_rates": "no client shares a rate table",
    "steps_def": "no client shares a step table",
    "use_steps": "no client shares a step table",
    # No client brief pays a SPIFF: the worked examples are tests/engine/spiff_ramp's.
    "spiff": "no client brief has a SPIFF",
    "spiff_pay": "no client brief has a SPIFF",
    "spiff_amount": "no client brief has a SPIFF",
    "spiff_window": "no client brief has a SPIFF",
    "spiff_cap": "no client brief has a SPIFF",
    # No brief pays over time (monthly advances, draws, clawbacks, a plan change mid-year): the
    # worked examples are docs/examples/pay-over-time's.
    "pays": "no client brief pays more often than it measures",
    "true_up": "no client brief pays more often than it measures",
    "draw": "no client brief has a draw",
    "draw_share": "no client brief has a draw",
    "clawback": "no client brief has a clawback",
    "supersedes": "no client brief changes a plan mid-year",
}
#: AST node classes of those constructs (and only those).
NODES_NOT_IN_CLIENT_RULESETS = {
    "Spiff": "spiff", "SpiffWindow": "spiff_window", "Pays": "pays", "TrueUp": "true_up",
    "Draw": "draw", "Clawback": "clawback", "Supersedes": "supersedes",
}  # fmt: skip


@functools.cache
def _parsed(client: str) -> tuple[ParsedFile, ...]:
    paths, problems = ruleset_files([RULESETS / client])
    assert problems == []
    parsed = []
    for path in paths:
        source, errors = read_source(path, str(path.relative_to(RULESETS)))
        assert errors == [] and source is not None
        parsed.append(parse(source))
    return tuple(parsed)


def _modules(client: str) -> list[n.Module]:
    modules = [p.module for p in _parsed(client)]
    assert all(m is not None for m in modules)
    return [m for m in modules if m is not None]


def _all_files() -> list[Path]:
    return sorted(RULESETS.glob("*/*.krl"))


def test_the_clients_are_there_and_split_into_files() -> None:
    folders = sorted(p.name for p in RULESETS.iterdir() if p.is_dir())
    assert folders == sorted(CLIENTS)
    for client in CLIENTS:
        assert len(_parsed(client)) >= 3, f"{client} should be split into a few files"


@pytest.mark.parametrize("client", CLIENTS)
def test_ruleset_parses_without_diagnostics(client: str) -> None:
    for parsed in _parsed(client):
        assert parsed.diagnostics == (), parsed.source.path
        assert parsed.module is not None


@pytest.mark.parametrize("client", CLIENTS)
def test_ruleset_has_exactly_one_header(client: str) -> None:
    headers = [d for m in _modules(client) for d in m.declarations if isinstance(d, n.Ruleset)]
    assert len(headers) == 1
    assert headers[0].name.name == client.replace("-", "_")
    currency = "USD" if client == "maven-crm" else "EUR"  # the export's amounts are dollars
    assert headers[0].currency is not None and headers[0].currency.name == currency


@pytest.mark.parametrize("client", CLIENTS)
def test_ruleset_checks_clean_in_strict_mode(client: str) -> None:
    # Loaded as `koncept check` loads it: with the templates it extends.
    loaded = load_workspace([RULESETS / client], strict=True)
    assert list(loaded.diagnostics) == []
    assert loaded.rulesets[0].result is not None


@pytest.mark.parametrize("path", _all_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_file_is_formatted_canonically(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    result = format_text(text, str(path))
    assert list(result.diagnostics) == []
    assert result.output == text


# ----------------------------------------------------------------------------- coverage
def _walk(value: object) -> Iterator[object]:
    """Every AST node under value, value included."""
    if isinstance(value, tuple):
        for item in value:
            yield from _walk(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield value
        for f in dataclasses.fields(value):
            yield from _walk(getattr(value, f.name))


@functools.cache
def _used_nodes() -> tuple[object, ...]:
    found: list[object] = []
    for client in CLIENTS:
        for parsed in _parsed(client):
            found.extend(_walk(parsed.module))
            found.extend(parsed.comments)
    return tuple(found)


def _node_classes() -> set[type]:
    return {
        value
        for value in vars(n).values()
        if isinstance(value, type)
        and dataclasses.is_dataclass(value)
        and value.__module__ == n.__name__
    }


def test_every_node_class_is_used() -> None:
    used = {type(node) for node in _used_nodes()}
    missing = sorted(c.__name__ for c in _node_classes() - used)
    assert [name for name in missing if name not in NODES_NOT_IN_CLIENT_RULESETS] == []
    assert set(NODES_NOT_IN_CLIENT_RULESETS.values()) <= set(NOT_IN_CLIENT_RULESETS)


def test_every_variant_of_a_node_is_used() -> None:
    """The options a node class alone does not show: each is written somewhere."""
    nodes = _used_nodes()

    def some(kind: type, test: object) -> bool:
        return any(isinstance(x, kind) and test(x) for x in nodes)  # type: ignore[operator]

    variants = {
        "number with _": some(n.Number, lambda x: "_" in x.raw),
        "number with K": some(n.Number, lambda x: "K" in x.raw),
        "number with M": some(n.Number, lambda x: "M" in x.raw),
        "decimal number": some(n.Number, lambda x: "." in x.raw),
        "currency symbol": some(n.Number, lambda x: x.currency == "€"),
        "currency code": some(n.Number, lambda x: x.currency == "EUR"),
        "duration in days": some(n.Duration, lambda x: x.raw.endswith("d")),
        "duration in weeks": some(n.Duration, lambda x: x.raw.endswith("w")),
        "string with an escape": some(n.Action, lambda x: '"' in x.text),
        "true": some(n.Bool, lambda x: x.value),
        "false": some(n.Bool, lambda x: not x.value),
        "dotted reference": some(n.Ref, lambda x: len(x.parts) > 1),
        "not in": some(n.Membership, lambda x: x.negated),
        "in a range": some(n.Membership, lambda x: isinstance(x.collection, n.RangeExpr)),
        "is missing": some(n.IsMissing, lambda x: not x.negated),
        "is not missing": some(n.IsMissing, lambda x: x.negated),
        "not": some(n.Unary, lambda x: x.op == "not"),
        "or": some(n.Binary, lambda x: x.op == "or"),
        "aggregate with where": some(n.Call, lambda x: x.where is not None),
        "integer range type": some(n.TypeSpec, lambda x: x.range is not None),
        "one_of with labels": some(n.Option, lambda x: x.label is not None),
        "criterion of a field": some(n.Criterion, lambda x: x.of is not None),
        "knockout status": some(n.StatusRule, lambda x: x.knockout),
        "route otherwise": some(n.Route, lambda x: x.condition is None),
        "require before a stage": some(n.Requirement, lambda x: x.before is not None),
        "recommend": some(n.Requirement, lambda x: x.kind == "recommend"),
        "count credit": some(n.Credit, lambda x: x.value is None),
        "credit to and dated": some(n.Credit, lambda x: x.to is not None and x.dated is not None),
        "open-ended band": some(n.Band, lambda x: x.high is None),
        "rates on a basis": some(n.Rates, lambda x: x.basis is not None),
        "rates retroactive": some(n.Rates, lambda x: x.method.name == "retroactive"),
        "rates marginal": some(n.Rates, lambda x: x.method.name == "marginal"),
        "threshold gate": some(n.Threshold, lambda x: x.mode.name == "gate"),
        "threshold floor": some(n.Threshold, lambda x: x.mode.name == "floor"),
        "slope with an end": some(n.CurveSlope, lambda x: x.until is not None),
        "slope to infinity": some(n.CurveSlope, lambda x: x.until is None),
        "cap on a plan": some(n.Plan, lambda x: any(isinstance(i, n.Cap) for i in x.items)),
        "cap on a measure": some(n.Measure, lambda x: any(isinstance(i, n.Cap) for i in x.items)),
        "role with two plans": some(n.RolePlans, lambda x: len(x.names) == 2),
    }
    assert [name for name, used in variants.items() if not used] == []


@functools.cache
def _lark() -> Lark:
    grammar = resources.files("dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", maybe_placeholders=False)


def _grammar_constructs() -> set[str]:
    """Every rule or alternative of the grammar that shows in a parse tree."""
    names = set()
    for rule in _lark().rules:
        name = str(rule.alias or rule.origin.name)
        kept = [s for s in rule.expansion if not (s.is_term and getattr(s, "filter_out", False))]
        if name.startswith("_") or (rule.options.expand1 and not rule.alias and len(kept) == 1):
            continue  # inlined: never a node of its own
        names.add(name)
    return names


def _grammar_terminals() -> set[str]:
    """The named terminals the grammar defines (`NAME: ...`, `PERCENT.2: ...`)."""
    grammar = resources.files("dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Z][A-Z_]*)(?:\.\d+)?:", grammar, re.MULTILINE))


@functools.cache
def _used_in_trees() -> tuple[set[str], set[str]]:
    """The rule names and terminal types in the parse trees of every ruleset file."""
    rules: set[str] = set()
    tokens: set[str] = set()
    for path in _all_files():
        tree = _lark().parse(path.read_text(encoding="utf-8"))
        for sub in tree.iter_subtrees():
            rules.add(str(sub.data))
            tokens.update(c.type for c in sub.children if isinstance(c, Token))
    return rules, tokens


def test_every_grammar_construct_is_used() -> None:
    rules, tokens = _used_in_trees()
    assert sorted(_grammar_constructs() - rules - set(NOT_IN_CLIENT_RULESETS)) == []
    # Comments are skipped by the grammar; the parser hands them over separately.
    unused_terminals = _grammar_terminals() - tokens - {"SINGLE_EQ", "COMMENT"}
    assert sorted(unused_terminals) == []
    assert any(isinstance(node, n.Comment) for node in _used_nodes())


def test_the_exclusions_are_real() -> None:
    rules, _ = _used_in_trees()
    # An exclusion names a real construct, and one that a ruleset starts using leaves the list.
    assert set(NOT_IN_CLIENT_RULESETS) <= _grammar_constructs()
    assert set(NOT_IN_CLIENT_RULESETS) & rules == set()


# ----------------------------------------------------------------------------- the reference
def test_language_reference_lists_every_diagnostic_code() -> None:
    doc = (RULESETS.parent / "docs" / "language.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| ([EW]\d{3}) \| ([^|]+?)(?: \(warning\))? \|$", doc, re.MULTILINE))
    assert rows == CODES


def test_language_reference_states_the_parser_limits() -> None:
    doc = (RULESETS.parent / "docs" / "language.md").read_text(encoding="utf-8")
    for limit in (MAX_FILE_BYTES, MAX_FILES, MAX_NESTING, MAX_SYNTAX_ERRORS_PER_FILE):
        assert f"| {limit:,} " in doc or f"| {limit} " in doc, limit
