"""Performance of a settled set of bets: the figures a bettor reads before trusting a strategy.

Conventions, so every figure can be checked by hand:
- ROI is profit over turnover; hit rate is the share of bets that made money among those not
  fully pushed or void.
- Average edge is the strategy's own expected value per unit at the price taken (p·d − 1);
  CLV is d_taken · p_close − 1 against the sharp book's de-vigged closing price, over the bets
  whose line it closed.
- The equity curve has one row per calendar day from the first decision to the last
  settlement; a bet's profit lands on the day it settles. Daily return = that day's profit
  over the equity at the end of the day before. Sharpe and Sortino annualise by √365; Sortino
  divides by the root mean square of the negative returns (zeros counted, as in the original).
- Maximum drawdown is the largest fall from a running peak (the starting bankroll counts as a
  peak), as a fraction of that peak; Calmar is the annualised growth over it.
- Streaks run over bets in decision order; pushes and voids neither extend nor break one.
"""

from __future__ import annotations

import math
import numpy as np
import polars as pl

ANNUAL_DAYS = 365
EQUITY_SCHEMA: dict[str, pl.DataType] = {"day": pl.Date, "bets_settled": pl.Int64, "profit": pl.Float64,
                                         "equity": pl.Float64, "drawdown": pl.Float64}
BREAKDOWN_SCHEMA: dict[str, pl.DataType] = {"key": pl.String, "bets": pl.Int64, "turnover": pl.Float64,
                                            "profit": pl.Float64, "roi": pl.Float64, "hit_rate": pl.Float64,
                                            "clv": pl.Float64}
METRIC_NAMES = ["bets", "open_bets", "turnover", "profit", "roi", "hit_rate", "avg_odds", "avg_edge", "clv",
                "clv_bets", "sharpe", "sortino", "max_drawdown", "calmar", "profit_factor", "longest_win_streak",
                "longest_loss_streak", "final_bankroll", "days"]


def equity_curve(ledger: pl.DataFrame, bankroll: float) -> pl.DataFrame:
    """Daily equity from settled bets; open bets (null profit) are left out."""
    settled = ledger.filter(pl.col("profit").is_not_null())
    if settled.is_empty():
        return pl.DataFrame(schema=EQUITY_SCHEMA)
    first = ledger["decision_time"].min().date()  # type: ignore[union-attr]
    last = settled["settle_time"].max().date()  # type: ignore[union-attr]
    days = pl.DataFrame({"day": pl.date_range(first, max(first, last), "1d", eager=True)})
    daily = settled.group_by(pl.col("settle_time").dt.date().alias("day")).agg(
        bets_settled=pl.len().cast(pl.Int64), profit=pl.col("profit").sum())
    curve = days.join(daily, on="day", how="left").with_columns(
        pl.col("bets_settled").fill_null(0), pl.col("profit").fill_null(0.0)).sort("day")
    curve = curve.with_columns(equity=bankroll + pl.col("profit").cum_sum())
    peak = pl.max_horizontal(pl.col("equity").cum_max(), pl.lit(bankroll))
    return curve.with_columns(drawdown=(peak - pl.col("equity")) / peak).select(list(EQUITY_SCHEMA))


def daily_returns(curve: pl.DataFrame, bankroll: float) -> np.ndarray:
    equity = curve["equity"].to_numpy()
    before = np.concatenate([[bankroll], equity[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(before > 0, curve["profit"].to_numpy() / before, 0.0)


def longest_streaks(profits: np.ndarray) -> tuple[int, int]:
    signs = np.sign(profits[np.isfinite(profits)])
    signs = signs[signs != 0]
    if signs.size == 0:
        return 0, 0
    edges = np.flatnonzero(np.diff(signs)) + 1
    starts = np.concatenate([[0], edges])
    lengths = np.diff(np.concatenate([starts, [signs.size]]))
    kinds = signs[starts]
    wins, losses = lengths[kinds > 0], lengths[kinds < 0]
    return int(wins.max(initial=0)), int(losses.max(initial=0))


def summarise(ledger: pl.DataFrame, curve: pl.DataFrame, bankroll: float) -> dict[str, float | int | None]:
    """The headline figures of one strategy; ``ledger`` holds its staked bets in decision order."""
    settled = ledger.filter(pl.col("profit").is_not_null())
    stake, profit = settled["stake"].to_numpy(), settled["profit"].to_numpy()
    turnover, total = float(stake.sum()), float(profit.sum())
    decided = settled.filter(~pl.col("result").is_in(["push", "void"]))
    returns = daily_returns(curve, bankroll)
    final = float(curve["equity"][-1]) if curve.height else bankroll
    drawdown = float(curve["drawdown"].max()) if curve.height else 0.0  # type: ignore[arg-type]
    wins, losses = float(profit[profit > 0].sum()), float(-profit[profit < 0].sum())
    win_streak, loss_streak = longest_streaks(profit)
    growth = None
    if curve.height and final > 0:
        growth = (final / bankroll) ** (ANNUAL_DAYS / curve.height) - 1.0
    clv = settled["clv"].drop_nulls()
    return {
        "bets": settled.height,
        "open_bets": ledger.height - settled.height,
        "turnover": turnover,
        "profit": total,
        "roi": total / turnover if turnover > 0 else None,
        "hit_rate": float((decided["profit"] > 0).mean()) if decided.height else None,  # type: ignore[arg-type]
        "avg_odds": _mean(settled["price"]),
        "avg_edge": _mean(settled["edge"]),
        "clv": _mean(clv),
        "clv_bets": clv.len(),
        "sharpe": _ratio(returns.mean(), returns.std(ddof=1)) if returns.size > 1 else None,
        "sortino": _ratio(returns.mean(), math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2))))
        if returns.size else None,
        "max_drawdown": drawdown,
        "calmar": growth / drawdown if growth is not None and drawdown > 0 else None,
        "profit_factor": wins / losses if losses > 0 else None,
        "longest_win_streak": win_streak,
        "longest_loss_streak": loss_streak,
        "final_bankroll": final,
        "days": curve.height,
    }


def breakdown(ledger: pl.DataFrame, by: str) -> pl.DataFrame:
    """Bets, turnover, profit, ROI, hit rate and CLV per market, bookmaker or month."""
    month = by == "month"
    # times are UTC, so the naive clock is the same and truncates faster than a zoned one
    key = pl.col("decision_time").dt.replace_time_zone(None).dt.truncate("1mo") if month else pl.col(by)
    settled = ledger.filter(pl.col("profit").is_not_null())
    if settled.is_empty():
        return pl.DataFrame(schema=BREAKDOWN_SCHEMA)
    decided = ~pl.col("result").is_in(["push", "void"])
    table = (
        settled.group_by(key.alias("key"))
        .agg(bets=pl.len().cast(pl.Int64), turnover=pl.col("stake").sum(), profit=pl.col("profit").sum(),
             hit_rate=(pl.col("profit") > 0).filter(decided).mean().cast(pl.Float64), clv=pl.col("clv").mean())
        .with_columns(roi=pl.col("profit") / pl.col("turnover"))
    )
    if month:  # formatted after grouping: a few months rather than every bet
        table = table.with_columns(pl.col("key").dt.strftime("%Y-%m"))
    return table.select(list(BREAKDOWN_SCHEMA)).sort("key")


def _mean(series: pl.Series) -> float | None:
    value = series.drop_nulls().mean()
    return float(value) if value is not None else None  # type: ignore[arg-type]


def _ratio(mean: float, spread: float) -> float | None:
    if not np.isfinite(spread) or spread <= 0:
        return None
    return float(mean / spread * math.sqrt(ANNUAL_DAYS))

