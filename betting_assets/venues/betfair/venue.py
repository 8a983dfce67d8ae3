"""The Betfair Exchange as a venue, through betfairlightweight: orders on the market and runner
the mapping found (``placeOrders``, ``listCurrentOrders``), the live books, the funds and the
exchange's own settlement (``listMarketBook``, ``getAccountFunds``, ``listClearedOrders``).

A call that got no readable answer (a timeout, a dropped connection, a 5xx) is ``unknown``: the
order may stand, and reconciliation asks for it by reference before anything is sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, ClassVar

import polars as pl
from betfairlightweight.exceptions import APIError, InvalidResponse, StatusCodeError
from sqlalchemy import Engine

from betting_assets.domain.orders.book import VenueRules
from betting_assets.domain.pricing.commission import net_price
from betting_assets.domain.vocabulary import Market
from betting_assets.venues import VenueName
from betting_assets.venues.base import Cleared, Fill, OrderRequest, Quotes, VenueError
from betting_assets.domain.orders.states import BetStatus

MIN_STAKE, MIN_PAYOUT = 1.0, 10.0
"""the exchange's minimum bet in GBP: a stake below 1 is valid only when it could pay out 10"""
TRANSACTIONS_PER_HOUR = 5000
"""orders sent (failed ones too) in a clock hour beyond which Betfair charges"""
EVENT_TYPES = {"soccer": "1", "tennis": "2", "basketball": "7522", "icehockey": "7524",
                        "americanfootball": "6423", "baseball": "7511"}
"""Betfair's event type id of each sport group (the part of a sport key before the first _)"""
BOOK = "betfair_exchange"
"""the bookmaker key of prices read from the exchange's own book"""
RULES = VenueRules(min_stake=MIN_STAKE, min_payout=MIN_PAYOUT, stake_step=0.01,
                   transactions_per_hour=TRANSACTIONS_PER_HOUR)

STRATEGY_REF_LENGTH = 15
EXCHANGE_CODE = "exchange:"
"""refusal codes of the exchange's own answers (``exchange:INVALID_ODDS``)"""


