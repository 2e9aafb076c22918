"""Fuzzing: whatever the input, the tools answer with diagnostics or success, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl.check import check
from dsl.diagnostics import Diagnostic, render_all
from dsl.formatter import format_text
from dsl.parser import parse, read_source
from dsl.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
VALID = sorted(
    [*(ROOT / "rulesets").rglob("*.krl"), Path(__file__).parent / "samples" / "all_constructs.krl"]
)
TEXTS = [path.read_text(encoding="utf-8") for path in VALID]
TOKENS = [
    "{", "}", "(", ")", "[", "]", ",", ":", "->", "==", "=", ">=", "<", "..", "...", "%", "50K",
    "0.01", "2026-01-01", "14d", '"label"', "when", "otherwise", "score", "stage", "plan",
    "measure", "exit", "and", "or", "not", "in", "is", "missing", "#", "\n", "é", "\x00", "'",
]  # fmt: skip


def _all_diagnostics(text: str) -> list[Diagnostic]:
    """Parse, check and format one text as the CLI would; every outcome must be a diagnostic."""
    source = SourceFile("fuzz.krl", text)
    parsed = parse(source)
    found = list(parsed.diagnostics)
    if parsed.module is not None:
        found.extend(check([parsed.module]).diagnostics)
        formatted = format_text(text, "fuzz.krl")
        assert formatted.output is not None or formatted.diagnostics
    render_all(found, {"fuzz.krl": source})  # rendering must not fail either
    for diagnostic in found:
        assert 0 <= diagnostic.span.start <= diagnostic.span.end <= len(text)
        assert diagnostic.message
    return found


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid ruleset with a few random cuts, insertions and replacements."""
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "truncate", "duplicate"]))
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        elif kind == "insert":
            text = text[:at] + " " + draw(st.sampled_from(TOKENS)) + " " + text[at:]
        elif kind == "truncate":
            text = text[:at]
        else:
            end = min(len(text), at + draw(st.integers(1, 200)))
            text = text[:end] + text[at:end] + text[end:]
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_rulesets_give_only_diagnostics(text: str) -> None:
    _all_diagnostics(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(TOKENS) | st.text(max_size=3), max_size=80))
def test_random_text_gives_only_diagnostics(pieces: list[str]) -> None:
    _all_diagnostics(" ".join(pieces))


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_give_only_diagnostics(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    folder = tmp_path_factory.mktemp("bytes")
    path = folder / "random.krl"
    path.write_bytes(data)
    source, problems = read_source(path)
    if source is None:
        assert [p.code for p in problems] == ["E002"]
    else:
        _all_diagnostics(source.text)


def test_every_valid_ruleset_checks_clean_alone_or_reports() -> None:
    # The unmutated inputs parse; the fuzz tests above start from real rulesets.
    for path, text in zip(VALID, TEXTS, strict=True):
        assert parse(SourceFile(str(path), text)).diagnostics == (), path
