"""The exchange adapter against the sandbox's fake exchange over real HTTP: each answer the
exchange can give, and a timeout reconciled through the ledger into exactly one bet."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from betting_assets.placement import service
from betting_assets.placement.brokers import BrokerError, ExchangeBroker, OrderRequest
from betting_assets.sandbox.exchange import DEFAULT_APP_KEY, DEFAULT_SESSION
from betting_assets.sandbox.server import SandboxServer
from betting_assets.settings import BettingMode, Settings
from betting_assets.warehouse import ledger
from betting_assets.warehouse.tables import bets

NOW = datetime(2023, 8, 12, 13, 20, tzinfo=timezone.utc)


def _script(sandbox: SandboxServer, *actions: str) -> dict:  # type: ignore[type-arg]
    response = httpx.post(f"{sandbox.url}/sandbox/exchange", json={"script": list(actions), "reset": True},
                          headers={"x-api-key": "test-key"})
    response.raise_for_status()
    return response.json()


def _orders(sandbox: SandboxServer) -> list[dict]:  # type: ignore[type-arg]
    return httpx.get(f"{sandbox.url}/sandbox/exchange").json()["orders"]  # type: ignore[no-any-return]


def _order(ref: str = "ref-1", price: float = 2.07, stake: float = 20.0) -> OrderRequest:
    return OrderRequest(customer_ref=ref, event_id="ev1", market="h2h", side="home", point=0.0, price=price,
                        stake=stake, min_fill=1.0)


@pytest.fixture
def exchange(sandbox: SandboxServer) -> ExchangeBroker:
    return ExchangeBroker(sandbox.url, DEFAULT_APP_KEY, DEFAULT_SESSION, timeout_s=10.0)


def test_each_answer_of_the_exchange(exchange: ExchangeBroker, sandbox: SandboxServer) -> None:
    _script(sandbox, "accept", "partial:0.4", "lapse", "reject:INSUFFICIENT_FUNDS")
    full = exchange.place(_order("a"))
    assert (full.status, full.matched, full.price, full.reason) == ("placed", 20.0, 2.06, None)  # ladder: 2.07 → 2.06
    part = exchange.place(_order("b"))
    assert (part.status, part.matched) == ("placed", 8.0)
    assert part.reason == "partly matched: 8.00 of 20.00, the rest lapsed"
    lapsed = exchange.place(_order("c"))
    assert (lapsed.status, lapsed.matched) == ("lapsed", 0.0)
    rejected = exchange.place(_order("d"))
    assert rejected.status == "rejected" and rejected.reason == "exchange rejected the order: INSUFFICIENT_FUNDS"
    sent = {o["customerOrderRef"]: o for o in _orders(sandbox)}
    assert set(sent) == {"a", "b", "c"}
    assert sent["a"]["priceSize"] == {"price": 2.06, "size": 20.0} and sent["a"]["side"] == "BACK"
    again = exchange.place(_order("a"))            # the same reference is not a second bet
    assert again.broker_bet_id == full.broker_bet_id and len(_orders(sandbox)) == 3
    found = exchange.lookup(["a", "b", "zzz"])
    assert set(found) == {"a", "b"} and found["b"].matched == 8.0


def test_a_wrong_session_is_an_error_not_a_rejected_bet(sandbox: SandboxServer) -> None:
    broker = ExchangeBroker(sandbox.url, DEFAULT_APP_KEY, "expired-token", timeout_s=10.0)
    with pytest.raises(BrokerError, match="INVALID_SESSION_INFORMATION"):
        broker.place(_order())
    assert _orders(sandbox) == []


def test_a_timeout_leaves_the_bet_pending_and_the_next_run_finds_it(
        engine: Engine, exchange: ExchangeBroker, sandbox: SandboxServer) -> None:
    """The exchange takes the order but answers after the client gave up: the row stays
    pending; reconciliation asks the exchange by reference and records the matched bet,
    without sending it again."""
    _script(sandbox, "timeout:4")
    impatient = ExchangeBroker(sandbox.url, DEFAULT_APP_KEY, DEFAULT_SESSION, timeout_s=1.0)
    row = {"idempotency_key": "ev1|h2h|home|0|m@1", "customer_ref": ledger.customer_ref("ev1|h2h|home|0|m@1"),
           "broker": "exchange", "event_id": "ev1", "sport_key": "soccer_epl",
           "commence_time": NOW + timedelta(hours=1), "market": "h2h", "side": "home", "point": 0.0,
           "bookmaker": "betfair_ex_uk", "requested_price": 2.1, "requested_stake": 20.0, "edge": 0.05,
           "created_at": NOW, "updated_at": NOW}
    outcome = service.PlacementReport()
    service.place(engine, impatient, [row], NOW, outcome)
    assert outcome.counts == {"unknown": 1}
    with engine.connect() as conn:
        assert ledger.frame(conn)["status"].to_list() == ["pending"]
    assert len(_orders(sandbox)) == 1

    later = service.reconcile(engine, exchange, NOW + timedelta(minutes=1))
    assert later.counts == {"reconciled_placed": 1}
    with engine.connect() as conn:
        stored = ledger.frame(conn, bets.c.idempotency_key == row["idempotency_key"]).row(0, named=True)
    assert (stored["status"], stored["stake"], stored["price"]) == ("placed", 20.0, 2.1)
    calls = httpx.get(f"{sandbox.url}/sandbox/exchange").json()["calls"]
    assert calls.count("placeOrders") == 1 and len(_orders(sandbox)) == 1


def test_live_placement_needs_every_setting() -> None:
    with pytest.raises(service.PlacementRefused, match="runs only with BETTING_MODE=live"):
        service.broker_for(Settings(broker="exchange"))
    with pytest.raises(service.PlacementRefused, match="needs BETTING_EXCHANGE_SESSION_TOKEN"):
        service.broker_for(Settings(broker="exchange", mode=BettingMode.LIVE, exchange_app_key=SecretStr("k")))
    with pytest.raises(service.PlacementRefused, match="needs a real broker"):
        service.broker_for(Settings(mode=BettingMode.LIVE))
    live = service.broker_for(Settings(broker="exchange", mode=BettingMode.LIVE, exchange_app_key=SecretStr("k"),
                                       exchange_session_token=SecretStr("t")))
    assert isinstance(live, ExchangeBroker)
    assert Settings(exchange_session_token=SecretStr("secret")).public_dict()["exchange"]["session_token"] == "********"
