"""Behaviour of exact money parsing, rounding and formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.money import format_french, format_money, parse_money, parse_number, round_money


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.56", "1234.56"),
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),  # non-breaking space, as French Excel writes it
        ("1\u202f234,56", "1234.56"),  # narrow non-breaking space
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("€1,234.56", "1234.56"),
        ("1234,56 €", "1234.56"),
        ("USD 1234", "1234"),
        ("-€1,234.56", "-1234.56"),
        ("€-1,234.56", "-1234.56"),
        ("(1,234.56)", "-1234.56"),
        ("1,234,567", "1234567"),
        ("1.234.567", "1234567"),
        ("1 234,567", "1234.567"),  # space groups thousands, so the comma is the decimal mark
        ("1234,567", "1234.567"),  # four digits before: cannot be a thousands group
        ("0,500", "0.5"),
        (".5", "0.5"),
        ("50K", "50000"),
        ("50k€", "50000"),
        ("1.5M", "1500000"),
        ("1,5 M€", "1500000"),
        ("2bn", "2000000000"),
        ("1.5E+06", "1500000"),
        ("  12 ", "12"),
        ("+7", "7"),
    ],
)
def test_parse_money_accepts_export_formats(text: str, expected: str) -> None:
    assert parse_money(text) == Decimal(expected)


def test_parse_money_accepts_numbers_and_decimals() -> None:
    assert parse_money(3) == Decimal(3)
    assert parse_money(0.1) == Decimal("0.1")  # the float's text, not its binary expansion
    assert parse_money(Decimal("2.50")) == Decimal("2.50")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "1,234",
            "'1,234' is ambiguous: 1234 or 1.234? Write it without a thousands separator "
            "(1234) or with two decimals",
        ),
        (
            "1.234",
            "'1.234' is ambiguous: 1234 or 1.234? Write it without a thousands separator "
            "(1234) or with two decimals",
        ),
        (
            "2.125M",
            "'2.125M' is ambiguous: 2125000000 or 2125000? Write it without a thousands "
            "separator (2125000000) or with two decimals",
        ),
        ("abc", "'abc' is not an amount (expected e.g. 1234.56, 1 234,56 or €1,234.56)"),
        ("12.", "'12.' is not an amount (expected e.g. 1234.56, 1 234,56 or €1,234.56)"),
        ("--5", "'--5' is not an amount (expected e.g. 1234.56, 1 234,56 or €1,234.56)"),
        ("€12$", "'€12$' is not an amount (expected e.g. 1234.56, 1 234,56 or €1,234.56)"),
        (
            "1 234.567,8",
            "'1 234.567,8' is not an amount (expected e.g. 1234.56, 1 234,56 or €1,234.56)",
        ),
        ("1,23,456", "'1,23,456' has misplaced thousands separators"),
        ("1.234.56", "'1.234.56' has misplaced thousands separators"),
        ("0 100,50", "'0 100,50' has misplaced thousands separators"),  # no group starts with 0
        ("12,3456.78", "'12,3456.78' has misplaced thousands separators"),
        ("", "empty text is not an amount"),
    ],
)
def test_parse_money_rejects_ambiguous_and_garbage(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_money(text)
    assert str(info.value) == message


def test_parse_money_rejects_non_finite_and_booleans() -> None:
    with pytest.raises(ValueError, match=r"^nan is not a finite amount$"):
        parse_money(float("nan"))
    with pytest.raises(ValueError, match=r"^True is not an amount$"):
        parse_money(True)


def test_parse_number_reads_a_lone_point_as_decimal_and_refuses_currency() -> None:
    assert parse_number("1 234,5") == Decimal("1234.5")
    assert parse_number("1.234") == Decimal("1.234")  # machines write numbers this way
    with pytest.raises(ValueError) as ambiguous:
        parse_number("1,234")
    assert str(ambiguous.value) == (
        "'1,234' is ambiguous: 1234 or 1.234? Write it without a thousands separator (1234) or "
        "with two decimals"
    )
    with pytest.raises(ValueError) as info:
        parse_number("€5")
    assert str(info.value) == "'€5' is not a number (expected e.g. 1234.5 or 1 234,5)"


@pytest.mark.parametrize(
    ("value", "step", "mode", "expected"),
    [
        ("2.675", "0.01", "half_up", "2.68"),
        ("2.665", "0.01", "half_even", "2.66"),
        ("2.675", "0.01", "half_even", "2.68"),
        ("2.665", "0.01", "half_down", "2.66"),
        ("2.661", "0.01", "up", "2.67"),
        ("2.669", "0.01", "down", "2.66"),
        ("-2.675", "0.01", "half_up", "-2.68"),  # half away from zero, like a cashier
        ("1.234", "0.05", "half_up", "1.25"),
        ("1250", "100", "half_down", "1200"),
        ("1250", "100", "half_up", "1300"),
        ("7", "0.01", "half_up", "7.00"),
    ],
)
def test_round_money(value: str, step: str, mode: str, expected: str) -> None:
    result = round_money(Decimal(value), Decimal(step), mode)
    assert result == Decimal(expected)
    assert str(result) == expected


def test_round_money_rejects_unknown_mode_and_bad_step() -> None:
    with pytest.raises(ValueError) as info:
        round_money(Decimal(1), mode="halfup")
    assert str(info.value) == (
        "unknown rounding mode 'halfup' (expected one of half_up, half_even, half_down, up, down)"
        "; did you mean 'half_up'?"
    )
    with pytest.raises(ValueError, match=r"^rounding step must be a positive amount, not 0$"):
        round_money(Decimal(1), Decimal(0))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1234.5", "1234.50"),
        ("-3", "-3.00"),
        ("1E+3", "1000.00"),
        ("-0.001", "0.00"),
        ("0.005", "0.01"),
    ],
)
def test_format_money_has_two_places(value: str, expected: str) -> None:
    assert format_money(Decimal(value)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1234567.5", "1 234 567,5"),  # plain spaces, never CLDR's narrow no-break space
        ("12.50", "12,50"),  # the decimals the value has, trailing zeros included
        ("-999.10", "-999,10"),
        ("-0.00", "-0,00"),
        ("999", "999"),
        ("1000", "1 000"),
        ("1E+3", "1 000"),
        ("1e-7", "0,0000001"),
        ("0.001", "0,001"),
        # More digits than the default decimal context holds: none is rounded away.
        ("123456789012345678901234567890.123456789",
         "123 456 789 012 345 678 901 234 567 890,123456789"),
    ],
)  # fmt: skip
def test_format_french(value: str, expected: str) -> None:
    assert format_french(Decimal(value)) == expected


@given(
    st.decimals(allow_nan=False, allow_infinity=False)
    | st.builds(
        lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
        st.integers(-(10**40), 10**40),
        st.integers(-40, 40),
    )
)
def test_format_french_groups_every_digit_of_the_plain_form(value: Decimal) -> None:
    text = format_french(value)
    plain = f"{value:f}"
    assert text.replace(" ", "").replace(",", ".") == plain
    whole = text.lstrip("-").partition(",")[0].split(" ")
    assert 1 <= len(whole[0]) <= 3 and all(len(group) == 3 for group in whole[1:])


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_format_french_refuses_what_is_not_a_number(value: str) -> None:
    with pytest.raises(ValueError, match="is not a finite number"):
        format_french(Decimal(value))
