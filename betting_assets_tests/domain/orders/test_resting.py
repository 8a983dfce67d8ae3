"""The rule by which a strategy moves an unmatched resting back: only down to the best back, and
only while its probability still clears the edge there, net of the market's commission."""

from __future__ import annotations

import pytest

from betting_assets.domain.betting.strategies import create
from betting_assets.domain.orders.resting import RestingOrder, chase_price


def _order(best: float | None, prob: float | None = 0.55, asked: float = 2.1) -> RestingOrder:
    return RestingOrder("sharp_value", asked=asked, best_back=best, prob=prob, commission=0.05)


def test_a_resting_back_moves_down_to_the_book_only_while_its_edge_clears() -> None:
    # 0.55 · net(2.0) − 1 = 0.55 · 1.95 − 1 = +7.25 %: moved
    assert chase_price(_order(2.0), 0.02) == 2.0
    # 0.55 · net(1.9) − 1 = 0.55 · 1.855 − 1 = +2.0 % (just under 2.03 %): at 0.03 it waits
    assert chase_price(_order(1.9), 0.03) is None
    assert chase_price(_order(1.9), 0.0) == 1.9


@pytest.mark.parametrize("order", [_order(2.1), _order(2.2), _order(None), _order(2.0, prob=None), _order(1.0)])
def test_nothing_moves_up_away_from_the_book_or_without_a_probability(order: RestingOrder) -> None:
    assert chase_price(order, 0.0) is None


def test_the_live_value_strategies_ask_by_their_own_edge() -> None:
    for name in ("sharp_value", "model_value"):
        strict, loose = create(name, min_edge=0.08), create(name, min_edge=0.02)
        assert strict.reprice(_order(2.0)) is None and loose.reprice(_order(2.0)) == 2.0   # type: ignore[attr-defined]
    assert not hasattr(create("arbitrage"), "reprice")   # a locked set is never moved one leg at a time
