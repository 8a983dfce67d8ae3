"""Brokers behind one interface: ``paper`` fills at the price on offer; ``exchange`` speaks the
Betfair Exchange betting API's JSON-RPC (``placeOrders``, ``listCurrentOrders``).

A broker answers each order with a ``Fill``. ``unknown`` means the order may or may not have
reached the broker (a timeout, a dropped connection): the ledger row stays pending and the
next run asks the broker by the order's customer reference before placing anything again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from betting_assets.domain.ladder import to_ladder
from betting_assets.domain.settlement import SIDE_CODES

FillStatus = Literal["placed", "lapsed", "rejected", "unknown"]
RPC_PATH = "/exchange/betting/json-rpc/v1"


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


def exchange_ids(order: OrderRequest) -> tuple[str, int]:
    """Market and selection ids as the sandbox's exchange names them. A live account needs
    the exchange's own ids (``listMarketCatalogue``), which this adapter does not look up."""
    return f"{order.event_id}:{order.market}:{order.point:g}", SIDE_CODES[order.side]


class ExchangeBroker:
    name = "exchange"

    def __init__(self, base_url: str, app_key: str, session_token: str, timeout_s: float = 5.0) -> None:
        self.url = base_url.rstrip("/") + RPC_PATH
        self.headers = {"X-Application": app_key, "X-Authentication": session_token}
        self.timeout_s = timeout_s

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "method": f"SportsAPING/v1.0/{method}", "params": params, "id": 1}
        response = httpx.post(self.url, json=body, headers=self.headers, timeout=self.timeout_s)
        response.raise_for_status()
        doc = response.json()
        if "error" in doc:
            detail = (doc["error"].get("data") or {}).get("APINGException") or {}
            code = detail.get("errorCode") or doc["error"].get("message") or "UNKNOWN"
            raise BrokerError(f"exchange refused {method}: {code} {detail.get('errorDetails') or ''}".strip())
        return doc["result"]  # type: ignore[no-any-return]

    def place(self, order: OrderRequest) -> Fill:
        market_id, selection = exchange_ids(order)
        price = to_ladder(order.price)
        instruction = {
            "selectionId": selection, "handicap": order.point, "side": "BACK", "orderType": "LIMIT",
            "limitOrder": {"size": round(order.stake, 2), "price": price, "persistenceType": "LAPSE",
                           "timeInForce": "FILL_OR_KILL", "minFillSize": order.min_fill},
            "customerOrderRef": order.customer_ref,
        }
        try:
            result = self._call("placeOrders", {"marketId": market_id, "instructions": [instruction],
                                                "customerRef": order.customer_ref})
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            return Fill("unknown", reason=f"no answer from the exchange: {type(exc).__name__}")
        report = (result.get("instructionReports") or [{}])[0]
        if result.get("status") != "SUCCESS":
            code = report.get("errorCode") or result.get("errorCode") or "FAILURE"
            return Fill("rejected", reason=f"exchange rejected the order: {code}")
        return _fill(report.get("sizeMatched", 0.0), report.get("averagePriceMatched"), report.get("betId"),
                     requested=order.stake)

    def lookup(self, customer_refs: list[str]) -> dict[str, Fill]:
        if not customer_refs:
            return {}
        result = self._call("listCurrentOrders", {"customerOrderRefs": customer_refs, "orderProjection": "ALL"})
        return {o["customerOrderRef"]: _fill(o.get("sizeMatched", 0.0), o.get("averagePriceMatched"), o.get("betId"),
                                             requested=(o.get("priceSize") or {}).get("size"))
                for o in result.get("currentOrders", [])}


def _fill(matched: float, price: float | None, bet_id: str | None, requested: float | None) -> Fill:
    if not matched:
        return Fill("lapsed", broker_bet_id=bet_id, reason="nothing matched at the price: the order lapsed")
    reason = None
    if requested is not None and matched < requested - 1e-9:
        reason = f"partly matched: {matched:.2f} of {requested:.2f}, the rest lapsed"
    return Fill("placed", matched=float(matched), price=price, broker_bet_id=bet_id, reason=reason)
