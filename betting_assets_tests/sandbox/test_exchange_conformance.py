"""The sandbox exchange held to Betfair's API-NG reference, not to the product: raw JSON-RPC over
HTTP, each case naming the documented rule it checks (``DOCS``). A case here fails when the
sandbox answers the way the product might like rather than the way Betfair documents."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from betting_assets.sandbox.exchange import DEFAULT_APP_KEY, DEFAULT_BALANCE, DEFAULT_PASSWORD, DEFAULT_SESSION, \
    DEFAULT_USERNAME, DOCS
from betting_assets.sandbox.server import SandboxServer
from betting_assets.venues.betfair.ladder import tick_above

KEY = {"x-api-key": "test-key"}
WINDOW = {"from": "2023-08-12T00:00:00Z", "to": "2023-08-13T00:00:00Z"}


class Exchange:
    """JSON-RPC as Betfair takes it: one call a POST, the app key and session in headers."""

    def __init__(self, url: str, token: str = DEFAULT_SESSION) -> None:
        self.url, self.token = url, token

    def call(self, method: str, params: dict[str, Any], api: str = "betting") -> dict[str, Any]:
        prefix = "SportsAPING" if api == "betting" else "AccountAPING"
        answer = httpx.post(f"{self.url}/exchange/{api}/json-rpc/v1", json={
            "jsonrpc": "2.0", "method": f"{prefix}/v1.0/{method}", "params": params, "id": 1},
            headers={"X-Application": DEFAULT_APP_KEY, "X-Authentication": self.token})
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]

    def result(self, method: str, params: dict[str, Any], api: str = "betting") -> Any:
        doc = self.call(method, params, api)
        assert "result" in doc, doc
        return doc["result"]

    def error(self, method: str, params: dict[str, Any]) -> str:
        return self.call(method, params)["error"]["data"]["APINGException"]["errorCode"]  # type: ignore[no-any-return]

    def place(self, market: dict[str, Any], ref: str, price: float, size: float, *, version: int | None = None,
              fill_or_kill: bool = False, runner: int = 0) -> dict[str, Any]:
        limit: dict[str, Any] = {"size": size, "price": price, "persistenceType": "LAPSE"}
        if fill_or_kill:
            limit.update(timeInForce="FILL_OR_KILL", minFillSize=size)
        params: dict[str, Any] = {"marketId": market["marketId"], "customerRef": ref, "instructions": [{
            "selectionId": market["runners"][runner]["selectionId"], "handicap": 0, "side": "BACK",
            "orderType": "LIMIT", "limitOrder": limit, "customerOrderRef": ref}]}
        if version is not None:
            params["marketVersion"] = {"version": version}
        return self.result("placeOrders", params)  # type: ignore[no-any-return]


def _control(sandbox: SandboxServer, path: str, doc: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{sandbox.url}/sandbox/{path}", json=doc, headers=KEY)
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


@pytest.fixture
def exchange(sandbox: SandboxServer) -> Exchange:
    _control(sandbox, "clock", {"now": "2023-08-12T10:00:00Z"})
    _control(sandbox, "exchange", {"reset": True, "default": "book"})
    return Exchange(sandbox.url)


def _arsenal(exchange: Exchange) -> tuple[dict[str, Any], dict[str, Any]]:
    """Arsenal v Nottm Forest's match odds (kick-off 12:30) and its book at 10:00."""
    (market,) = [m for m in exchange.result("listMarketCatalogue", {
        "filter": {"eventTypeIds": ["1"], "marketTypeCodes": ["MATCH_ODDS"], "marketStartTime": WINDOW},
        "marketProjection": ["EVENT", "RUNNER_DESCRIPTION"], "maxResults": 100})
        if m["event"]["name"] == "Arsenal v Nottm Forest"]
    (book,) = exchange.result("listMarketBook", {"marketIds": [market["marketId"]],
                                                 "priceProjection": {"priceData": ["EX_BEST_OFFERS"]}})
    return market, book


def _best(book: dict[str, Any], runner: int = 0) -> float:
    return float(book["runners"][runner]["ex"]["availableToBack"][0]["price"])


