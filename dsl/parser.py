"""Source text -> typed AST. The only module that sees Lark; errors come out as diagnostics."""

from __future__ import annotations

import datetime as dt
import errno
import functools
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, UnexpectedToken

from dsl import nodes as n
from dsl.canonical import FIRST_DAY, LAST_DAY
from dsl.diagnostics import Diagnostic
from dsl.source import SourceFile, Span
from dsl.syntax import MAX_EXPRESSION_DEPTH, nesting_diagnostics, syntax_diagnostic

#: Limits, documented in docs/language.md; past them a diagnostic is reported, never a crash.
MAX_FILE_BYTES = 2_000_000
MAX_FILES = 1_000
MAX_SYNTAX_ERRORS_PER_FILE = 20


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """One file's AST (None when it has syntax errors), its comments and its diagnostics."""

    source: SourceFile
    module: n.Module | None
    comments: tuple[n.Comment, ...]
    diagnostics: tuple[Diagnostic, ...]


_parsing = threading.local()  # the builder and comment list of the parse under way


def _collect_comment(token: Token) -> Token:
    # The grammar ignores comments; the lexer hands each one here on its way past.
    _parsing.comments.append(token)
    return token


class _Dispatch:
    """Lark's inline transformer: each reduced rule goes straight to the current AST builder.

    Building nodes during the parse, instead of a Lark tree transformed afterwards, halves the
    parse time of large rulesets; the builder computes spans from the tokens itself.
    """

    def __default__(self, rule: str, children: list[Any], meta: object) -> Any:
        return _parsing.builder.build(rule, children)


@functools.cache
def _lark() -> Lark:
    grammar = resources.files("dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        keep_all_tokens=True,  # keywords and brackets too, so spans cover whole constructs
        maybe_placeholders=False,
        transformer=_Dispatch(),
        lexer_callbacks={"COMMENT": _collect_comment},
        # The LALR tables take ~0.25 s to build; Lark caches them in a temp file (by grammar
        # hash) so `koncept check` starts fast. An unwritable temp dir only costs the time.
        cache=True,
    )


def _keyword_as_name(error: UnexpectedInput) -> bool:
    """Keywords are only keywords where the grammar expects them: retry one as a plain name.

    The contextual lexer prefers a keyword wherever one may follow in any context sharing the
    parser state, so `status` or `budget` can arrive as keywords where a field name is meant.
    """
    if not isinstance(error, UnexpectedToken) or error.interactive_parser is None:
        return False
    token = error.token
    if token.type == "NAME" or "NAME" not in error.expected:
        return False
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(token.value)):
        return False
    error.interactive_parser.feed_token(Token.new_borrow_pos("NAME", str(token.value), token))
    return True


# ----------------------------------------------------------------------------- reading files
def read_source(
    path: Path, display: str | None = None
) -> tuple[SourceFile | None, list[Diagnostic]]:
    """Read one file as UTF-8 within the size limit; problems come back as diagnostics."""
    name = display or str(path)
    empty = SourceFile(name, "")
    try:
        data = path.read_bytes()
    except OSError as error:
        return None, [Diagnostic("E001", f"cannot read file: {error.strerror}", empty.span(0, 0))]
    if len(data) > MAX_FILE_BYTES:
        return None, [
            Diagnostic(
                "E003",
                f"file is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,}",
                empty.span(0, 0),
                help="split the ruleset into several .krl files in one folder",
            )
        ]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        good = data[: error.start].decode("utf-8", errors="replace")
        source = SourceFile(name, good)
        return None, [
            Diagnostic(
                "E002",
                f"invalid UTF-8 byte 0x{data[error.start]:02x}",
                source.span(len(good), len(good)),
                help="save the file as UTF-8 (most editors: 'Save with encoding')",
            )
        ]
    return SourceFile(name, text), []


def ruleset_files(paths: Iterable[Path]) -> tuple[list[Path], list[Diagnostic]]:
    """The `.krl` files named by paths (files, or folders searched recursively), sorted.

    A named folder without any `.krl` file, a named file that is not a `.krl` file, and a
    symbolic link that loops or leads nowhere are input errors (E001), never silence.
    """
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for path in paths:
        where = SourceFile(str(path), "").span(0, 0)
        broken = _broken_link(path)
        if broken is not None:
            problems.append(Diagnostic("E001", broken, where))
        elif path.is_dir():
            files, unusable = _krl_files(path)
            found.extend(files)
            problems.extend(
                Diagnostic("E001", reason, SourceFile(str(place), "").span(0, 0))
                for place, reason in unusable
            )
            if not files and not unusable:
                problems.append(
                    Diagnostic(
                        "E001",
                        f"no .krl file found in {path}",
                        where,
                        help="name a folder holding .krl ruleset files, or the files themselves",
                    )
                )
        elif path.is_file():
            if path.suffix == ".krl":
                found.append(path)
            else:
                problems.append(
                    Diagnostic(
                        "E001",
                        "not a .krl file",
                        where,
                        help="rulesets are .krl files; name them, or the folder holding them",
                    )
                )
        else:
            problems.append(Diagnostic("E001", "no such file or folder", where))
    if len(found) > MAX_FILES:
        problems.append(
            Diagnostic(
                "E003",
                f"{len(found):,} ruleset files; the limit is {MAX_FILES:,}",
                SourceFile(str(found[0]), "").span(0, 0),
            )
        )
        found = found[:MAX_FILES]
    return found, problems


