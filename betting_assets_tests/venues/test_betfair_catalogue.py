"""The exchange's catalogue read within Betfair's request limits, against the sandbox exchange
(which refuses, as Betfair does, any call over 200 points): one competition of the feed's
sport at a time, windows halved while a call comes back full, every market found once, and a
one-line error when even a ten-minute window holds too many."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from betting_assets.sandbox.exchange import DEFAULT_APP_KEY, DEFAULT_SESSION
from betting_assets.sandbox.server import SandboxServer
from betting_assets.venues.betfair import client as exchange_client
from betting_assets.venues.betfair.catalogue import PAGE, CatalogueTooLarge, read_catalogue

KEY = {"x-api-key": "test-key"}
FROM, TO = datetime(2023, 8, 12, 10, tzinfo=timezone.utc), datetime(2023, 8, 26, 10, tzinfo=timezone.utc)


@pytest.fixture
def client(sandbox: SandboxServer) -> exchange_client.PointedClient:
    httpx.post(f"{sandbox.url}/sandbox/clock", json={"now": FROM.isoformat()}, headers=KEY).raise_for_status()
    httpx.post(f"{sandbox.url}/sandbox/exchange", json={"reset": True}, headers=KEY).raise_for_status()
    return exchange_client.client(sandbox.url, DEFAULT_APP_KEY, session_token=DEFAULT_SESSION)


def _everything(client: exchange_client.PointedClient, competition: str) -> set[str]:
    """The competition's markets in one call that weighs nothing (no MARKET_DESCRIPTION)."""
    return {m.market_id for m in client.betting.list_market_catalogue(
        filter={"competitionIds": [competition], "marketStartTime": {"from": "2023-08-12T10:00:00Z",
                                                                     "to": "2023-08-26T10:00:00Z"},
                "marketTypeCodes": ["MATCH_ODDS", "OVER_UNDER_25", "ASIAN_HANDICAP"]},
        market_projection=["EVENT"], max_results=1000)}


def test_small_pages_split_the_window_and_find_every_market_once(
        client: exchange_client.PointedClient, sandbox: SandboxServer) -> None:
    weights: list[int] = []
    found = read_catalogue(client, ["1"], ["soccer_epl"], FROM, TO, page=16, weighed=weights.append)
    ids = [m.market.market_id for m in found]
    (league,) = [c.competition for c in client.betting.list_competitions(filter={"eventTypeIds": ["1"]})
                 if c.competition.name == "English Premier League"]
    assert len(ids) == len(set(ids)) == len(_everything(client, league.id)) > 2 * 16     # many pages' worth
    assert {m.sport_key for m in found} == {"soccer_epl"} and len(weights) > 3
    assert all(m.market.competition.name == "English Premier League" for m in found)   # no women's twin
    served = httpx.get(f"{sandbox.url}/sandbox/exchange").json()["weights"]
    assert served and max(w for _, w in served) <= 200


def test_the_full_page_a_real_call_asks_for_is_within_the_weight(client: exchange_client.PointedClient,
                                                                  sandbox: SandboxServer) -> None:
    from betfairlightweight.exceptions import APIError

    found = read_catalogue(client, ["1"], ["soccer_epl", "soccer_germany_bundesliga"], FROM, TO)
    assert {m.sport_key for m in found} == {"soccer_epl"}      # the sandbox here serves the Premier League only
    served = httpx.get(f"{sandbox.url}/sandbox/exchange").json()["weights"]
    assert {w for m, w in served if m == "listMarketCatalogue"} == {PAGE} == {200}
    with pytest.raises(APIError) as refused:       # what the product asked for before: one call of 1000
        client.betting.list_market_catalogue(filter={"eventTypeIds": ["1"]}, market_projection=[
            "EVENT", "MARKET_DESCRIPTION"], max_results=1000)
    assert exchange_client.describe(refused.value) == "TOO_MUCH_DATA"


def test_a_window_too_full_to_split_is_one_clear_error(client: exchange_client.PointedClient) -> None:
    with pytest.raises(CatalogueTooLarge) as refused:
        read_catalogue(client, ["1"], ["soccer_epl"], FROM, TO, page=2)
    message = str(refused.value)
    assert message.startswith("English Premier League lists 2 or more markets starting between ")
    assert message.endswith("narrow BETTING_COLLECTION_SPORTS") and "\n" not in message


def test_three_months_of_more_than_200_markets_map_every_event_within_the_weight(
        client: exchange_client.PointedClient, sandbox: SandboxServer) -> None:
    """Over three months the Premier League lists more markets than one call may ask for: the
    window is split, every market is found once, no call weighs over 200, and every feed event
    maps except the match the exchange lists twice."""
    import polars as pl

    from betting_assets.domain.orders.event_matching import match_events
    from betting_assets.domain.timeutil import parse_utc

    until = datetime(2023, 11, 12, 10, tzinfo=timezone.utc)
    weights: list[int] = []
    found = read_catalogue(client, ["1"], ["soccer_epl"], FROM, until, weighed=weights.append)
    ids = {m.market.market_id for m in found}
    assert len(ids) == len(found) > 200 and len(weights) >= 3
    served = [w for m, w in httpx.get(f"{sandbox.url}/sandbox/exchange").json()["weights"] if m == "listMarketCatalogue"]
    assert max(served) <= 200
    feed = [e for e in httpx.get(f"{sandbox.url}/v4/sports/soccer_epl/events", params={"apiKey": "test-key"}).json()
            if parse_utc(e["commence_time"]) <= until]
    events = pl.DataFrame([{"event_id": e["id"], "sport_key": "soccer_epl", "commence_time": parse_utc(
        e["commence_time"]), "home_team": e["home_team"], "away_team": e["away_team"]} for e in feed])
    listed = pl.DataFrame([{"exchange_event_id": m.market.event.id, "sport_key": m.sport_key,
                            "start_time": m.market.market_start_time.replace(tzinfo=timezone.utc),
                            "home": m.market.event.name.split(" v ")[0], "away": m.market.event.name.split(" v ")[1]}
                           for m in found if m.market.description.market_type == "MATCH_ODDS"])
    mapped, unmapped = match_events(events, listed)
    assert events.height >= 100 and mapped.height + unmapped.height == events.height
    assert set(events.filter(pl.col("event_id").is_in(unmapped["event_id"].to_list()))["home_team"]) == {"Bournemouth"}
