"""Exact money: parse amounts as people write them, round them explicitly, format them.

Amounts are `decimal.Decimal`, never binary floats. Parsing accepts the formats CRM and
spreadsheet exports produce (`1234.56`, `1 234,56`, `1,234.56`, `1.234,56`, `€1,234.56`,
`1234,56 €`, `50K`, `1.5M`) and refuses anything whose meaning is not certain: a single
separator followed by exactly three digits (`1,234`) is a thousands separator in English and a
decimal comma in French, so it is reported as ambiguous instead of being guessed. Once the
decimal mark is known, Babel reads a grouped number in a locale with that mark (its CLDR data
decides where groups go); Babel also writes French numbers (`format_french`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    InvalidOperation,
    localcontext,
)
from functools import cache
from itertools import repeat

from babel import Locale
from babel.numbers import NumberFormatError, format_decimal, get_group_symbol, parse_decimal

from dsl.diagnostics import closest

__all__ = [
    "CENT",
    "CURRENCY",
    "CURRENCY_SYMBOLS",
    "EXACT",
    "ROUNDING_MODES",
    "currency_marks",
    "currency_of",
    "decimal_of",
    "exact_div",
    "exact_mul",
    "format_money",
    "parse_money",
    "parse_number",
    "round_money",
    "scaled",
    "snap",
]

#: The default rounding step of the domain: half-up to the cent.
CENT = Decimal("0.01")

# Enough digits that no intermediate result of the payout math is ever rounded in a way that
# matters: the only inexact step is a division (by a quota, by a period's days), good to 1e-60
# relative, and results are snapped to 1e-30 before money rounding (a true half-cent tie is then
# exact again).
#: The context of all payout arithmetic (both paths): same digits, same results.
EXACT = Context(prec=80, rounding=ROUND_HALF_EVEN)
_SNAP = Decimal("1e-30")


def exact_mul(*values: Decimal) -> Decimal:
    """The product in the exact decimal context (no rounding before the final one)."""
    result = Decimal(1)
    for value in values:
        result = EXACT.multiply(result, value)
    return result


def scaled(units: Iterable[int], places: int) -> list[Decimal]:
    """Whole numbers of 10**-places as Decimals with exactly `places` places (12345 cents,
    2 -> 123.45): `Decimal(u).scaleb(-places)` of each, without a Python call per value."""
    unit = Decimal(1).scaleb(-places)
    return list(map(EXACT.multiply, map(Decimal, units), repeat(unit)))


def decimal_of(value: Decimal | int | float) -> Decimal:
    """A number as the decimal it stands for: ints and Decimals exactly, a float by its
    shortest repr (`0.15`, never 0.1499999999999999944...): the decimal it was parsed from."""
    if value.__class__ is float:
        return Decimal(repr(value))
    return value if isinstance(value, Decimal) else Decimal(value)


def exact_div(a: Decimal, b: Decimal) -> Decimal:
    """The quotient in the exact decimal context."""
    return EXACT.divide(a, b)


def snap(value: Decimal) -> Decimal:
    """A result of exact arithmetic snapped to 1e-30, before money rounding."""
    return value.quantize(_SNAP, rounding=ROUND_HALF_EVEN, context=EXACT)


#: Rounding mode names of rulesets -> `decimal` rounding constants.
ROUNDING_MODES: dict[str, str] = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "half_down": ROUND_HALF_DOWN,
    "up": ROUND_UP,
    "down": ROUND_DOWN,
}

# Exports write grouping with any of these; they all mean the same thing.
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "\t": " "})
#: A currency sign or ISO 4217 code, written before or after an amount.
CURRENCY = r"(?:[€$£]|[A-Z]{3})"
#: The currency each sign stands for.
CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP"}
_MULTIPLIERS = {
    "k": Decimal(10) ** 3,
    "m": Decimal(10) ** 6,
    "b": Decimal(10) ** 9,
    "bn": Decimal(10) ** 9,
    "md": Decimal(10) ** 9,  # French "milliard"
}
_MONEY_RE = re.compile(
    rf"""^(?P<sign1>[+-]?)\s*(?P<cur1>{CURRENCY})?\s*(?P<sign2>[+-]?)\s*
    (?P<num>[\d.,' ]*\d[\d.,' ]*?)\s*
    (?P<mult>[kKmMbB]|bn|BN|Bn|Md|MD)?\s*(?P<cur2>{CURRENCY})?$""",
    re.VERBOSE,
)
_NUMBER_RE = re.compile(r"^(?P<sign1>[+-]?)\s*(?P<num>[\d.,' ]*\d[\d.,' ]*?)$")
_SCIENTIFIC_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d+$")
_EXAMPLES = {"an amount": "1234.56, 1 234,56 or €1,234.56", "a number": "1234.5 or 1 234,5"}


class _AmbiguousError(Exception):
    """A lone separator before three digits: both readings are plausible."""

    def __init__(self, grouped: Decimal, decimal: Decimal) -> None:
        super().__init__(grouped, decimal)
        self.grouped = grouped
        self.decimal = decimal


def parse_money(value: str | int | float | Decimal) -> Decimal:
    """Parse an amount as exports write it (`1 234,56`, `€1,234.56`, `50K`) into a Decimal."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value!s} is not a finite amount")
        return value
    if isinstance(value, bool):  # bool is an int subclass: True is no amount
        raise ValueError(f"{value!r} is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite amount")
        # repr is the shortest text that round-trips: 0.1 -> "0.1", never 0.1000000000000000055
        return Decimal(repr(value))
    return _parse_text(value, money=True)