def test_place_orders_errors_come_at_their_documented_level(exchange: Exchange, sandbox: SandboxServer) -> None:
    """``DOCS['errors']``: INVALID_MARKET_ID and MARKET_SUSPENDED are ExecutionReportErrorCodes
    (the instruction fails with ERROR_IN_ORDER); INVALID_ODDS and INVALID_BET_SIZE are
    InstructionReportErrorCodes under BET_ACTION_ERROR; DUPLICATE_TRANSACTION within 60 s."""
    market, book = _arsenal(exchange)
    unknown = exchange.place({**market, "marketId": "1.999"}, "r0", 2.0, 5.0)
    assert (unknown["status"], unknown["errorCode"]) == ("FAILURE", "INVALID_MARKET_ID")
    off_ladder = exchange.place(market, "r1", 2.07, 5.0)
    assert (off_ladder["errorCode"], off_ladder["instructionReports"][0]["errorCode"]) == ("BET_ACTION_ERROR",
                                                                                           "INVALID_ODDS")
    again = exchange.place(market, "r1", 2.0, 5.0)
    assert (again["errorCode"], again["instructionReports"]) == ("DUPLICATE_TRANSACTION", [])
    _control(sandbox, "clock", {"now": "2023-08-12T12:31:00Z"})         # kick-off: in play, suspended here
    suspended = exchange.place(market, "r2", _best(book), 5.0)
    assert suspended["errorCode"] == "MARKET_SUSPENDED"
    assert suspended["instructionReports"][0]["errorCode"] == "ERROR_IN_ORDER"


@pytest.mark.parametrize(("size", "price", "code"), [
    (0.5, 2.0, "INVALID_BET_SIZE"),      # below GBP 1 and pays out 1: under the minimum payout of 10
    (5.001, 2.0, "INVALID_BET_SIZE"),    # finer than a penny
    (0.5, 25.0, None),                   # below GBP 1 but pays out 12.50: valid
])
def test_minimum_stake_and_payout_in_gbp(exchange: Exchange, size: float, price: float, code: str | None) -> None:
    """``DOCS['currency']``: GBP's minimum bet is 1, or a stake that would pay out 10; sizes are
    in pennies (``DOCS['errors']`` INVALID_BET_SIZE)."""
    market, _ = _arsenal(exchange)
    answer = exchange.place(market, f"s{size}{price}", price, size)
    found = answer["instructionReports"][0].get("errorCode")
    assert found == code


def test_a_price_move_never_lapses_a_bet_a_material_change_does(exchange: Exchange, sandbox: SandboxServer) -> None:
    """``DOCS['market_version']``: the version rises with every change, but a bet is rejected
    only when a material change (under suspension: a runner removed, in play) came after the
    version it was sent with."""
    market, book = _arsenal(exchange)
    _control(sandbox, "clock", {"now": "2023-08-12T11:00:00Z"})         # the prices moved on
    (later,) = exchange.result("listMarketBook", {"marketIds": [market["marketId"]]})
    assert later["version"] >= book["version"]
    old = exchange.place(market, "old", _best(book), 2.0, version=book["version"])
    assert old["status"] == "SUCCESS"
    _control(sandbox, "exchange", {"material_change": [market["marketId"]]})
    (moved,) = exchange.result("listMarketBook", {"marketIds": [market["marketId"]]})
    assert moved["version"] > later["version"]
    stale = exchange.place(market, "stale", _best(book), 2.0, version=later["version"])
    assert stale["instructionReports"][0]["errorCode"] == "BET_TAKEN_OR_LAPSED"
    fresh = exchange.place(market, "fresh", _best(book), 2.0, version=moved["version"])
    assert fresh["status"] == "SUCCESS"


