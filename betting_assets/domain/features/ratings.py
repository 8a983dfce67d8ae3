"""Team strength from earlier results only: an Elo rating, recent form, rest and home advantage.

A result counts as known ``result_delay`` after kick-off; every lookup is a strict backward
as-of join on that time, so a match that had not finished by the decision time cannot move a
rating used at it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

KEY = ["event_id", "decision_time"]
_TS = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class RatingConfig:
    result_delay: timedelta = timedelta(hours=3)
    k: float = 20.0
    home_advantage: float = 60.0
    initial: float = 1500.0
    season_gap: timedelta = timedelta(days=60)
    season_regress: float = 1 / 3
    form_window: int = 5
    home_adv_window: int = 300


def _margin(goal_diff: int) -> float:
    return 1.0 + math.log1p(abs(goal_diff))


def elo_history(results: pl.DataFrame, config: RatingConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each team's rating after each of its matches (by event), and per sport the rating a newcomer enters
    with (the mean of the three weakest current ratings, as newcomers are mostly promoted sides).

    Sequential by nature; a few thousand results a season keep the plain loop cheap.
    """
    ordered = results.sort("known_at", "event_id")
    ratings: dict[tuple[str, str], float] = {}
    last_seen: dict[tuple[str, str], object] = {}
    team_rows: dict[str, list] = {"event_id": [], "team": [], "elo": []}
    newcomer_rows: dict[str, list] = {"sport_key": [], "known_at": [], "newcomer": []}

    def newcomer(sport: str) -> float:
        current = sorted(r for (s, _), r in ratings.items() if s == sport)
        return sum(current[:3]) / 3 if len(current) >= 10 else config.initial

    for row in ordered.iter_rows(named=True):
        sport, when = row["sport_key"], row["known_at"]
        keys = [(sport, row["home_team"]), (sport, row["away_team"])]
        for key in keys:
            if key not in ratings:
                ratings[key] = newcomer(sport)
            elif row["commence_time"] - last_seen[key] > config.season_gap:  # type: ignore[operator]
                ratings[key] = config.initial + (ratings[key] - config.initial) * (1 - config.season_regress)
        home, away = (ratings[k] for k in keys)
        expected = 1.0 / (1.0 + 10 ** ((away - home - config.home_advantage) / 400.0))
        diff = row["home_score"] - row["away_score"]
        actual = 1.0 if diff > 0 else 0.5 if diff == 0 else 0.0
        delta = config.k * _margin(diff) * (actual - expected)
        ratings[keys[0]] = home + delta
        ratings[keys[1]] = away - delta
        for key in keys:
            last_seen[key] = row["commence_time"]
            team_rows["event_id"].append(row["event_id"])
            team_rows["team"].append(key[1])
            team_rows["elo"].append(ratings[key])
        newcomer_rows["sport_key"].append(sport)
        newcomer_rows["known_at"].append(when)
        newcomer_rows["newcomer"].append(newcomer(sport))
    teams = pl.DataFrame(team_rows, schema={"event_id": pl.String, "team": pl.String, "elo": pl.Float64})
    newcomers = pl.DataFrame(newcomer_rows, schema={"sport_key": pl.String, "known_at": _TS,
                                                    "newcomer": pl.Float64})
    return teams, newcomers


def _team_matches(results: pl.DataFrame) -> pl.DataFrame:
    """One row per team and finished match, from that team's point of view."""
    sides = []
    for team, own, other in (("home_team", "home_score", "away_score"), ("away_team", "away_score", "home_score")):
        sides.append(results.select(
            "sport_key", "event_id", "known_at", "commence_time", pl.col(team).alias("team"),
            (pl.col(own) - pl.col(other)).cast(pl.Float64).alias("gd")))
    return pl.concat(sides).with_columns(
        pts=pl.when(pl.col("gd") > 0).then(1.0).when(pl.col("gd") == 0).then(0.5).otherwise(0.0))


