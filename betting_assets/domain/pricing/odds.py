"""Price conversions and market margins (docs/betting-maths.md).

Scalar helpers serve validation and the sandbox; the polars expressions serve bulk paths.
"""

from __future__ import annotations

import math

import polars as pl

MIN_DECIMAL = 1.01
MAX_DECIMAL = 1000.0
"""the top of the exchange ladder: no bookmaker offers more; a larger number is a feed error"""
MIN_ABS_AMERICAN = 100.0


class InvalidPrice(ValueError):
    """A price no bookmaker could offer; the message says which rule it breaks."""


def american_to_decimal(american: float) -> float:
    if american is None or not math.isfinite(american) or abs(american) < MIN_ABS_AMERICAN:
        raise InvalidPrice(f"American price {american!r} must satisfy |a| >= 100")
    if american > 0:
        return 1.0 + american / 100.0
    return 1.0 + 100.0 / abs(american)


def decimal_to_american(decimal: float) -> float:
    check_decimal(decimal)
    if decimal >= 2.0:
        return (decimal - 1.0) * 100.0
    return -100.0 / (decimal - 1.0)


def check_decimal(decimal: float) -> float:
    if decimal is None or not math.isfinite(decimal) or decimal < MIN_DECIMAL:
        raise InvalidPrice(f"decimal price {decimal!r} must be >= {MIN_DECIMAL}")
    if decimal > MAX_DECIMAL:
        raise InvalidPrice(f"decimal price {decimal!r} is implausible (above {MAX_DECIMAL:g})")
    return decimal


def implied_probability(decimal: float) -> float:
    return 1.0 / check_decimal(decimal)


def overround(decimals: list[float]) -> float:
    """Sum of implied probabilities minus one over one bookmaker's market."""
    return sum(implied_probability(d) for d in decimals) - 1.0


def expected_value(probability: float, decimal: float) -> float:
    return probability * check_decimal(decimal) - 1.0


def american_to_decimal_expr(american: pl.Expr) -> pl.Expr:
    """Null where the American price is out of range, so the caller can flag it."""
    return (
        pl.when(american >= MIN_ABS_AMERICAN)
        .then(1.0 + american / 100.0)
        .when(american <= -MIN_ABS_AMERICAN)
        .then(1.0 + 100.0 / american.abs())
        .otherwise(None)
    )


def decimal_to_american_expr(decimal: pl.Expr) -> pl.Expr:
    return (
        pl.when(decimal >= 2.0)
        .then((decimal - 1.0) * 100.0)
        .when(decimal >= MIN_DECIMAL)
        .then(-100.0 / (decimal - 1.0))
        .otherwise(None)
        .round(0)
    )
