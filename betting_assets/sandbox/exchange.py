"""A fake exchange answering as Betfair's Exchange API-NG does, for tests and the demo: its
identity service (login, certificate login, keep-alive, logout), the betting API's JSON-RPC
(``listMarketCatalogue`` and ``listMarketBook`` from ``exchange_book``, ``placeOrders``,
``listCurrentOrders``) and the account API's ``getAccountFunds``, in the shapes betfairlightweight
reads.

What placeOrders answers is scripted through ``POST /sandbox/exchange``: ``accept``,
``partial:F`` (match a share F), ``lapse`` (match nothing), ``reject:CODE`` (an instruction
error such as INVALID_BET_SIZE), ``timeout:S`` (take the order, then answer only after S
seconds). A stake above the available balance is refused with INSUFFICIENT_FUNDS whatever
the script says.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from betting_assets.domain.ladder import on_ladder
from betting_assets.sandbox.exchange_book import ExchangeBooks

DEFAULT_APP_KEY = "sandbox-app-key"
DEFAULT_SESSION = "sandbox-session"
DEFAULT_USERNAME = "sandbox"
DEFAULT_PASSWORD = "sandbox-password"
DEFAULT_BALANCE = 10_000.0


@dataclass
class FakeExchange:
    app_key: str = DEFAULT_APP_KEY
    session_token: str = DEFAULT_SESSION
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD
    balance: float = DEFAULT_BALANCE
    logged_in: bool = True
    script: list[str] = field(default_factory=list)
    default: str = "accept"
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    books: ExchangeBooks | None = None
    """the exchange's markets and books over the sandbox's market and clock"""

    def configure(self, doc: dict[str, Any]) -> None:
        with self.lock:
            if doc.get("reset"):
                self.orders.clear()
                self.calls.clear()
                self.balance = DEFAULT_BALANCE
            self.balance = float(doc.get("balance", self.balance))
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
                return self._failure("INVALID_ODDS", params), 0.0
            size = float(limit["size"])
            if size > self.balance + 1e-9:
                return self._failure("INSUFFICIENT_FUNDS", params), 0.0
            action = self._next()
            kind, _, arg = action.partition(":")
            if kind == "reject":
                return self._failure(arg or "INSUFFICIENT_FUNDS", params), 0.0
            share = {"accept": 1.0, "timeout": 1.0, "lapse": 0.0}.get(kind, float(arg or 0.5))
            matched = round(size * share, 2)
            if 0 < matched < float(limit.get("minFillSize") or 0):
                matched = 0.0
            self.balance = round(self.balance - matched, 2)
            order = {"betId": str(next(self.ids)), "customerOrderRef": ref, "marketId": params["marketId"],
                     "customerStrategyRef": params.get("customerStrategyRef"),
                     "selectionId": instruction["selectionId"], "handicap": instruction.get("handicap", 0.0),
                     "side": instruction["side"], "orderType": "LIMIT", "persistenceType": limit["persistenceType"],
                     "status": "EXECUTION_COMPLETE", "sizeMatched": matched,
                     "averagePriceMatched": float(limit["price"]) if matched else 0.0, "bspLiability": 0.0,
                     "sizeLapsed": round(size - matched, 2), "sizeRemaining": 0.0, "sizeCancelled": 0.0,
                     "sizeVoided": 0.0, "placedDate": _now(), "priceSize": {"price": limit["price"], "size": size}}
            self.orders[ref] = order
            return self._success(order), float(arg or 0) if kind == "timeout" else 0.0

    def funds(self) -> dict[str, Any]:
        with self.lock:
            self.calls.append("getAccountFunds")
            exposure = sum(o["sizeMatched"] for o in self.orders.values())
            return {"availableToBetBalance": self.balance, "exposure": -exposure, "retainedCommission": 0.0,
                    "exposureLimit": -10_000.0, "discountRate": 0.0, "pointsBalance": 0, "wallet": "UK"}

    def login(self, form: dict[str, Any], app_key: str | None) -> dict[str, Any]:
        """Interactive login's answer (certificate login answers with ``sessionToken`` and
        ``loginStatus`` instead; ``identity`` turns one into the other)."""
        with self.lock:
            self.calls.append("login")
            if app_key != self.app_key:
                return {"token": "", "product": app_key, "status": "FAIL", "error": "INVALID_APP_KEY"}
            if (form.get("username"), form.get("password")) != (self.username, self.password):
                return {"token": "", "product": app_key, "status": "FAIL", "error": "INVALID_USERNAME_OR_PASSWORD"}
            self.logged_in = True
            return {"token": self.session_token, "product": app_key, "status": "SUCCESS", "error": ""}

    def session_call(self, name: str, token: str | None, app_key: str | None) -> dict[str, Any]:
        """keepAlive and logout: the session named by ``token``, which logout ends."""
        with self.lock:
            self.calls.append(name)
            if app_key != self.app_key or token != self.session_token or not self.logged_in:
                return {"token": "", "product": app_key, "status": "FAIL", "error": "NO_SESSION"}
            if name == "logout":
                self.logged_in = False
            return {"token": token, "product": app_key, "status": "SUCCESS", "error": ""}

    def current_orders(self, params: dict[str, Any]) -> dict[str, Any]:
        refs = set(params.get("customerOrderRefs") or [])
        with self.lock:
            self.calls.append("listCurrentOrders")
            found = [o for ref, o in self.orders.items() if not refs or ref in refs]
        return {"currentOrders": found, "moreAvailable": False}

    @staticmethod
    def _success(order: dict[str, Any]) -> dict[str, Any]:
        return {"status": "SUCCESS", "marketId": order["marketId"], "customerRef": order["customerOrderRef"],
                "instructionReports": [{
                    "status": "SUCCESS", "betId": order["betId"], "sizeMatched": order["sizeMatched"],
                    "averagePriceMatched": order["averagePriceMatched"], "orderStatus": order["status"],
                    "placedDate": order["placedDate"]}]}

    @staticmethod
    def _failure(code: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"status": "FAILURE", "errorCode": "BET_ACTION_ERROR", "marketId": params.get("marketId"),
                "customerRef": params.get("customerRef"),
                "instructionReports": [{"status": "FAILURE", "errorCode": code}]}


def _rpc_error(code: str, request_id: Any) -> Response:
    return JSONResponse({"jsonrpc": "2.0", "id": request_id, "error": {
        "code": -32099, "message": "ANGX-0003", "data": {"APINGException": {"errorCode": code}}}})


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def exchange_routes(exchange: FakeExchange) -> list[Route]:
    async def rpc(request: Request) -> Response:
        doc = await request.json()
        call = doc[0] if isinstance(doc, list) else doc
        request_id = call.get("id")
        if request.headers.get("X-Application") != exchange.app_key:
            return _rpc_error("INVALID_APP_KEY", request_id)
        if request.headers.get("X-Authentication") != exchange.session_token or not exchange.logged_in:
            return _rpc_error("INVALID_SESSION_INFORMATION", request_id)
        method = str(call.get("method", "")).rsplit("/", 1)[-1]
        params = call.get("params") or {}
        if method == "placeOrders":
            result, delay = exchange.place(params)
            if delay:
                await asyncio.sleep(delay)
        elif method == "listCurrentOrders":
            result = exchange.current_orders(params)
        elif method == "getAccountFunds":
            result = exchange.funds()
        elif method in ("listMarketCatalogue", "listMarketBook") and exchange.books is not None:
            with exchange.lock:
                exchange.calls.append(method)
            result = (exchange.books.catalogue(params) if method == "listMarketCatalogue"
                      else exchange.books.books(params))
        else:
            return _rpc_error("INVALID_INPUT_DATA", request_id)
        return JSONResponse({"jsonrpc": "2.0", "id": request_id, "result": result})

    def identity(name: str, certificate: bool = False):  # type: ignore[no-untyped-def]
        async def answer(request: Request) -> Response:
            app_key = request.headers.get("X-Application")
            if name == "login":
                form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
                doc = exchange.login(form, app_key)
                if certificate:
                    doc = {"sessionToken": doc["token"], "loginStatus": doc["status"] if doc["status"] == "SUCCESS"
                           else doc["error"]}
            else:
                doc = exchange.session_call(name, request.headers.get("X-Authentication"), app_key)
            return JSONResponse(doc)
        return answer

    async def control(request: Request) -> Response:
        if request.method == "POST":
            exchange.configure(await request.json())
        with exchange.lock:
            return JSONResponse({"orders": list(exchange.orders.values()), "script": exchange.script,
                                 "default": exchange.default, "calls": list(exchange.calls),
                                 "balance": exchange.balance, "logged_in": exchange.logged_in})

    return [Route("/exchange/betting/json-rpc/v1", rpc, methods=["POST"]),
            Route("/exchange/account/json-rpc/v1", rpc, methods=["POST"]),
            Route("/identity/api/login", identity("login"), methods=["POST"]),
            Route("/identity-cert/api/certlogin", identity("login", certificate=True), methods=["POST"]),
            Route("/identity/api/keepAlive", identity("keepAlive"), methods=["POST"]),
            Route("/identity/api/logout", identity("logout"), methods=["POST"]),
            Route("/sandbox/exchange", control, methods=["GET", "POST"])]
