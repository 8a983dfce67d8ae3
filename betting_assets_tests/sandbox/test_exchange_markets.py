"""The sandbox exchange's markets and books through betfairlightweight over HTTP, and the feed's
events mapped onto them: the exchange's own names map, the women's twin is passed over, the
match listed twice stays unmapped, and the books follow the clock."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import polars as pl
import pytest

from betting_assets.domain.orders.event_matching import match_events
from betting_assets.venues.betfair.ladder import on_ladder, tick_above
from betting_assets.domain.timeutil import parse_utc
from betting_assets.venues.betfair import client as exchange_client
from betting_assets.sandbox.exchange import DEFAULT_APP_KEY, DEFAULT_SESSION
from betting_assets.sandbox.server import SandboxServer

KEY = {"x-api-key": "test-key"}
WINDOW = {"from": "2023-08-12T00:00:00Z", "to": "2023-08-15T00:00:00Z"}


def _clock(sandbox: SandboxServer, now: str) -> None:
    httpx.post(f"{sandbox.url}/sandbox/clock", json={"now": now}, headers=KEY).raise_for_status()


@pytest.fixture
def client(sandbox: SandboxServer) -> exchange_client.PointedClient:
    _clock(sandbox, "2023-08-12T10:00:00Z")
    return exchange_client.client(sandbox.url, DEFAULT_APP_KEY, session_token=DEFAULT_SESSION)


def _catalogue(client: exchange_client.PointedClient) -> list:  # type: ignore[type-arg]
    return client.betting.list_market_catalogue(
        filter={"eventTypeIds": ["1"], "marketTypeCodes": ["MATCH_ODDS"], "marketStartTime": WINDOW},
        market_projection=["EVENT", "RUNNER_DESCRIPTION", "MARKET_START_TIME", "COMPETITION"], max_results=100)


def test_the_catalogue_names_teams_as_an_exchange_does(client: exchange_client.PointedClient) -> None:
    markets = _catalogue(client)
    names = [m.event.name for m in markets]
    assert "Man Utd v Wolves" in names and "Arsenal v Nottm Forest" in names
    assert "Chelsea W v Liverpool W" in names and names.count("Bournemouth v West Ham") == 2
    assert all([r.runner_name for r in m.runners][2] == "The Draw" for m in markets)
    assert len({m.market_id for m in markets}) == len(markets)
    assert all(m.market_start_time.replace(tzinfo=timezone.utc) >= datetime(2023, 8, 12, 10, tzinfo=timezone.utc)
               for m in markets)


def test_books_sit_on_the_ladder_around_the_fair_price_and_follow_the_clock(
        client: exchange_client.PointedClient, sandbox: SandboxServer) -> None:
    markets = {m.event.name: m for m in _catalogue(client)}
    arsenal = markets["Arsenal v Nottm Forest"]
    (book,) = client.betting.list_market_book([arsenal.market_id], price_projection={"priceData": ["EX_BEST_OFFERS"]})
    assert book.status == "OPEN" and isinstance(book.version, int)
    implied = 0.0
    for runner in book.runners:
        backs = [p.price for p in runner.ex.available_to_back]
        lays = [p.price for p in runner.ex.available_to_lay]
        assert len(backs) == len(lays) == 3 and all(on_ladder(p) for p in backs + lays)
        assert backs == sorted(backs, reverse=True) and lays == sorted(lays) and lays[0] == tick_above(backs[0])
        implied += 1 / backs[0]
    assert 1.0 <= implied < 1.03     # the fair book, put down onto the ladder
    women = markets["Chelsea W v Liverpool W"]
    (unpriced,) = client.betting.list_market_book([women.market_id])
    assert all(not r.ex.available_to_back for r in unpriced.runners)   # no feed prices behind it
    _clock(sandbox, "2023-08-12T13:00:00Z")     # Arsenal kicked off at 12:30
    (playing,) = client.betting.list_market_book([arsenal.market_id])
    assert playing.status == "SUSPENDED" and all(not r.ex.available_to_back for r in playing.runners)
    _clock(sandbox, "2023-08-12T16:00:00Z")
    assert client.betting.list_market_book([arsenal.market_id])[0].status == "CLOSED"


def test_the_feeds_events_map_onto_the_exchange_but_never_by_a_guess(
        client: exchange_client.PointedClient, sandbox: SandboxServer) -> None:
    feed = httpx.get(f"{sandbox.url}/v4/sports/soccer_epl/events", params={"apiKey": "test-key"}).json()
    feed_frame = pl.DataFrame([{"event_id": e["id"], "sport_key": e["sport_key"],
                                "commence_time": parse_utc(e["commence_time"]), "home_team": e["home_team"],
                                "away_team": e["away_team"]} for e in feed
                               if parse_utc(e["commence_time"]) < datetime(2023, 8, 15, tzinfo=timezone.utc)])
    exchange = pl.DataFrame([{"exchange_event_id": m.event.id, "sport_key": "soccer_epl",
                              "start_time": m.market_start_time.replace(tzinfo=timezone.utc),
                              "home": m.event.name.split(" v ")[0], "away": m.event.name.split(" v ")[1]}
                             for m in _catalogue(client)])
    mapped, unmapped = match_events(feed_frame, exchange)
    names = dict(zip(feed_frame["event_id"], feed_frame["home_team"]))
    assert {names[e] for e in unmapped["event_id"]} == {"Bournemouth"}
    assert "candidates within" in unmapped["reason"][0]
    assert mapped.height == feed_frame.height - 1 >= 8
    by_home = {names[r["event_id"]]: r["method"] for r in mapped.iter_rows(named=True)}
    assert by_home["Manchester United"] == "alias" and by_home["Chelsea"] == "exact"
    women = set(exchange.filter(pl.col("home").str.ends_with(" W"))["exchange_event_id"])
    assert not women & set(mapped["exchange_event_id"])


def test_names_learned_from_both_sides_map_every_event_without_the_alias_table(
        client: exchange_client.PointedClient, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Odds API's participants against Betfair's runner names of the competition, with the
    two sides' fixtures, and no maintained alias table at all: every event maps to its own
    exchange event (the one listed twice still refused), every pairing learned is right."""
    from betting_assets.domain.orders import event_matching, team_names
    from betting_assets.sandbox.team_names import BETFAIR

    monkeypatch.setattr(event_matching, "ALIASES", {})
    monkeypatch.setattr(event_matching, "_KNOWN", set())
    participants = httpx.get(f"{sandbox.url}/v4/sports/soccer_epl/participants", params={"apiKey": "test-key"})
    assert participants.headers["x-requests-last"] == "1"
    feed_names = [p["full_name"] for p in participants.json()]
    assert len(feed_names) == 20 and "Wolverhampton Wanderers" in feed_names and "Man United" not in feed_names
    feed = httpx.get(f"{sandbox.url}/v4/sports/soccer_epl/events", params={"apiKey": "test-key"}).json()
    feed_frame = pl.DataFrame([{"event_id": e["id"], "sport_key": e["sport_key"],
                                "commence_time": parse_utc(e["commence_time"]), "home_team": e["home_team"],
                                "away_team": e["away_team"]} for e in feed
                               if parse_utc(e["commence_time"]) < datetime(2023, 8, 15, tzinfo=timezone.utc)])
    listed = [m for m in _catalogue(client) if m.competition.name == "English Premier League"]
    exchange = pl.DataFrame([{"exchange_event_id": m.event.id, "sport_key": "soccer_epl",
                              "start_time": m.market_start_time.replace(tzinfo=timezone.utc),
                              "home": m.event.name.split(" v ")[0], "away": m.event.name.split(" v ")[1]}
                             for m in listed])
    runners = {r.runner_name for m in listed for r in m.runners if r.runner_name != "The Draw"}
    learned = team_names.learn(feed_names, runners,
                               [team_names.Fixture(r["home_team"], r["away_team"], r["commence_time"])
                                for r in feed_frame.iter_rows(named=True)],
                               [team_names.Fixture(r["home"], r["away"], r["start_time"])
                                for r in exchange.iter_rows(named=True)])
    assert all(BETFAIR[f] == e for f, (e, _) in learned.pairs.items())      # never a wrong pairing
    assert {f for f, (_, how) in learned.pairs.items() if how == "fixture"} >= {"Wolverhampton Wanderers"}
    bare, _ = match_events(feed_frame, exchange)
    mapped, unmapped = match_events(feed_frame, exchange, learned={"soccer_epl": {
        f: e for f, (e, _) in learned.pairs.items()}})
    names = dict(zip(feed_frame["event_id"], feed_frame["home_team"]))
    assert {names[e] for e in unmapped["event_id"]} == {"Bournemouth"}
    assert mapped.height == feed_frame.height - 1 > bare.height     # the table gone, the learning maps them all
    truth = {r["exchange_event_id"]: f"{r['home']} v {r['away']}" for r in exchange.iter_rows(named=True)}
    for row in mapped.iter_rows(named=True):
        event = feed_frame.filter(pl.col("event_id") == row["event_id"]).row(0, named=True)
        assert truth[row["exchange_event_id"]] == f"{BETFAIR[event['home_team']]} v {BETFAIR[event['away_team']]}"


