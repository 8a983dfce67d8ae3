"""A fake exchange answering as Betfair's Exchange API-NG does, written from Betfair's API-NG
reference rather than from what the product expects: its identity service (login, certificate
login, keep-alive, logout), the betting API's JSON-RPC (``listCompetitions``,
``listMarketCatalogue`` and ``listMarketBook`` from ``exchange_book``; ``placeOrders``,
``cancelOrders``, ``replaceOrders``, ``listCurrentOrders``, ``listClearedOrders``) and the account API's
``getAccountFunds``, in the shapes betfairlightweight reads. Each rule names the page it comes
from (``DOCS``); ``betting_assets_tests/sandbox/test_exchange_conformance.py`` holds it there.

placeOrders checks, in this order: the customerRef (``DUPLICATE_TRANSACTION`` within 60 s, an
execution-level error), the market (``INVALID_MARKET_ID``, execution level), its status
(``MARKET_SUSPENDED``, execution level, each instruction ``ERROR_IN_ORDER``), the market version
(``BET_TAKEN_OR_LAPSED`` only when a material change, made under suspension, came after the
version sent; a price move never lapses a bet), the price (``INVALID_ODDS`` off the ladder), the
size (``INVALID_BET_SIZE`` below GBP 1 unless it could pay out 10, or finer than a penny) and the
funds (``INSUFFICIENT_FUNDS``). A LIMIT order then matches against the book at its price or
better; what is left rests ``EXECUTABLE`` (persistence LAPSE: it lapses when the market turns
in-play) unless it is FILL_OR_KILL, which is killed below its minimum fill (``EXPIRED``).
replaceOrders cancels a resting order's rest, then places a new bet for it at the new price.

Available to bet is the wallet less the exposure: per market, the loss in its worst outcome over
matched and unmatched bets, so backs on several runners of one market offset (``exposure``).
Markets settle once their event is final: the wallet moves then, by each bet's profit less the
market's commission, charged on the market's net winnings at its Market Base Rate less the
account's discount. listClearedOrders answers by ``betStatus`` (SETTLED, VOIDED, LAPSED,
CANCELLED) and roll-up (``groupBy``: BET, the default, carries no commission; MARKET carries it).

Faults are scripted through ``POST /sandbox/exchange``, one item per order: ``accept`` (all
matched whatever the book), ``partial:F`` (a share F), ``lapse`` (nothing), ``away:F`` (a share F
matched, the market moves away and the rest rests unmatched until cancelled or lapsed),
``reject:CODE`` (an instruction error), ``timeout:S`` (take the order, answer only after S
seconds); and
``void_markets``, ``material_change`` (a runner removed under suspension: the market's version
moves on materially) and ``misreport`` make the exchange void a market, move a version or get a
bet wrong.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from betting_assets.sandbox.exchange_book import ExchangeBooks, TooMuchData
from betting_assets.venues.betfair.ladder import on_ladder

DEFAULT_APP_KEY = "sandbox-app-key"
DEFAULT_SESSION = "sandbox-session"
DEFAULT_USERNAME = "sandbox"
DEFAULT_PASSWORD = "sandbox-password"
DEFAULT_BALANCE = 10_000.0
MIN_STAKE, MIN_PAYOUT = 1.0, 10.0
"""GBP: a stake below the minimum is valid only when it could return the minimum payout"""
CLEARED_PAGE = 1000
"""listClearedOrders' largest recordCount"""
DOCS = {
    "placeOrders": "https://betfair-developer-docs.atlassian.net/wiki/spaces/1smk3cen4v3lu3yomq5qye0ni/pages/"
                   "2687496/placeOrders",
    "errors": "https://betfair-developer-docs.atlassian.net/wiki/spaces/1smk3cen4v3lu3yomq5qye0ni/pages/"
              "2687497/Betting+Enums (ExecutionReportErrorCode, InstructionReportErrorCode)",
    "market_version": "https://docs.developer.betfair.com/pages/viewpage.action?pageId=6095228 (market version: "
                      "only bets placed before the last material change, made under suspension, are rejected)",
    "cleared": "https://betfair-developer-docs.atlassian.net/wiki/spaces/1smk3cen4v3lu3yomq5qye0ni/pages/"
               "2687749/listClearedOrders",
    "rollups": "https://betfair-developer-docs.atlassian.net/wiki/x/vwIp (listClearedOrders - Roll-up Fields "
               "Available: commission N at BET, Y at MARKET)",
    "limits": "https://betfair-developer-docs.atlassian.net/wiki/spaces/1smk3cen4v3lu3yomq5qye0ni/pages/2687478/"
              "Market+Data+Request+Limits",
    "currency": "https://betfair-developer-docs.atlassian.net/wiki/spaces/1smk3cen4v3lu3yomq5qye0ni/pages/"
                "2687212/Currency+Parameters (GBP: minimum stake 1, minimum payout 10)",
    "exposure": "https://support.betfair.com (Exchange: what is exposure? the maximum you could lose on a market "
                "given your matched and unmatched bets; bets on different selections in one market offset)",
    "commission": "https://support.betfair.com (Market Base Rate: commission on net market winnings, less the "
                  "account's discount)",
    "sessions": "https://betfair-developer-docs.atlassian.net/wiki/spaces/1smk3cen4v3lu3yomq5qye0ni/pages/"
                "2687869/Logout (logout ends the session for every holder of the token)",
    "replaceOrders": "https://api.developer.betfair.com/services/webapps/docs/display/1smk3cen4v3lu3yomq5qye0ni/"
                     "replaceOrders (\"logically a bulk cancel followed by a bulk place. The cancel "
                     "is completed first then the new orders are placed ... In the case where the new orders "
                     "cannot be placed the cancellations will not be rolled back\"; ReplaceInstruction: \"the "
                     "original order will be cancelled and a new order placed at the new price for the remaining "
                     "stake\"; ReplaceInstructionReport: a cancelInstructionReport and a placeInstructionReport)",
    "currentOrders": "https://api.developer.betfair.com/services/webapps/docs/display/1smk3cen4v3lu3yomq5qye0ni/"
                     "listCurrentOrders (betIds and customerOrderRefs each restrict the orders returned)",
}
"""the documented rule each behaviour below implements"""


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


