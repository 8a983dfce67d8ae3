"""The Betfair Exchange as a venue, through betfairlightweight: orders on the market and runner
the mapping found (``placeOrders``, ``listCurrentOrders``), the live books, the funds and the
exchange's own settlement (``listMarketBook``, ``getAccountFunds``, ``listClearedOrders``).

A call that got no readable answer (a timeout, a dropped connection, a 5xx) is ``unknown``: the
order may stand, and reconciliation asks for it by reference before anything is sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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
from betting_assets.venues.base import (Account, Cleared, Clearing, Fill, MarketCleared, OrderRequest, Quotes, Replaced,
                                        VenueError)
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
CLEARED_PAGE = 1000
"""listClearedOrders' largest recordCount"""
FILTER_SIZE = 250
"""references or market ids asked for in one call (listCurrentOrders allows 250)"""
EXECUTION_WIDE = ("BET_ACTION_ERROR", "PROCESSED_WITH_ERRORS")
FAULTS = frozenset({"ERROR_IN_MATCHER", "BET_IN_PROGRESS", "SERVICE_UNAVAILABLE", "TOO_MANY_REQUESTS",
                    "UNEXPECTED_ERROR"})
"""the exchange's codes for its own failures (Betting Enums), which the circuit breaker counts"""
"""execution-level codes that only say an instruction failed: its own code is the reason"""
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
        self._discount: float | None = None
        self._rates: dict[str, float] = {}

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
        """The settings' rate: what a market is charged before its own rate is known (``market_rate``)."""
        return self.rate

    def market_rate(self, market_id: str | None) -> float:
        """The commission a market charges: its Market Base Rate, as the catalogue stated it when it
        was mapped, less the account's discount; the settings' rate for a market not yet read."""
        return self._rates.get(market_id or "", self.rate)

    def _learn_rates(self, mapping: pl.DataFrame) -> None:
        known = mapping.filter(pl.col("market_base_rate").is_not_null()).unique("market_id")
        if known.is_empty():
            return
        if self._discount is None:
            with self._call("getAccountFunds"):
                self._discount = float(self.client.account.get_account_funds().discount_rate or 0.0)
        self._rates.update({m: charged_rate(r, self._discount, self.rate)
                            for m, r in zip(known["market_id"].to_list(), known["market_base_rate"].to_list())})

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
        self._learn_rates(mapping)
        # read before the decision that uses it (the clock stands still through a run): stamped a
        # microsecond before it, so the look-ahead guard, which wants every price from before, takes it
        return exchange_offers(offers, mapping, quotes, self.rate, now - timedelta(microseconds=1), self._rates)

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
        self._learn_rates(mapping)
        index = index_runners(mapping)
        hits = [index.get(runner_key(row)) for row in rows]
        markets = sorted({hit["market_id"] for hit in hits if hit})
        quotes = self.quotes(markets, keep) if markets else {}
        for row, hit in zip(rows, hits):
            row.update(market_id=hit["market_id"] if hit else None,
                       selection_id=hit["selection_id"] if hit else None, handicap=hit["handicap"] if hit else 0.0,
                       book=quotes.get((hit["market_id"], hit["selection_id"], hit["handicap"])) if hit else None,
                       commission_rate=self.market_rate(hit["market_id"] if hit else None))

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

    def account(self) -> Account:
        """getAccountFunds: available to bet and the exposure (negative), which together are the
        wallet a settlement moves."""
        with self._call("getAccountFunds"):
            funds = self.client.account.get_account_funds()
        return Account(float(funds.available_to_bet_balance or 0.0), float(funds.exposure or 0.0))

    def map_markets(self, engine: Engine, now: datetime, sports: list[str],
                    participants: Callable[[str], list[str]] | None = None) -> Any:
        """The upcoming events mapped onto the exchange's markets and stored (``markets.map_markets``)."""
        from betting_assets.venues.betfair.markets import map_markets

        with self._call("listMarketCatalogue"):
            return map_markets(engine, self.client, now, sports, participants=participants)

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
        limit: dict[str, Any] = {"size": stake, "price": price, "persistenceType": "LAPSE"}
        if order.fill_or_kill:
            limit.update(timeInForce="FILL_OR_KILL", minFillSize=min(order.min_fill, stake))
        instruction = {
            "selectionId": order.selection_id, "handicap": order.handicap, "side": "BACK", "orderType": "LIMIT",
            "limitOrder": limit, "customerOrderRef": order.customer_ref,
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
            wide = result.error_code if result.error_code not in EXECUTION_WIDE else None
            code = wide or (report.error_code if report else None) or result.error_code or "FAILURE"
            return Fill(BetStatus.REJECTED, reason=f"exchange rejected the order: {code}", code=f"{EXCHANGE_CODE}{code}",
                        fault=code in FAULTS)
        return self._fill(report.size_matched or 0.0, report.average_price_matched, report.bet_id, requested=stake,
                          market_id=order.market_id, resting=report.order_status == "EXECUTABLE")

    def cancel(self, orders: list[tuple[str, str]]) -> None:
        """cancelOrders, one call a market (an order matched or lapsed meanwhile is the
        exchange's BET_TAKEN_OR_LAPSED: nothing to cancel, and lookup says what became of it)."""
        by_market: dict[str, list[str]] = {}
        for market_id, bet_id in orders:
            by_market.setdefault(market_id, []).append(bet_id)
        for market_id, bet_ids in sorted(by_market.items()):
            with self._call("cancelOrders"):
                self.client.betting.cancel_orders(market_id, [{"betId": b} for b in bet_ids])

    def replace(self, market_id: str, bet_id: str, price: float) -> Replaced:
        """replaceOrders: the exchange cancels the bet's unmatched rest, then places a new bet for
        that much at ``price`` (on the ladder), with a bet id of its own; a new bet it refuses
        leaves the cancel standing. An unanswered call may have done either: the next run's
        lookup finds what stands."""
        from betting_assets.venues.betfair.client import describe
        from betting_assets.venues.betfair.ladder import to_ladder

        self._alive()
        try:
            result = self.client.betting.replace_orders(market_id, [{"betId": bet_id, "newPrice": to_ladder(price)}])
        except (APIError, StatusCodeError, InvalidResponse) as exc:
            if isinstance(exc, APIError) and exc.response:
                raise VenueError(f"exchange refused replaceOrders: {describe(exc)}") from None
            return Replaced(0.0, None, f"no answer from the exchange to replaceOrders: {describe(exc)}")
        report = result.replace_instruction_reports[0] if result.replace_instruction_reports else None
        if report is None:
            return Replaced(0.0, None, f"exchange refused replaceOrders: {result.error_code}")
        cancel, placed = report.cancel_instruction_reports, report.place_instruction_reports
        cancelled = float(cancel.size_cancelled or 0.0) if cancel.status == "SUCCESS" else 0.0
        if placed.status != "SUCCESS" or not placed.bet_id:
            code = placed.error_code if cancel.status == "SUCCESS" else cancel.error_code
            return Replaced(cancelled, None, f"exchange refused the replacement: {code or result.error_code}")
        fill = self._fill(placed.size_matched or 0.0, placed.average_price_matched, str(placed.bet_id),
                          requested=cancelled, market_id=market_id, resting=placed.order_status == "EXECUTABLE")
        return Replaced(cancelled, fill)

    def cleared(self, customer_refs: list[str], bet_ids: dict[str, str] | None = None) -> Clearing:
        """The exchange's settlement of these bets, by bet (``_cleared_bets``), and of their
        markets (``groupBy=MARKET``: the only roll-up that carries the commission, charged on the
        market's net winnings); a bet not yet cleared is absent."""
        bets = self._cleared_bets(customer_refs, bet_ids)
        markets: dict[str, MarketCleared] = {}
        settled = sorted({c.market_id for c in bets.values() if c.kind == "settled" and c.market_id})
        for chunk in _chunks(settled):
            for o in self._cleared_pages(bet_status="SETTLED", market_ids=chunk, group_by="MARKET"):
                markets[o.market_id] = MarketCleared(o.market_id, float(o.profit or 0), float(o.commission or 0),
                                                     int(o.bet_count or 0))
        return Clearing(bets, markets)

    def _cleared_bets(self, customer_refs: list[str], bet_ids: dict[str, str] | None = None) -> dict[str, Cleared]:
        """listClearedOrders SETTLED and VOIDED for these references, paged."""
        bets: dict[str, Cleared] = {}
        for status in ("SETTLED", "VOIDED"):
            for asked, ref_of in _filters(customer_refs, bet_ids):
                for o in self._cleared_pages(bet_status=status, **asked):
                    if (ref := ref_of(o)) is not None:
                        bets[ref] = Cleared(ref, "settled" if status == "SETTLED" else "voided", o.bet_outcome,
                                            float(o.price_matched or 0), float(o.size_settled or 0),
                                            float(o.profit or 0), o.market_id)
        return bets

    def _cleared_pages(self, **asked: Any) -> Iterator[Any]:
        start = 0
        while True:
            with self._call("listClearedOrders"):
                page = self.client.betting.list_cleared_orders(from_record=start, record_count=CLEARED_PAGE, **asked)
            yield from page.orders
            if not page.more_available or not page.orders:
                return
            start += len(page.orders)

    def lookup(self, customer_refs: list[str], bet_ids: dict[str, str] | None = None) -> dict[str, Fill]:
        """What the exchange holds for these references (by venue bet id where known): its current
        orders, and for a reference no longer current, its cleared record (settled or voided:
        matched; lapsed or cancelled: nothing matched). A reference whose known bet is gone is also
        asked for a current order under the reference itself: a replacement whose answer never
        came."""
        if not customer_refs:
            return {}
        found = self._current(customer_refs, bet_ids)
        lost = [r for r in customer_refs if r not in found and bet_ids and bet_ids.get(r)]
        if lost:
            found.update({r: f for r, f in self._current(lost, None).items() if f.status == BetStatus.RESTING})
        gone = [r for r in customer_refs if r not in found]
        if gone:
            for ref, report in self._cleared_bets(gone, bet_ids).items():
                found[ref] = self._fill(report.size_settled, report.price_matched, None, requested=None,
                                        market_id=report.market_id)
            for status, ended in (("LAPSED", BetStatus.LAPSED), ("CANCELLED", BetStatus.CANCELLED)):
                for asked, ref_of in _filters([r for r in gone if r not in found], bet_ids):
                    for o in self._cleared_pages(bet_status=status, **asked):
                        if (ref := ref_of(o)) is not None:
                            found.setdefault(ref, Fill(ended, broker_bet_id=o.bet_id,
                                                       reason=f"nothing matched: the exchange reports the order {status}"))
        return found

    def _current(self, customer_refs: list[str], bet_ids: dict[str, str] | None) -> dict[str, Fill]:
        found: dict[str, Fill] = {}
        for asked, ref_of in _filters(customer_refs, bet_ids):
            with self._call("listCurrentOrders"):
                result = self.client.betting.list_current_orders(order_projection="ALL", **asked)
            for o in result.orders:
                if (ref := ref_of(o)) is not None:
                    found[ref] = self._fill(o.size_matched, o.average_price_matched, o.bet_id,
                                            requested=o.price_size.size, market_id=o.market_id,
                                            resting=o.status == "EXECUTABLE")
        return found

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

    def _fill(self, matched: float, price: float | None, bet_id: str | None, requested: float | None,
              market_id: str | None = None, resting: bool = False) -> Fill:
        rate = self.market_rate(market_id)
        net = net_price(price, rate) if price else None
        if resting:
            left = round((requested or 0.0) - (matched or 0.0), 2)
            return Fill(BetStatus.RESTING, matched=float(matched or 0.0), price=net, broker_bet_id=bet_id,
                        reason=f"resting: {matched or 0.0:.2f} of {requested or 0.0:.2f} matched, {left:.2f} waits at "
                        "the price", quoted_price=price or None, remaining=left, market_id=market_id)
        if not matched:
            return Fill(BetStatus.LAPSED, broker_bet_id=bet_id, reason="nothing matched at the price: the order lapsed")
        reason = None
        if requested is not None and matched < requested - 1e-9:
            reason = f"partly matched: {matched:.2f} of {requested:.2f}, the rest lapsed"
        return Fill(BetStatus.PLACED, matched=float(matched), price=net, broker_bet_id=bet_id, reason=reason,
                    quoted_price=price, market_id=market_id)

def charged_rate(base_rate: float | None, discount_pct: float, fallback: float) -> float:
    """The commission a market charges: its Market Base Rate (a fraction) less the account's
    discount (getAccountFunds' discountRate, in percent); ``fallback`` for a market not yet read."""
    return fallback if base_rate is None else base_rate * (1.0 - discount_pct / 100.0)


def _filters(customer_refs: list[str], bet_ids: dict[str, str] | None
             ) -> list[tuple[dict[str, list[str]], Callable[[Any], str | None]]]:
    """The order filters that ask for these references (by venue bet id where one is known, by
    reference otherwise), each with how an answer maps back to the ledger's reference."""
    known = {ref: str(bet_ids[ref]) for ref in customer_refs if bet_ids and bet_ids.get(ref)}
    by_id = {bet: ref for ref, bet in known.items()}
    plain = [ref for ref in customer_refs if ref not in known]
    asks: list[tuple[dict[str, list[str]], Callable[[Any], str | None]]] = []
    for chunk in _chunks(plain):
        wanted = set(chunk)
        asks.append(({"customer_order_refs": chunk},
                     lambda o, wanted=wanted: o.customer_order_ref if o.customer_order_ref in wanted else None))
    for chunk in _chunks(sorted(by_id)):
        asks.append(({"bet_ids": chunk}, lambda o: by_id.get(str(o.bet_id))))
    return asks


def _chunks(items: Sequence[str]) -> list[list[str]]:
    return [list(items[i:i + FILTER_SIZE]) for i in range(0, len(items), FILTER_SIZE)]
