from datetime import datetime, timezone

import polars as pl

from betting_assets.domain.data.normalize import normalize_odds
from betting_assets.domain.data.scores import parse_scores

SNAP = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def _event(**over):  # type: ignore[no-untyped-def]
    event = {
        "id": "ev1", "sport_key": "soccer_epl", "sport_title": "EPL", "commence_time": "2024-03-01T15:00:00Z",
        "home_team": "Arsenal", "away_team": "Chelsea",
        "bookmakers": [{"key": "pinnacle", "title": "Pinnacle", "last_update": "2024-03-01T11:59:00Z",
                        "markets": [
                            {"key": "h2h", "outcomes": [{"name": "Arsenal", "price": 2.0},
                                                        {"name": "Chelsea", "price": 3.8},
                                                        {"name": "Draw", "price": 3.6}]},
                            {"key": "totals", "outcomes": [{"name": "Over", "price": 1.9, "point": 2.5},
                                                           {"name": "Under", "price": 1.95, "point": 2.5}]}]}],
    }
    event.update(over)
    return event


def test_a_good_event_yields_one_row_per_outcome_with_sides_and_hours() -> None:
    result = normalize_odds([_event()], SNAP)
    assert result.findings == []
    rows = result.rows
    assert rows.height == 5
    assert rows["is_valid"].all()
    assert sorted(rows["side"].to_list()) == ["away", "draw", "home", "over", "under"]
    assert rows["hours_to_commence"].unique().to_list() == [3.0]
    home = rows.filter(pl.col("side") == "home").row(0, named=True)
    assert home["price_american"] == 100.0 and home["implied_prob"] == 0.5


def test_bad_prices_are_flagged_not_dropped_and_do_not_stop_the_rest() -> None:
    event = _event()
    outcomes = event["bookmakers"][0]["markets"][0]["outcomes"]
    outcomes[0]["price"] = 0
    outcomes[1]["price"] = "n/a"
    del outcomes[2]["price"]
    result = normalize_odds([event, _event(id="ev2")], SNAP)
    bad = result.rows.filter(~pl.col("is_valid"))
    assert sorted(bad["invalid_reason"].to_list()) == ["missing_price", "non_numeric_price", "price_below_minimum"]
    assert bad["price_decimal"].null_count() == 3
    assert result.rows.filter(pl.col("event_id") == "ev2")["is_valid"].all()
    assert sum(f.check == "price_valid" for f in result.findings) == 3


def test_an_implausible_price_is_flagged_by_the_normaliser_itself() -> None:
    event = _event()
    outcomes = event["bookmakers"][0]["markets"][0]["outcomes"]
    outcomes[0]["price"], outcomes[1]["price"] = 1e9, 1000.0            # a feed error; the ladder's top
    result = normalize_odds([event], SNAP)
    bad = result.rows.filter(~pl.col("is_valid"))
    assert bad["outcome"].to_list() == ["Arsenal"] and bad["invalid_reason"].to_list() == ["price_above_maximum"]
    assert bad["price_decimal"].to_list() == [None]
    assert [f.message for f in result.findings if f.check == "price_valid"] == ["price above maximum for 'Arsenal'"]


def test_american_prices_between_minus_100_and_100_are_invalid() -> None:
    event = {"id": "nba1", "sport_key": "basketball_nba", "commence_time": "2024-03-01T20:00:00Z",
             "home_team": "A", "away_team": "B",
             "bookmakers": [{"key": "fanduel", "markets": [{"key": "h2h", "outcomes": [
                 {"name": "A", "price": -150}, {"name": "B", "price": 50}]}]}]}
    rows = normalize_odds([event], SNAP, odds_format="american").rows.sort("outcome")
    assert rows["price_decimal"].to_list()[0] == 1 + 100 / 150
    assert rows["invalid_reason"].to_list() == [None, "american_out_of_range"]


def test_partial_events_unknown_books_and_markets_become_findings() -> None:
    broken = _event(id="ev3")
    del broken["home_team"]
    odd = _event(id="ev4")
    odd["bookmakers"][0]["key"] = "newbook"
    odd["bookmakers"][0]["markets"][0]["key"] = "corners"
    result = normalize_odds([broken, odd, "garbage"], SNAP)
    checks = sorted(f.check for f in result.findings)
    assert checks == ["event_required_fields", "event_required_fields", "unknown_bookmaker", "unknown_market"]
    assert set(result.rows["event_id"].to_list()) == {"ev4"}
    assert normalize_odds({"message": "oops"}, SNAP).findings[0].check == "payload_shape"


def test_scores_move_events_to_final_only_with_two_integer_scores() -> None:
    payload = [
        {"id": "a", "completed": True, "home_team": "X", "away_team": "Y",
         "scores": [{"name": "X", "score": "2"}, {"name": "Y", "score": "0"}], "last_update": "2024-03-01T17:00:00Z"},
        {"id": "b", "completed": True, "home_team": "X", "away_team": "Y",
         "scores": [{"name": "X", "score": "-1"}, {"name": "Y", "score": "0"}]},
        {"id": "c", "completed": False, "home_team": "X", "away_team": "Y", "scores": None},
    ]
    updates, findings = parse_scores(payload)
    status = {u.event_id: u.status for u in updates}
    assert status == {"a": "final", "b": "live", "c": "scheduled"}
    assert updates[0].home_score == 2 and updates[0].away_score == 0
    assert [f.event_id for f in findings] == ["b"]


def test_fast_path_and_forgiving_walker_agree_on_real_payloads(bundled_market) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    now = bundled_market.first_time() + timedelta(days=1)
    for odds_format in ("decimal", "american"):
        payload = bundled_market.odds("soccer_epl", now, {"h2h", "totals", "spreads"},
                                      {"pinnacle", "bet365", "williamhill", "newbook"}, odds_format)
        payload[0]["bookmakers"][0]["markets"][0]["outcomes"][0]["price"] = 1.0 if odds_format == "decimal" else 50
        from betting_assets.domain.data.normalize import _normalize_fast

        assert _normalize_fast(payload, now, odds_format, None) is not None
        fast = normalize_odds(payload, now, odds_format)
        slow = normalize_odds(payload, now, odds_format, fast=False)
        assert fast.rows.height > 100
        assert fast.rows.equals(slow.rows)
        assert fast.events.sort("event_id").equals(slow.events.sort("event_id"))
        assert fast.findings == slow.findings


def test_a_missing_price_or_field_makes_an_answer_incomplete_a_wrong_price_does_not() -> None:
    from betting_assets.domain.data.quality import incomplete

    whole = normalize_odds([_event()], SNAP)
    assert not incomplete(whole.rows, whole.findings)
    holed = _event()
    del holed["bookmakers"][0]["markets"][0]["outcomes"][1]["price"]      # lost on the way: fetch again
    result = normalize_odds([holed], SNAP)
    assert incomplete(result.rows, result.findings)
    result = normalize_odds([_event(home_team=None)], SNAP)
    assert incomplete(result.rows, result.findings)
    wrong = _event()
    wrong["bookmakers"][0]["markets"][0]["outcomes"][1]["price"] = 0.5   # the provider's answer, flagged
    result = normalize_odds([wrong], SNAP)
    assert not incomplete(result.rows, result.findings)