def _broken_link(path: Path) -> str | None:
    """Why a path is a symbolic link that cannot be followed, or None."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symbolic link loop"
        return "broken symbolic link: its target does not exist"
    return None


def _krl_files(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The `.krl` files under a folder, sorted, and what cannot be read there: a `.krl` link
    that cannot be followed, a folder that cannot be listed.

    Linked folders are not entered (as pathlib's rglob did), so a link to a parent cannot
    loop and no file is read twice; a linked `.krl` file is read when it leads to a file.
    """
    files: list[Path] = []
    unusable: list[tuple[Path, str]] = []

    def unreadable(error: OSError) -> None:
        unusable.append((Path(error.filename or folder), f"cannot read folder: {error.strerror}"))

    for root, _folders, names in os.walk(folder, onerror=unreadable):
        for name in names:
            if not name.endswith(".krl"):
                continue
            path = Path(root, name)
            broken = _broken_link(path)
            if broken is not None:
                unusable.append((path, broken))
            elif path.is_file():
                files.append(path)
    return sorted(files), sorted(unusable)


# ----------------------------------------------------------------------------- parsing
def parse(source: SourceFile) -> ParsedFile:
    """Parse one source file; all syntax errors (up to a limit) are collected.

    After a syntax error the parse resumes at the next top-level item, with everything before
    it blanked out (offsets kept): the file is read once in all, not once per error, so the
    time stays linear in its size however many errors it holds.
    """
    diagnostics = nesting_diagnostics(source)
    if diagnostics:
        return ParsedFile(source, None, (), tuple(diagnostics))
    text = source.text
    blanked = 0  # text[:blanked] is spaces and newlines: read by an earlier attempt
    earlier: list[Diagnostic] = []  # what the builder found in the items read before an error
    comments: list[Token] = []
    for _ in range(MAX_SYNTAX_ERRORS_PER_FILE):
        builder = _AstBuilder(source)
        _parsing.builder, _parsing.comments = builder, (comments := [])
        try:
            module: n.Module = _lark().parse(text, on_error=_keyword_as_name)  # type: ignore[assignment]
        except UnexpectedInput as error:
            diagnostic, region = syntax_diagnostic(source, text, error, _lark())
            diagnostics.append(diagnostic)
            cut = diagnostic.span.start if region is None else region[0]
            earlier.extend(d for d in builder.diagnostics if d.span.end <= cut)
            if region is None:
                break
            end = region[1]
            text = text[:blanked] + re.sub(r"[^\n]", " ", text[blanked:end]) + text[end:]
            blanked = end
            continue
        finally:
            _parsing.builder = _parsing.comments = None
        diagnostics.extend([*earlier, *builder.diagnostics])
        found = tuple(n.Comment(c.value.rstrip(), span=_token_span(source, c)) for c in comments)
        return ParsedFile(source, None if diagnostics else module, found, tuple(diagnostics))
    return ParsedFile(source, None, (), (*diagnostics, *earlier))


# ----------------------------------------------------------------------------- tree -> AST
def _token_span(source: SourceFile, token: Token) -> Span:
    start = token.start_pos or 0
    end = token.end_pos if token.end_pos is not None else start + len(token.value)
    return source.span(start, end)


def _decimal(raw: str) -> Decimal:
    text = raw.replace("_", "")
    scale = Decimal(1)
    if text[-1:] in ("K", "M"):
        scale = Decimal(1000) if text[-1] == "K" else Decimal(1_000_000)
        text = text[:-1]
    return Decimal(text) * scale


_Handler = Callable[..., Any]


def _rule(method: _Handler) -> _Handler:
    """Mark a transformer method as taking (children, span)."""
    method.__dict__["krl_rule"] = True
    return method


#: Terminals that carry meaning; every other token is a keyword or punctuation, kept only so
#: that a construct's span starts at its keyword and ends at its closing bracket.
_MEANINGFUL = frozenset(
    {
        "NAME", "STRING", "NUMBER", "PERCENT", "DATE", "DURATION", "COMP_OP", "CURRENCY",
        "COUNT", "OPEN_END", "TRUE", "FALSE", "SCALAR_TYPE",
    }
)  # fmt: skip
_KEEP_ALL = frozenset({"band_open", "band_close", "signed_number", "single_eq", "spiff_amount"})


