"""The Betfair venue through betfairlightweight against the sandbox's exchange over real HTTP:
login, keep-alive and logout, funds, each answer placeOrders can give, and a timeout reconciled
through the ledger into exactly one bet."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from betting_assets.venues.betfair.ladder import tick_above, tick_below
from betting_assets.venues.betfair import client as exchange_client
from betting_assets.orders import service
from betting_assets.venues import VenueRefused, venue_for
from betting_assets.venues.base import OrderRequest, VenueError
from betting_assets.venues.betfair.venue import BetfairVenue
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


LISTED = ("", 0)
"""Arsenal v Nottm Forest's match odds market and its home runner, found at 10:00 on match day"""


def _order(ref: str = "ref-1", price: float = 2.07, stake: float = 20.0) -> OrderRequest:
    """On a market the exchange lists (``listed``), where the script decides the fill."""
    market_id, selection = LISTED
    return OrderRequest(customer_ref=ref, event_id="ev1", market="h2h", side="home", point=0.0, price=price,
                        stake=stake, min_fill=1.0, market_id=market_id, selection_id=selection)


def _broker(sandbox: SandboxServer, token: str = DEFAULT_SESSION, timeout_s: float = 10.0) -> BetfairVenue:
    return BetfairVenue(lambda: exchange_client.client(sandbox.url, DEFAULT_APP_KEY, session_token=token,
                                                       timeout_s=timeout_s), 0.05)


@pytest.fixture(autouse=True)
def listed(sandbox: SandboxServer) -> None:
    global LISTED
    httpx.post(f"{sandbox.url}/sandbox/clock", json={"now": "2023-08-12T10:00:00Z"},
               headers={"x-api-key": "test-key"}).raise_for_status()
    made = exchange_client.client(sandbox.url, DEFAULT_APP_KEY, session_token=DEFAULT_SESSION)
    (market,) = [m for m in made.betting.list_market_catalogue(
        filter={"eventTypeIds": ["1"], "marketTypeCodes": ["MATCH_ODDS"]}, market_projection=["EVENT",
                "RUNNER_DESCRIPTION"], max_results=100) if m.event.name == "Arsenal v Nottm Forest"]
    LISTED = (market.market_id, market.runners[0].selection_id)


@pytest.fixture
def exchange(sandbox: SandboxServer) -> BetfairVenue:
    return _broker(sandbox)


def test_each_answer_of_the_exchange(exchange: BetfairVenue, sandbox: SandboxServer) -> None:
    _script(sandbox, "accept", "partial:0.4", "lapse", "reject:INVALID_BET_SIZE")
    full = exchange.place(_order("a"))
    assert (full.status, full.matched, full.quoted_price, full.reason) == ("placed", 20.0, 2.06, None)  # 2.07 → 2.06
    assert full.price == pytest.approx(1 + 1.06 * 0.95)       # what it returns a unit after 5 % commission
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
    again = exchange.place(_order("a"))   # DUPLICATE_TRANSACTION: the same reference is not a second bet
    assert again.broker_bet_id == full.broker_bet_id and len(_orders(sandbox)) == 3
    found = exchange.lookup(["a", "b", "zzz"])
    assert set(found) == {"a", "b"} and found["b"].matched == 8.0


def test_a_wrong_session_is_an_error_not_a_rejected_bet(sandbox: SandboxServer) -> None:
    broker = _broker(sandbox, token="expired-token")
    with pytest.raises(VenueError, match="INVALID_SESSION_INFORMATION"):
        broker.place(_order())
    assert _orders(sandbox) == []


