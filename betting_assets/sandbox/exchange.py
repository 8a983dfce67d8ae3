"""A fake exchange answering as Betfair's Exchange API-NG does, for tests and the demo: its
identity service (login, certificate login, keep-alive, logout), the betting API's JSON-RPC
(``listMarketCatalogue`` and ``listMarketBook`` from ``exchange_book``, ``placeOrders``,
``listCurrentOrders``) and the account API's ``getAccountFunds``, in the shapes betfairlightweight
reads.

placeOrders matches a back order against the market's book (``book``, the default): every
level at the price or better until filled, fill-or-kill below the minimum fill. It answers
Betfair's errors: DUPLICATE_TRANSACTION (a customerRef sent again within 60 s),
MARKET_SUSPENDED (the market is not open), BET_TAKEN_OR_LAPSED (``marketVersion`` moved on),
INVALID_ODDS (off the tick ladder), INVALID_BET_SIZE (below GBP 1 unless it could pay out 10)
and INSUFFICIENT_FUNDS. listClearedOrders settles the matched orders of a market once its event
is final, with the commission on the market's net winnings.

Faults are scripted through ``POST /sandbox/exchange``, one item per order: ``accept`` (all
matched whatever the book), ``partial:F`` (a share F), ``lapse`` (nothing), ``reject:CODE``
(an instruction error), ``timeout:S`` (take the order, answer only after S seconds); and
``void_markets`` and ``misreport`` make its settlement void a market or get a bet wrong.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from betting_assets.venues.betfair.ladder import on_ladder
from betting_assets.sandbox.exchange_book import ExchangeBooks

DEFAULT_APP_KEY = "sandbox-app-key"
DEFAULT_SESSION = "sandbox-session"
DEFAULT_USERNAME = "sandbox"
DEFAULT_PASSWORD = "sandbox-password"
DEFAULT_BALANCE = 10_000.0
MIN_STAKE, MIN_PAYOUT = 1.0, 10.0
"""GBP: a stake below the minimum is valid only when it could return the minimum payout"""


def _match(size: float, price: float, offers: list[dict[str, float]]) -> list[tuple[float, float]]:
    """A back order at ``price`` against the book's backs, best first: it takes every level at
    that price or better until filled (the better prices are the bettor's gain)."""
    left, taken = size, []
    for level in offers:
        if left <= 0 or level["price"] < price - 1e-9:
            break
        got = round(min(left, level["size"]), 2)
        taken.append((level["price"], got))
        left = round(left - got, 2)
    return taken


@dataclass
class FakeExchange:
    app_key: str = DEFAULT_APP_KEY
    session_token: str = DEFAULT_SESSION
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD
    balance: float = DEFAULT_BALANCE
    logged_in: bool = True
    script: list[str] = field(default_factory=list)
    default: str = "book"
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    references: dict[str, float] = field(default_factory=dict)
    """placeOrders' customerRef → when it was last sent (monotonic seconds)"""
    dedupe_window_s: float = 60.0
    commission: float = 0.05
    paid: set[str] = field(default_factory=set)
    voided: set[str] = field(default_factory=set)
    """market ids the exchange voids (an abandoned match): every bet's stake comes back"""
    misreport: set[str] = field(default_factory=set)
    """customer order refs whose settlement the exchange gets wrong (won for lost and back)"""
    books: ExchangeBooks | None = None
    """the exchange's markets and books over the sandbox's market and clock"""

    def configure(self, doc: dict[str, Any]) -> None:
        with self.lock:
            if doc.get("reset"):
                self.orders.clear()
                self.calls.clear()
                self.references.clear()
                self.paid.clear()
                self.misreport.clear()
                self.voided.clear()
                self.balance = DEFAULT_BALANCE
                if self.books is not None:
                    self.books.taken.clear()
            self.balance = float(doc.get("balance", self.balance))
            self.script = list(doc.get("script", self.script))
            self.default = str(doc.get("default", self.default))
            self.commission = float(doc.get("commission", self.commission))
            self.dedupe_window_s = float(doc.get("dedupe_window_s", self.dedupe_window_s))
            self.misreport = set(doc.get("misreport", self.misreport))
            self.voided = set(doc.get("void_markets", self.voided))
            self.app_key = str(doc.get("app_key", self.app_key))
            self.session_token = str(doc.get("session_token", self.session_token))

    def _next(self) -> str:
        return self.script.pop(0) if self.script else self.default

    def place(self, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """The result and how long to wait before answering. The checks run in the exchange's
        order: the reference, the market, the price, the size, the funds; then the script
        decides, and ``book`` (the default) matches against the market's book."""
        instruction = params["instructions"][0]
        ref = instruction.get("customerOrderRef") or params.get("customerRef")
        limit = instruction["limitOrder"]
        with self.lock:
            self.calls.append("placeOrders")
            seen = self.references.get(str(params.get("customerRef")))
            if seen is not None and time.monotonic() - seen < self.dedupe_window_s:
                return self._failure("DUPLICATE_TRANSACTION", params, execution_level=True), 0.0
            if params.get("customerRef"):
                self.references[str(params["customerRef"])] = time.monotonic()
            market_id, selection = str(params["marketId"]), int(instruction["selectionId"])
            book = self.books.current(market_id) if self.books is not None else None
            if book is not None:
                if book["status"] != "OPEN":
                    return self._failure("MARKET_SUSPENDED", params), 0.0
                if params.get("marketVersion") and int(params["marketVersion"]["version"]) != book["version"]:
                    return self._failure("BET_TAKEN_OR_LAPSED", params), 0.0
            price, size = float(limit["price"]), float(limit["size"])
            if not on_ladder(price):
                return self._failure("INVALID_ODDS", params), 0.0
            if size <= 0 or (size < MIN_STAKE and size * price < MIN_PAYOUT):
                return self._failure("INVALID_BET_SIZE", params), 0.0
            if size > self.balance + 1e-9:
                return self._failure("INSUFFICIENT_FUNDS", params), 0.0
            action = self._next()
            kind, _, arg = action.partition(":")
            if kind == "reject":
                return self._failure(arg or "INSUFFICIENT_FUNDS", params), 0.0
            levels: list[tuple[float, float]] = []
            handicap = float(instruction.get("handicap") or 0.0)
            if kind == "book" and book is not None:
                runner = next((r for r in book["runners"] if r["selectionId"] == selection
                               and float(r["handicap"]) == handicap), None)
                offers = runner["ex"]["availableToBack"] if runner else []
                levels = _match(size, price, offers)
            else:
                share = {"accept": 1.0, "book": 1.0, "timeout": 1.0, "lapse": 0.0}.get(kind, float(arg or 0.5))
                levels = [(price, round(size * share, 2))] if share else []
            matched = round(sum(s for _, s in levels), 2)
            least = float(limit.get("minFillSize") or size) if limit.get("timeInForce") == "FILL_OR_KILL" else 0.0
            if matched < least - 1e-9:
                levels, matched = [], 0.0
            average = round(sum(p * s for p, s in levels) / matched, 2) if matched else 0.0
            if self.books is not None:
                for level_price, level_size in levels:
                    self.books.take(market_id, selection, level_price, level_size, handicap)
            self.balance = round(self.balance - matched, 2)
            order = {"betId": str(next(self.ids)), "customerOrderRef": ref, "marketId": market_id,
                     "customerStrategyRef": params.get("customerStrategyRef"),
                     "selectionId": selection, "handicap": handicap,
                     "side": instruction["side"], "orderType": "LIMIT", "persistenceType": limit["persistenceType"],
                     "status": "EXECUTION_COMPLETE" if matched else "EXPIRED", "sizeMatched": matched,
                     "averagePriceMatched": average, "bspLiability": 0.0,
                     "sizeLapsed": round(size - matched, 2), "sizeRemaining": 0.0, "sizeCancelled": 0.0,
                     "sizeVoided": 0.0, "placedDate": _now(), "priceSize": {"price": price, "size": size}}
            self.orders[order["betId"]] = order
            return self._success(order), float(arg or 0) if kind == "timeout" else 0.0

    def cleared(self, params: dict[str, Any]) -> dict[str, Any]:
        """Settled orders, once their event is final: the outcome, the matched price and size,
        the gross profit, and the commission on the market's net winnings shared over its
        winning bets. The balance is paid on the first report."""
        refs = set(params.get("customerOrderRefs") or [])
        bet_ids = set(params.get("betIds") or [])
        with self.lock:
            self.calls.append("listClearedOrders")
            by_market: dict[str, list[dict[str, Any]]] = {}
            for o in self.orders.values():
                if o["sizeMatched"] > 0:
                    by_market.setdefault(o["marketId"], []).append(o)
            found = []
            for market_id, orders in by_market.items():
                returns = self._returns(market_id, orders)
                if returns is not None:
                    found.extend(self._settle(market_id, orders, returns))
        found = [c for c in found if (not refs or c["customerOrderRef"] in refs) and (not bet_ids or c["betId"] in bet_ids)]
        return {"clearedOrders": found, "moreAvailable": False}

    def _returns(self, market_id: str, orders: list[dict[str, Any]]) -> dict[str, float] | None:
        """Each order's unit return once its market is settled (1 for all when voided), else None."""
        if market_id in self.voided:
            return {o["betId"]: 1.0 for o in orders}
        if self.books is None:
            return None
        returns = {}
        for o in orders:
            ret = self.books.settle(market_id, o["selectionId"], float(o["handicap"]), o["averagePriceMatched"])
            if ret is None:
                return None
            if o["customerOrderRef"] in self.misreport:   # the exchange gets this one the wrong way round
                ret = 0.0 if ret > 1.0 else o["averagePriceMatched"]
            returns[o["betId"]] = ret
        return returns

    def _settle(self, market_id: str, orders: list[dict[str, Any]], returns: dict[str, float]) -> list[dict[str, Any]]:
        profits = {o["betId"]: round(o["sizeMatched"] * (returns[o["betId"]] - 1.0), 2) for o in orders}
        net = sum(profits.values())
        winnings = sum(p for p in profits.values() if p > 0)
        charge = round(self.commission * net, 2) if net > 0 else 0.0
        voided = market_id in self.voided
        out = []
        for o in orders:
            profit = profits[o["betId"]]
            commission = round(charge * profit / winnings, 2) if profit > 0 and winnings else 0.0
            if o["betId"] not in self.paid:
                self.paid.add(o["betId"])
                self.balance = round(self.balance + o["sizeMatched"] + profit - commission, 2)
            out.append({"betId": o["betId"], "customerOrderRef": o["customerOrderRef"],
                        "customerStrategyRef": o["customerStrategyRef"], "marketId": market_id,
                        "selectionId": o["selectionId"], "handicap": o["handicap"], "side": o["side"],
                        "orderType": "LIMIT", "persistenceType": o["persistenceType"],
                        "betOutcome": "VOID" if voided else "WIN" if profit >= 0 else "LOSE",
                        "priceRequested": o["priceSize"]["price"], "priceMatched": o["averagePriceMatched"],
                        "priceReduced": False, "sizeSettled": 0.0 if voided else o["sizeMatched"],
                        "sizeCancelled": 0.0, "profit": profit, "commission": commission, "betCount": 1,
                        "placedDate": o["placedDate"], "settledDate": _now(), "lastMatchedDate": o["placedDate"]})
        return out

    def funds(self) -> dict[str, Any]:
        with self.lock:
            self.calls.append("getAccountFunds")
            exposure = sum(o["sizeMatched"] for o in self.orders.values() if o["betId"] not in self.paid)
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
            found = [o for o in self.orders.values() if not refs or o["customerOrderRef"] in refs]
        return {"currentOrders": found, "moreAvailable": False}

    @staticmethod
    def _success(order: dict[str, Any]) -> dict[str, Any]:
        return {"status": "SUCCESS", "marketId": order["marketId"], "customerRef": order["customerOrderRef"],
                "instructionReports": [{
                    "status": "SUCCESS", "betId": order["betId"], "sizeMatched": order["sizeMatched"],
                    "averagePriceMatched": order["averagePriceMatched"], "orderStatus": order["status"],
                    "placedDate": order["placedDate"]}]}

    @staticmethod
    def _failure(code: str, params: dict[str, Any], execution_level: bool = False) -> dict[str, Any]:
        """An instruction's error under BET_ACTION_ERROR, or (``execution_level``) the whole
        call's, as DUPLICATE_TRANSACTION is."""
        return {"status": "FAILURE", "errorCode": code if execution_level else "BET_ACTION_ERROR",
                "marketId": params.get("marketId"), "customerRef": params.get("customerRef"),
                "instructionReports": [] if execution_level else [{"status": "FAILURE", "errorCode": code}]}


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
        elif method == "listClearedOrders":
            result = exchange.cleared(params)
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