def _start(child: Any) -> int | None:
    if isinstance(child, Token):
        return child.start_pos
    span = getattr(child, "span", None)
    if span is not None:
        return int(span.start)
    if isinstance(child, tuple | list) and child:
        return _start(child[-1] if isinstance(child, tuple) else child[0])
    return None


def _end(child: Any) -> int | None:
    if isinstance(child, Token):
        return child.end_pos
    span = getattr(child, "span", None)
    if span is not None:
        return int(span.end)
    if isinstance(child, tuple | list) and child:
        return _end(child[-1])
    return None


class _AstBuilder:
    """Builds typed nodes as the parser reduces rules; no Lark object survives it."""

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self._tokens = {
            "PERCENT": self.PERCENT,
            "DATE": self.DATE,
            "DURATION": self.DURATION,
            "STRING": self.STRING,
        }
        # The depth of each compound expression not yet inside another (leaves are 1 deep);
        # the node is kept beside its depth so that its id cannot be reused by another node.
        self._depths: dict[int, tuple[n.Expr, int]] = {}

    def build(self, rule: str, children: list[Any]) -> Any:
        """Reduce one rule: its span from first to last token, then its typed node."""
        if rule.startswith("_"):  # grouping rules: Lark splices their children into the parent
            return Tree(rule, children)
        start = next((s for s in map(_start, children) if s is not None), 0)
        end = next((e for e in map(_end, reversed(children)) if e is not None), start)
        if rule in _KEEP_ALL:
            kept = list(children)
        else:
            kept = [
                self._tokens.get(c.type, _identity)(c) if isinstance(c, Token) else c
                for c in children
                if not isinstance(c, Token) or c.type in _MEANINGFUL
            ]
        if rule == "atom":  # `( expr )`: the brackets only group
            return kept[0]
        handler = getattr(self, f"r_{rule}")
        built = handler(kept, self.source.span(start, end))
        if isinstance(built, _COMPOUND):
            self._measure(built)
        return built

    def _measure(self, expr: n.Expr) -> None:
        """Record how deep an expression is; past the limit, report it once, where it crosses.

        Every later stage (typer, formatter, both evaluators) walks expressions recursively,
        so the parser refuses what they could not walk; a long `and` or `+` chain folds into a
        left-nested tree, so its length counts as depth.
        """
        if id(expr) in self._depths:
            return
        operands = _operands(expr)
        # An operand has one parent: once measured into it, its entry is dropped, so the
        # table holds the expressions still open, not the whole file's.
        depth = 1 + max((self._depths.pop(id(c), (c, 1))[1] for c in operands), default=0)
        self._depths[id(expr)] = (expr, depth)
        if depth == MAX_EXPRESSION_DEPTH + 1:
            start, end = operands[0].span.start, operands[-1].span.end
            self.diagnostics.append(
                Diagnostic(
                    "E004",
                    f"expression nested more than {MAX_EXPRESSION_DEPTH} deep",
                    self.source.span(min(start, expr.span.start), end),
                    help="a chain of `and`, `or` or `+` counts one level per term: shorten it, "
                    "or write a long `or` of values as `x in [a, b]`",
                )
            )

    def _span_of(self, token: Token) -> Span:
        return _token_span(self.source, token)

    # tokens -----------------------------------------------------------------------------
    def PERCENT(self, token: Token) -> n.Percent:
        value = _decimal(token.value[:-1]) / 100
        return n.Percent(value, token.value, span=self._span_of(token))

    def DATE(self, token: Token) -> n.Date:
        try:
            value = dt.date.fromisoformat(token.value)
        except ValueError:
            self.diagnostics.append(
                Diagnostic("E107", f"`{token.value}` is not a calendar date", self._span_of(token))
            )
            value = dt.date(1970, 1, 1)
        if not FIRST_DAY <= value <= LAST_DAY:
            self.diagnostics.append(
                Diagnostic(
                    "E107",
                    f"`{token.value}` is outside the years {FIRST_DAY.year} to {LAST_DAY.year}",
                    self._span_of(token),
                    help="write the real date; input data outside these years is refused too",
                )
            )
        return n.Date(value, span=self._span_of(token))

    def DURATION(self, token: Token) -> n.Duration:
        count = int(token.value[:-1])
        return n.Duration(
            count * (7 if token.value.endswith("w") else 1), token.value, span=self._span_of(token)
        )

    def STRING(self, token: Token) -> n.String:
        body = token.value[1:-1]
        value = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)
        return n.String(value, span=self._span_of(token))

    # small pieces -----------------------------------------------------------------------
    def r_start(self, c: list[Any], span: Span) -> n.Module:
        return n.Module(self.source.path, tuple(c), span=span)

    def r_label(self, c: list[Any], span: Span) -> str:
        return str(c[0].value)

    def r_ident(self, c: list[Any], span: Span) -> n.Ident:
        return n.Ident(str(c[0]), span=span)

    def r_number(self, c: list[Any], span: Span) -> n.Number:
        currency = str(c[1]) if len(c) > 1 else None
        raw = str(c[0]) + (" " + currency if currency else "")
        return n.Number(_decimal(str(c[0])), raw, currency, span=span)

    def r_signed_number(self, c: list[Any], span: Span) -> n.Number:
        raw = "".join(str(t) for t in c)
        return n.Number(_decimal(str(c[-1])) * (-1 if len(c) > 1 else 1), raw, span=span)

    def r_percent(self, c: list[Any], span: Span) -> n.Percent:
        return c[0]  # type: ignore[no-any-return]

    r_duration = r_date = r_string = r_percent

    def r_true(self, c: list[Any], span: Span) -> n.Bool:
        return n.Bool(True, span=span)

    def r_false(self, c: list[Any], span: Span) -> n.Bool:
        return n.Bool(False, span=span)

    # header and records -------------------------------------------------------------------
    def r_ruleset(self, c: list[Any], span: Span) -> n.Ruleset:
        name, rest = c[0], c[1:]
        label = rest.pop(0) if rest and isinstance(rest[0], str) else None
        settings: dict[str, Any] = {}
        for kind, value in rest:
            if kind in settings:
                where = value[0].span if isinstance(value, tuple) else value.span
                self.diagnostics.append(
                    Diagnostic("E108", f"`{kind}` is set twice", where, help="keep one")
                )
            settings[kind] = value
        return n.Ruleset(
            name,
            label,
            settings.get("currency"),
            settings.get("rounding"),
            settings.get("extends", ()),
            settings.get("template"),
            span=span,
        )

    def r_extends(self, c: list[Any], span: Span) -> tuple[str, tuple[n.TemplatePath, ...]]:
        return "extends", tuple(c)

    def r_template_path(self, c: list[Any], span: Span) -> n.TemplatePath:
        return n.TemplatePath(str(c[0].value), span=span)

    def r_template(self, c: list[Any], span: Span) -> tuple[str, n.Ident]:
        return "template", n.Ident("template", span=span)

    def r_define(self, c: list[Any], span: Span) -> n.NamedExpression:
        name, label, rest = _name_label(c)
        return n.NamedExpression(name, label, rest[0], rest[1], span=span)

    def r_override(self, c: list[Any], span: Span) -> n.Override:
        return n.Override(c[0], span=span)

    def r_currency(self, c: list[Any], span: Span) -> tuple[str, n.Ident]:
        return "currency", c[0]

    def r_rounding(self, c: list[Any], span: Span) -> tuple[str, n.Rounding]:
        step = n.Number(_decimal(str(c[1])), str(c[1]), span=self._span_of(c[1]))
        return "rounding", n.Rounding(c[0], step, span=span)

    def r_record(self, c: list[Any], span: Span) -> n.Record:
        return n.Record(c[0], tuple(c[1:]), span=span)

    def r_field(self, c: list[Any], span: Span) -> n.Field:
        return n.Field(c[0], c[1], span=span)

    def r_scalar_type(self, c: list[Any], span: Span) -> n.TypeSpec:
        return n.TypeSpec(str(c[0]), (), c[1] if len(c) > 1 else None, span=span)

    def r_one_of_type(self, c: list[Any], span: Span) -> n.TypeSpec:
        return n.TypeSpec("one_of", tuple(c), span=span)

    def r_range(self, c: list[Any], span: Span) -> n.RangeExpr:
        return n.RangeExpr(c[0], c[1], span=span)

    def r_option(self, c: list[Any], span: Span) -> n.Option:
        return n.Option(c[0], c[1] if len(c) > 1 else None, span=span)

    # strategy --------------------------------------------------------------------------
    def r_strategy(self, c: list[Any], span: Span) -> n.Strategy:
        label = c[0] if c and isinstance(c[0], str) else None
        return n.Strategy(label, tuple(c[1:] if label is not None else c), span=span)

    def r_strategy_target(self, c: list[Any], span: Span) -> n.StrategyTarget:
        return n.StrategyTarget(c[0], c[1], c[2], span=span)

    def r_strategy_growth(self, c: list[Any], span: Span) -> n.StrategyGrowth:
        return n.StrategyGrowth(c[0], c[1], c[2], span=span)

    def r_strategy_focus(self, c: list[Any], span: Span) -> n.StrategyFocus:
        return n.StrategyFocus(c[0], span=span)

    def r_strategy_channel(self, c: list[Any], span: Span) -> n.StrategyChannel:
        return n.StrategyChannel(c[0], c[1], span=span)

    def r_strategy_tolerance(self, c: list[Any], span: Span) -> n.StrategyTolerance:
        points = n.Number(_decimal(str(c[0])), str(c[0]), span=self._span_of(c[0]))
        return n.StrategyTolerance(points, span=span)

    # scores ----------------------------------------------------------------------------
    def r_score(self, c: list[Any], span: Span) -> n.Score:
        name, label, rest = _name_label(c)
        subject = rest.pop(0)
        maximum = rest.pop(0) if rest and isinstance(rest[0], tuple) else None
        statuses = rest.pop() if rest and isinstance(rest[-1], list) else []
        return n.Score(
            name, label, subject, maximum[1] if maximum else None, tuple(rest), tuple(statuses),
            span=span,
        )  # fmt: skip

    def r_score_max(self, c: list[Any], span: Span) -> tuple[str, n.Number]:
        return "max", n.Number(_decimal(str(c[0])), str(c[0]), span=self._span_of(c[0]))

    def r_criterion(self, c: list[Any], span: Span) -> n.Criterion:
        name, label, rest = _name_label(c)
        of = rest.pop(0)[1] if rest and isinstance(rest[0], tuple) else None
        return n.Criterion(name, label, of, tuple(rest), span=span)

    def r_criterion_of(self, c: list[Any], span: Span) -> tuple[str, n.Ident]:
        return "of", c[0]

    def r_field_criterion(self, c: list[Any], span: Span) -> n.FieldCriterion:
        name, label, rest = _name_label(c)
        return n.FieldCriterion(name, label, rest[0], span=span)

    def r_value_case(self, c: list[Any], span: Span) -> n.ValueCase:
        return n.ValueCase(c[0], c[1], span=span)

    def r_when_case(self, c: list[Any], span: Span) -> n.WhenCase:
        return n.WhenCase(c[0], c[1], span=span)

    def r_otherwise_case(self, c: list[Any], span: Span) -> n.OtherwiseCase:
        return n.OtherwiseCase(c[0], span=span)

    def r_status_block(self, c: list[Any], span: Span) -> list[n.StatusRule]:
        return list(c)

    def r_knockout_rule(self, c: list[Any], span: Span) -> n.StatusRule:
        name, label, rest = _name_label(c)
        return n.StatusRule(name, label, rest[0], knockout=True, span=span)

    def r_status_when(self, c: list[Any], span: Span) -> n.StatusRule:
        name, label, rest = _name_label(c)
        return n.StatusRule(name, label, rest[0], span=span)

    def r_status_otherwise(self, c: list[Any], span: Span) -> n.StatusRule:
        name, label, _ = _name_label(c)
        return n.StatusRule(name, label, None, span=span)

    def r_qualify(self, c: list[Any], span: Span) -> n.Qualify:
        return n.Qualify(c[0], tuple(c[1:]), span=span)

    def r_route_when(self, c: list[Any], span: Span) -> n.Route:
        return n.Route(c[0], c[1], span=span)

    def r_route_otherwise(self, c: list[Any], span: Span) -> n.Route:
        return n.Route(c[0], None, span=span)

    # pipelines and playbooks -----------------------------------------------------------
    def r_pipeline(self, c: list[Any], span: Span) -> n.Pipeline:
        name, label, rest = _name_label(c)
        return n.Pipeline(name, label, rest[0], tuple(rest[1:]), span=span)

    def r_stage(self, c: list[Any], span: Span) -> n.Stage:
        name, label, rest = _name_label(c)
        return n.Stage(name, label, tuple(rest), span=span)

    def r_probability(self, c: list[Any], span: Span) -> n.Probability:
        return n.Probability(c[0], span=span)

    def r_max_days(self, c: list[Any], span: Span) -> n.MaxDays:
        value = c[0]
        if isinstance(value, Token):
            value = n.Number(_decimal(str(value)), str(value), span=self._span_of(value))
        return n.MaxDays(value, span=span)

    def r_exit_criterion(self, c: list[Any], span: Span) -> n.ExitCriterion:
        name, label, rest = _name_label(c)
        return n.ExitCriterion(name, label, rest[0], span=span)

    def r_action(self, c: list[Any], span: Span) -> n.Action:
        return n.Action(c[0].value, span=span)

    def r_expect_conversion(self, c: list[Any], span: Span) -> n.ExpectConversion:
        return n.ExpectConversion(c[0], c[1], str(c[2]), c[3], span=span)

    def r_playbook(self, c: list[Any], span: Span) -> n.Playbook:
        name, label, rest = _name_label(c)
        subject = rest.pop(0)
        condition = rest.pop(0)[1] if rest and isinstance(rest[0], tuple) else None
        return n.Playbook(name, label, subject, condition, tuple(rest), span=span)

    def r_playbook_when(self, c: list[Any], span: Span) -> tuple[str, Any]:
        return "when", c[0]

    def _requirement(self, kind: str, c: list[Any], span: Span) -> n.Requirement:
        name, label, rest = _name_label(c)
        before = rest[1] if len(rest) > 1 else None
        return n.Requirement(kind, name, label, rest[0], before, span=span)

    def r_require(self, c: list[Any], span: Span) -> n.Requirement:
        return self._requirement("require", c, span)

    def r_recommend(self, c: list[Any], span: Span) -> n.Requirement:
        return self._requirement("recommend", c, span)

    def r_before(self, c: list[Any], span: Span) -> n.Ident:
        return c[0]  # type: ignore[no-any-return]

    def r_expect_win_rate(self, c: list[Any], span: Span) -> n.ExpectWinRate:
        return n.ExpectWinRate(c[0], c[1], span=span)

    # KPIs and roles --------------------------------------------------------------------
    def r_kpi(self, c: list[Any], span: Span) -> n.Kpi:
        name, label, rest = _name_label(c)
        family = rest.pop(0)[1] if isinstance(rest[0], tuple) else None
        target = rest.pop() if isinstance(rest[-1], n.Target) else None
        return n.Kpi(name, label, family, rest[0], rest[1], target, span=span)

    def r_kpi_family(self, c: list[Any], span: Span) -> tuple[str, n.Ident]:
        return "family", c[0]

    def r_kpi_target(self, c: list[Any], span: Span) -> n.Target:
        return n.Target(str(c[0]), c[1], span=span)

    def r_role(self, c: list[Any], span: Span) -> n.Role:
        name, label, rest = _name_label(c)
        return n.Role(name, label, tuple(rest), span=span)

    def r_mission(self, c: list[Any], span: Span) -> n.Mission:
        return n.Mission(c[0].value, span=span)

    def r_role_kpis(self, c: list[Any], span: Span) -> n.RoleKpis:
        return n.RoleKpis(tuple(c), span=span)

    def r_role_plans(self, c: list[Any], span: Span) -> n.RolePlans:
        return n.RolePlans(tuple(c), span=span)

    # plans -----------------------------------------------------------------------------
    def r_plan(self, c: list[Any], span: Span) -> n.Plan:
        name, label, rest = _name_label(c)
        return n.Plan(name, label, rest[0], tuple(rest[1:]), span=span)

    def r_effective(self, c: list[Any], span: Span) -> n.Effective:
        return n.Effective(c[0], c[1], span=span)

    def r_communicated(self, c: list[Any], span: Span) -> n.Communicated:
        return n.Communicated(c[0], span=span)

    def r_period(self, c: list[Any], span: Span) -> n.Period:
        return n.Period(c[0], span=span)

    def r_target_variable(self, c: list[Any], span: Span) -> n.TargetVariable:
        return n.TargetVariable(c[0], c[1], span=span)

    def r_proration(self, c: list[Any], span: Span) -> n.Proration:
        return n.Proration(c[0], span=span)

    def r_plan_cap(self, c: list[Any], span: Span) -> n.Cap:
        return n.Cap(c[0], span=span)

    r_measure_cap = r_plan_cap

    def r_budget_guardrail(self, c: list[Any], span: Span) -> n.BudgetGuardrail:
        return n.BudgetGuardrail(c[0], span=span)

    def r_pays(self, c: list[Any], span: Span) -> n.Pays:
        return n.Pays(c[0], span=span)

    def r_true_up(self, c: list[Any], span: Span) -> n.TrueUp:
        return n.TrueUp(c[0], span=span)

    def r_draw(self, c: list[Any], span: Span) -> n.Draw:
        return n.Draw(c[0], c[1], c[2] if len(c) > 2 else None, span=span)

    def r_draw_share(self, c: list[Any], span: Span) -> n.Percent:
        return c[0]  # type: ignore[no-any-return]

    def r_clawback(self, c: list[Any], span: Span) -> n.Clawback:
        return n.Clawback(c[0], c[1], span=span)

    def r_supersedes(self, c: list[Any], span: Span) -> n.Supersedes:
        return n.Supersedes(c[0], c[1], c[2], span=span)

    def r_measure(self, c: list[Any], span: Span) -> n.Measure:
        name, label, rest = _name_label(c)
        weight = rest.pop(0)[1] if rest and isinstance(rest[0], tuple) else None
        return n.Measure(name, label, weight, tuple(rest), span=span)

    def r_measure_weight(self, c: list[Any], span: Span) -> tuple[str, n.Percent]:
        return "weight", c[0]

    def r_credit(self, c: list[Any], span: Span) -> n.Credit:
        value, source, *rest = c
        parts = dict(rest)
        return n.Credit(
            value, source, parts.get("where"), parts.get("to"), parts.get("dated"), span=span
        )

    def r_credit_value(self, c: list[Any], span: Span) -> Any:
        return None if isinstance(c[0], Token) and c[0].type == "COUNT" else c[0]

    def r_credit_where(self, c: list[Any], span: Span) -> tuple[str, Any]:
        return "where", c[0]

    def r_credit_to(self, c: list[Any], span: Span) -> tuple[str, Any]:
        return "to", c[0]

    def r_credit_dated(self, c: list[Any], span: Span) -> tuple[str, Any]:
        return "dated", c[0]

    def r_quota_table(self, c: list[Any], span: Span) -> n.QuotaTable:
        return n.QuotaTable(c[0], span=span)

    def r_quota_formula(self, c: list[Any], span: Span) -> n.QuotaFormula:
        return n.QuotaFormula(c[0], span=span)

    def r_commission(self, c: list[Any], span: Span) -> n.Commission:
        return n.Commission(c[0], span=span)

    def r_rates(self, c: list[Any], span: Span) -> n.Rates:
        basis = c.pop(0)[1] if isinstance(c[0], tuple) else None
        return n.Rates(basis, c[0], tuple(c[1:]), span=span)

    def r_rates_basis(self, c: list[Any], span: Span) -> tuple[str, n.Ident]:
        return "on", c[0]

    def r_steps(self, c: list[Any], span: Span) -> n.Steps:
        return n.Steps(tuple(c), span=span)

    def r_band(self, c: list[Any], span: Span) -> n.Band:
        (_, opener), low, high, (_, closer), value = c
        if isinstance(high, Token):  # `...`: open-ended
            high = None
        return n.Band(low, high, value, opener == "[", closer == "]", span=span)

    def r_band_open(self, c: list[Any], span: Span) -> tuple[str, Token]:
        return "bracket", c[0]

    r_band_close = r_band_open

    def r_curve(self, c: list[Any], span: Span) -> n.Curve:
        return n.Curve(tuple(c), span=span)

    def r_curve_below(self, c: list[Any], span: Span) -> n.CurveBelow:
        return n.CurveBelow(c[0], c[1], span=span)

    def r_curve_at(self, c: list[Any], span: Span) -> n.CurveAt:
        return n.CurveAt(c[0], c[1], span=span)

    def r_curve_slope(self, c: list[Any], span: Span) -> n.CurveSlope:
        return n.CurveSlope(c[0], c[1] if len(c) > 1 else None, span=span)

    def r_curve_until(self, c: list[Any], span: Span) -> n.Percent:
        return c[0]  # type: ignore[no-any-return]

    def r_curve_def(self, c: list[Any], span: Span) -> n.Definition:
        name, label, rest = _name_label(c)
        return n.Definition(name, label, n.Curve(tuple(rest), span=span), span=span)

    def r_rates_def(self, c: list[Any], span: Span) -> n.Definition:
        name, label, rest = _name_label(c)
        return n.Definition(name, label, self.r_rates(rest, span), span=span)

    def r_steps_def(self, c: list[Any], span: Span) -> n.Definition:
        name, label, rest = _name_label(c)
        return n.Definition(name, label, n.Steps(tuple(rest), span=span), span=span)

    def r_use_curve(self, c: list[Any], span: Span) -> n.Use:
        return n.Use("curve", c[0], span=span)

    def r_use_rates(self, c: list[Any], span: Span) -> n.Use:
        return n.Use("rates", c[0], span=span)

    def r_use_steps(self, c: list[Any], span: Span) -> n.Use:
        return n.Use("steps", c[0], span=span)

    def r_per_unit(self, c: list[Any], span: Span) -> n.PerUnit:
        return n.PerUnit(c[0], span=span)

    def r_threshold(self, c: list[Any], span: Span) -> n.Threshold:
        return n.Threshold(c[0], c[1], span=span)

    def r_accelerator(self, c: list[Any], span: Span) -> n.Accelerator:
        return n.Accelerator(c[0], c[1], span=span)

    def r_bonus(self, c: list[Any], span: Span) -> n.Bonus:
        return n.Bonus(c[0], str(c[1]), c[2], span=span)

    # alerts and rituals ----------------------------------------------------------------
    def r_ramp(self, c: list[Any], span: Span) -> n.Ramp:
        return n.Ramp(tuple(c), span=span)

    def r_spiff(self, c: list[Any], span: Span) -> n.Spiff:
        name, label, rest = _name_label(c)
        (amount, credit), window, *cap = rest
        return n.Spiff(name, label, amount, credit, window, cap[0] if cap else None, span=span)

    def r_spiff_pay(self, c: list[Any], span: Span) -> tuple[n.Number, n.Credit]:
        # The pay line reads as a credit rule: `count of deals where ... dated ...`.
        amount, *rest = c
        parts = dict(rest)
        source = n.Ident("deals", span=span)
        credit = n.Credit(None, source, parts.get("where"), None, parts.get("dated"), span=span)
        return amount, credit

    def r_spiff_amount(self, c: list[Any], span: Span) -> n.Number:
        texts = [str(t) for t in c]
        currency = texts.pop() if c[-1].type == "CURRENCY" else None
        sign = -1 if texts[0] == "-" else 1
        raw = "".join(texts) + (" " + currency if currency else "")
        return n.Number(_decimal(texts[-1]) * sign, raw, currency, span=span)

    def r_spiff_window(self, c: list[Any], span: Span) -> n.SpiffWindow:
        return n.SpiffWindow(c[0], c[1], span=span)

    r_spiff_cap = r_plan_cap

    def r_alert(self, c: list[Any], span: Span) -> n.Alert:
        name, label, rest = _name_label(c)
        severity = rest[2] if len(rest) > 2 else None
        return n.Alert(name, label, rest[0], rest[1], severity, span=span)

    def r_alert_severity(self, c: list[Any], span: Span) -> n.Ident:
        return c[0]  # type: ignore[no-any-return]

    def r_ritual(self, c: list[Any], span: Span) -> n.Ritual:
        name, label, rest = _name_label(c)
        shows = tuple(ident for group in rest[1:] for ident in group)
        return n.Ritual(name, label, rest[0], shows, span=span)

    def r_ritual_show(self, c: list[Any], span: Span) -> list[n.Ident]:
        return list(c)

    # expressions -----------------------------------------------------------------------
    def r_or_expr(self, c: list[Any], span: Span) -> n.Expr:
        return self._fold("or", c, span)

    def r_and_expr(self, c: list[Any], span: Span) -> n.Expr:
        return self._fold("and", c, span)

    def _fold(self, op: str, operands: list[Any], span: Span) -> n.Expr:
        """`a and b and c` as ((a and b) and c), each link measured as it is made."""
        result: n.Expr = operands[0]
        for operand in operands[1:]:
            result = n.Binary(op, result, operand, span=span)
            self._measure(result)
        return result

    def r_not_op(self, c: list[Any], span: Span) -> n.Unary:
        return n.Unary("not", c[0], span=span)

    def r_negate(self, c: list[Any], span: Span) -> n.Unary:
        return n.Unary("-", c[0], span=span)

    def r_compare(self, c: list[Any], span: Span) -> n.Binary:
        return n.Binary(str(c[1]), c[0], c[2], span=span)

    def r_single_eq(self, c: list[Any], span: Span) -> n.Binary:
        self.diagnostics.append(
            Diagnostic(
                "E104",
                "`=` is not a comparison",
                self._span_of(c[1]),
                help="write `==` to compare two values",
            )
        )
        return n.Binary("==", c[0], c[2], span=span)

    def _binary(self, op: str, c: list[Any], span: Span) -> n.Binary:
        return n.Binary(op, c[0], c[1], span=span)

    def r_add(self, c: list[Any], span: Span) -> n.Binary:
        return self._binary("+", c, span)

    def r_sub(self, c: list[Any], span: Span) -> n.Binary:
        return self._binary("-", c, span)

    def r_mul(self, c: list[Any], span: Span) -> n.Binary:
        return self._binary("*", c, span)

    def r_div(self, c: list[Any], span: Span) -> n.Binary:
        return self._binary("/", c, span)

    def r_in_op(self, c: list[Any], span: Span) -> n.Membership:
        return n.Membership(c[0], c[1], span=span)

    def r_not_in_op(self, c: list[Any], span: Span) -> n.Membership:
        return n.Membership(c[0], c[1], negated=True, span=span)

    def r_is_missing(self, c: list[Any], span: Span) -> n.IsMissing:
        return n.IsMissing(c[0], span=span)

    def r_is_not_missing(self, c: list[Any], span: Span) -> n.IsMissing:
        return n.IsMissing(c[0], negated=True, span=span)

    def r_ref(self, c: list[Any], span: Span) -> n.Ref:
        return n.Ref(tuple(str(t) for t in c), span=span)

    def r_call(self, c: list[Any], span: Span) -> n.Call:
        where = c.pop()[1] if c and isinstance(c[-1], tuple) else None
        return n.Call(str(c[0]), tuple(c[1:]), where, span=span)

    def r_call_where(self, c: list[Any], span: Span) -> tuple[str, Any]:
        return "where", c[0]

    def r_list(self, c: list[Any], span: Span) -> n.ListExpr:
        return n.ListExpr(tuple(c), span=span)


def _identity(token: Token) -> Token:
    return token


def _name_label(c: list[Any]) -> tuple[n.Ident, str | None, list[Any]]:
    """Split (ident, optional label, rest) off a rule's children."""
    rest = list(c[1:])
    label = rest.pop(0) if rest and isinstance(rest[0], str) else None
    return c[0], label, rest


#: Expressions made of other expressions: what counts towards MAX_EXPRESSION_DEPTH.
_COMPOUND = (n.Unary, n.Binary, n.Membership, n.IsMissing, n.Call, n.ListExpr)


def _operands(expr: n.Expr) -> list[n.Expr]:
    """The expressions directly inside a compound one, in source order."""
    if isinstance(expr, n.Unary):
        return [expr.operand]
    if isinstance(expr, n.Binary):
        return [expr.left, expr.right]
    if isinstance(expr, n.Membership):
        return [expr.value, expr.collection]
    if isinstance(expr, n.IsMissing):
        return [expr.value]
    if isinstance(expr, n.Call):
        return [*expr.args, *([expr.where] if expr.where is not None else [])]
    if isinstance(expr, n.ListExpr):
        return list(expr.items)
    return []
