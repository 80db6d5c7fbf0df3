"""ChangeBank's one piece of business logic: turning a dollar amount into nickels and pennies.

All arithmetic is in integer cents. The seed computed with floats, which is off by a cent for
amounts such as 0.30, 1.15 or 4.35 (0.3 / 0.05 == 5.999...).
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_TOTAL = Decimal("1000000.00")
MAX_TOTAL_TEXT = "1,000,000.00"
# Longer input cannot be a sensible amount; refusing it early bounds the parsing work.
MAX_INPUT_LENGTH = 32
# Plain decimal notation only (no NaN, Infinity, exponents, underscores or thousands separators).
_AMOUNT_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_CENT = Decimal("0.01")


class InvalidAmount(ValueError):
    """The total cannot be changed; the message is written for the person who typed it."""


@dataclass(frozen=True)
class Change:
    cents: int

    @property
    def nickels(self):
        return self.cents // 5

    @property
    def pennies(self):
        return self.cents % 5

    @property
    def total(self):
        """The total in dollars, as a Decimal with exactly two places."""
        return (Decimal(self.cents) / 100).quantize(_CENT)

    def as_json(self):
        """The API's answer; a float prints as its shortest form (3.24), exact for <= 2 places."""
        return {"total": float(self.total), "nickels": self.nickels, "pennies": self.pennies}


def parse_total(text):
    """Turn the user's text into a whole number of cents, or raise InvalidAmount saying why."""
    if text is None or not text.strip():
        raise InvalidAmount('The "total" parameter is required, for example total=3.24.')
    text = text.strip()
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidAmount(
            f'The "total" parameter is too long (at most {MAX_INPUT_LENGTH} characters).'
        )
    if not _AMOUNT_RE.fullmatch(text):
        raise InvalidAmount(
            'The "total" parameter must be an amount in dollars written with digits, like 3.24.'
        )
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern above already excludes this
        raise InvalidAmount('The "total" parameter must be a number, like 3.24.') from exc
    if amount < 0:
        raise InvalidAmount('The "total" parameter must not be negative.')
    if amount > MAX_TOTAL:
        raise InvalidAmount(f'The "total" parameter must be at most {MAX_TOTAL_TEXT}.')
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise InvalidAmount(
            'The "total" parameter has more than 2 decimal places; amounts are in whole cents.'
        )
    return int(cents)


def make_change(text):
    """Change the given total (text from a query string or form) into nickels and pennies."""
    return Change(cents=parse_total(text))