def test_an_unfilled_limit_order_rests_and_lapses_at_in_play_a_fill_or_kill_expires(
        exchange: Exchange, sandbox: SandboxServer) -> None:
    """``DOCS['placeOrders']``: a LIMIT order's unmatched part rests EXECUTABLE (persistence LAPSE:
    until the market turns in play); FILL_OR_KILL below its minimum fill is EXPIRED at once;
    cancelOrders cancels what rests. ``DOCS['cleared']``: LAPSED is cancelled by Betfair,
    CANCELLED by the customer, each with the size that never matched."""
    market, book = _arsenal(exchange)
    above = tick_above(_best(book))                                       # more than anyone offers
    rests = exchange.place(market, "rest", above, 5.0)["instructionReports"][0]
    assert (rests["orderStatus"], rests["sizeMatched"]) == ("EXECUTABLE", 0.0)
    cancel_me = exchange.place(market, "cancel", above, 3.0)["instructionReports"][0]
    killed = exchange.place(market, "fok", above, 5.0, fill_or_kill=True)["instructionReports"][0]
    assert (killed["orderStatus"], killed["sizeMatched"]) == ("EXPIRED", 0.0)
    current = {o["customerOrderRef"]: o for o in exchange.result("listCurrentOrders", {})["currentOrders"]}
    assert set(current) == {"rest", "cancel"} and current["rest"]["sizeRemaining"] == 5.0
    funds = exchange.result("getAccountFunds", {}, api="account")
    assert funds["availableToBetBalance"] == DEFAULT_BALANCE - 8.0        # what rests is at risk
    cancelled = exchange.result("cancelOrders", {"marketId": market["marketId"],
                                                 "instructions": [{"betId": cancel_me["betId"]}]})
    assert cancelled["instructionReports"][0]["sizeCancelled"] == 3.0
    _control(sandbox, "clock", {"now": "2023-08-12T12:31:00Z"})         # in play: the rest lapses
    assert exchange.result("listCurrentOrders", {})["currentOrders"] == []
    lapsed = exchange.result("listClearedOrders", {"betStatus": "LAPSED"})["clearedOrders"]
    assert {(o["customerOrderRef"], o["sizeCancelled"]) for o in lapsed} == {("rest", 5.0), ("fok", 5.0)}
    (gone,) = exchange.result("listClearedOrders", {"betStatus": "CANCELLED"})["clearedOrders"]
    assert (gone["customerOrderRef"], gone["sizeCancelled"]) == ("cancel", 3.0)
    assert exchange.result("getAccountFunds", {}, api="account")["availableToBetBalance"] == DEFAULT_BALANCE


def test_cleared_orders_by_status_and_roll_up(exchange: Exchange, sandbox: SandboxServer) -> None:
    """``DOCS['cleared']`` and ``DOCS['rollups']``: SETTLED holds matched bets settled normally,
    betOutcome WON or LOST; the BET roll-up has no commission, the MARKET roll-up has it, on the
    market's net winnings; VOIDED holds a voided market's bets; paging by recordCount."""
    market, book = _arsenal(exchange)
    exchange.place(market, "home", _best(book, 0), 10.0)
    exchange.place(market, "draw", _best(book, 2), 2.0, runner=2)
    assert exchange.result("listClearedOrders", {"betStatus": "SETTLED"})["clearedOrders"] == []
    _control(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})         # Arsenal 2-1 Nottm Forest
    bets = exchange.result("listClearedOrders", {"betStatus": "SETTLED"})["clearedOrders"]
    by_ref = {o["customerOrderRef"]: o for o in bets}
    assert (by_ref["home"]["betOutcome"], by_ref["draw"]["betOutcome"]) == ("WON", "LOST")
    assert all("commission" not in o for o in bets)
    (rolled,) = exchange.result("listClearedOrders", {"betStatus": "SETTLED", "groupBy": "MARKET"})["clearedOrders"]
    net = round(by_ref["home"]["profit"] + by_ref["draw"]["profit"], 2)
    assert (rolled["betCount"], rolled["profit"]) == (2, net) and rolled["commission"] == round(0.05 * net, 2)
    page = exchange.result("listClearedOrders", {"betStatus": "SETTLED", "recordCount": 1})
    assert len(page["clearedOrders"]) == 1 and page["moreAvailable"]
    assert exchange.result("listClearedOrders", {"betStatus": "VOIDED"})["clearedOrders"] == []
    assert exchange.error("listClearedOrders", {}) == "INVALID_INPUT_DATA"           # betStatus is required