def _pennies(size: float) -> bool:
    """Whether a stake is a whole number of pennies (Betfair's sizes are to two decimals)."""
    return Decimal(repr(size)).as_tuple().exponent >= -2  # type: ignore[operator]


@dataclass
class FakeExchange:
    app_key: str = DEFAULT_APP_KEY
    session_token: str = DEFAULT_SESSION
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD
    cash: float = DEFAULT_BALANCE
    """the wallet: what only a settlement (or a deposit) moves; available to bet is this less the
    exposure (``exposure``)"""
    sessions: set[str] = field(default_factory=lambda: {DEFAULT_SESSION})
    """live session tokens: the operator's (``session_token``) and one per login, each ended by its
    own logout only (``DOCS['sessions']``)"""
    logins: itertools.count = field(default_factory=lambda: itertools.count(1))
    script: list[str] = field(default_factory=list)
    default: str = "book"
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    weights: list[tuple[str, int]] = field(default_factory=list)
    """each market-data call and its request weight (Market Data Request Limits)"""
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    references: dict[str, float] = field(default_factory=dict)
    """placeOrders' customerRef → when it was last sent (monotonic seconds)"""
    dedupe_window_s: float = 60.0
    discount_rate: float = 0.0
    """the account's commission discount (getAccountFunds' discountRate), in percent of the base rate"""
    settled: dict[str, dict[str, Any]] = field(default_factory=dict)
    """market id → its settlement: each bet's return and profit, and the commission charged"""
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
                self.weights.clear()
                self.references.clear()
                self.settled.clear()
                self.misreport.clear()
                self.voided.clear()
                self.cash = DEFAULT_BALANCE
                self.discount_rate = 0.0
                if self.books is not None:
                    self.books.taken.clear()
                    self.books.material.clear()
            if "balance" in doc:   # what is to be available to bet, the open bets' exposure aside
                self.cash = round(float(doc["balance"]) + self.exposure(), 2)
            self.script = list(doc.get("script", self.script))
            self.default = str(doc.get("default", self.default))
            self.discount_rate = float(doc.get("discount_rate", self.discount_rate))
            self.dedupe_window_s = float(doc.get("dedupe_window_s", self.dedupe_window_s))
            self.misreport = set(doc.get("misreport", self.misreport))
            self.voided = set(doc.get("void_markets", self.voided))
            self.app_key = str(doc.get("app_key", self.app_key))
            if "session_token" in doc or doc.get("reset"):
                self.session_token = str(doc.get("session_token", self.session_token))
                self.sessions = {self.session_token}
            if self.books is not None:
                for market_id in doc.get("material_change") or []:
                    self.books.material_change(str(market_id))

    def _next(self) -> str:
        return self.script.pop(0) if self.script else self.default

    def place(self, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """The result and how long to wait before answering (``DOCS['placeOrders']``)."""
        instruction = params["instructions"][0]
        ref = instruction.get("customerOrderRef") or params.get("customerRef")
        limit = instruction["limitOrder"]
        with self.lock:
            self.calls.append("placeOrders")
            self._observe()
            seen = self.references.get(str(params.get("customerRef")))
            if seen is not None and time.monotonic() - seen < self.dedupe_window_s:
                return self._failure("DUPLICATE_TRANSACTION", params, execution_level=True), 0.0
            if params.get("customerRef"):
                self.references[str(params["customerRef"])] = time.monotonic()
            market_id, selection = str(params["marketId"]), int(instruction["selectionId"])
            book = self.books.current(market_id) if self.books is not None else None
            if self.books is not None:
                if book is None:
                    return self._failure("INVALID_MARKET_ID", params, execution_level=True), 0.0
                if book["status"] != "OPEN":
                    return self._failure("MARKET_SUSPENDED", params, execution_level=True), 0.0
                version = (params.get("marketVersion") or {}).get("version")
                if version is not None and int(version) < self.books.material.get(market_id, 0):
                    return self._failure("BET_TAKEN_OR_LAPSED", params), 0.0
            price, size = float(limit["price"]), float(limit["size"])
            if not on_ladder(price):
                return self._failure("INVALID_ODDS", params), 0.0
            if size <= 0 or not _pennies(size) or (size < MIN_STAKE and size * price < MIN_PAYOUT):
                return self._failure("INVALID_BET_SIZE", params), 0.0
            if self.exposure({"marketId": market_id, "selectionId": int(instruction["selectionId"]),
                            "handicap": float(instruction.get("handicap") or 0.0), "sizeMatched": 0.0,
                            "sizeRemaining": size, "fills": []}) > self.cash + 1e-9:
                return self._failure("INSUFFICIENT_FUNDS", params), 0.0
            action = self._next()
            kind, _, arg = action.partition(":")
            if kind == "reject":
                return self._failure(arg or "INSUFFICIENT_FUNDS", params), 0.0
            handicap = float(instruction.get("handicap") or 0.0)
            if kind == "book" and book is not None:
                levels = _match(size, price, self._offers(book, selection, handicap))
            else:
                share = {"accept": 1.0, "book": 1.0, "timeout": 1.0, "lapse": 0.0}.get(kind, float(arg or 0.5))
                levels = [(price, round(size * share, 2))] if share else []
            matched = round(sum(s for _, s in levels), 2)
            kill = limit.get("timeInForce") == "FILL_OR_KILL"
            least = float(limit.get("minFillSize") or size) if kill else 0.0
            if matched < least - 1e-9:
                levels, matched = [], 0.0
            average = round(sum(p * s for p, s in levels) / matched, 2) if matched else 0.0
            if self.books is not None:
                for level_price, level_size in levels:
                    self.books.take(market_id, selection, level_price, level_size, handicap)
            left = round(size - matched, 2)
            rests = left > 0 and not kill and kind in ("book", "away")
            order = {"betId": str(next(self.ids)), "customerOrderRef": ref, "marketId": market_id,
                     "customerStrategyRef": params.get("customerStrategyRef"),
                     "selectionId": selection, "handicap": handicap,
                     "side": instruction["side"], "orderType": "LIMIT", "persistenceType": limit["persistenceType"],
                     "status": "EXECUTABLE" if rests else "EXECUTION_COMPLETE" if matched else "EXPIRED",
                     "sizeMatched": matched, "averagePriceMatched": average, "bspLiability": 0.0,
                     "sizeLapsed": 0.0 if rests else left, "sizeRemaining": left if rests else 0.0,
                     "sizeCancelled": 0.0, "sizeVoided": 0.0, "placedDate": _now(),
                     "priceSize": {"price": price, "size": size}, "fills": levels, "away": kind == "away"}
            self.orders[order["betId"]] = order
            return self._success(order), float(arg or 0) if kind == "timeout" else 0.0

    @staticmethod
    def _offers(book: dict[str, Any], selection: int, handicap: float) -> list[dict[str, float]]:
        runner = next((r for r in book["runners"] if r["selectionId"] == selection
                       and float(r["handicap"]) == handicap), None)
        return runner["ex"]["availableToBack"] if runner else []

    def _observe(self) -> None:
        """What the exchange did since it was last asked (under the lock): resting orders matched
        against the book as it stands, lapsed at in-play (persistence LAPSE), and markets settled
        once their event is final."""
        if self.books is None:
            return
        for order in self.orders.values():
            if order["status"] != "EXECUTABLE":
                continue
            book = self.books.current(order["marketId"])
            if book is None or book["status"] != "OPEN":
                self._end(order, "sizeLapsed")
                continue
            if order["away"]:
                continue
            levels = _match(order["sizeRemaining"], order["priceSize"]["price"],
                            self._offers(book, order["selectionId"], order["handicap"]))
            for level_price, level_size in levels:
                self.books.take(order["marketId"], order["selectionId"], level_price, level_size, order["handicap"])
            got = round(sum(s for _, s in levels), 2)
            if got:
                order["fills"] = [*order["fills"], *levels]
                order["sizeMatched"] = round(order["sizeMatched"] + got, 2)
                order["averagePriceMatched"] = round(sum(p * s for p, s in order["fills"]) / order["sizeMatched"], 2)
                order["sizeRemaining"] = round(order["sizeRemaining"] - got, 2)
                if order["sizeRemaining"] <= 0:
                    order["status"] = "EXECUTION_COMPLETE"
        by_market: dict[str, list[dict[str, Any]]] = {}
        for order in self.orders.values():
            if order["sizeMatched"] > 0 and order["marketId"] not in self.settled:
                by_market.setdefault(order["marketId"], []).append(order)
        for market_id, orders in by_market.items():
            returns = self._returns(market_id, orders)
            if returns is not None:
                self._settle(market_id, orders, returns)

    def _end(self, order: dict[str, Any], how: str) -> None:
        """The unmatched rest of a resting order lapses (the exchange's doing) or is cancelled (the
        customer's): its stake comes back."""
        order[how] = round(order[how] + order["sizeRemaining"], 2)
        order["sizeRemaining"] = 0.0
        order["status"] = "EXECUTION_COMPLETE"
        order["endedDate"] = _now()

    def cancel(self, params: dict[str, Any]) -> dict[str, Any]:
        """cancelOrders on one market: the unmatched rest of each order named (or of every order
        in the market when no instruction names one)."""
        market_id = str(params.get("marketId") or "")
        with self.lock:
            self.calls.append("cancelOrders")
            self._observe()
            wanted = {str(i["betId"]) for i in params.get("instructions") or []}
            reports = []
            for order in self.orders.values():
                if order["marketId"] != market_id or (wanted and order["betId"] not in wanted):
                    continue
                if order["status"] != "EXECUTABLE":
                    if wanted:
                        reports.append({"status": "FAILURE", "errorCode": "BET_TAKEN_OR_LAPSED",
                                        "instruction": {"betId": order["betId"]}})
                    continue
                cancelled = order["sizeRemaining"]
                self._end(order, "sizeCancelled")
                reports.append({"status": "SUCCESS", "instruction": {"betId": order["betId"]},
                                "sizeCancelled": cancelled, "cancelledDate": _now()})
        failed = any(r["status"] == "FAILURE" for r in reports)
        return {"status": "FAILURE" if failed else "SUCCESS", "marketId": market_id,
                "errorCode": "BET_ACTION_ERROR" if failed else None, "instructionReports": reports}

    def replace(self, params: dict[str, Any]) -> dict[str, Any]:
        """``DOCS['replaceOrders']`` on one market: each named order's unmatched rest cancelled,
        then a new order at the new price for what was cancelled, matched against the book at once
        and resting for the rest (same runner, side, persistence and references; a bet id of its
        own). An order with nothing left to cancel is BET_TAKEN_OR_LAPSED and nothing is placed; a
        new price off the ladder fails the place (INVALID_ODDS) and the cancel stands. The new
        order keeps the old one's customerOrderRef: Betfair's reference leaves this unstated, so
        the product follows a replaced order by its bet id and never relies on the reference."""
        market_id = str(params.get("marketId") or "")
        with self.lock:
            self.calls.append("replaceOrders")
            self._observe()
            book = self.books.current(market_id) if self.books is not None else None
            refused = ("INVALID_MARKET_ID" if self.books is not None and book is None
                       else "MARKET_SUSPENDED" if book is not None and book["status"] != "OPEN" else None)
            if refused:   # an execution-level error: nothing cancelled, no instruction answered
                return {"status": "FAILURE", "marketId": market_id, "customerRef": params.get("customerRef"),
                        "errorCode": refused, "instructionReports": []}
            reports = [self._replace_one(market_id, book, instruction) for instruction in params.get("instructions") or []]
        failed = any(r["status"] == "FAILURE" for r in reports)
        return {"status": "FAILURE" if failed else "SUCCESS", "marketId": market_id,
                "customerRef": params.get("customerRef"), "errorCode": "BET_ACTION_ERROR" if failed else None,
                "instructionReports": reports}

    def _replace_one(self, market_id: str, book: dict[str, Any] | None, instruction: dict[str, Any]) -> dict[str, Any]:
        bet_id, price = str(instruction.get("betId")), float(instruction.get("newPrice") or 0.0)
        order = self.orders.get(bet_id)
        if order is None or order["marketId"] != market_id or order["status"] != "EXECUTABLE":
            return {"status": "FAILURE", "errorCode": "BET_TAKEN_OR_LAPSED",
                    "cancelInstructionReport": {"status": "FAILURE", "errorCode": "BET_TAKEN_OR_LAPSED",
                                                "instruction": {"betId": bet_id}},
                    "placeInstructionReport": {"status": "FAILURE", "errorCode": "ERROR_IN_ORDER"}}
        cancelled = order["sizeRemaining"]
        self._end(order, "sizeCancelled")
        cancel = {"status": "SUCCESS", "instruction": {"betId": bet_id}, "sizeCancelled": cancelled,
                  "cancelledDate": _now()}
        if not on_ladder(price):
            return {"status": "FAILURE", "errorCode": "INVALID_ODDS", "cancelInstructionReport": cancel,
                    "placeInstructionReport": {"status": "FAILURE", "errorCode": "INVALID_ODDS"}}
        levels = _match(cancelled, price, self._offers(book, order["selectionId"], order["handicap"])) if book else []
        if self.books is not None:
            for level_price, level_size in levels:
                self.books.take(market_id, order["selectionId"], level_price, level_size, order["handicap"])
        matched = round(sum(s for _, s in levels), 2)
        left = round(cancelled - matched, 2)
        new = {**order, "betId": str(next(self.ids)), "away": False,
               "status": "EXECUTABLE" if left > 0 else "EXECUTION_COMPLETE",
               "sizeMatched": matched, "sizeRemaining": left, "sizeLapsed": 0.0, "sizeCancelled": 0.0,
               "averagePriceMatched": round(sum(p * s for p, s in levels) / matched, 2) if matched else 0.0,
               "placedDate": _now(), "priceSize": {"price": price, "size": cancelled}, "fills": levels}
        new.pop("endedDate", None)
        self.orders[new["betId"]] = new
        return {"status": "SUCCESS", "cancelInstructionReport": cancel, "placeInstructionReport": {
            "status": "SUCCESS", "betId": new["betId"], "sizeMatched": matched,
            "averagePriceMatched": new["averagePriceMatched"], "orderStatus": new["status"],
            "placedDate": new["placedDate"], "instruction": {"selectionId": new["selectionId"],
                                                             "handicap": new["handicap"], "side": new["side"],
                                                             "orderType": "LIMIT", "limitOrder": {
                                                                 "size": cancelled, "price": price,
                                                                 "persistenceType": new["persistenceType"]}}}}

    def cleared(self, params: dict[str, Any]) -> dict[str, Any]:
        """``DOCS['cleared']`` and ``DOCS['rollups']``: the bets of one ``betStatus``, by bet or
        rolled up by market, paged by fromRecord and recordCount."""
        status = params.get("betStatus")
        group = params.get("groupBy") or "BET"
        if status not in ("SETTLED", "VOIDED", "LAPSED", "CANCELLED") or group not in ("BET", "MARKET"):
            raise InvalidInput(f"betStatus {status!r} / groupBy {group!r}")
        refs = set(params.get("customerOrderRefs") or [])
        bet_ids = set(params.get("betIds") or [])
        markets = set(params.get("marketIds") or [])
        with self.lock:
            self.calls.append("listClearedOrders")
            self._observe()
            rows = [self._cleared_row(o, status) for o in self.orders.values()
                    if (not refs or o["customerOrderRef"] in refs) and (not bet_ids or o["betId"] in bet_ids)
                    and (not markets or o["marketId"] in markets)]
        found = [r for r in rows if r is not None]
        if group == "MARKET":
            found = self._by_market(found, status)
        start = int(params.get("fromRecord") or 0)
        count = min(int(params.get("recordCount") or CLEARED_PAGE), CLEARED_PAGE)
        return {"clearedOrders": found[start:start + count], "moreAvailable": start + count < len(found)}

    def _cleared_row(self, o: dict[str, Any], status: str) -> dict[str, Any] | None:
        base = {"betId": o["betId"], "customerOrderRef": o["customerOrderRef"], "eventTypeId": "1",
                "customerStrategyRef": o["customerStrategyRef"], "marketId": o["marketId"],
                "selectionId": o["selectionId"], "handicap": o["handicap"], "side": o["side"],
                "orderType": "LIMIT", "persistenceType": o["persistenceType"], "betCount": 1,
                "priceRequested": o["priceSize"]["price"], "priceReduced": False, "placedDate": o["placedDate"]}
        market = self.settled.get(o["marketId"])
        if status in ("SETTLED", "VOIDED"):
            if market is None or o["sizeMatched"] <= 0 or market["voided"] != (status == "VOIDED"):
                return None
            profit = market["profits"][o["betId"]]
            row = {**base, "priceMatched": o["averagePriceMatched"], "sizeSettled": o["sizeMatched"],
                   "profit": profit, "settledDate": market["at"], "lastMatchedDate": o["placedDate"]}
            if status == "SETTLED":
                row["betOutcome"] = "WON" if profit >= 0 else "LOST"
            return row
        size = o["sizeLapsed"] if status == "LAPSED" else o["sizeCancelled"]
        if size <= 0:
            return None
        return {**base, "sizeCancelled": size, "profit": 0.0, "settledDate": o.get("endedDate") or o["placedDate"]}

    def _by_market(self, rows: list[dict[str, Any]], status: str) -> list[dict[str, Any]]:
        """The MARKET roll-up: profit summed, the bets counted, the market's commission."""
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            entry = out.setdefault(r["marketId"], {"eventTypeId": "1", "marketId": r["marketId"], "profit": 0.0,
                                                   "betCount": 0, "settledDate": r["settledDate"]})
            entry["profit"] = round(entry["profit"] + r["profit"], 2)
            entry["betCount"] += 1
        for market_id, entry in out.items():
            if status == "SETTLED":
                entry["commission"] = self.settled[market_id]["commission"]
        return list(out.values())

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

    def _settle(self, market_id: str, orders: list[dict[str, Any]], returns: dict[str, float]) -> None:
        """``DOCS['commission']``: the market's net winnings bear commission at its base rate less
        the account's discount; the balance moves once, when the market settles."""
        voided = market_id in self.voided
        profits = {o["betId"]: 0.0 if voided else round(o["sizeMatched"] * (returns[o["betId"]] - 1.0), 2)
                   for o in orders}
        net = round(sum(profits.values()), 2)
        base = self.books.base_rate(market_id) if self.books is not None else 0.05
        commission = round(base * (1.0 - self.discount_rate / 100.0) * net, 2) if net > 0 and not voided else 0.0
        self.settled[market_id] = {"profits": profits, "commission": commission, "voided": voided, "at": _now()}
        self.cash = round(self.cash + sum(profits.values()) - commission, 2)

    def funds(self) -> dict[str, Any]:
        with self.lock:
            self.calls.append("getAccountFunds")
            self._observe()
            exposure = self.exposure()
            return {"availableToBetBalance": round(self.cash - exposure, 2), "exposure": -exposure,
                    "retainedCommission": 0.0,
                    "exposureLimit": -10_000.0, "discountRate": self.discount_rate, "pointsBalance": 0,
                    "wallet": "UK"}

    @property
    def balance(self) -> float:
        """Available to bet: the wallet less the exposure."""
        return round(self.cash - self.exposure(), 2)

    def exposure(self, extra: dict[str, Any] | None = None) -> float:
        """``DOCS['exposure']``: the most the account can lose, market by market, over its matched
        and unmatched bets (with ``extra``, an order not yet placed). In a market without
        handicaps one runner wins: each outcome loses the stakes on the other runners and wins
        what matched on the winner (an unmatched stake, at worst, never matches to win), and the
        worst outcome is the market's exposure, so backs on several runners of one market offset.
        A handicap market's outcomes are not one runner each: every stake counts whole."""
        by_market: dict[str, list[dict[str, Any]]] = {}
        for order in [*self.orders.values(), *([extra] if extra else [])]:
            if order["marketId"] not in self.settled and order["sizeMatched"] + order["sizeRemaining"] > 0:
                by_market.setdefault(order["marketId"], []).append(order)
        total = 0.0
        for market_id, orders in by_market.items():
            if any(o["handicap"] for o in orders):
                total += sum(o["sizeMatched"] + o["sizeRemaining"] for o in orders)
                continue
            book = self.books.current(market_id) if self.books is not None else None
            outcomes: set[int | None] = {r["selectionId"] for r in book["runners"]} if book else {None}
            outcomes |= {o["selectionId"] for o in orders}
            total += max(0.0, max(
                sum(o["sizeMatched"] + o["sizeRemaining"] for o in orders if o["selectionId"] != winner)
                - sum(s * (p - 1.0) for o in orders if o["selectionId"] == winner for p, s in o["fills"])
                for winner in outcomes))
        return round(total, 2)

    def login(self, form: dict[str, Any], app_key: str | None) -> dict[str, Any]:
        """Interactive login's answer (certificate login answers with ``sessionToken`` and
        ``loginStatus`` instead; ``identity`` turns one into the other)."""
        with self.lock:
            self.calls.append("login")
            if app_key != self.app_key:
                return {"token": "", "product": app_key, "status": "FAIL", "error": "INVALID_APP_KEY"}
            if (form.get("username"), form.get("password")) != (self.username, self.password):
                return {"token": "", "product": app_key, "status": "FAIL", "error": "INVALID_USERNAME_OR_PASSWORD"}
            token = f"{self.session_token}-login-{next(self.logins)}"
            self.sessions.add(token)
            return {"token": token, "product": app_key, "status": "SUCCESS", "error": ""}

    def session_call(self, name: str, token: str | None, app_key: str | None) -> dict[str, Any]:
        """keepAlive and logout: the session named by ``token``, which logout ends for everyone
        holding it (``DOCS['sessions']``)."""
        with self.lock:
            self.calls.append(name)
            if app_key != self.app_key or token not in self.sessions:
                return {"token": "", "product": app_key, "status": "FAIL", "error": "NO_SESSION"}
            if name == "logout":
                self.sessions.discard(token)
            return {"token": token, "product": app_key, "status": "SUCCESS", "error": ""}

    def current_orders(self, params: dict[str, Any]) -> dict[str, Any]:
        """Orders not yet settled, lapsed away or cancelled away (an order whose market settled is
        in listClearedOrders instead)."""
        refs = set(params.get("customerOrderRefs") or [])
        bet_ids = {str(b) for b in params.get("betIds") or []}
        projection = params.get("orderProjection") or "ALL"
        with self.lock:
            self.calls.append("listCurrentOrders")
            self._observe()
            found = [{k: v for k, v in o.items() if k not in ("fills", "endedDate", "away")} for o in self.orders.values()
                     if (not refs or o["customerOrderRef"] in refs) and (not bet_ids or o["betId"] in bet_ids)
                     and o["marketId"] not in self.settled
                     and (o["sizeMatched"] > 0 or o["status"] == "EXECUTABLE")
                     and (projection == "ALL" or o["status"] == projection)]
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
        """``DOCS['errors']``: an instruction's error under BET_ACTION_ERROR, or (``execution_level``)
        the whole call's, each instruction then failing with ERROR_IN_ORDER ("the action failed
        because the parent order failed"); DUPLICATE_TRANSACTION answers no instruction at all."""
        reports = [] if code == "DUPLICATE_TRANSACTION" else [
            {"status": "FAILURE", "errorCode": "ERROR_IN_ORDER" if execution_level else code}]
        return {"status": "FAILURE", "errorCode": code if execution_level else "BET_ACTION_ERROR",
                "marketId": params.get("marketId"), "customerRef": params.get("customerRef"),
                "instructionReports": reports}


class InvalidInput(ValueError):
    """A request the API refuses as INVALID_INPUT_DATA."""


def _rpc_error(code: str, request_id: Any) -> Response:
    return JSONResponse({"jsonrpc": "2.0", "id": request_id, "error": {
        "code": -32099, "message": "ANGX-0003", "data": {"APINGException": {"errorCode": code}}}})


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def exchange_routes(exchange: FakeExchange) -> list[Route]:
    def market_data(method: str, params: dict[str, Any]) -> Any:
        assert exchange.books is not None
        with exchange.lock:
            exchange.calls.append(method)
            weight = exchange.books.weight(method, params)
            exchange.weights.append((method, weight))
        if method == "listMarketCatalogue":
            return exchange.books.catalogue(params)
        if method == "listMarketBook":
            return exchange.books.books(params)
        return exchange.books.competitions(params)

    async def rpc(request: Request) -> Response:
        doc = await request.json()
        call = doc[0] if isinstance(doc, list) else doc
        request_id = call.get("id")
        if request.headers.get("X-Application") != exchange.app_key:
            return _rpc_error("INVALID_APP_KEY", request_id)
        if request.headers.get("X-Authentication") not in exchange.sessions:
            return _rpc_error("INVALID_SESSION_INFORMATION", request_id)
        method = str(call.get("method", "")).rsplit("/", 1)[-1]
        params = call.get("params") or {}
        try:
            if method == "placeOrders":
                result, delay = exchange.place(params)
                if delay:
                    await asyncio.sleep(delay)
            elif method == "cancelOrders":
                result = exchange.cancel(params)
            elif method == "replaceOrders":
                result = exchange.replace(params)
            elif method == "listCurrentOrders":
                result = exchange.current_orders(params)
            elif method == "listClearedOrders":
                result = exchange.cleared(params)
            elif method == "getAccountFunds":
                result = exchange.funds()
            elif method in ("listMarketCatalogue", "listMarketBook", "listCompetitions") and exchange.books:
                result = market_data(method, params)
            else:
                return _rpc_error("INVALID_INPUT_DATA", request_id)
        except TooMuchData:
            return _rpc_error("TOO_MUCH_DATA", request_id)
        except InvalidInput:
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
            exchange._observe()
            orders = [{k: v for k, v in o.items() if k != "fills"} for o in exchange.orders.values()]
            return JSONResponse({"orders": orders, "script": exchange.script,
                                 "default": exchange.default, "calls": list(exchange.calls),
                                 "weights": list(exchange.weights), "balance": exchange.balance,
                                 "logged_in": exchange.session_token in exchange.sessions,
                                 "sessions": len(exchange.sessions),
                                 "commission": {m: s["commission"] for m, s in exchange.settled.items()}})

    return [Route("/exchange/betting/json-rpc/v1", rpc, methods=["POST"]),
            Route("/exchange/account/json-rpc/v1", rpc, methods=["POST"]),
            Route("/identity/api/login", identity("login"), methods=["POST"]),
            Route("/identity-cert/api/certlogin", identity("login", certificate=True), methods=["POST"]),
            Route("/identity/api/keepAlive", identity("keepAlive"), methods=["POST"]),
            Route("/identity/api/logout", identity("logout"), methods=["POST"]),
            Route("/sandbox/exchange", control, methods=["GET", "POST"])]
