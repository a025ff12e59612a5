"""The one codec for money and quantities: text and numbers from outside in, exact values out.

Money is `Decimal`, never a float; quantities are `int`, or `Decimal` where a system keeps
fractions (QuickBooks QtyOnHand, Square counts). Everything that reaches us from a store, a back
office, a CSV or the cache passes through `parse_money` / `parse_quantity`, which refuse anything
that is not a plain finite number (a float, NaN, Infinity, "1e400", "12,50", "").

The cache keeps each value exactly as text, plus an integer in millionths that SQL compares
fast; a value with more than six places is flagged inexact so reconcile compares it exactly.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

Quantity = int | Decimal
Number = int | Decimal

MICROS = Decimal(1_000_000)
# A plain decimal number as vendors send it: optional sign, digits, optional fraction.
_PLAIN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
# Far beyond any price or stock level; keeps a hostile "9" * 10_000 out of arithmetic.
_MAX_DIGITS = 30


class BadNumber(ValueError):
    """A value from outside that is not a plain finite number. One line, names the value."""


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, bool | float):
        # A float has already lost the exact value (0.1 + 0.2); a bool is not a number.
        raise BadNumber(f"{what} {value!r} is not an exact number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise BadNumber(f"{what} {value} is not a finite number")
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _PLAIN.fullmatch(text):
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise BadNumber(f"{what} {shown!r} is not a number")
        result = Decimal(text)
    else:
        raise BadNumber(f"{what} of type {type(value).__name__} is not a number")
    if len(result.as_tuple().digits) > _MAX_DIGITS:
        raise BadNumber(f"{what} has more than {_MAX_DIGITS} digits")
    return result


def parse_money(value: object, what: str = "amount") -> Decimal | None:
    """Money from text, an int or a Decimal; None for None or empty text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _decimal(value, what)


def parse_quantity(value: object, what: str = "quantity") -> Quantity | None:
    """A quantity: an int when whole (the usual case), else an exact Decimal."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _decimal(value, what)
    return whole(number)


def whole(number: Number) -> Quantity:
    """An int when the value has no fraction (2.000 -> 2), else the Decimal itself."""
    if isinstance(number, int):
        return number
    integral = number.to_integral_value()
    return int(integral) if number == integral else number.normalize()


def text(value: Number | None) -> str | None:
    """Canonical text for the cache, the journal and JSON: no exponent, trailing zeros kept for
    money as given ("19.90" stays "19.90"), quantities as plain integers where whole."""
    if value is None:
        return None
    if isinstance(value, int):
        return str(value)
    return f"{value:f}"


def micros(value: Number | None) -> int | None:
    """Integer millionths for fast comparisons in SQL (see `is_exact_micros`)."""
    if value is None:
        return None
    return int((Decimal(value) * MICROS).to_integral_value(ROUND_HALF_EVEN))


def is_exact_micros(value: Number | None) -> bool:
    """True when `micros` holds the value exactly (six places or fewer)."""
    if value is None or isinstance(value, int):
        return True
    return Decimal(value) * MICROS == (Decimal(value) * MICROS).to_integral_value()


def quantize(value: Decimal, places: int) -> Decimal:
    """The value as a system that keeps `places` decimals holds it (banker's rounding)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def places_of(value: Number) -> int:
    """How many decimals a value carries (19.90 -> 2, 7 -> 0)."""
    if isinstance(value, int):
        return 0
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def gap_over(a: str | None, b: str | None, tolerance: str) -> int:
    """SQL function for reconcile: 1 when |a - b| > tolerance, exactly (values as cache text)."""
    if a is None or b is None:
        return int(a is not b)
    try:
        return int(abs(Decimal(a) - Decimal(b)) > Decimal(tolerance))
    except InvalidOperation:  # a hand-edited cache: say "differs" rather than hide it
        return 1
