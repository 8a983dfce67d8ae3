"""``betting devig compare``: which de-vig of the sharp book to trust, measured on files, and
what ``sharp_value`` would have done under each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import polars as pl

from betting_assets.betting.pipeline import replay, strategy_runs
from betting_assets.domain.betting import claims
from betting_assets.domain.pricing.devig import METHODS, describe_choice
from betting_assets.domain.pricing.devig_calibration import CalibrationStudy, study
from betting_assets.settings import Settings
from betting_assets.sources.football_data import FootballData, events_with_status, quotes_as_odds
from betting_assets.domain.vocabulary import Market


def compare(files: FootballData, settings: Settings, *, test_from: datetime | None,
            echo: Callable[[str], None]) -> CalibrationStudy:
    odds = quotes_as_odds(files)
    found = study(odds, files.events, sharp_book=settings.features.sharp_book, decision_hours=settings.model.decision_hours)
    echo(f"{settings.features.sharp_book} de-vigged three ways on {files.events.height:,} matches "
         "(log loss of what happened; gap to the best with its 95% paired bootstrap interval):")
    for row in found.scores.iter_rows(named=True):
        gap = ("best" if row["gap_low"] is None else
               f"+{row['gap_to_best']:.5f} (95% CI {row['gap_low']:+.5f} to {row['gap_high']:+.5f})")
        echo(f"  {row['moment']:<8} {row['market']:<6} {row['method']:<14} {row['log_loss']:.5f} on "
             f"{row['markets']:,} markets: {gap}")
    echo("calibration by price band (1X2, pre-match): mean fair probability against the observed win rate")
    bands = found.bands.filter((pl.col("moment") == "prematch") & (pl.col("market") == Market.H2H))
    for band in bands["band"].unique(maintain_order=True):
        rows = bands.filter(pl.col("band") == band)
        first = rows.row(0, named=True)
        fair = ", ".join(f"{r['method']} {r['fair']:.4f}" for r in rows.iter_rows(named=True))
        echo(f"  prices {band:<7} {first['outcomes']:>5,} outcomes: observed {first['observed']:.4f} "
             f"± {first['observed_se']:.4f}; {fair}")
    best = {market: found.best("prematch", market) for market in found.scores["market"].unique(maintain_order=True)}
    echo("best calibrated on pre-match prices: " + ", ".join(f"{m} {b}" for m, b in best.items())
         + f" (BETTING_DEVIG_METHOD is {settings.features.devig_method})")
    for row in found.scores.iter_rows(named=True):
        print(f"figure devig_log_loss_{row['moment']}_{row['market']}_{row['method']}: {row['log_loss']:.5f}")
    events = events_with_status(files.events)
    for method in dict.fromkeys((*METHODS, settings.features.devig_method)):
        result = replay(odds, events, strategy_runs(["sharp_value"], settings), settings, start=test_from, devig=method)
        metrics = result.strategy("sharp_value").metrics
        label = describe_choice(method)
        echo(f"sharp_value, {label}: {claims.strategy_line(metrics)}")
        print(f"figure sharp_value_{method.replace(',', '_').replace('=', '_')}: {claims.strategy_line(metrics)}")
    return found
