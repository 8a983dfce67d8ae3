"""The Betfair price ladder: an exchange accepts only prices on these ticks."""

from __future__ import annotations

import math

# (upper bound of the band, tick within it)
BANDS: tuple[tuple[float, float], ...] = (
    (2.0, 0.01), (3.0, 0.02), (4.0, 0.05), (6.0, 0.1), (10.0, 0.2), (20.0, 0.5), (30.0, 1.0), (50.0, 2.0),
    (100.0, 5.0), (1000.0, 10.0),
)
MIN_PRICE, MAX_PRICE = 1.01, 1000.0


def to_ladder(price: float) -> float:
    """The highest tick at or below ``price``: never ask the exchange for more than was quoted."""
    if price < MIN_PRICE:
        raise ValueError(f"price {price} is below the exchange's minimum {MIN_PRICE}")
    price = min(price, MAX_PRICE)
    low = 1.0
    for high, tick in BANDS:
        if price <= high:
            steps = math.floor(round((price - low) / tick, 9))
            return round(low + steps * tick, 2)
        low = high
    return MAX_PRICE


def on_ladder(price: float) -> bool:
    return MIN_PRICE <= price <= MAX_PRICE and math.isclose(to_ladder(price), price, abs_tol=1e-9)


def tick_above(price: float) -> float:
    """The next tick above ``price`` (itself put on the ladder first)."""
    on = to_ladder(price)
    for high, tick in BANDS:
        if on < high - 1e-9:
            return round(on + tick, 2)
    return MAX_PRICE


def tick_below(price: float) -> float:
    """The tick below ``price`` (itself put on the ladder first)."""
    on = to_ladder(price)
    for high, tick in BANDS:
        if on <= high + 1e-9:
            return max(round(on - tick, 2), MIN_PRICE)
    return MAX_PRICE
