"""A resting order that has matched nothing, and the rule by which a strategy moves it.

flumine lets a strategy replace an unmatched order at a new price while it waits
(``replace_order``); here a strategy says so through ``reprice``, asked once per placement run
for each of its orders resting with nothing matched. The only move worth making for a back is
down to where the market now offers: an order above the best back waits for a layer who may never
come, while one at the best back matches at once. The strategy moves it only while its own
probability still clears its edge at the lower price, so a replaced order is one the strategy
would still have proposed there. Nothing here asks a venue: this is pure logic, and the venue's
``replace`` is Betfair's replaceOrders (a cancel, then a new bet at the new price).
"""

from __future__ import annotations

from dataclasses import dataclass

from betting_assets.domain.pricing.commission import net_price


@dataclass(frozen=True)
class RestingOrder:
    """One order as it waits: what it asks (as the venue quotes it), what the book offers now,
    and the probability the strategy bet it on."""

    strategy: str
    asked: float
    """the price it waits at, as quoted"""
    best_back: float | None
    """the best price on offer to back it now, as quoted; None when nothing is offered"""
    prob: float | None
    commission: float
    """the market's rate, which the net price is taken at"""


def chase_price(order: RestingOrder, min_edge: float) -> float | None:
    """The best back, when it is below the asked price and the order's edge there still clears
    ``min_edge``; None (keep waiting) otherwise, or when the order has no probability to price by."""
    best = order.best_back
    if best is None or order.prob is None or best >= order.asked or best <= 1.0:
        return None
    return best if order.prob * net_price(best, order.commission) - 1.0 >= min_edge else None