def currency_of(text: str) -> str | None:
    """The ISO code of the currency an amount is marked with (`$1,200` -> USD), or None."""
    cleaned = text.translate(_SPACES).replace("\u2212", "-").strip()
    if cleaned.startswith("(") and cleaned.endswith(")"):
        cleaned = cleaned[1:-1].strip()
    match = _MONEY_RE.match(cleaned)
    if match is None:
        return None
    mark = match.group("cur1") or match.group("cur2")
    return None if mark is None else CURRENCY_SYMBOLS.get(mark, mark)


def currency_marks(currency: str) -> str:
    """A regular expression of the marks of `currency`: its code and the signs standing for it."""
    signs = [re.escape(sign) for sign, code in CURRENCY_SYMBOLS.items() if code == currency]
    return "(?:" + "|".join([re.escape(currency), *signs]) + ")"


def parse_number(text: str) -> Decimal:
    """Parse a number with a decimal point or comma and optional grouping into a Decimal.

    Unlike amounts, a lone point is always a decimal point (`1.234` is 1.234, as machines write
    numbers); a lone comma before three digits (`1,234`) is still ambiguous.
    """
    return _parse_text(text, money=False)


def round_money(value: Decimal | int, step: Decimal = CENT, mode: str = "half_up") -> Decimal:
    """Round to a multiple of `step` with a named mode (half_up, half_even, half_down, up, down)."""
    rounding = _rounding(mode)
    if not step.is_finite() or step <= 0:
        raise ValueError(f"rounding step must be a positive amount, not {step}")
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite amount")
    with localcontext() as ctx:
        # Enough digits that the division below is exact for any realistic amount.
        ctx.prec = 60
        units = (value / step).to_integral_value(rounding=rounding)
        result = units * step
    return result.quantize(step) if step.as_tuple().exponent != 0 else result