def team_features(rows: pl.DataFrame, results: pl.DataFrame, config: RatingConfig) -> pl.DataFrame:
    """``rows``: event_id, decision_time, sport_key, commence_time, home_team, away_team."""
    finished = (
        results.filter(pl.col("home_score").is_not_null() & pl.col("away_score").is_not_null())
        .select("event_id", "sport_key", "commence_time", "home_team", "away_team",
                pl.col("home_score").cast(pl.Int64), pl.col("away_score").cast(pl.Int64))
        .with_columns(known_at=pl.col("commence_time") + config.result_delay)
        .filter(pl.col("known_at") < rows["decision_time"].max())
        .unique("event_id", keep="first")
        .sort("known_at", "event_id")
    )
    elo, newcomers = elo_history(finished, config)
    matches = _team_matches(finished).sort("team", "known_at", "event_id").with_columns(
        form_gd=pl.col("gd").rolling_mean(config.form_window, min_samples=1).over("sport_key", "team"),
        form_pts=pl.col("pts").rolling_mean(config.form_window, min_samples=1).over("sport_key", "team"),
        played=pl.int_range(1, pl.len() + 1).over("sport_key", "team").cast(pl.Float64),
    ).join(elo, on=["event_id", "team"], how="left").sort("known_at")
    league = finished.with_columns(
        home_adv=(pl.col("home_score") - pl.col("away_score")).cast(pl.Float64)
        .rolling_mean(config.home_adv_window, min_samples=20).over("sport_key")
    ).select("sport_key", "known_at", "home_adv").sort("known_at")
    starts = (
        pl.concat([
            finished.select("sport_key", pl.col("home_team").alias("team"), "commence_time"),
            finished.select("sport_key", pl.col("away_team").alias("team"), "commence_time"),
            rows.select("sport_key", pl.col("home_team").alias("team"), "commence_time"),
            rows.select("sport_key", pl.col("away_team").alias("team"), "commence_time"),
        ]).unique().sort("commence_time").with_columns(prev_start=pl.col("commence_time"))
    )

    out = rows.select(*KEY, "sport_key", "commence_time", "home_team", "away_team").sort("decision_time")
    for side in ("home", "away"):
        looked = out.join_asof(
            matches.select("sport_key", "team", "known_at", "elo", "form_gd", "form_pts", "played",
                           pl.col("commence_time").alias("last_start")),
            left_on="decision_time", right_on="known_at", by_left=["sport_key", f"{side}_team"],
            by_right=["sport_key", "team"], strategy="backward", allow_exact_matches=False, check_sortedness=False,
        ).join_asof(
            starts.select("sport_key", "team", pl.col("commence_time").alias("_start"), "prev_start"),
            left_on="decision_time", right_on="_start", by_left=["sport_key", f"{side}_team"],
            by_right=["sport_key", "team"], strategy="backward", allow_exact_matches=False, check_sortedness=False,
        ).join_asof(
            newcomers.sort("known_at"), left_on="decision_time", right_on="known_at", by="sport_key",
            strategy="backward", allow_exact_matches=False, check_sortedness=False,
        )
        regressed = config.initial + (pl.col("elo") - config.initial) * (1 - config.season_regress)
        elo_now = (
            pl.when(pl.col("elo").is_null()).then(pl.col("newcomer").fill_null(config.initial))
            .when(pl.col("commence_time") - pl.col("last_start") > config.season_gap).then(regressed)
            .otherwise(pl.col("elo"))
        )
        out = looked.select(
            *out.columns,
            elo_now.alias(f"elo_{side}"),
            pl.col("form_gd").alias(f"form_gd_{side}"),
            pl.col("form_pts").alias(f"form_pts_{side}"),
            pl.col("played").fill_null(0.0).alias(f"played_{side}"),
            ((pl.col("commence_time") - pl.col("prev_start")).dt.total_seconds() / 86400.0).alias(f"rest_{side}"),
        )
    out = out.join_asof(league, left_on="decision_time", right_on="known_at", by="sport_key",
                        strategy="backward", allow_exact_matches=False, check_sortedness=False)
    return out.select(
        *KEY,
        "elo_home", "elo_away",
        elo_diff=pl.col("elo_home") - pl.col("elo_away"),
        elo_prob_home=1.0 / (1.0 + 10 ** ((pl.col("elo_away") - pl.col("elo_home") - config.home_advantage) / 400.0)),
        form_gd_home="form_gd_home", form_gd_away="form_gd_away",
        form_pts_home="form_pts_home", form_pts_away="form_pts_away",
        played_home="played_home", played_away="played_away",
        rest_home="rest_home", rest_away="rest_away", home_adv="home_adv",
    )
