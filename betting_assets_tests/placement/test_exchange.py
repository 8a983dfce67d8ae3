"""The exchange adapter through betfairlightweight against the sandbox's exchange over real
HTTP: login, keep-alive and logout, funds, each answer placeOrders can give, and a timeout
reconciled through the ledger into exactly one bet."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from betting_assets.placement import exchange_client, service
from betting_assets.placement.brokers import BrokerError, ExchangeBroker, OrderRequest
from betting_assets.sandbox.exchange import (
    DEFAULT_APP_KEY,
    DEFAULT_BALANCE,
    DEFAULT_PASSWORD,
    DEFAULT_SESSION,
    DEFAULT_USERNAME,
)
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


def _broker(sandbox: SandboxServer, token: str = DEFAULT_SESSION, timeout_s: float = 10.0) -> ExchangeBroker:
    return ExchangeBroker(exchange_client.client(sandbox.url, DEFAULT_APP_KEY, session_token=token,
                                                 timeout_s=timeout_s))


@pytest.fixture
def exchange(sandbox: SandboxServer) -> ExchangeBroker:
    return _broker(sandbox)


def test_each_answer_of_the_exchange(exchange: ExchangeBroker, sandbox: SandboxServer) -> None:
    _script(sandbox, "accept", "partial:0.4", "lapse", "reject:INVALID_BET_SIZE")
    full = exchange.place(_order("a"))
    assert (full.status, full.matched, full.price, full.reason) == ("placed", 20.0, 2.06, None)  # ladder: 2.07 → 2.06
    part = exchange.place(_order("b"))
    assert (part.status, part.matched) == ("placed", 8.0)
    assert part.reason == "partly matched: 8.00 of 20.00, the rest lapsed"
    lapsed = exchange.place(_order("c"))
    assert (lapsed.status, lapsed.matched) == ("lapsed", 0.0)
    rejected = exchange.place(_order("d"))
    assert rejected.status == "rejected" and rejected.reason == "exchange rejected the order: INVALID_BET_SIZE"
    sent = {o["customerOrderRef"]: o for o in _orders(sandbox)}
    assert set(sent) == {"a", "b", "c"}
    assert sent["a"]["priceSize"] == {"price": 2.06, "size": 20.0} and sent["a"]["side"] == "BACK"
    again = exchange.place(_order("a"))            # the same reference is not a second bet
    assert again.broker_bet_id == full.broker_bet_id and len(_orders(sandbox)) == 3
    found = exchange.lookup(["a", "b", "zzz"])
    assert set(found) == {"a", "b"} and found["b"].matched == 8.0


def test_a_wrong_session_is_an_error_not_a_rejected_bet(sandbox: SandboxServer) -> None:
    broker = _broker(sandbox, token="expired-token")
    with pytest.raises(BrokerError, match="INVALID_SESSION_INFORMATION"):
        broker.place(_order())
    assert _orders(sandbox) == []


def test_a_timeout_leaves_the_bet_pending_and_the_next_run_finds_it(
        engine: Engine, exchange: ExchangeBroker, sandbox: SandboxServer) -> None:
    """The exchange takes the order but answers after the client gave up: the row stays
    pending; reconciliation asks the exchange by reference and records the matched bet,
    without sending it again."""
    _script(sandbox, "timeout:4")
    impatient = _broker(sandbox, timeout_s=1.0)
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
    with pytest.raises(service.PlacementRefused, match="needs BETTING_EXCHANGE_SESSION_TOKEN .or "
                       "BETTING_EXCHANGE_USERNAME and BETTING_EXCHANGE_PASSWORD to log in"):
        service.broker_for(Settings(broker="exchange", mode=BettingMode.LIVE, exchange_app_key=SecretStr("k")))
    with pytest.raises(service.PlacementRefused, match="needs a real broker"):
        service.broker_for(Settings(mode=BettingMode.LIVE))
    live = service.broker_for(Settings(broker="exchange", mode=BettingMode.LIVE, exchange_app_key=SecretStr("k"),
                                       exchange_session_token=SecretStr("t")))
    assert isinstance(live, ExchangeBroker)
    shown = Settings(exchange_session_token=SecretStr("secret"), exchange_password=SecretStr("pw")).public_dict()
    assert shown["exchange"]["session_token"] == shown["exchange"]["password"] == "********"


def _calls(sandbox: SandboxServer) -> list[str]:
    return httpx.get(f"{sandbox.url}/sandbox/exchange").json()["calls"]  # type: ignore[no-any-return]


def test_the_broker_logs_in_keeps_the_session_alive_and_logs_out(sandbox: SandboxServer) -> None:
    """With an account instead of a token: betfairlightweight's interactive login, a keep-alive
    once the session is half way to expiry, the funds, and logout at the end of the run."""
    _script(sandbox, "accept")
    settings = Settings(broker="exchange", mode=BettingMode.LIVE, exchange_url=sandbox.url,
                        exchange_app_key=SecretStr(DEFAULT_APP_KEY), exchange_username=DEFAULT_USERNAME,
                        exchange_password=SecretStr(DEFAULT_PASSWORD))
    broker = service.broker_for(settings)
    assert isinstance(broker, ExchangeBroker) and broker.client.session_token == DEFAULT_SESSION
    funds = broker.client.account.get_account_funds()
    assert funds.available_to_bet_balance == DEFAULT_BALANCE
    broker.client._login_time -= broker.client.session_timeout   # the clock moves past half the session
    assert broker.place(_order("k")).status == "placed"
    assert broker.client.account.get_account_funds().available_to_bet_balance == DEFAULT_BALANCE - 20.0
    broker.close()
    assert _calls(sandbox) == ["login", "getAccountFunds", "keepAlive", "placeOrders", "getAccountFunds", "logout"]
    with pytest.raises(BrokerError, match="keep-alive refused: API keepAlive FAIL: NO_SESSION"):   # logged out
        broker.place(_order("after"))


def test_a_wrong_password_is_refused_in_one_line_without_the_password(sandbox: SandboxServer) -> None:
    settings = Settings(broker="exchange", mode=BettingMode.LIVE, exchange_url=sandbox.url,
                        exchange_app_key=SecretStr(DEFAULT_APP_KEY), exchange_username=DEFAULT_USERNAME,
                        exchange_password=SecretStr("hunter2"))
    with pytest.raises(service.PlacementRefused) as refused:
        service.broker_for(settings)
    assert str(refused.value) == "exchange login refused: INVALID_USERNAME_OR_PASSWORD"
    assert "hunter2" not in repr(refused.value)


def test_a_stake_beyond_the_balance_is_refused_for_funds(exchange: ExchangeBroker, sandbox: SandboxServer) -> None:
    httpx.post(f"{sandbox.url}/sandbox/exchange", json={"reset": True, "balance": 15.0, "default": "accept"},
               headers={"x-api-key": "test-key"}).raise_for_status()
    refused = exchange.place(_order("big", stake=20.0))
    assert refused.status == "rejected" and refused.reason == "exchange rejected the order: INSUFFICIENT_FUNDS"
    assert exchange.place(_order("small", stake=10.0)).status == "placed"
    assert exchange.client.account.get_account_funds().available_to_bet_balance == 5.0
    assert _orders(sandbox)[0]["customerOrderRef"] == "small"


def test_certificate_login_and_betfairs_own_hosts(sandbox: SandboxServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With a certificate folder the client uses Betfair's certificate login (``certlogin``);
    pointed at Betfair itself it keeps Betfair's identity and API hosts."""
    (tmp_path / "client-2048.crt").write_text("certificate")
    (tmp_path / "client-2048.key").write_text("key")
    made = exchange_client.client(sandbox.url, DEFAULT_APP_KEY, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD,
                                  certs=tmp_path)
    assert made.session_token == DEFAULT_SESSION and _calls(sandbox)[-1] == "login"
    assert made.identity_cert_uri == f"{sandbox.url}/identity-cert/api/"
    betfair = exchange_client.PointedClient(exchange_client.BETFAIR_URL, username="u", password="p", app_key="k")
    assert (betfair.identity_uri, betfair.api_uri) == ("https://identitysso.betfair.com/api/",
                                                       "https://api.betfair.com/exchange/")