def test_a_timeout_leaves_the_bet_pending_and_the_next_run_finds_it(
        engine: Engine, exchange: BetfairVenue, sandbox: SandboxServer) -> None:
    """The exchange takes the order but answers after the client gave up: the row stays
    pending; reconciliation asks the exchange by reference and records the matched bet,
    without sending it again."""
    _script(sandbox, "timeout:4")
    impatient = _broker(sandbox, timeout_s=1.0)
    row = {"idempotency_key": "ev1|h2h|home|0|m@1", "customer_ref": ledger.customer_ref("ev1|h2h|home|0|m@1"),
           "broker": "betfair", "strategy": "model_value", "event_id": "ev1", "sport_key": "soccer_epl",
           "commence_time": NOW + timedelta(hours=1), "market": "h2h", "side": "home", "point": 0.0,
           "bookmaker": "betfair_exchange", "requested_price": 1 + 1.1 * 0.95, "quoted_price": 2.1,
           "requested_stake": 20.0, "edge": 0.05, "market_id": LISTED[0], "selection_id": LISTED[1],
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
    assert (stored["status"], stored["stake"], stored["quoted_price"]) == ("placed", 20.0, 2.1)
    assert stored["price"] == pytest.approx(2.045) and (stored["market_id"], stored["selection_id"]) == LISTED
    calls = httpx.get(f"{sandbox.url}/sandbox/exchange").json()["calls"]
    assert calls.count("placeOrders") == 1 and len(_orders(sandbox)) == 1


def test_live_placement_needs_every_setting() -> None:
    with pytest.raises(VenueRefused, match="runs only with BETTING_MODE=live"):
        venue_for(Settings(broker="exchange"))
    with pytest.raises(VenueRefused, match="needs BETTING_EXCHANGE_SESSION_TOKEN .or "
                       "BETTING_EXCHANGE_USERNAME and BETTING_EXCHANGE_PASSWORD to log in"):
        venue_for(Settings(broker="exchange", mode=BettingMode.LIVE, exchange_app_key=SecretStr("k")))
    with pytest.raises(VenueRefused, match="needs a real venue"):
        venue_for(Settings(mode=BettingMode.LIVE))
    live = venue_for(Settings(broker="exchange", mode=BettingMode.LIVE, exchange_app_key=SecretStr("k"),
                                       exchange_session_token=SecretStr("t")))
    assert isinstance(live, BetfairVenue)
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
    broker = venue_for(settings)
    assert isinstance(broker, BetfairVenue) and broker.client.session_token.startswith(f"{DEFAULT_SESSION}-login-")
    funds = broker.client.account.get_account_funds()
    assert funds.available_to_bet_balance == DEFAULT_BALANCE
    broker.client._login_time -= broker.client.session_timeout   # the clock moves past half the session
    assert broker.place(_order("k")).status == "placed"
    assert broker.client.account.get_account_funds().available_to_bet_balance == DEFAULT_BALANCE - 20.0
    broker.close()
    assert _calls(sandbox) == ["login", "getAccountFunds", "keepAlive", "placeOrders", "getAccountFunds", "logout"]
    with pytest.raises(VenueError, match="keep-alive refused: API keepAlive FAIL: NO_SESSION"):   # logged out
        broker.place(_order("after"))


def test_a_wrong_password_is_refused_in_one_line_without_the_password(sandbox: SandboxServer) -> None:
    settings = Settings(broker="exchange", mode=BettingMode.LIVE, exchange_url=sandbox.url,
                        exchange_app_key=SecretStr(DEFAULT_APP_KEY), exchange_username=DEFAULT_USERNAME,
                        exchange_password=SecretStr("hunter2"))
    with pytest.raises(VenueError) as refused:
        venue_for(settings).client
    assert str(refused.value) == "exchange login refused: INVALID_USERNAME_OR_PASSWORD"
    assert "hunter2" not in repr(refused.value)


def test_a_stake_beyond_the_balance_is_refused_for_funds(exchange: BetfairVenue, sandbox: SandboxServer) -> None:
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
    assert made.session_token.startswith(DEFAULT_SESSION) and _calls(sandbox)[-1] == "login"
    assert made.identity_cert_uri == f"{sandbox.url}/identity-cert/api/"
    betfair = exchange_client.PointedClient(exchange_client.BETFAIR_URL, username="u", password="p", app_key="k")
    assert (betfair.identity_uri, betfair.api_uri) == ("https://identitysso.betfair.com/api/",
                                                       "https://api.betfair.com/exchange/")


def _market(sandbox: SandboxServer, client: exchange_client.PointedClient):  # type: ignore[no-untyped-def]
    """Arsenal v Nottm Forest (kick-off 12 August 2023, 12:30) and its book at 10:00."""
    httpx.post(f"{sandbox.url}/sandbox/clock", json={"now": "2023-08-12T10:00:00Z"},
               headers={"x-api-key": "test-key"}).raise_for_status()
    _script(sandbox)
    (market,) = [m for m in client.betting.list_market_catalogue(
        filter={"eventTypeIds": ["1"], "marketTypeCodes": ["MATCH_ODDS"],
                "marketStartTime": {"from": "2023-08-12T00:00:00Z", "to": "2023-08-13T00:00:00Z"}},
        market_projection=["EVENT", "RUNNER_DESCRIPTION"], max_results=100) if m.event.name == "Arsenal v Nottm Forest"]
    (book,) = client.betting.list_market_book([market.market_id], price_projection={"priceData": ["EX_BEST_OFFERS"]})
    return market, book


def _on(market, book, ref: str, price: float, stake: float, version: int | None = None,  # type: ignore[no-untyped-def]
        min_fill: float = 1.0) -> OrderRequest:
    runner = book.runners[0]
    return OrderRequest(customer_ref=ref, event_id="arsenal", market="h2h", side="home", point=0.0,
                        price=price, quoted_price=price, stake=stake, min_fill=min_fill, market_id=market.market_id,
                        selection_id=runner.selection_id, market_version=version or book.version,
                        strategy_ref="model_value_and_more")


def test_orders_match_against_the_book_and_take_its_liquidity(exchange: BetfairVenue, sandbox: SandboxServer) -> None:
    """A back order takes every level at its price or better until filled (fill-or-kill below
    its minimum fill); what it took is gone for the next order."""
    market, book = _market(sandbox, exchange.client)
    levels = [(p.price, p.size) for p in book.runners[0].ex.available_to_back]
    (best, first), (second, more) = levels[0], levels[1]
    full = exchange.place(_on(market, book, "f1", best, 5.0))
    assert (full.status, full.matched, full.quoted_price) == ("placed", 5.0, best)
    rest = first - 5.0
    part = exchange.place(_on(market, book, "f2", best, rest + 50.0))     # more than is left at the best price
    assert (part.status, part.matched) == ("placed", rest)
    assert part.reason == f"partly matched: {rest:.2f} of {rest + 50.0:.2f}, the rest lapsed"
    lapsed = exchange.place(_on(market, book, "f3", tick_above(best), 5.0))   # asks more than anyone offers
    assert lapsed.status == "lapsed"
    below = exchange.place(_on(market, book, "f4", tick_below(second), more + 1.0))  # the best level is spent
    assert below.status == "placed" and below.quoted_price == pytest.approx((second * more + tick_below(second) * 1.0)
                                                                            / (more + 1.0), abs=0.01)
    killed = exchange.place(_on(market, book, "f5", best, 30.0, min_fill=30.0))     # nothing left at best: killed
    assert killed.status == "lapsed"
    sent = {o["customerOrderRef"]: o for o in _orders(sandbox)}
    assert sent["f1"]["customerStrategyRef"] == "model_value_and" and sent["f3"]["status"] == "EXPIRED"
    (after,) = exchange.client.betting.list_market_book([market.market_id],
                                                        price_projection={"priceData": ["EX_BEST_OFFERS"]})
    assert after.runners[0].ex.available_to_back[0].price < second   # both top levels were taken


def test_the_exchange_refuses_as_betfair_does(exchange: BetfairVenue, sandbox: SandboxServer) -> None:
    market, book = _market(sandbox, exchange.client)
    best = book.runners[0].ex.available_to_back[0].price
    tiny = exchange.place(_on(market, book, "s1", 2.0, 0.5))
    assert tiny.status == "rejected" and tiny.reason.startswith("stake 0.50 below the exchange's minimum 1.00")
    assert _calls(sandbox).count("placeOrders") == 0                          # refused before sending
    assert exchange.place(_on(market, book, "s2", 25.0, 0.5)).status != "rejected"    # 0.50 × 25 pays out 12.50
    moved = exchange.place(_on(market, book, "v1", best, 5.0, version=book.version - 1))
    assert moved.status == "placed"                         # a version behind by a price move still bets
    httpx.post(f"{sandbox.url}/sandbox/exchange", json={"material_change": [market.market_id]},
               headers={"x-api-key": "test-key"}).raise_for_status()
    lapsed = exchange.place(_on(market, book, "v2", best, 5.0, version=book.version))
    assert lapsed.reason == "exchange rejected the order: BET_TAKEN_OR_LAPSED"   # a runner removed since
    unknown = exchange.place(OrderRequest(customer_ref="u1", event_id="x", market="h2h", side="home", point=0.0,
                                          price=2.0, quoted_price=2.0, stake=5.0, market_id="1.999",
                                          selection_id=11))
    assert unknown.reason == "exchange rejected the order: INVALID_MARKET_ID"


def test_cleared_orders_after_the_event_with_commission_per_market(
        exchange: BetfairVenue, sandbox: SandboxServer) -> None:
    """Arsenal beat Nottingham Forest 2-1: the home back wins, the draw back loses. The bets
    carry no commission; the market roll-up carries 5 % of the market's net winnings, and the
    balance moves once, when the market settles."""
    market, book = _market(sandbox, exchange.client)
    home, draw = book.runners[0], book.runners[2]
    exchange.place(_on(market, book, "h", home.ex.available_to_back[0].price, 10.0))
    exchange.place(OrderRequest(customer_ref="d", event_id="arsenal", market="h2h", side="draw", point=0.0,
                                price=0.0, quoted_price=draw.ex.available_to_back[0].price, stake=1.0,
                                market_id=market.market_id, selection_id=draw.selection_id))
    assert exchange.cleared(["h", "d"]).bets == {}                             # not final yet
    httpx.post(f"{sandbox.url}/sandbox/clock", json={"now": "2023-08-13T00:00:00Z"},
               headers={"x-api-key": "test-key"}).raise_for_status()
    cleared = exchange.cleared(["h", "d"])
    won, lost = cleared.bets["h"], cleared.bets["d"]
    assert (won.outcome, lost.outcome, won.kind) == ("WON", "LOST", "settled")
    assert won.profit == pytest.approx(10.0 * (home.ex.available_to_back[0].price - 1), abs=0.01)
    assert lost.profit == -1.0
    rolled = cleared.markets[market.market_id]
    assert rolled.bet_count == 2 and rolled.profit == pytest.approx(won.profit - 1.0)
    assert rolled.commission == pytest.approx(0.05 * (won.profit - 1.0), abs=0.005)   # on net winnings
    balance = DEFAULT_BALANCE + won.profit - 1.0 - rolled.commission
    assert exchange.account().available == pytest.approx(balance, abs=0.001)
    exchange.cleared(["h", "d"])
    assert exchange.account().available == pytest.approx(balance, abs=0.001)             # paid once


def test_a_voided_market_gives_every_stake_back(exchange: BetfairVenue, sandbox: SandboxServer) -> None:
    market, book = _market(sandbox, exchange.client)
    exchange.place(_on(market, book, "v", book.runners[0].ex.available_to_back[0].price, 10.0))
    assert exchange.account().available == DEFAULT_BALANCE - 10.0
    httpx.post(f"{sandbox.url}/sandbox/exchange", json={"void_markets": [market.market_id]},
               headers={"x-api-key": "test-key"}).raise_for_status()
    voided = exchange.cleared(["v"])
    assert (voided.bets["v"].kind, voided.bets["v"].profit) == ("voided", 0.0) and voided.markets == {}
    assert exchange.account().available == DEFAULT_BALANCE


def _row(key: str, market, book, price: float, stake: float, commence: datetime) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return {"idempotency_key": key, "customer_ref": ledger.customer_ref(key), "broker": "betfair",
            "strategy": "sharp_value", "event_id": "arsenal", "sport_key": "soccer_epl", "commence_time": commence,
            "market": "h2h", "side": "home", "point": 0.0, "bookmaker": "betfair_exchange",
            "requested_price": 1 + (price - 1) * 0.95, "quoted_price": price, "requested_stake": stake,
            "edge": 0.05, "market_id": market.market_id, "selection_id": book.runners[0].selection_id,
            "created_at": MARKET_DAY, "updated_at": MARKET_DAY, "fill_or_kill": False}


MARKET_DAY = datetime(2023, 8, 12, 10, tzinfo=timezone.utc)


def _clock(sandbox: SandboxServer, at: str) -> None:
    httpx.post(f"{sandbox.url}/sandbox/clock", json={"now": at}, headers={"x-api-key": "test-key"}).raise_for_status()


def test_resting_orders_wait_count_as_exposure_and_end_cancelled_matched_or_lapsed(
        engine: Engine, exchange: BetfairVenue, sandbox: SandboxServer) -> None:
    """With patience, what does not match rests: its whole stake is exposure until it ends. One
    order above the market waits and is cancelled with nothing matched once it has waited 10
    minutes; one larger than the best level matches that level, rests the rest and ends placed
    with what matched; one still resting at kick-off is lapsed by the exchange."""
    from betting_assets.domain.orders.account import book_from_ledger
    from betting_assets.venues.betfair.venue import RULES
    from betting_assets.settings import Settings as Config

    market, book = _market(sandbox, exchange.client)
    kick_off = datetime(2023, 8, 12, 11, 30, tzinfo=timezone.utc)
    best, first = book.runners[0].ex.available_to_back[0].price, book.runners[0].ex.available_to_back[0].size
    at = datetime(2023, 8, 12, 10, tzinfo=timezone.utc)
    above = _row("above", market, book, tick_above(best), 5.0, kick_off)
    bigger = _row("bigger", market, book, best, round(first + 5.0, 2), kick_off)
    placed = service.PlacementReport()
    service.place(engine, exchange, [above, bigger], at, placed)
    assert placed.counts == {"resting": 2}
    patience = timedelta(minutes=10)
    waiting = service.reconcile(engine, exchange, at + timedelta(minutes=1), patience=patience)
    with engine.connect() as conn:
        rows = ledger.frame(conn)
    assert waiting.counts == {} and set(rows["status"]) == {"resting"}
    assert rows.sort("idempotency_key")["stake"].to_list() == [0.0, first]          # matched so far
    settings = Config()
    exposure = book_from_ledger(rows, 1000.0, at + timedelta(minutes=1), settings.risk, RULES,
                                venue_name="betfair").on_event("arsenal")
    assert exposure == pytest.approx(5.0 + first + 5.0)                            # the whole stakes are at risk
    ended = service.reconcile(engine, exchange, at + timedelta(minutes=11), patience=patience)
    assert ended.counts == {"rested_cancelled": 1, "rested_placed": 1}
    with engine.connect() as conn:
        rows = {r["idempotency_key"]: r for r in ledger.frame(conn).iter_rows(named=True)}
    assert rows["above"]["status"] == "cancelled" and rows["bigger"]["status"] == "placed"
    assert rows["bigger"]["stake"] == first and "partly matched" in rows["bigger"]["reasons"]
    assert "cancelOrders" in _calls(sandbox)

    _clock(sandbox, "2023-08-12T11:20:00Z")
    late = _row("late", market, book, tick_above(best), 5.0, kick_off)
    rested = service.PlacementReport()
    service.place(engine, exchange, [late], datetime(2023, 8, 12, 11, 20, tzinfo=timezone.utc), rested)
    assert rested.counts == {"resting": 1}
    _clock(sandbox, "2023-08-12T11:31:00Z")                                        # in play: the rest lapses
    lapsed = service.reconcile(engine, exchange, datetime(2023, 8, 12, 11, 31, tzinfo=timezone.utc),
                               patience=timedelta(hours=1))
    assert lapsed.counts == {"rested_lapsed": 1}
    with engine.connect() as conn:
        assert ledger.frame(conn, bets.c.idempotency_key == "late")["status"].to_list() == ["lapsed"]


def test_the_circuit_breaker_stops_placement_after_repeated_venue_errors(
        engine: Engine, exchange: BetfairVenue, sandbox: SandboxServer) -> None:
    market, book = _market(sandbox, exchange.client)
    _script(sandbox, *["reject:ERROR_IN_MATCHER"] * 3)
    kick_off = datetime(2023, 8, 12, 11, 30, tzinfo=timezone.utc)
    rows = [{**_row(f"o{i}", market, book, book.runners[0].ex.available_to_back[0].price, 2.0, kick_off),
             "fill_or_kill": True} for i in range(5)]
    outcome = service.PlacementReport()
    service.place(engine, exchange, rows, datetime(2023, 8, 12, 10, tzinfo=timezone.utc), outcome, max_errors=3)
    assert outcome.counts == {"rejected": 3, "stopped": 2}
    assert all("circuit breaker: 3 venue errors in a row" in r["reason"] for r in outcome.rows[3:])
    assert _calls(sandbox).count("placeOrders") == 3
    with engine.connect() as conn:
        assert ledger.keys(conn, ["o3", "o4"]) == []                                # left for a later run
