"""Team names learned from both sides: every real Premier League and Bundesliga name of The Odds
API paired with Betfair's, none wrong; a name two candidates fit is refused; a fixture pairs the
other side only when it is unambiguous and never pairs a women's side with the men's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

import betting_assets
from betting_assets.domain.orders.team_names import ABBREVIATION, FIXTURE, NAME, Fixture, abbreviates, learn
from betting_assets.sandbox.team_names import BETFAIR, ODDS_API

T0 = datetime(2024, 3, 2, 15, tzinfo=timezone.utc)


def test_abbreviations_word_by_word() -> None:
    assert abbreviates("man united", "manchester united") and abbreviates("nottm forest", "nottingham forest")
    assert abbreviates("mgladbach", "borussia monchengladbach") and abbreviates("sheff wed", "sheffield wednesday")
    assert not abbreviates("man city", "manchester united") and not abbreviates("ac milan", "inter milan")
    assert not abbreviates("wolves", "wolverhampton wanderers")     # not letters in order: only a fixture pairs it


def test_every_bundled_league_name_is_paired_right_from_names_and_one_matchday() -> None:
    data = Path(betting_assets.__file__).parent / "data"
    for league in ("E0_2324", "D1_2324"):
        games = pl.read_csv(data / f"{league}.csv").head(10)
        teams = sorted(set(pl.read_csv(data / f"{league}.csv")["HomeTeam"]))
        feed = [Fixture(ODDS_API[g["HomeTeam"]], ODDS_API[g["AwayTeam"]], T0 + timedelta(hours=i))
                for i, g in enumerate(games.iter_rows(named=True))]
        exchange = [Fixture(BETFAIR[g["HomeTeam"]], BETFAIR[g["AwayTeam"]], T0 + timedelta(hours=i, minutes=5))
                    for i, g in enumerate(games.iter_rows(named=True))]
        learned = learn([ODDS_API[t] for t in teams], [BETFAIR[t] for t in teams], feed, exchange)
        assert {f: e for f, (e, _) in learned.pairs.items()} == {ODDS_API[t]: BETFAIR[t] for t in teams}, league
        assert not learned.ambiguous
    assert learned.pairs["Borussia Monchengladbach"] == ("Mgladbach", ABBREVIATION)
    assert learned.pairs["1. FC Köln"] == ("FC Koln", NAME)


def test_a_name_two_candidates_fit_is_refused_and_fixtures_never_cross_to_the_womens_side() -> None:
    learned = learn(["Manchester United", "Wolverhampton Wanderers", "Chelsea", "Fulham"],
                    ["Man Utd", "Man Utd W", "Wolves", "Chelsea W", "Fulham W", "Sheff Utd", "Sheff Wed"],
                    [Fixture("Chelsea", "Fulham", T0), Fixture("Wolverhampton Wanderers", "Manchester United", T0)],
                    [Fixture("Chelsea W", "Fulham W", T0), Fixture("Wolves", "Man Utd", T0)])
    assert learned.pairs["Manchester United"] == ("Man Utd", ABBREVIATION)
    assert learned.pairs["Wolverhampton Wanderers"] == ("Wolves", FIXTURE)
    assert "Chelsea" not in learned.pairs and "Fulham" not in learned.pairs     # only the women's side is listed
    two = learn(["Sheffield United", "Sheffield Wednesday"], ["Sheffield"])
    assert two.pairs == {}                                                    # both fit one name: neither paired
    both = learn(["Sheffield"], ["Sheffield Wednesday", "Sheffield United"])
    assert both.pairs == {} and both.ambiguous == {"Sheffield": ["Sheffield United", "Sheffield Wednesday"]}
