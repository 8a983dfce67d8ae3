"""Point-in-time features: one row per event and decision time, from data known before it.

Every input is cut at the decision time before anything is computed: odds by their snapshot
time (strictly earlier), results by the time they became known (kick-off plus a delay, strictly
earlier), previous matches by their kick-off. The cut is the whole leakage guard, so it lives
in one place (``_odds_before`` and ``team_features``) and the asset check recomputes a sample
from raw snapshots to prove it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from betting_assets.domain.pricing.devig import devig
from betting_assets.domain.features.ratings import RatingConfig, team_features
from betting_assets.domain.vocabulary import MARKET_RULES, DevigMethod, Market, Side

SIDES = tuple(str(s) for s in MARKET_RULES[Market.H2H].sides)
DEVIG_METHODS = tuple(DevigMethod)
_SHORT = {DevigMethod.MULTIPLICATIVE: "mult", DevigMethod.POWER: "power", DevigMethod.SHIN: "shin"}

KEY = ["event_id", "decision_time"]

ODDS_FEATURES: list[str] = [
    *[f"sharp_{_SHORT[m]}_{s}" for m in DEVIG_METHODS for s in SIDES],
    "sharp_overround",
    *[f"cons_{s}" for s in SIDES],
    *[f"disp_{s}" for s in SIDES],
    *[f"best_{s}" for s in SIDES],
    *[f"move_{s}" for s in SIDES],
    "n_books",
    "totals_line",
    "totals_over_prob",
    "spread_line",
    "spread_home_prob",
]
TEAM_FEATURES: list[str] = [
    "elo_home", "elo_away", "elo_diff", "elo_prob_home",
    "form_gd_home", "form_gd_away", "form_pts_home", "form_pts_away",
    "played_home", "played_away", "rest_home", "rest_away", "home_adv",
]
FEATURE_COLUMNS: list[str] = [*ODDS_FEATURES, *TEAM_FEATURES]
INFO_COLUMNS: list[str] = ["event_id", "decision_time", "sport_key", "commence_time", "home_team",
                           "away_team", "three_way", "sharp_book_used"]

ODDS_INPUT: dict[str, pl.DataType] = {
    "event_id": pl.String,
    "bookmaker": pl.String,
    "market": pl.String,
    "side": pl.String,
    "point": pl.Float64,
    "snapshot_time": pl.Datetime("us", "UTC"),
    "price_decimal": pl.Float64,
    "is_valid": pl.Boolean,
}


@dataclass(frozen=True)
class FeatureConfig:
    """How features are cut and built. ``decision_hours`` lists the decision times (hours before
    kick-off); each gives its own row."""

    decision_hours: tuple[float, ...] = (1.0,)
    sharp_book: str = "pinnacle"
    lookback: timedelta = timedelta(days=30)
    ratings: RatingConfig = field(default_factory=RatingConfig)


def decision_rows(fixtures: pl.DataFrame, config: FeatureConfig) -> pl.DataFrame:
    """One row per fixture and decision time."""
    offsets = pl.DataFrame({"_hours": list(config.decision_hours)}, schema={"_hours": pl.Float64})
    return (
        fixtures.join(offsets, how="cross")
        .with_columns(decision_time=pl.col("commence_time")
                      - pl.duration(microseconds=(pl.col("_hours") * 3.6e9).cast(pl.Int64)))
        .drop("_hours")
    )


def build_features(odds: pl.DataFrame, fixtures: pl.DataFrame, results: pl.DataFrame,
                   config: FeatureConfig | None = None) -> pl.DataFrame:
    """``fixtures``: event_id, sport_key, commence_time, home_team, away_team. ``results``: earlier
    (and possibly later) finished events with home_score and away_score; only those known
    before each decision time are used."""
    config = config or FeatureConfig()
    rows = decision_rows(fixtures.select("event_id", "sport_key", "commence_time", "home_team", "away_team"),
                         config)
    market = odds_features(odds, rows.select("event_id", "decision_time", "commence_time"), config)
    teams = team_features(rows, results, config.ratings)
    out = (
        rows.join(market, on=KEY, how="left")
        .join(teams, on=KEY, how="left")
        .with_columns(pl.col("three_way").fill_null(False))
    )
    for name in FEATURE_COLUMNS:
        if name not in out.columns:
            out = out.with_columns(pl.lit(None, pl.Float64).alias(name))
    return out.select(*INFO_COLUMNS, *[pl.col(c).cast(pl.Float64) for c in FEATURE_COLUMNS]).sort(
        "commence_time", "event_id", "decision_time")


def _odds_before(odds: pl.DataFrame, rows: pl.DataFrame, lookback: timedelta) -> pl.DataFrame:
    """Valid quotes strictly before each row's decision time: the only odds anything sees."""
    return (
        odds.select(list(ODDS_INPUT)).cast(ODDS_INPUT)
        .filter(pl.col("is_valid") & pl.col("price_decimal").is_not_null())
        .join(rows, on="event_id", how="inner")
        .filter((pl.col("snapshot_time") < pl.col("decision_time"))
                & (pl.col("snapshot_time") >= pl.col("commence_time") - lookback))
    )


