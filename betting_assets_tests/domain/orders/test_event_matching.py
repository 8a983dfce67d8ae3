"""Feed events to exchange events: aliases and habits map, look-alikes and twins never do."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from betting_assets.domain.orders.event_matching import match_events, similarity
from betting_assets.venues.betfair.runners import unmapped_slips

KO = datetime(2023, 8, 12, 14, tzinfo=timezone.utc)


def _feed(*rows: tuple[str, str, str, datetime]) -> pl.DataFrame:
    return pl.DataFrame([{"event_id": e, "sport_key": "soccer_epl", "commence_time": t, "home_team": h,
                          "away_team": a} for e, h, a, t in rows])


def _exchange(*rows: tuple[str, str, str, datetime]) -> pl.DataFrame:
    return pl.DataFrame([{"exchange_event_id": e, "sport_key": "soccer_epl", "start_time": t, "home": h, "away": a}
                         for e, h, a, t in rows])


def test_the_exchanges_own_names_map_by_alias_or_normalisation() -> None:
    pairs = [("Man United", "Man Utd"), ("Nott'm Forest", "Nottm Forest"), ("Sheffield United", "Sheff Utd"),
             ("Bayern Munich", "FC Bayern München"), ("FC Koln", "1. FC Köln"), ("Wolves", "Wolverhampton"),
             ("M'gladbach", "Mgladbach"), ("Ein Frankfurt", "Eintracht Frankfurt"), ("Darmstadt", "SV Darmstadt 98")]
    assert all(similarity(a, b)[0] == 1.0 for a, b in pairs)
    assert similarity("Man City", "Man Utd") == (0.0, "different teams")   # alike, and known apart
    assert similarity("Chelsea", "Chelsea W") == (0.0, "different teams")   # the women's side


def test_an_event_maps_only_when_one_candidate_stands_out() -> None:
    feed = _feed(("e1", "Man United", "Wolves", KO), ("e2", "Chelsea", "Luton", KO),
                 ("e3", "Arsenal", "Nott'm Forest", KO), ("e4", "Everton", "Fulham", KO + timedelta(hours=2)),
                 ("e5", "Brentford", "Burnley", KO), ("e6", "Bournemouth", "West Ham", KO))
    exchange = _exchange(("x1", "Man Utd", "Wolverhampton", KO + timedelta(minutes=15)),
                         ("x2", "Chelsea", "Luton", KO), ("x2w", "Chelsea W", "Luton W", KO),
                         ("x3", "Arsenal", "Nottm Forest", KO),
                         ("x4", "Everton", "Fulham", KO + timedelta(hours=3)),
                         ("x5", "Brentfordshire", "Burnham", KO),
                         ("x6", "Bournemouth", "West Ham", KO), ("x6b", "Bournemouth", "West Ham Utd", KO))
    mapped, unmapped = match_events(feed, exchange)
    # the men's match, not the women's twin at the same kick-off
    assert dict(zip(mapped["event_id"], mapped["exchange_event_id"])) == {"e1": "x1", "e2": "x2", "e3": "x3"}
    assert dict(zip(mapped["event_id"], mapped["method"])) == {"e1": "alias", "e2": "exact", "e3": "alias"}
    why = {r["event_id"]: r for r in unmapped.iter_rows(named=True)}
    assert set(why) == {"e4", "e5", "e6"}
    assert why["e6"]["reason"] == "2 candidates within 0.15 of each other"   # listed twice: not a guess
    assert why["e6"]["candidates"] == "Bournemouth v West Ham (1.00); Bournemouth v West Ham Utd (1.00)"
    assert why["e4"]["reason"] == "no exchange event within 30 min of kick-off" and why["e4"]["candidates"] == ""
    assert why["e5"]["reason"].startswith("best match 0.") and "below 0.8" in why["e5"]["reason"]


def test_nothing_to_map_against_is_every_event_unmapped() -> None:
    nothing = pl.DataFrame(schema={"exchange_event_id": pl.String, "sport_key": pl.String,
                                   "start_time": pl.Datetime("us", "UTC"), "home": pl.String, "away": pl.String})
    mapped, unmapped = match_events(_feed(("e1", "Arsenal", "Chelsea", KO)), nothing)
    assert mapped.is_empty() and unmapped["event_id"].to_list() == ["e1"]


def test_a_slip_is_mapped_only_when_its_runner_is() -> None:
    runners = pl.DataFrame({"event_id": ["e1", "e1", "e1", "e1"],
                            "market_type": ["MATCH_ODDS", "OVER_UNDER_25", "ASIAN_HANDICAP", "ASIAN_HANDICAP"],
                            "line": [0.0, 2.5, -0.75, -0.75], "side": ["home", "over", "home", "away"]})
    slips = pl.DataFrame({"slip_id": [1, 2, 3, 4, 5, 6], "event_id": ["e1", "e1", "e1", "e1", "e1", "e2"],
                          "market": ["h2h", "totals", "spreads", "spreads", "totals", "h2h"],
                          "side": ["home", "over", "away", "home", "over", "home"],
                          "point": [0.0, 2.5, 0.75, -0.25, 3.5, 0.0]})
    missing = unmapped_slips(slips, runners)
    assert dict(zip(missing["slip_id"], missing["reason"])) == {   # the away +0.75 is the home -0.75 line
        4: "no ASIAN_HANDICAP runner at -0.25", 5: "the exchange carries no such line", 6: "the event is not mapped"}
