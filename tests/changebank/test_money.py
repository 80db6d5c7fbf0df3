"""The money logic on its own: integer cents, and a clear reason for every refusal."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from changebank.money import MAX_TOTAL, InvalidAmount, make_change, parse_total


@pytest.mark.parametrize(
    ("text", "total", "nickels", "pennies"),
    [
        ("0", 0.0, 0, 0),
        ("0.00", 0.0, 0, 0),
        ("0.05", 0.05, 1, 0),
        ("0.04", 0.04, 0, 4),
        ("1.02", 1.02, 20, 2),
        ("3.24", 3.24, 64, 4),
        # Float arithmetic (the seed's) gets these wrong by one cent: 0.3 / 0.05 == 5.999...
        ("0.3", 0.3, 6, 0),
        ("0.30", 0.3, 6, 0),
        ("1.15", 1.15, 23, 0),
        ("4.35", 4.35, 87, 0),
        ("0.07", 0.07, 1, 2),
        (".5", 0.5, 10, 0),
        ("5.", 5.0, 100, 0),
        (" 2.5 ", 2.5, 50, 0),
        ("+1", 1.0, 20, 0),
        ("1.000", 1.0, 20, 0),
        ("-0", 0.0, 0, 0),
        ("1000000", 1000000.0, 20000000, 0),
        ("1000000.00", 1000000.0, 20000000, 0),
    ],
)
def test_change_is_computed_in_whole_cents(text, total, nickels, pennies):
    assert make_change(text).as_json() == {"total": total, "nickels": nickels, "pennies": pennies}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "Enter an amount"),
        ("", "Enter an amount"),
        ("   ", "Enter an amount"),
        ("abc", "with the digits 0-9"),
        ("1e9", "with the digits 0-9"),
        ("1E2", "with the digits 0-9"),
        ("NaN", "with the digits 0-9"),
        ("Infinity", "with the digits 0-9"),
        ("-inf", "with the digits 0-9"),
        ("1_000", "with the digits 0-9"),
        ("1,000", "with the digits 0-9"),
        ("0x10", "with the digits 0-9"),
        ("3.24.1", "with the digits 0-9"),
        ("1\n2", "with the digits 0-9"),
        ("-1", "can't be negative"),
        ("-0.01", "can't be negative"),
        ("1000000.01", r"at most \$1,000,000\.00"),
        ("1000000000", r"at most \$1,000,000\.00"),
        ("1.001", "two digits after the point"),
        ("0.125", "two digits after the point"),
        ("9" * 40, "too long"),
        # Digits of other scripts: Decimal() and a plain \d accept them.
        ("٣.٢٤", "with the digits 0-9"),
        ("３.２４", "with the digits 0-9"),
        ("१०", "with the digits 0-9"),
    ],
)
def test_bad_totals_are_refused_with_a_reason(text, reason):
    with pytest.raises(InvalidAmount, match=reason):
        make_change(text)


@given(st.integers(min_value=0, max_value=int(MAX_TOTAL * 100)))
def test_any_whole_cent_amount_round_trips(cents):
    text = f"{cents // 100}.{cents % 100:02d}"
    change = make_change(text)
    assert parse_total(text) == cents
    assert change.nickels * 5 + change.pennies == cents
    assert 0 <= change.pennies < 5
    assert Decimal(str(change.as_json()["total"])) == Decimal(text)


def test_refusals_speak_of_the_amount_not_of_the_api_parameter():
    for text in (None, "abc", "-1", "1.001", "1000000.01", "9" * 40):
        with pytest.raises(InvalidAmount) as refused:
            make_change(text)
        message = str(refused.value)
        assert "parameter" not in message and '"total"' not in message
        assert "amount" in message.lower()
