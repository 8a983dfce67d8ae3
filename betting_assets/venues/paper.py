"""Paper: fills the whole stake at the price asked, at any bookmaker the feed prices. Its record
is the ledger row the fill is written to, so it holds nothing a restart could have lost, and its
bets settle by the scores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar

import polars as pl
from sqlalchemy import Engine

from betting_assets.domain.orders.book import VenueRules
from betting_assets.domain.vocabulary import MARKETS, Market
from betting_assets.venues import VenueName
from betting_assets.venues.base import Clearing, Fill, OrderRequest, Quotes, Replaced
from betting_assets.domain.orders.states import BetStatus

RULES = VenueRules(min_stake=0.0, min_payout=0.0, stake_step=0.01, transactions_per_hour=None)
"""a bookmaker takes any stake in whole cents, and counts no transactions"""


class PaperVenue:
    name: ClassVar[VenueName] = VenueName.PAPER
    rules: ClassVar[VenueRules] = RULES
    books_own_prices: ClassVar[bool] = False
    settles_own_bets: ClassVar[bool] = False
    markets: ClassVar[dict[Market, str]] = {m: str(m) for m in MARKETS}

    def commission(self, market: Market) -> float:
        return 0.0

    @contextmanager
    def session(self, purpose: str) -> Iterator[PaperVenue]:
        yield self

    def offers(self, engine: Engine, offers: pl.DataFrame, events: pl.DataFrame, now: datetime) -> pl.DataFrame:
        return offers

    def locate(self, engine: Engine, rows: list[dict[str, Any]], now: datetime) -> None:
        return None

    def unmapped(self, engine: Engine, slips: pl.DataFrame) -> pl.DataFrame:
        return slips.head(0).with_columns(reason=pl.lit(None, pl.String))

    def quotes(self, market_ids: list[str], keep: Callable[[dict[str, Any]], None] | None = None) -> Quotes:
        return {}

    def account(self) -> None:
        return None

    def map_markets(self, engine: Engine, now: datetime, sports: list[str],
                    participants: Callable[[str], list[str]] | None = None) -> None:
        return None

    def place(self, order: OrderRequest) -> Fill:
        return Fill(BetStatus.PLACED, matched=order.stake, price=order.price, broker_bet_id=f"paper-{order.customer_ref}",
                    quoted_price=order.quoted_price or order.price)

    def lookup(self, customer_refs: list[str], bet_ids: dict[str, str] | None = None) -> dict[str, Fill]:
        return {}

    def cancel(self, orders: list[tuple[str, str]]) -> None:
        return None   # paper fills at once: nothing ever rests

    def replace(self, market_id: str, bet_id: str, price: float) -> Replaced:
        return Replaced(0.0, None, "paper orders fill at once: nothing rests to move")

    def cleared(self, customer_refs: list[str], bet_ids: dict[str, str] | None = None) -> Clearing:
        return Clearing({}, {})

    def close(self) -> None:
        pass
