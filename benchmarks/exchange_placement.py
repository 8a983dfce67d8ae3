"""1,000 slips through the exchange path on PostgreSQL: the mapping read from the warehouse, the
live books read through betfairlightweight, the re-check, the gate (funds and transaction
budget included), placeOrders over HTTP against the sandbox's exchange and the two-phase
ledger. Throughput on a clean pass, then 20 crash-and-rerun cycles (a crash at a random order,
before it is sent or after the exchange answered but before the ledger heard) and a count of
duplicate or lost bets, in the ledger and at the exchange (whose de-duplication of a resent
reference is switched off, so only reconciliation can keep the count right). The cycles run
twice: fill-or-kill, and with resting orders (half of each order matches, the market moves away
and the rest waits until a later run cancels it once its patience is spent), where the ledger's
matched stake and cancelled orders must also agree with the exchange's, order by order."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from benchmarks.normalize_store import Database
from benchmarks.placement import NOW, SETTINGS, Crash, seed
from betting_assets.domain.pricing.commission import net_price
from betting_assets.venues.betfair.venue import BOOK as BROKER_BOOK
from betting_assets.venues.betfair import client as exchange_client
from betting_assets.orders import service
from betting_assets.venues.base import Fill, OrderRequest
from betting_assets.venues.betfair.venue import BetfairVenue
from betting_assets.sandbox.exchange import DEFAULT_APP_KEY, DEFAULT_SESSION
from betting_assets.sandbox.exchange_book import ExchangeBooks
from betting_assets.sandbox.server import SandboxServer, SandboxState, load_market
from betting_assets.warehouse.tables import bet_slips, bets, exchange_markets, normalized_odds

PRICE, SIZE = 2.0, 1_000.0


class FlatBooks:
    """One open match-odds market per benchmark event, every runner backed at 2.0 for 1,000:
    what the sandbox's exchange matches the orders against."""

    def __init__(self, markets: dict[str, list[int]]) -> None:
        self.markets = markets
        self.taken: dict[tuple[str, int, float, float], float] = {}
        self.material: dict[str, int] = {}

    weight = staticmethod(ExchangeBooks.weight)   # the same request limits as the sandbox's own books

    def _book(self, market_id: str) -> dict[str, Any]:
        runners = [{"selectionId": sid, "handicap": 0.0, "status": "ACTIVE", "totalMatched": 0.0,
                    "ex": {"availableToBack": [{"price": PRICE, "size": SIZE - self.taken.get((market_id, sid, 0.0, PRICE), 0.0)}],
                           "availableToLay": [{"price": 2.02, "size": SIZE}], "tradedVolume": []}}
                   for sid in self.markets[market_id]]
        return {"marketId": market_id, "isMarketDataDelayed": False, "status": "OPEN", "betDelay": 0,
                "bspReconciled": False, "complete": True, "inplay": False, "numberOfWinners": 1,
                "numberOfRunners": len(runners), "numberOfActiveRunners": len(runners), "totalMatched": 0.0,
                "totalAvailable": 0.0, "crossMatching": True, "runnersVoidable": False, "version": 1,
                "runners": runners}

    def current(self, market_id: str) -> dict[str, Any] | None:
        return self._book(market_id) if market_id in self.markets else None

    def books(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [self._book(m) for m in params.get("marketIds") or [] if m in self.markets]

    def catalogue(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def take(self, market_id: str, selection: int, price: float, size: float, handicap: float = 0.0) -> None:
        key = (market_id, selection, handicap, price)
        self.taken[key] = self.taken.get(key, 0.0) + size

    def settle(self, market_id: str, selection: int, handicap: float, price: float) -> float | None:
        return None


class CrashingExchange(BetfairVenue):
    """Dies at its ``at``-th order: before sending it, or after the exchange answered and
    before the ledger heard."""

    def __init__(self, client: exchange_client.PointedClient, at: int, after_answer: bool) -> None:
        super().__init__(lambda: client, 0.05)
        self.left, self.after_answer = at, after_answer

    def place(self, order: OrderRequest) -> Fill:
        if self.left == 0:
            if self.after_answer:
                super().place(order)
            raise Crash(order.customer_ref)
        self.left -= 1
        return super().place(order)


def _on_the_exchange(engine: Engine, n: int) -> dict[str, list[int]]:
    """The benchmark's slips as the exchange path has them: priced at the exchange's best back
    (net of commission), each event mapped to a market whose home runner it backs."""
    ids = [f"bench-{i:05d}" for i in range(n)]
    markets = {f"1.{500_000 + i}": [10_000 + i] for i in range(n)}
    with engine.begin() as conn:
        conn.execute(bet_slips.update().values(bookmaker=BROKER_BOOK, price=net_price(PRICE, 0.05), quoted_price=PRICE,
                                               market_version=1, edge=0.55 * net_price(PRICE, 0.05) - 1))
        conn.execute(normalized_odds.update().values(bookmaker=BROKER_BOOK))
        conn.execute(exchange_markets.insert(), [{
            "event_id": e, "market_type": "MATCH_ODDS", "line": 0.0, "side": "home", "market_id": f"1.{500_000 + i}",
            "selection_id": 10_000 + i, "handicap": 0.0, "exchange_event_id": str(40_000_000 + i),
            "exchange_event_name": f"{e} H v {e} A", "market_version": 1, "score": 1.0, "method": "exact",
            "mapped_at": NOW} for i, e in enumerate(ids)])
    return markets


def _exchange_orders(url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/sandbox/exchange", timeout=30).json()["orders"]  # type: ignore[no-any-return]


RESTING = SETTINGS.updated(exchange={"order_patience_s": 1.0})
"""a resting order is cancelled once it has waited a second (the cycles move the clock on by two)"""


def run(pg_url: str, workdir: Path, slips: int = 1_000, cycles: int = 20, seed_value: int = 11) -> dict[str, float]:
    rng = random.Random(seed_value)
    state = SandboxState(load_market("sim:1"), now=NOW)
    with SandboxServer(state) as server:
        def broker(**crash: Any) -> BetfairVenue:
            made = exchange_client.client(server.url, DEFAULT_APP_KEY, session_token=DEFAULT_SESSION, timeout_s=30)
            return CrashingExchange(made, **crash) if crash else BetfairVenue(lambda: made, 0.05)

        results: dict[str, float] = {}
        for phase in ("clean", "crashing", "resting"):
            database = Database("postgresql", workdir, pg_url)
            try:
                seed(database.engine, slips)
                state.exchange.books = FlatBooks(_on_the_exchange(database.engine, slips))  # type: ignore[assignment]
                # no de-duplication window: a resent order would be a second bet, as after Betfair's 60 s,
                # so only reconciliation can keep the count right
                state.exchange.configure({"reset": True, "balance": 1_000_000.0, "script": [],
                                          "default": "away:0.5" if phase == "resting" else "book",
                                          "dedupe_window_s": 0.0})
                if phase == "clean":
                    began = time.perf_counter()
                    outcome = service.run_placement(database.engine, broker(), SETTINGS, NOW)
                    results["seconds"] = time.perf_counter() - began
                    assert outcome.counts.get("placed") == slips, outcome.counts
                    continue
                settings = RESTING if phase == "resting" else SETTINGS
                crashes = 0
                for cycle in range(cycles):
                    at = NOW + timedelta(seconds=2 * cycle)
                    try:
                        service.run_placement(database.engine, broker(at=rng.randrange(0, 2 * slips // cycles),
                                                                      after_answer=rng.random() < 0.5), settings, at)
                    except Crash:
                        crashes += 1
                service.run_placement(database.engine, broker(), settings, NOW + timedelta(seconds=2 * cycles))
                service.run_placement(database.engine, broker(), settings, NOW + timedelta(seconds=2 * cycles + 2))
                with database.engine.connect() as conn:
                    per_slip = conn.execute(select(bets.c.idempotency_key, func.count())
                                            .group_by(bets.c.idempotency_key)).all()
                    statuses = dict(conn.execute(select(bets.c.status, func.count()).group_by(bets.c.status)).all())
                    matched = dict(conn.execute(select(bets.c.customer_ref, bets.c.stake)).all())
                sent = _exchange_orders(server.url)
                counted = Counter(o["customerOrderRef"] for o in sent)
                results.update({f"{phase}_{k}": v for k, v in {
                    "crashes": float(crashes), "duplicates": float(sum(n - 1 for _, n in per_slip)),
                    "missing": float(slips - len(per_slip)), "placed": float(statuses.get("placed", 0)),
                    "pending": float(statuses.get("pending", 0)), "resting": float(statuses.get("resting", 0)),
                    "exchange_duplicates": float(sum(n - 1 for n in counted.values())),
                    "exchange_missing": float(slips - len(counted)),
                    "cancelled": float(sum(o["sizeCancelled"] > 0 for o in sent)),
                    "stake_differs": float(sum(abs((matched.get(o["customerOrderRef"]) or 0.0) - o["sizeMatched"])
                                               > 0.005 for o in sent)),
                    "still_resting": float(sum(o["status"] == "EXECUTABLE" for o in sent))}.items()})
            finally:
                database.close()
    return {"slips": float(slips), "seconds": results["seconds"], "rate": slips / results["seconds"],
            **{k: v for k, v in results.items() if k != "seconds"}}
