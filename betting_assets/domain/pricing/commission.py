"""Exchange commission: what a winning back bet at an exchange's price is really worth.

An exchange takes commission on net winnings per market, so a back bet at price d returns
1 + (d − 1)(1 − c) per unit when it wins. Every edge, Kelly stake and settled profit at an
exchange's price uses that net price, or a backtest would count an edge that commission eats.
Bookmakers build their margin into the price and charge nothing on top.
"""

from __future__ import annotations

import polars as pl

from betting_assets.domain.data.catalog import EXCHANGE_BOOKMAKERS

DEFAULT_COMMISSION = 0.05


def is_exchange(bookmaker: str) -> bool:
    return bookmaker in EXCHANGE_BOOKMAKERS


def net_price(price: float, commission: float) -> float:
    return 1.0 + (price - 1.0) * (1.0 - commission)


def gross_price(net: float, commission: float) -> float:
    """The quoted price whose net is ``net``: what to ask an exchange for."""
    return 1.0 + (net - 1.0) / (1.0 - commission)


def effective_price(price: pl.Expr, bookmaker: pl.Expr, commission: float) -> pl.Expr:
    """``price`` net of commission where ``bookmaker`` is an exchange, as it is elsewhere."""
    if not commission:
        return price
    return pl.when(bookmaker.is_in(list(EXCHANGE_BOOKMAKERS))).then(1.0 + (price - 1.0) * (1.0 - commission)) \
        .otherwise(price)
