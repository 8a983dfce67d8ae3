from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import polars as pl
import pytest

from betting_assets.sandbox.recorded import record_envelope
from betting_assets.sandbox.server import SandboxServer, SandboxState, load_market
from betting_assets.sources.odds_api import OddsApiClient

ODDS = dict(regions=["uk", "eu", "us"], markets=["h2h", "totals", "spreads"])


def test_recorded_responses_replay_byte_for_byte(tmp_path: Path, bundled_market) -> None:  # type: ignore[no-untyped-def]
    recordings = tmp_path / "recorded"
    times = [datetime(2023, 8, 11, 13, tzinfo=timezone.utc), datetime(2023, 8, 12, 11, 25, tzinfo=timezone.utc)]
    with SandboxServer(SandboxState(bundled_market, now=times[-1] + timedelta(days=1))) as live:
        client = OddsApiClient(live.url, "k")
        raws = []
        for when in times:
            response = client.historical_odds("soccer_epl", when, **ODDS)
            record_envelope(recordings, "soccer_epl", response.text.encode(), when)
            raws.append(response.text.encode())
    (recordings / "scores_epl.json").write_text(
        '[{"id":"x1","sport_key":"soccer_epl","sport_title":"EPL","commence_time":"2023-08-12T11:30:00Z",'
        '"completed":true,"home_team":"Arsenal","away_team":"Nott\'m Forest",'
        '"scores":[{"name":"Arsenal","score":"2"},{"name":"Nott\'m Forest","score":"1"}],'
        '"last_update":"2023-08-12T13:25:00Z"}]')
    replay = load_market(str(recordings))
    with SandboxServer(SandboxState(replay, now=times[-1] + timedelta(days=1))) as server:
        for when, raw in zip(times, raws):
            got = httpx.get(f"{server.url}/v4/historical/sports/soccer_epl/odds",
                            params={"apiKey": "k", "regions": "uk,eu,us", "markets": "h2h,totals,spreads",
                                    "date": when.strftime("%Y-%m-%dT%H:%M:%SZ")})
            assert got.content == raw
        scores = httpx.get(f"{server.url}/v4/sports/soccer_epl/scores", params={"apiKey": "k", "daysFrom": 3})
        assert scores.json()[0]["scores"][0]["score"] == "2"
        httpx.post(f"{server.url}/sandbox/clock", json={"now": "2023-08-12T11:00:00Z"})
        live = httpx.get(f"{server.url}/v4/sports/soccer_epl/odds",
                         params={"apiKey": "k", "regions": "uk,eu", "markets": "h2h"}).json()
        assert live and all(e["commence_time"] > "2023-08-12T11:00:00Z" for e in live)
        assert {m["key"] for e in live for b in e["bookmakers"] for m in b["markets"]} == {"h2h"}


@pytest.mark.parametrize("sport,fmt,outcomes", [("basketball_nba", "american", 2), ("soccer_epl", "decimal", 3)])
def test_simulated_markets_serve_two_and_three_way_prices(sport: str, fmt: str, outcomes: int) -> None:
    market = load_market(f"sim:5:{sport}")
    start = market.first_time() + timedelta(days=8)
    with SandboxServer(SandboxState(market, now=start)) as server:
        client = OddsApiClient(server.url, "k")
        data = client.odds(sport, odds_format=fmt, **ODDS).data
        h2h = [m for e in data for b in e["bookmakers"] for m in b["markets"] if m["key"] == "h2h"]
        assert h2h and all(len(m["outcomes"]) == outcomes for m in h2h)
        prices = [o["price"] for m in h2h for o in m["outcomes"]]
        if fmt == "american":
            assert all(isinstance(p, int) and abs(p) >= 100 for p in prices)
        else:
            assert all(p >= 1.01 for p in prices)
        httpx.post(f"{server.url}/sandbox/clock", json={"advance_seconds": 86400})
        done = [s for s in client.scores(sport, days_from=3).data if s["completed"]]
        assert done and all(int(s["scores"][0]["score"]) >= 0 for s in done)


def test_same_seed_same_market() -> None:
    a, b = load_market("sim:9:basketball_nba"), load_market("sim:9:basketball_nba")
    assert a.quotes.equals(b.quotes) and a.events_frame.equals(b.events_frame)
    assert not load_market("sim:10:basketball_nba").quotes.equals(a.quotes)


def test_sharp_book_is_closer_to_the_truth_than_retail() -> None:
    market = load_market("sim:3:soccer_epl")
    quotes = market.quotes.filter(market.quotes["market"] == "h2h")
    margins = (quotes.with_columns(q=1 / quotes["price"])
               .group_by("bookmaker", "event_id", "snapshot_time").agg(q=pl.col("q").sum())
               .group_by("bookmaker").agg(m=pl.col("q").mean() - 1))
    by_book = dict(margins.iter_rows())
    assert by_book["pinnacle"] < min(v for k, v in by_book.items() if k != "pinnacle")


def test_with_a_key_the_control_endpoints_need_it(sandbox) -> None:  # type: ignore[no-untyped-def]
    before = httpx.get(f"{sandbox.url}/sandbox/clock").json()            # reading stays open
    for path, doc in (("clock", {"advance_seconds": 3600}), ("faults", {"fail_next": [500]}),
                      ("quota", {"remaining": 0}), ("exchange", {"script": ["reject"]})):
        refused = httpx.post(f"{sandbox.url}/sandbox/{path}", json=doc)
        assert refused.status_code == 401 and refused.json()["error_code"] == "INVALID_KEY", path
        wrong = httpx.post(f"{sandbox.url}/sandbox/{path}", json=doc, headers={"x-api-key": "guess"})
        assert wrong.status_code == 401, path
    assert httpx.delete(f"{sandbox.url}/sandbox/faults").status_code == 401
    assert httpx.get(f"{sandbox.url}/sandbox/clock").json() == before    # nothing moved
    assert httpx.get(f"{sandbox.url}/sandbox/quota").json()["remaining"] > 0
    moved = httpx.post(f"{sandbox.url}/sandbox/clock", json={"advance_seconds": 3600}, params={"apiKey": "test-key"})
    assert moved.status_code == 200 and moved.json() != before