class BetfairVenue:
    """Places through betfairlightweight on a logged-in client made by ``connect`` when first
    needed (``client.from_settings``, or the sandbox's); ``close`` logs out only a session this
    process logged in for."""

    name: ClassVar[VenueName] = VenueName.BETFAIR
    rules: ClassVar[VenueRules] = RULES
    books_own_prices: ClassVar[bool] = True
    settles_own_bets: ClassVar[bool] = True
    markets: ClassVar[dict[Market, str]] = {Market.H2H: "MATCH_ODDS", Market.TOTALS: "OVER_UNDER_25",
                                            Market.SPREADS: "ASIAN_HANDICAP"}

    def __init__(self, connect: Callable[[], Any], rate: float, sports: list[str] | None = None) -> None:
        self._connect = connect
        self._client: Any = None
        self.rate = rate
        self.sports = list(sports or [])

    @property
    def client(self) -> Any:
        if self._client is None:
            from betting_assets.venues.betfair.client import ExchangeUnavailable

            try:
                self._client = self._connect()
            except ExchangeUnavailable as exc:
                raise VenueError(str(exc)) from None
        return self._client

    def commission(self, market: Market) -> float:
        """The market base rate (the settings', until the catalogue's ``marketBaseRate`` is read)."""
        return self.rate

    @contextmanager
    def session(self, purpose: str) -> Iterator[BetfairVenue]:
        try:
            self.client
        except VenueError as exc:
            raise VenueError(f"{purpose}: {exc}") from None
        yield self

    def offers(self, engine: Engine, offers: pl.DataFrame, events: pl.DataFrame, now: datetime) -> pl.DataFrame:
        """The exchange's best backs (net of commission) on the runners the mapping holds for
        ``events``, read now and kept whole before they are used."""
        from betting_assets.venues.betfair.markets import exchange_offers, read_and_keep, runner_quotes
        from betting_assets.warehouse import queries

        with engine.connect() as conn:
            mapping = queries.exchange_markets_frame(conn, events["event_id"].to_list())
        ids = mapping["market_id"].unique().to_list() if mapping.height else []
        with self._call("listMarketBook"):
            quotes = runner_quotes(read_and_keep(engine, self.client, ids, now, "slips")) if ids else {}
        # read before the decision that uses it (the clock stands still through a run): stamped a
        # microsecond before it, so the look-ahead guard, which wants every price from before, takes it
        return exchange_offers(offers, mapping, quotes, self.rate, now - timedelta(microseconds=1))

    def locate(self, engine: Engine, rows: list[dict[str, Any]], now: datetime) -> None:
        """Each row's market and runner (match odds, over/under 2.5 or the handicap line, as the
        mapping holds them) and its live book, read in one pass over the markets and kept whole."""
        from betting_assets.venues.betfair.runners import index_runners, runner_key
        from betting_assets.warehouse import queries, writes

        def keep(books: dict[str, Any]) -> None:
            with engine.begin() as conn:
                writes.record_exchange_books(conn, books, now, "placement")

        with engine.connect() as conn:
            mapping = queries.exchange_markets_frame(conn, sorted({r["event_id"] for r in rows}))
        index = index_runners(mapping)
        hits = [index.get(runner_key(row)) for row in rows]
        markets = sorted({hit["market_id"] for hit in hits if hit})
        quotes = self.quotes(markets, keep) if markets else {}
        for row, hit in zip(rows, hits):
            row.update(market_id=hit["market_id"] if hit else None,
                       selection_id=hit["selection_id"] if hit else None, handicap=hit["handicap"] if hit else 0.0,
                       book=quotes.get((hit["market_id"], hit["selection_id"], hit["handicap"])) if hit else None)

    def unmapped(self, engine: Engine, slips: pl.DataFrame) -> pl.DataFrame:
        from betting_assets.venues.betfair.runners import unmapped_slips
        from betting_assets.warehouse import queries

        with engine.connect() as conn:
            runners = queries.exchange_markets_frame(conn, slips["event_id"].unique().to_list() if slips.height else [])
        return unmapped_slips(slips, runners)

    def quotes(self, market_ids: list[str], keep: Callable[[dict[str, Any]], None] | None = None) -> Quotes:
        """The live books' best offers per (market, selection, handicap); ``keep`` is handed the
        books as read, to store before they are used."""
        from betting_assets.venues.betfair.markets import read_books, runner_quotes

        with self._call("listMarketBook"):
            books = read_books(self.client, sorted(set(market_ids)))
        if keep is not None:
            keep(books)
        return runner_quotes(books)

    def funds(self) -> float | None:
        """Funds available to bet (getAccountFunds)."""
        with self._call("getAccountFunds"):
            return float(self.client.account.get_account_funds().available_to_bet_balance)

    def map_markets(self, engine: Engine, now: datetime, sports: list[str]) -> Any:
        """The upcoming events mapped onto the exchange's markets and stored (``markets.map_markets``)."""
        from betting_assets.venues.betfair.markets import map_markets

        with self._call("listMarketCatalogue"):
            return map_markets(engine, self.client, now, sports)

    def place(self, order: OrderRequest) -> Fill:
        """LIMIT at the ladder price, LAPSE, fill-or-kill with the minimum fill, the market's
        version (the exchange lapses the order if the market moved on), the slip's reference as
        both customer refs (it de-duplicates a resubmission) and the strategy's name."""
        from betting_assets.venues.betfair.client import describe
        from betting_assets.venues.betfair.ladder import to_ladder

        if order.market_id is None or order.selection_id is None:
            return Fill(BetStatus.REJECTED, reason="no exchange market mapped for this bet", code="not_mapped")
        price = to_ladder(order.quoted_price or order.price)
        stake = round(order.stake, 2)
        if stake < MIN_STAKE and stake * price < MIN_PAYOUT:
            return Fill(BetStatus.REJECTED, reason=f"stake {stake:.2f} below the exchange's minimum {MIN_STAKE:.2f} (or a "
                        f"payout of {MIN_PAYOUT:.0f} at {price})", code="venue_minimum")
        instruction = {
            "selectionId": order.selection_id, "handicap": order.handicap, "side": "BACK", "orderType": "LIMIT",
            "limitOrder": {"size": stake, "price": price, "persistenceType": "LAPSE",
                           "timeInForce": "FILL_OR_KILL", "minFillSize": min(order.min_fill, stake)},
            "customerOrderRef": order.customer_ref,
        }
        extra: dict[str, Any] = {}
        if order.market_version is not None:
            extra["market_version"] = {"version": order.market_version}
        if order.strategy_ref:
            extra["customer_strategy_ref"] = order.strategy_ref[:STRATEGY_REF_LENGTH]
        self._alive()
        try:
            result = self.client.betting.place_orders(order.market_id, [instruction], customer_ref=order.customer_ref,
                                                      **extra)
        except (APIError, StatusCodeError, InvalidResponse) as exc:
            if isinstance(exc, APIError) and exc.response:
                raise VenueError(f"exchange refused placeOrders: {describe(exc)}") from None
            return Fill("unknown", reason=f"no answer from the exchange: {describe(exc)}")
        if result.error_code == "DUPLICATE_TRANSACTION":
            held = self.lookup([order.customer_ref]).get(order.customer_ref)
            return held or Fill("unknown", reason="the exchange holds this reference already; reconciled next run")
        report = result.place_instruction_reports[0] if result.place_instruction_reports else None
        if result.status != "SUCCESS" or report is None:
            code = (report.error_code if report else None) or result.error_code or "FAILURE"
            return Fill(BetStatus.REJECTED, reason=f"exchange rejected the order: {code}", code=f"{EXCHANGE_CODE}{code}")
        return self._fill(report.size_matched or 0.0, report.average_price_matched, report.bet_id, requested=stake)

    def cleared(self, customer_refs: list[str]) -> dict[str, Cleared]:
        """The exchange's settlement of these bets (listClearedOrders, SETTLED, paged); a bet
        not yet settled is absent."""
        found: dict[str, Cleared] = {}
        if not customer_refs:
            return found
        start = 0
        while True:
            with self._call("listClearedOrders"):
                page = self.client.betting.list_cleared_orders(
                    bet_status="SETTLED", customer_order_refs=customer_refs, from_record=start, record_count=1000)
            for o in page.orders:
                found[o.customer_order_ref] = Cleared(o.customer_order_ref, o.bet_outcome, float(o.price_matched or 0),
                                                      float(o.size_settled or 0), float(o.profit or 0),
                                                      float(o.commission or 0))
            if not page.more_available or not page.orders:
                return found
            start += len(page.orders)

    def lookup(self, customer_refs: list[str]) -> dict[str, Fill]:
        if not customer_refs:
            return {}
        with self._call("listCurrentOrders"):
            result = self.client.betting.list_current_orders(customer_order_refs=customer_refs, order_projection="ALL")
        asked = set(customer_refs)
        return {o.customer_order_ref: self._fill(o.size_matched, o.average_price_matched, o.bet_id,
                                                 requested=o.price_size.size)
                for o in result.orders if o.customer_order_ref in asked}

    def close(self) -> None:
        from betting_assets.venues.betfair.client import logout

        if self._client is not None:
            logout(self._client)   # a client kept: a call after this one meets the exchange's NO_SESSION

    def _alive(self) -> None:
        from betting_assets.venues.betfair.client import ExchangeUnavailable, keep_alive

        try:
            keep_alive(self.client)
        except ExchangeUnavailable as exc:
            raise VenueError(str(exc)) from None

    @contextmanager
    def _call(self, name: str) -> Iterator[None]:
        """A read on a live session: any error of the exchange's is the session's refusal
        (``VenueError``), since nothing was placed that reconciliation would need to find."""
        from betting_assets.venues.betfair.client import describe

        self._alive()
        try:
            yield
        except (APIError, StatusCodeError, InvalidResponse) as exc:
            raise VenueError(f"exchange refused {name}: {describe(exc)}") from None

    def _fill(self, matched: float, price: float | None, bet_id: str | None, requested: float | None) -> Fill:
        if not matched:
            return Fill(BetStatus.LAPSED, broker_bet_id=bet_id, reason="nothing matched at the price: the order lapsed")
        reason = None
        if requested is not None and matched < requested - 1e-9:
            reason = f"partly matched: {matched:.2f} of {requested:.2f}, the rest lapsed"
        return Fill(BetStatus.PLACED, matched=float(matched), price=net_price(price, self.rate) if price else None,
                    broker_bet_id=bet_id, reason=reason, quoted_price=price)