def test_the_exchange_settles_every_line_as_the_product_does() -> None:
    """The sandbox exchange's settlement is written apart from the product's; on every handicap
    line from -3 to +3 in quarters, both totals sides and every match result, for scores up to
    5-5, the two agree (so a score/exchange mismatch in the ledger means the exchange said so)."""
    from betting_assets.domain.codes import Market, Side, Status
    from betting_assets.domain.kernels.settle import settle_one
    from betting_assets.sandbox.exchange_book import unit_return

    checked = 0
    for home in range(6):
        for away in range(6):
            for quarter in range(-12, 13):
                line = quarter / 4
                for side, code in (("home", Side.HOME), ("away", Side.AWAY)):
                    ours, _ = settle_one(Market.SPREADS, code, Status.FINAL, line, 1.9, home, away, False)
                    assert unit_return("ASIAN_HANDICAP", side, line, 1.9, home, away) == pytest.approx(ours)
                    checked += 1
            for side, code in (("over", Side.OVER), ("under", Side.UNDER)):
                ours, _ = settle_one(Market.TOTALS, code, Status.FINAL, 2.5, 2.1, home, away, False)
                assert unit_return("OVER_UNDER_25", side, 0.0, 2.1, home, away) == pytest.approx(ours)
            for side, code in (("home", Side.HOME), ("draw", Side.DRAW), ("away", Side.AWAY)):
                ours, _ = settle_one(Market.H2H, code, Status.FINAL, 0.0, 3.0, home, away, True)
                assert unit_return("MATCH_ODDS", side, 0.0, 3.0, home, away) == pytest.approx(ours)
    assert checked == 36 * 25 * 2