def test_request_weights_are_held_to_200_points(exchange: Exchange) -> None:
    """``DOCS['limits']``: sum(weight) × markets ≤ 200, else TOO_MUCH_DATA: MARKET_DESCRIPTION
    weighs 1 a market, EX_BEST_OFFERS 5, EX_BEST_OFFERS with EX_TRADED 20, no projection 2."""
    catalogue = {"filter": {"eventTypeIds": ["1"]}, "marketProjection": ["MARKET_DESCRIPTION"]}
    assert exchange.error("listMarketCatalogue", {**catalogue, "maxResults": 201}) == "TOO_MUCH_DATA"
    assert isinstance(exchange.result("listMarketCatalogue", {**catalogue, "maxResults": 200}), list)
    assert isinstance(exchange.result("listMarketCatalogue", {"filter": {}, "marketProjection": ["EVENT"],
                                                              "maxResults": 1000}), list)
    ids = [f"1.{i}" for i in range(101)]
    best = {"priceData": ["EX_BEST_OFFERS"]}
    assert exchange.error("listMarketBook", {"marketIds": ids[:41], "priceProjection": best}) == "TOO_MUCH_DATA"
    assert exchange.result("listMarketBook", {"marketIds": ids[:40], "priceProjection": best}) == []
    traded = {"priceData": ["EX_BEST_OFFERS", "EX_TRADED"]}
    assert exchange.error("listMarketBook", {"marketIds": ids[:11], "priceProjection": traded}) == "TOO_MUCH_DATA"
    assert exchange.error("listMarketBook", {"marketIds": ids}) == "TOO_MUCH_DATA"    # 101 × 2
    assert exchange.result("listMarketBook", {"marketIds": ids[:100]}) == []


def test_projections_are_honoured(exchange: Exchange) -> None:
    """A catalogue field comes only with its MarketProjection (``DOCS['limits']`` lists them)."""
    (bare,) = exchange.result("listMarketCatalogue", {"filter": {"eventTypeIds": ["1"]}, "maxResults": 1})
    assert set(bare) == {"marketId", "marketName", "totalMatched"}
    (full,) = exchange.result("listMarketCatalogue", {"filter": {"eventTypeIds": ["1"]}, "maxResults": 1,
                                                      "marketProjection": ["COMPETITION", "RUNNER_DESCRIPTION"]})
    assert {"competition", "runners"} <= set(full) and "event" not in full and "description" not in full


def test_a_logout_ends_only_the_session_it_names(sandbox: SandboxServer, exchange: Exchange) -> None:
    """``DOCS['sessions']``: each login is its own session; a logout ends the token it names for
    everyone holding it, and no other."""
    login = httpx.post(f"{sandbox.url}/identity/api/login", data={"username": DEFAULT_USERNAME,
                       "password": DEFAULT_PASSWORD}, headers={"X-Application": DEFAULT_APP_KEY}).json()
    own = Exchange(sandbox.url, login["token"])
    assert login["status"] == "SUCCESS" and login["token"] != DEFAULT_SESSION
    httpx.post(f"{sandbox.url}/identity/api/logout", headers={"X-Application": DEFAULT_APP_KEY,
                                                               "X-Authentication": login["token"]})
    assert own.error("listCompetitions", {"filter": {}}) == "INVALID_SESSION_INFORMATION"
    assert isinstance(exchange.result("listCompetitions", {"filter": {}}), list)     # the operator's still works


def test_teams_and_competitions_carry_betfairs_names(exchange: Exchange) -> None:
    """Betfair lists Wolves, Bayern Munich, FC Koln, Mainz and Darmstadt as such, and its
    competitions as "English Premier League"; the women's fixture sits in its own competition."""
    listed = exchange.result("listMarketCatalogue", {"filter": {"eventTypeIds": ["1"], "marketTypeCodes": [
        "MATCH_ODDS"]}, "marketProjection": ["EVENT", "COMPETITION"], "maxResults": 200})
    names = {m["event"]["name"]: m["competition"]["name"] for m in listed}
    assert names["Man Utd v Wolves"] == "English Premier League"
    assert names["Chelsea W v Liverpool W"] == "English Women's Super League"
    competitions = {c["competition"]["name"] for c in exchange.result("listCompetitions", {"filter": {}})}
    assert {"English Premier League", "English Women's Super League"} <= competitions
    assert all(url.startswith("https://") for url in DOCS.values())


