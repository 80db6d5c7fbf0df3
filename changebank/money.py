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
# Plain decimal notation in ASCII digits only (no NaN, Infinity, exponents, underscores, thousands
# separators, nor other scripts' digits such as ٣.٢٤, which Decimal and \d would accept).
_AMOUNT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
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
    """Turn the user's text into a whole number of cents, or raise InvalidAmount saying why.

    The messages speak of "the amount" (the form's "Amount in dollars" field), not of the API's
    parameter: people read them on the page; the API adds the parameter's name beside them.
    """
    if text is None or not text.strip():
        raise InvalidAmount("Enter an amount in dollars, for example 3.24.")
    text = text.strip()
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidAmount(f"That amount is too long: use at most {MAX_INPUT_LENGTH} characters.")
    if not _AMOUNT_RE.fullmatch(text):
        raise InvalidAmount(
            "Write the amount in dollars with the digits 0-9 and a point, like 3.24 "
            "(no $ sign, commas or spaces)."
        )
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern above already excludes this
        raise InvalidAmount("Write the amount as a number, like 3.24.") from exc
    if amount < 0:
        raise InvalidAmount("The amount can't be negative.")
    if amount > MAX_TOTAL:
        raise InvalidAmount(f"The amount can be at most ${MAX_TOTAL_TEXT}.")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise InvalidAmount("Use at most two digits after the point: amounts are in whole cents.")
    return int(cents)


def make_change(text):
    """Change the given total (text from a query string or form) into nickels and pennies."""
    return Change(cents=parse_total(text))