def format_money(value: Decimal) -> str:
    """Format as a plain decimal string with exactly two places (`1234.50`, `-3.00`)."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite amount")
    # Callers round with the ruleset's mode first; this only guarantees two places on output.
    text = f"{round_money(value):f}"
    return "0.00" if text == "-0.00" else text


def _rounding(mode: str) -> str:
    try:
        return ROUNDING_MODES[mode]
    except KeyError:
        known = ", ".join(ROUNDING_MODES)
        close = closest(mode, ROUNDING_MODES)
        hint = f"; did you mean {close!r}?" if close else ""
        raise ValueError(
            f"unknown rounding mode {mode!r} (expected one of {known}){hint}"
        ) from None


def _parse_text(text: str, *, money: bool) -> Decimal:
    kind = "an amount" if money else "a number"
    garbage = ValueError(f"{text!r} is not {kind} (expected e.g. {_EXAMPLES[kind]})")
    cleaned = text.translate(_SPACES).replace("\u2212", "-").strip()
    if not cleaned:
        raise ValueError(f"empty text is not {kind}")
    negative = False
    if money and cleaned.startswith("(") and cleaned.endswith(")"):
        # Accounting exports write losses in parentheses: (1,234.56)
        negative, cleaned = True, cleaned[1:-1].strip()
    if _SCIENTIFIC_RE.match(cleaned):
        try:
            result = Decimal(cleaned)
        except InvalidOperation:
            raise garbage from None
        return -result if negative else result
    match = (_MONEY_RE if money else _NUMBER_RE).match(cleaned)
    if match is None:
        raise garbage
    parts = match.groupdict()
    signs = [s for s in (parts.get("sign1"), parts.get("sign2")) if s]
    if len(signs) > 1 or (signs and negative) or (parts.get("cur1") and parts.get("cur2")):
        raise garbage
    multiplier = parts.get("mult")
    scale = _MULTIPLIERS[multiplier.lower()] if multiplier else Decimal(1)
    try:
        result = _read_digits(text, parts["num"].strip(), money) * scale
    except _AmbiguousError as error:
        grouped, decimal = (f"{(v * scale).normalize():f}" for v in (error.grouped, error.decimal))
        raise ValueError(
            f"{text!r} is ambiguous: {grouped} or {decimal}? Write it without a thousands "
            f"separator ({grouped}) or with two decimals"
        ) from None
    if negative or signs == ["-"]:
        result = -result
    return result


# Once the decimal mark is known, a locale with that mark reads a grouped number: Babel (CLDR)
# checks that the groups are where that locale puts them and converts.
_READER = {".": "en_US", ",": "de_DE"}


def _read_digits(text: str, num: str, money: bool) -> Decimal:
    """Read the digits-and-separators part (`1 234,56`, `1,234.56`), or say why it cannot.

    Which mark is the decimal one is decided here, since exports do not say which locale wrote
    them; a lone separator before three digits (`1,234`) is refused as ambiguous.
    """
    kind = "an amount" if money else "a number"
    garbage = ValueError(f"{text!r} is not {kind} (expected e.g. {_EXAMPLES[kind]})")
    spaced = " " in num or "'" in num
    marks = [c for c in num if c in ".,"]
    decimal_mark = marks[-1] if marks else "."
    if len(set(marks)) == 2:
        if marks.count(decimal_mark) != 1 or spaced:
            raise garbage  # two decimal marks, or two kinds of grouping in one number
    elif len(marks) > 1:
        if spaced:
            raise garbage
        decimal_mark = "," if marks[0] == "." else "."  # the repeated mark groups
    elif marks and not spaced:
        whole, frac = num.split(decimal_mark)
        if (
            (money or decimal_mark == ",")
            and len(frac) == 3
            and 1 <= len(whole) <= 3
            and not whole.startswith("0")
        ):
            raise _AmbiguousError(Decimal(whole + frac), Decimal(f"{whole}.{frac}"))
    whole, _, frac = num.partition(decimal_mark)
    if num.endswith(decimal_mark) or (frac and not frac.isdigit()):
        raise garbage  # no digit, or a separator, after the decimal mark
    if not spaced and len(marks) < 2:  # digits and at most a decimal mark
        return Decimal(f"{whole}.{frac}" if frac else whole)
    locale = _READER[decimal_mark]
    if spaced:  # spaces and apostrophes group like the locale's own separator
        num = re.sub(r"[ ']+", get_group_symbol(locale), num)
    try:
        return parse_decimal(num, locale=locale, strict=True)
    except NumberFormatError:
        raise ValueError(f"{text!r} has misplaced thousands separators") from None


def format_french(value: Decimal) -> str:
    """A decimal as French readers write it: `1 234 567,5` (space-grouped, decimal comma).

    Every digit of `value` is shown, trailing zeros included (`12,50`): callers round first.
    NaN and infinities are refused (ValueError), as `format_money` does.
    """
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    _, digits, exponent = value.as_tuple()
    exponent = int(exponent)  # an int, the value being finite
    places = max(0, -exponent)
    # fr_FR's own pattern (#,##0.###) drops trailing zeros even unquantized (12,50 -> 12,5): this
    # one asks for exactly the decimals the value has, and decimal_quantization=False lets Babel
    # round none away. Babel quantizes in the current context: it must hold every digit.
    pattern = "#,##0" + ("." + "0" * places if places else "")
    with localcontext() as context:
        context.prec = max(context.prec, len(digits) + max(exponent, 0) + 1)
        text = format_decimal(value, pattern, locale=_french(), decimal_quantization=False)
    # CLDR groups French digits with a narrow no-break space (U+202F; older data: U+00A0) and
    # could one day write the minus sign U+2212. Our statements and explanations are plain text
    # with the plain space and hyphen-minus (as people type numbers, as their tests expect), and
    # must not change with the CLDR version a Babel release ships.
    return text.translate(_PLAIN_TEXT)


_PLAIN_TEXT = str.maketrans({"\u202f": " ", "\u00a0": " ", "\u2212": "-"})


@cache
def _french() -> Locale:
    return Locale.parse("fr_FR")