def test_replace_orders_cancels_first_then_places_a_new_bet_at_the_new_price(exchange: Exchange) -> None:
    """``DOCS['replaceOrders']``: the unmatched rest of the order is cancelled, then a new bet, with
    a bet id of its own, is placed for that size at the new price (matched at once where the book
    offers it); an order with nothing left to cancel fails BET_TAKEN_OR_LAPSED and nothing is
    placed; a new price the exchange refuses fails the place and the cancel is not rolled back.
    ``DOCS['currentOrders']``: betIds restrict listCurrentOrders."""
    market, book = _arsenal(exchange)
    best = _best(book)
    above = tick_above(tick_above(best))
    first = exchange.place(market, "move-me", above, 5.0)["instructionReports"][0]
    assert first["orderStatus"] == "EXECUTABLE"
    answer = exchange.result("replaceOrders", {"marketId": market["marketId"],
                                               "instructions": [{"betId": first["betId"], "newPrice": best}]})
    (report,) = answer["instructionReports"]
    assert answer["status"] == "SUCCESS" and report["status"] == "SUCCESS"
    assert report["cancelInstructionReport"]["sizeCancelled"] == 5.0
    placed = report["placeInstructionReport"]
    assert placed["betId"] != first["betId"] and placed["instruction"]["limitOrder"]["size"] == 5.0
    assert (placed["orderStatus"], placed["sizeMatched"], placed["averagePriceMatched"]) == (
        "EXECUTION_COMPLETE", 5.0, best)
    (old,) = exchange.result("listCurrentOrders", {"betIds": [first["betId"]]})["currentOrders"] or [None]
    assert old is None                                               # cancelled with nothing matched: not current
    (new,) = exchange.result("listCurrentOrders", {"betIds": [placed["betId"]]})["currentOrders"]
    assert (new["sizeMatched"], new["priceSize"]["price"]) == (5.0, best)
    # nothing left to cancel: refused, nothing placed
    again = exchange.result("replaceOrders", {"marketId": market["marketId"],
                                              "instructions": [{"betId": first["betId"], "newPrice": best}]})
    assert again["status"] == "FAILURE" and again["errorCode"] == "BET_ACTION_ERROR"
    assert again["instructionReports"][0]["cancelInstructionReport"]["errorCode"] == "BET_TAKEN_OR_LAPSED"
    # an invalid new price: the place fails, the cancel stands
    second = exchange.place(market, "off-ladder", above, 4.0)["instructionReports"][0]
    funds = exchange.result("getAccountFunds", {}, api="account")["availableToBetBalance"]
    refused = exchange.result("replaceOrders", {"marketId": market["marketId"],
                                                "instructions": [{"betId": second["betId"], "newPrice": 2.015}]})
    (report,) = refused["instructionReports"]
    assert report["cancelInstructionReport"]["sizeCancelled"] == 4.0
    assert report["placeInstructionReport"]["errorCode"] == "INVALID_ODDS"
    assert exchange.result("listCurrentOrders", {"betIds": [second["betId"]]})["currentOrders"] == []
    assert exchange.result("getAccountFunds", {}, api="account")["availableToBetBalance"] == funds + 4.0


def test_exposure_is_the_worst_outcome_of_each_market_not_the_sum_of_stakes(exchange: Exchange) -> None:
    """``DOCS['exposure']``: backs on every runner of one match odds market offset, so the account's
    exposure is its loss in the worst outcome (the winner's matched winnings against the other
    stakes), and an unmatched back counts as a loss wherever its runner loses."""
    market, book = _arsenal(exchange)
    prices = [_best(book, runner) for runner in range(3)]
    for runner, price in enumerate(prices):
        report = exchange.place(market, f"all-{runner}", price, 5.0, runner=runner)["instructionReports"][0]
        assert report["sizeMatched"] == 5.0
    worst = max(10.0 - 5.0 * (price - 1.0) for price in prices)
    funds = exchange.result("getAccountFunds", {}, api="account")
    assert funds["exposure"] == pytest.approx(-max(worst, 0.0)) and -funds["exposure"] < 15.0
    assert funds["availableToBetBalance"] == pytest.approx(DEFAULT_BALANCE - max(worst, 0.0))
    exchange.place(market, "unmatched", tick_above(tick_above(prices[0])), 4.0)   # rests on the home side
    worse = max(10.0 + (4.0 if runner else 0.0) - 5.0 * (price - 1.0) for runner, price in enumerate(prices))
    assert exchange.result("getAccountFunds", {}, api="account")["exposure"] == pytest.approx(-max(worse, 0.0))
