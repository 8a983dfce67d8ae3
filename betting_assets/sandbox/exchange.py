"""A fake exchange speaking the Betfair betting API's JSON-RPC shape, for tests and the demo.

What it answers is scripted through ``POST /sandbox/exchange``: ``accept``, ``partial:F``
(match a share F), ``lapse`` (match nothing), ``reject:CODE`` (an instruction error such as
INSUFFICIENT_FUNDS), ``timeout:S`` (take the order, then answer only after S seconds).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from betting_assets.domain.ladder import on_ladder

DEFAULT_APP_KEY = "sandbox-app-key"
DEFAULT_SESSION = "sandbox-session"


@dataclass
class FakeExchange:
    app_key: str = DEFAULT_APP_KEY
    session_token: str = DEFAULT_SESSION
    script: list[str] = field(default_factory=list)
    default: str = "accept"
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def configure(self, doc: dict[str, Any]) -> None:
        with self.lock:
            if doc.get("reset"):
                self.orders.clear()
                self.calls.clear()
            self.script = list(doc.get("script", self.script))
            self.default = str(doc.get("default", self.default))
            self.app_key = str(doc.get("app_key", self.app_key))
            self.session_token = str(doc.get("session_token", self.session_token))

    def _next(self) -> str:
        return self.script.pop(0) if self.script else self.default

    def place(self, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """The result and how long to wait before answering."""
        instruction = params["instructions"][0]
        ref = instruction.get("customerOrderRef") or params.get("customerRef")
        limit = instruction["limitOrder"]
        with self.lock:
            self.calls.append("placeOrders")
            if ref in self.orders:  # the exchange de-duplicates on the customer reference
                return self._success(self.orders[ref]), 0.0
            if not on_ladder(float(limit["price"])):
                return self._failure("INVALID_ODDS"), 0.0
            action = self._next()
            kind, _, arg = action.partition(":")
            if kind == "reject":
                return self._failure(arg or "INSUFFICIENT_FUNDS"), 0.0
            share = {"accept": 1.0, "timeout": 1.0, "lapse": 0.0}.get(kind, float(arg or 0.5))
            size = float(limit["size"])
            matched = round(size * share, 2)
            if 0 < matched < float(limit.get("minFillSize") or 0):
                matched = 0.0
            order = {"betId": str(next(self.ids)), "customerOrderRef": ref, "marketId": params["marketId"],
                     "selectionId": instruction["selectionId"], "handicap": instruction.get("handicap", 0.0),
                     "side": instruction["side"], "status": "EXECUTION_COMPLETE", "sizeMatched": matched,
                     "averagePriceMatched": float(limit["price"]) if matched else 0.0,
                     "sizeLapsed": round(size - matched, 2), "priceSize": {"price": limit["price"], "size": size}}
            self.orders[ref] = order
            return self._success(order), float(arg or 0) if kind == "timeout" else 0.0

    def current_orders(self, params: dict[str, Any]) -> dict[str, Any]:
        refs = set(params.get("customerOrderRefs") or [])
        with self.lock:
            self.calls.append("listCurrentOrders")
            found = [o for ref, o in self.orders.items() if not refs or ref in refs]
        return {"currentOrders": found, "moreAvailable": False}

    @staticmethod
    def _success(order: dict[str, Any]) -> dict[str, Any]:
        return {"status": "SUCCESS", "marketId": order["marketId"], "instructionReports": [{
            "status": "SUCCESS", "betId": order["betId"], "sizeMatched": order["sizeMatched"],
            "averagePriceMatched": order["averagePriceMatched"], "orderStatus": order["status"]}]}

    @staticmethod
    def _failure(code: str) -> dict[str, Any]:
        return {"status": "FAILURE", "errorCode": "BET_ACTION_ERROR",
                "instructionReports": [{"status": "FAILURE", "errorCode": code}]}


def _rpc_error(code: str, request_id: Any) -> Response:
    return JSONResponse({"jsonrpc": "2.0", "id": request_id, "error": {
        "code": -32099, "message": "ANGX-0003", "data": {"APINGException": {"errorCode": code}}}})


def exchange_routes(exchange: FakeExchange) -> list[Route]:
    async def rpc(request: Request) -> Response:
        doc = await request.json()
        call = doc[0] if isinstance(doc, list) else doc
        request_id = call.get("id")
        if request.headers.get("X-Application") != exchange.app_key:
            return _rpc_error("INVALID_APP_KEY", request_id)
        if request.headers.get("X-Authentication") != exchange.session_token:
            return _rpc_error("INVALID_SESSION_INFORMATION", request_id)
        method = str(call.get("method", "")).rsplit("/", 1)[-1]
        if method == "placeOrders":
            result, delay = exchange.place(call.get("params") or {})
            if delay:
                await asyncio.sleep(delay)
        elif method == "listCurrentOrders":
            result = exchange.current_orders(call.get("params") or {})
        else:
            return _rpc_error("INVALID_INPUT_DATA", request_id)
        return JSONResponse({"jsonrpc": "2.0", "id": request_id, "result": result})

    async def control(request: Request) -> Response:
        if request.method == "POST":
            exchange.configure(await request.json())
        with exchange.lock:
            return JSONResponse({"orders": list(exchange.orders.values()), "script": exchange.script,
                                 "default": exchange.default, "calls": list(exchange.calls)})

    return [Route("/exchange/betting/json-rpc/v1", rpc, methods=["POST"]),
            Route("/sandbox/exchange", control, methods=["GET", "POST"])]