def _complete(quotes: pl.DataFrame, group: list[str], sides: list[str] | None) -> pl.DataFrame:
    """Keeps market snapshots that price every side they should, once each."""
    needed = pl.when(pl.col("three_way")).then(3).otherwise(2) if sides is None else pl.lit(len(sides))
    return quotes.filter(
        (pl.col("side").n_unique().over(group) == needed) & (pl.len().over(group) == needed)
    )


def odds_features(odds: pl.DataFrame, rows: pl.DataFrame, config: FeatureConfig) -> pl.DataFrame:
    """Market features per (event, decision time) from quotes cut at the decision time."""
    cut = _odds_before(odds, rows, config.lookback)
    h2h = cut.filter((pl.col("market") == Market.H2H) & pl.col("side").is_in(SIDES))
    three = h2h.group_by(KEY).agg(three_way=(pl.col("side") == "draw").any())
    h2h = h2h.join(three, on=KEY)
    snap = [*KEY, "bookmaker", "snapshot_time"]
    h2h = _complete(h2h, snap, None)
    per_book = [*KEY, "bookmaker"]
    when = pl.col("snapshot_time")
    # only each book's first and latest snapshot matter, so de-vig just those
    ends = devig(h2h.filter((when == when.max().over(per_book)) | (when == when.min().over(per_book))),
                 snap, method="multiplicative", out_col="fair")
    latest = ends.filter(when == when.max().over(per_book))
    first = ends.filter(when == when.min().over(per_book))

    consensus = latest.group_by([*KEY, "side"]).agg(
        cons=pl.col("fair").mean(), disp=pl.col("fair").std(ddof=0), best=pl.col("price_decimal").max())
    moves = (
        latest.join(first.select(*per_book, "side", pl.col("fair").alias("fair_first")), on=[*per_book, "side"])
        .group_by([*KEY, "side"]).agg(move=(pl.col("fair") - pl.col("fair_first")).mean())
    )
    books = latest.group_by(KEY).agg(n_books=pl.col("bookmaker").n_unique().cast(pl.Float64))

    sharp = latest.filter(pl.col("bookmaker") == config.sharp_book)
    sharp_parts = []
    for method in DEVIG_METHODS:
        fair = devig(sharp, snap, method=method, out_col="p")
        sharp_parts.append(_wide(fair, "p", f"sharp_{_SHORT[method]}"))
    sharp_over = sharp.group_by(KEY).agg(sharp_overround=(1.0 / pl.col("price_decimal")).sum() - 1.0)

    out = rows.select(KEY).join(three, on=KEY, how="left")
    for part in [*sharp_parts, sharp_over, _wide(consensus, "cons", "cons"), _wide(consensus, "disp", "disp"),
                 _wide(consensus, "best", "best"), _wide(moves, "move", "move"), books,
                 _main_line(cut, Market.TOTALS, Side.OVER, "totals"), _main_line(cut, Market.SPREADS, Side.HOME, "spread")]:
        out = out.join(part, on=KEY, how="left")
    return out.with_columns(
        sharp_book_used=pl.when(pl.col("sharp_overround").is_not_null()).then(pl.lit(config.sharp_book)))


def _wide(long: pl.DataFrame, value: str, prefix: str) -> pl.DataFrame:
    """(key, side, value) to one column per side; sides absent from the data become nulls."""
    frame = long.select(*KEY, "side", value)
    parts = [
        frame.filter(pl.col("side") == side).select(*KEY, pl.col(value).alias(f"{prefix}_{side}"))
        for side in SIDES
    ]
    out = parts[0]
    for part in parts[1:]:
        out = out.join(part, on=KEY, how="full", coalesce=True)
    return out


def _main_line(cut: pl.DataFrame, market: str, side: str, prefix: str) -> pl.DataFrame:
    """The line priced nearest to even across bookmakers' latest quotes, and its fair
    probability for ``side`` (over for totals, home for spreads)."""
    quotes = cut.filter(pl.col("market") == market)
    other = {"over": "under", "home": "away"}[side]
    quotes = quotes.filter(pl.col("side").is_in([side, other]))
    snap = [*KEY, "bookmaker", "snapshot_time"]
    # a spread's two sides carry opposite points; key the line by the home (or over) point
    quotes = quotes.with_columns(line=pl.when(pl.col("side") == side).then(pl.col("point"))
                                 .otherwise(pl.col("point") if market == Market.TOTALS else -pl.col("point")))
    latest = quotes.filter(pl.col("snapshot_time") == pl.col("snapshot_time").max().over([*KEY, "bookmaker"]))
    latest = _complete(latest, [*snap, "line"], [side, other])
    if latest.is_empty():
        return pl.DataFrame(schema={"event_id": pl.String, "decision_time": pl.Datetime("us", "UTC"),
                                    f"{prefix}_line": pl.Float64, f"{prefix}_{side}_prob": pl.Float64})
    fair = devig(latest, [*snap, "line"], method="multiplicative", out_col="fair").filter(pl.col("side") == side)
    by_line = fair.group_by([*KEY, "line"]).agg(prob=pl.col("fair").mean())
    return (
        by_line.sort([*KEY, (pl.col("prob") - 0.5).abs(), "line"])
        .group_by(KEY, maintain_order=True).first()
        .select(*KEY, pl.col("line").alias(f"{prefix}_line"), pl.col("prob").alias(f"{prefix}_{side}_prob"))
    )
