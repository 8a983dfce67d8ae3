"""Brokers behind one interface: ``paper`` fills at the price on offer; ``exchange`` places on
the Betfair Exchange through betfairlightweight (``placeOrders``, ``listCurrentOrders``).

A broker answers each order with a ``Fill``. ``unknown`` means the order may or may not have
reached the broker (a timeout, a dropped connection): the ledger row stays pending and the
next run asks the broker by the order's customer reference before placing anything again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from betfairlightweight.exceptions import APIError, InvalidResponse, StatusCodeError

from betting_assets.domain.ladder import to_ladder
from betting_assets.domain.settlement import SIDE_CODES
from betting_assets.placement.exchange_client import ExchangeUnavailable, PointedClient, describe, keep_alive, logout

FillStatus = Literal["placed", "lapsed", "rejected", "unknown"]


@dataclass(frozen=True)
class OrderRequest:
    customer_ref: str
    event_id: str
    market: str
    side: str
    point: float
    price: float
    stake: float
    min_fill: float = 1.0


@dataclass(frozen=True)
class Fill:
    status: FillStatus
    matched: float = 0.0
    price: float | None = None
    broker_bet_id: str | None = None
    reason: str | None = None


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
        return Fill("placed", matched=order.stake, price=order.price, broker_bet_id=f"paper-{order.customer_ref}")

    def lookup(self, customer_refs: list[str]) -> dict[str, Fill]:
        return {}

    def close(self) -> None:
        pass


def exchange_ids(order: OrderRequest) -> tuple[str, int]:
    """Market and selection ids as the sandbox's exchange names them. A live account needs
    the exchange's own ids (``listMarketCatalogue``), which this adapter does not look up."""
    return f"{order.event_id}:{order.market}:{order.point:g}", SIDE_CODES[order.side]


class ExchangeBroker:
    """Places through betfairlightweight on a logged-in client (``exchange_client.client``). A
    call that got no readable answer (a timeout, a dropped connection, a 5xx) is ``unknown``: the
    order may stand, and reconciliation asks for it by reference before anything is sent again."""

    name = "exchange"

    def __init__(self, client: PointedClient) -> None:
        self.client = client

    def place(self, order: OrderRequest) -> Fill:
        market_id, selection = exchange_ids(order)
        instruction = {
            "selectionId": selection, "handicap": order.point, "side": "BACK", "orderType": "LIMIT",
            "limitOrder": {"size": round(order.stake, 2), "price": to_ladder(order.price), "persistenceType": "LAPSE",
                           "timeInForce": "FILL_OR_KILL", "minFillSize": order.min_fill},
            "customerOrderRef": order.customer_ref,
        }
        self._alive()
        try:
            result = self.client.betting.place_orders(market_id, [instruction], customer_ref=order.customer_ref)
        except (APIError, StatusCodeError, InvalidResponse) as exc:
            if isinstance(exc, APIError) and exc.response:
                raise BrokerError(f"exchange refused placeOrders: {describe(exc)}") from None
            return Fill("unknown", reason=f"no answer from the exchange: {describe(exc)}")
        report = result.place_instruction_reports[0] if result.place_instruction_reports else None
        if result.status != "SUCCESS" or report is None:
            code = (report.error_code if report else None) or result.error_code or "FAILURE"
            return Fill("rejected", reason=f"exchange rejected the order: {code}")
        return _fill(report.size_matched or 0.0, report.average_price_matched, report.bet_id, requested=order.stake)

    def lookup(self, customer_refs: list[str]) -> dict[str, Fill]:
        if not customer_refs:
            return {}
        self._alive()
        try:
            result = self.client.betting.list_current_orders(customer_order_refs=customer_refs, order_projection="ALL")
        except (APIError, StatusCodeError, InvalidResponse) as exc:
            raise BrokerError(f"exchange refused listCurrentOrders: {describe(exc)}") from None
        asked = set(customer_refs)
        return {o.customer_order_ref: _fill(o.size_matched, o.average_price_matched, o.bet_id,
                                            requested=o.price_size.size)
                for o in result.orders if o.customer_order_ref in asked}

    def close(self) -> None:
        logout(self.client)

    def _alive(self) -> None:
        try:
            keep_alive(self.client)
        except ExchangeUnavailable as exc:
            raise BrokerError(str(exc)) from None


def _fill(matched: float, price: float | None, bet_id: str | None, requested: float | None) -> Fill:
    if not matched:
        return Fill("lapsed", broker_bet_id=bet_id, reason="nothing matched at the price: the order lapsed")
    reason = None
    if requested is not None and matched < requested - 1e-9:
        reason = f"partly matched: {matched:.2f} of {requested:.2f}, the rest lapsed"
    return Fill("placed", matched=float(matched), price=price, broker_bet_id=bet_id, reason=reason)