def test_totals_and_handicap_markets_are_listed_where_the_feed_prices_them(
        client: exchange_client.PointedClient) -> None:
    listed = client.betting.list_market_catalogue(
        filter={"eventTypeIds": ["1"], "marketTypeCodes": ["OVER_UNDER_25", "ASIAN_HANDICAP"],
                "marketStartTime": WINDOW},
        market_projection=["EVENT", "RUNNER_DESCRIPTION", "MARKET_DESCRIPTION"], max_results=200)
    arsenal = {m.description.market_type: m for m in listed if m.event.name == "Arsenal v Nottm Forest"}
    totals, handicap = arsenal["OVER_UNDER_25"], arsenal["ASIAN_HANDICAP"]
    assert [r.runner_name for r in totals.runners] == ["Under 2.5 Goals", "Over 2.5 Goals"]
    assert [(r.runner_name, r.handicap) for r in handicap.runners] == [("Arsenal", -2.0), ("Nottm Forest", 2.0)]
    (book,) = client.betting.list_market_book([handicap.market_id], price_projection={"priceData": ["EX_BEST_OFFERS"]})
    backs = [r.ex.available_to_back[0].price for r in book.runners]
    assert all(on_ladder(p) for p in backs) and 0.97 < sum(1 / p for p in backs) < 1.05   # around the fair line
