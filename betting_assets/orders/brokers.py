"""Brokers behind one interface: ``paper`` fills at the price on offer; ``exchange`` places on
the Betfair Exchange through betfairlightweight (``placeOrders``, ``listCurrentOrders``), on
the market and runner the mapping found (``exchange_markets``), and reads the live book, the
funds and the exchange's own settlement (``listMarketBook``, ``getAccountFunds``,
``listClearedOrders``).

A broker answers each order with a ``Fill``. ``unknown`` means the order may or may not have
reached the broker (a timeout, a dropped connection): the ledger row stays pending and the
next run asks the broker by the order's customer reference before placing anything again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from betfairlightweight.exceptions import APIError, InvalidResponse, StatusCodeError

from betting_assets.domain.pricing.commission import DEFAULT_COMMISSION, net_price
from betting_assets.domain.orders.controls import exchange_size_problem
from betting_assets.venues.betfair.ladder import to_ladder
from betting_assets.domain.orders.risk import EXCHANGE_CODE_PREFIX, BookQuote
from betting_assets.venues.betfair.client import ExchangeUnavailable, PointedClient, describe, keep_alive, logout

FillStatus = Literal["placed", "lapsed", "rejected", "unknown"]


@dataclass(frozen=True)
class OrderRequest:
    customer_ref: str
    event_id: str
    market: str
    side: str
    point: float
    price: float
    """what a unit returns on a win (net of commission at an exchange)"""
    stake: float
    min_fill: float = 1.0
    quoted_price: float | None = None
    """the price to ask for, as the exchange quotes it"""
    market_id: str | None = None
    selection_id: int | None = None
    handicap: float = 0.0
    market_version: int | None = None
    strategy_ref: str | None = None


@dataclass(frozen=True)
class Cleared:
    """The exchange's settlement of one bet: gross ``profit`` and the ``commission`` it took."""

    customer_ref: str
    outcome: str
    price_matched: float
    size_settled: float
    profit: float
    commission: float


@dataclass(frozen=True)
class Fill:
    status: FillStatus
    matched: float = 0.0
    price: float | None = None
    """what a unit matched returns on a win (net of commission at an exchange)"""
    broker_bet_id: str | None = None
    reason: str | None = None
    quoted_price: float | None = None
    """the price matched, as quoted"""
    code: str | None = None
    """why it was rejected, as a code (``exchange:`` and the exchange's error code)"""


class BrokerError(RuntimeError):
    """The broker refused the session itself (credentials, app key): nothing can be placed."""


class Broker(Protocol):
    name: str

    def place(self, order: OrderRequest) -> Fill: ...

    def lookup(self, customer_refs: list[str]) -> dict[str, Fill]:
        """What the broker holds for these references; a reference it never saw is absent."""
        ...


class PaperBroker:
    """Fills the whole stake at the price asked. Its record is the ledger row the fill is
    written to, so it holds nothing a restart could have lost."""

    name = "paper"

    def place(self, order: OrderRequest) -> Fill:
        return Fill("placed", matched=order.stake, price=order.price, broker_bet_id=f"paper-{order.customer_ref}",
                    quoted_price=order.quoted_price or order.price)

    def lookup(self, customer_refs: list[str]) -> dict[str, Fill]:
        return {}

    def close(self) -> None:
        pass


STRATEGY_REF_LENGTH = 15


class ExchangeBroker:
    """Places through betfairlightweight on a logged-in client (``exchange_client.client``). A
    call that got no readable answer (a timeout, a dropped connection, a 5xx) is ``unknown``: the
    order may stand, and reconciliation asks for it by reference before anything is sent again."""

    name = "exchange"

    def __init__(self, client: PointedClient, commission: float = DEFAULT_COMMISSION) -> None:
        self.client = client
        self.commission = commission

    def place(self, order: OrderRequest) -> Fill:
        """LIMIT at the ladder price, LAPSE, fill-or-kill with the minimum fill, the market's
        version (the exchange lapses the order if the market moved on), the slip's reference
        as both customer refs (it de-duplicates a resubmission) and the strategy's."""
        if order.market_id is None or order.selection_id is None:
            return Fill("rejected", reason="no exchange market mapped for this bet", code="not_mapped")
        price = to_ladder(order.quoted_price or order.price)
        stake = round(order.stake, 2)
        problem = exchange_size_problem(stake, price)
        if problem:
            return Fill("rejected", reason=problem, code="exchange_minimum")
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
                raise BrokerError(f"exchange refused placeOrders: {describe(exc)}") from None
            return Fill("unknown", reason=f"no answer from the exchange: {describe(exc)}")
        if result.error_code == "DUPLICATE_TRANSACTION":
            held = self.lookup([order.customer_ref]).get(order.customer_ref)
            return held or Fill("unknown", reason="the exchange holds this reference already; reconciled next run")
        report = result.place_instruction_reports[0] if result.place_instruction_reports else None
        if result.status != "SUCCESS" or report is None:
            code = (report.error_code if report else None) or result.error_code or "FAILURE"
            return Fill("rejected", reason=f"exchange rejected the order: {code}", code=f"{EXCHANGE_CODE_PREFIX}{code}")
        return self._fill(report.size_matched or 0.0, report.average_price_matched, report.bet_id, requested=stake)

    def quotes(self, market_ids: list[str], keep: Callable[[dict[str, Any]], None] | None = None,
               ) -> dict[tuple[str, int, float], BookQuote]:
        """The live books' best offers per (market, selection, handicap); ``keep`` is handed the
        books as read, to store before they are used."""
        from betting_assets.venues.betfair.markets import read_books, runner_quotes

        with self._call("listMarketBook"):
            books = read_books(self.client, sorted(set(market_ids)))
        if keep is not None:
            keep(books)
        return runner_quotes(books)

    def available(self) -> float:
        """Funds available to bet (getAccountFunds)."""
        with self._call("getAccountFunds"):
            return float(self.client.account.get_account_funds().available_to_bet_balance)

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
        logout(self.client)

    def _alive(self) -> None:
        try:
            keep_alive(self.client)
        except ExchangeUnavailable as exc:
            raise BrokerError(str(exc)) from None

    @contextmanager
    def _call(self, name: str) -> Iterator[None]:
        """A read on a live session: any error of the exchange's is the session's refusal
        (``BrokerError``), since nothing was placed that reconciliation would need to find."""
        self._alive()
        try:
            yield
        except (APIError, StatusCodeError, InvalidResponse) as exc:
            raise BrokerError(f"exchange refused {name}: {describe(exc)}") from None

    def _fill(self, matched: float, price: float | None, bet_id: str | None, requested: float | None) -> Fill:
        if not matched:
            return Fill("lapsed", broker_bet_id=bet_id, reason="nothing matched at the price: the order lapsed")
        reason = None
        if requested is not None and matched < requested - 1e-9:
            reason = f"partly matched: {matched:.2f} of {requested:.2f}, the rest lapsed"
        return Fill("placed", matched=float(matched), price=net_price(price, self.commission) if price else None,
                    broker_bet_id=bet_id, reason=reason, quoted_price=price)
