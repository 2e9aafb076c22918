"""Syntax errors in words a consultant knows: what the parser expected ("a percentage like
80%", not a terminal name), targeted help for common mistakes (`=` for `==`, a decimal comma,
a misspelt keyword, an unclosed brace), and where to resume after an error (the next top-level
item), so that every error of a file is reported at once."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from dsl.diagnostics import Diagnostic, did_you_mean, either
from dsl.source import SourceFile

#: Limits, documented in docs/language.md. Brackets (`{ ( [`) open at once, counted on the text.
MAX_NESTING = 64
#: Levels of one expression, counted on its tree: a chain of `and`, `or`, `+` ... folds to the
#: left, so `a and b and c` is 3 deep. The typer, formatter and both evaluators recurse on
#: expressions; this keeps them well within Python's default recursion limit.
MAX_EXPRESSION_DEPTH = 100

TOP_LEVEL_KEYWORDS = (
    "ruleset", "record", "strategy", "score", "qualify", "pipeline", "playbook", "kpi", "role",
    "plan", "alert", "ritual",
)  # fmt: skip
_ITEM_START = re.compile(rf"^(?:{'|'.join(TOP_LEVEL_KEYWORDS)})\b", re.MULTILINE)

#: How a consultant would name what the parser expected, by terminal name.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": 'a quoted label like "Budget"',
    "NUMBER": "a number like 50K or 40_000",
    "PERCENT": "a percentage like 80%",
    "DATE": "a date like 2026-01-01",
    "DURATION": "a duration like 14d",
    "COMP_OP": "a comparison like >= or ==",
    "SCALAR_TYPE": "a type (text, number, integer, money, percent, boolean, date or one_of)",
    "CURRENCY": "a currency like EUR",
    "OPEN_END": "`...`",
    "COUNT": "`count`",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "SINGLE_EQ": "`=`",
    "$END": "the end of the file",
}


_OPENERS = {"{": "}", "(": ")", "[": "]"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}


#: A comment, a string (up to its closing quote or the end of its line), or a bracket.
_BRACKET_SCAN = re.compile(r'#[^\n]*|"(?:[^"\\\n]|\\[\s\S])*"?|[{}()\[\]]')


def _brackets(text: str) -> Iterable[tuple[int, str]]:
    """(offset, char) of every bracket outside strings and comments (one regex pass)."""
    for match in _BRACKET_SCAN.finditer(text):
        char = match.group()
        if char in _OPENERS or char in _CLOSERS:
            yield match.start(), char


def nesting_diagnostics(source: SourceFile) -> list[Diagnostic]:
    depth = 0
    for offset, char in _brackets(source.text):
        depth += 1 if char in _OPENERS else -1
        if depth > MAX_NESTING:
            return [
                Diagnostic(
                    "E004",
                    f"brackets nested more than {MAX_NESTING} deep",
                    source.span(offset, offset + 1),
                    help="split the expression, or check for a runaway bracket",
                )
            ]
    return []


def _unclosed(text: str, start: int, end: int) -> int | None:
    """The offset of the first bracket opened in text[start:end] and not closed within it."""
    stack: list[int] = []
    for offset, char in _brackets(text[start:end]):
        if char in _OPENERS:
            stack.append(start + offset)
        elif stack and text[stack[-1]] == _CLOSERS[char]:
            stack.pop()
    return stack[0] if stack else None


def _item_starts(text: str) -> list[int]:
    return [m.start() for m in _ITEM_START.finditer(text)]


def _item_region(text: str, offset: int) -> tuple[int, int]:
    """The top-level item around an offset: from its keyword to the next top-level keyword."""
    starts = _item_starts(text)
    before = [s for s in starts if s <= offset]
    after = [s for s in starts if s > offset]
    return (before[-1] if before else 0), (after[0] if after else len(text))


def _describe(terminal: str, patterns: dict[str, str]) -> str:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    pattern = patterns.get(terminal)
    return f"`{pattern}`" if pattern else terminal.lower()


@functools.cache
def _terminal_patterns(lark: Lark) -> dict[str, str]:
    """The fixed text of each terminal of the grammar (keywords, operators)."""
    return {t.name: t.pattern.value for t in lark.terminals if t.pattern.type == "str"}


def _expected_words(expected: Iterable[str], patterns: dict[str, str]) -> str:
    words = sorted(
        {_describe(t, patterns) for t in expected}, key=lambda w: (not w.startswith("a"), w)
    )
    if len(words) > 6:
        words = [*words[:5], f"{len(words) - 5} other things"]
    return either(words)


def _keywords(expected: Iterable[str], patterns: dict[str, str]) -> list[str]:
    return [patterns[t] for t in expected if t in patterns and patterns[t].isidentifier()]


def syntax_diagnostic(
    source: SourceFile, text: str, error: UnexpectedInput, lark: Lark
) -> tuple[Diagnostic, tuple[int, int] | None]:
    """Turn a Lark error into a diagnostic in the user's words, and the region to skip."""
    patterns = _terminal_patterns(lark)
    if isinstance(error, UnexpectedCharacters):
        offset = error.pos_in_stream or 0
        char = text[offset]
        help_text = None
        if char == "'":
            help_text = 'labels use double quotes: "Budget"'
        elif char == "=" and text[offset : offset + 2] == "=>":
            help_text = "write `>=` for 'at least'"
        elif not char.isascii() and char.isalpha():
            help_text = "ids are ASCII (budget_confirme); put accents in quoted labels"
        elif char == "\x00" or not char.isprintable():
            help_text = "this is not a text file, or it holds a control character"
        shown = char if char.isprintable() else f"\\x{ord(char):02x}"
        diagnostic = Diagnostic(
            "E103", f"invalid character `{shown}`", source.span(offset, offset + 1), help=help_text
        )
        return diagnostic, _skip(text, offset)
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        offset = len(text.rstrip())
        region_start, _ = _item_region(text, max(0, offset - 1))
        unclosed = _unclosed(text, region_start, len(text))
        if unclosed is not None:
            line, _ = source.position(unclosed)
            opener = text[unclosed]
            return Diagnostic(
                "E105",
                f"this `{opener}` is never closed",
                source.span(unclosed, unclosed + 1),
                help=f"add `{_OPENERS[opener]}` to close what line {line} opens",
            ), None
        expected = error.expected if isinstance(error, UnexpectedToken) else set(error.expected)
        return Diagnostic(
            "E102",
            f"unexpected end of file: expected {_expected_words(expected, patterns)}",
            source.span(offset, offset),
        ), None
    assert isinstance(error, UnexpectedToken)
    token = error.token
    offset = token.start_pos or 0
    end = token.end_pos or offset + len(token.value)
    span = source.span(offset, end)
    expected = set(error.expected)
    # A new top-level item while a bracket is open: the `}` (or `)`) before it is missing.
    starts = [start for start in _item_starts(text) if start <= offset]
    if len(starts) >= 2 or (starts and starts[-1] == offset):
        item, following = (starts[-2], starts[-1]) if len(starts) >= 2 else (0, starts[-1])
        unclosed = _unclosed(text, item, following)
        if unclosed is not None:
            keyword = text[following : following + 12].split()[0]
            opener = text[unclosed]
            line, _ = source.position(following)
            return Diagnostic(
                "E105",
                f"this `{opener}` is not closed before `{keyword}` on line {line}",
                source.span(unclosed, unclosed + 1),
                help=f"add the missing `{_OPENERS[opener]}`",
            ), (item, following)
    timed = _date_with_time(text, offset)
    if timed is not None:
        start, end = timed
        return Diagnostic(
            "E107",
            f"`{text[start:end]}` is not a date: a ruleset date has no time of day",
            source.span(start, end),
            help=f"write the day alone: {text[start : start + 10]}",
        ), _skip(text, offset)
    comma = offset if token.type == "COMMA" else offset - 1
    if _decimal_comma(text, comma):
        return Diagnostic(
            "E106",
            "decimal comma in a number",
            source.span(comma - 1, comma + 2),
            help="write decimals with a dot: 0.01, 12.5%",
        ), _skip(text, offset)
    message = f"unexpected {_found(token)}: expected {_expected_words(expected, patterns)}"
    help_text = None
    if token.type == "NAME":
        help_text = did_you_mean(token.value, _keywords(expected, patterns))
    if token.type == "RBRACE" and _unclosed(text, 0, offset) is None:
        help_text = "this `}` closes nothing: remove it, or look for a missing `{`"
    if "PERCENT" in expected and token.type == "NUMBER":
        help_text = f"add a percent sign: {token.value}%"
    if token.type == "STRING" and expected & {"NAME"} and "STRING" not in expected:
        help_text = "ids are written without quotes; quotes are for labels"
    return Diagnostic("E101", message, span, help=help_text), _skip(text, offset)


def _found(token: Token) -> str:
    if token.type == "NAME":
        return f"name `{token.value}`"
    if token.type == "STRING":
        return f"label {token.value}"
    return f"`{token.value}`"


_DATE_BEFORE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T|[ \t]{0,4})$")
_TIME_AT = re.compile(r"T?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?")


def _date_with_time(text: str, offset: int) -> tuple[int, int] | None:
    """The span of `2026-02-01 25:99` when the parser stopped at its time, else None."""
    before = _DATE_BEFORE.search(text, max(0, offset - 14), offset)
    time = _TIME_AT.match(text, offset)
    if before is None or time is None:
        return None
    return before.start(), time.end()


def _decimal_comma(text: str, comma: int) -> bool:
    return (
        0 < comma < len(text) - 1
        and text[comma] == ","
        and text[comma - 1].isdigit()
        and text[comma + 1].isdigit()
    )


def _skip(text: str, offset: int) -> tuple[int, int] | None:
    start, end = _item_region(text, offset)
    return (start, end) if end > offset else None
