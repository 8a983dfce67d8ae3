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
from typing import NamedTuple

import numpy as np
import polars as pl

from betting_assets.domain.betting.intervals import Interval, mean_interval, ratio_interval
from betting_assets.domain.kernels.grouping import first_of_each, group_sums
from betting_assets.domain.kernels.string_views import code_strings
from betting_assets.domain.vocabulary import Result

ANNUAL_DAYS = 365
EQUITY_SCHEMA: dict[str, pl.DataType] = {"day": pl.Date, "bets_settled": pl.Int64, "profit": pl.Float64,
                                         "equity": pl.Float64, "drawdown": pl.Float64}
BREAKDOWN_SCHEMA: dict[str, pl.DataType] = {"key": pl.String, "bets": pl.Int64, "turnover": pl.Float64,
                                            "profit": pl.Float64, "roi": pl.Float64, "hit_rate": pl.Float64,
                                            "clv": pl.Float64}
METRIC_NAMES = ["bets", "open_bets", "turnover", "profit", "roi", "hit_rate", "avg_odds", "avg_edge", "clv",
                "clv_bets", "sharpe", "sortino", "max_drawdown", "calmar", "profit_factor", "longest_win_streak",
                "longest_loss_streak", "final_bankroll", "days"]
INTERVAL_NAMES = ["roi_low", "roi_high", "bet_days", "clv_low", "clv_high", "hit_rate_low", "hit_rate_high",
                  "hit_rate_bets"]
"""bootstrap intervals of ROI (over decision days), CLV and hit rate (over bets): ``intervals``"""

_US_PER_DAY = 86_400_000_000


class _Settled(NamedTuple):
    """The settled bets of a ledger as arrays, in the ledger's (decision) order; NaN for null."""
    stake: np.ndarray
    profit: np.ndarray
    price: np.ndarray
    edge: np.ndarray
    clv: np.ndarray
    decided: np.ndarray
    settle_day: np.ndarray
    decision_us: np.ndarray
    rows: np.ndarray
    """their rows in the ledger"""
    first_day: int
    """the day of the ledger's first decision, open bets included"""
    open_bets: int


def _settled(ledger: pl.DataFrame) -> _Settled:
    numbers = ledger.select(pl.col("stake", "profit", "price", "edge", "clv").cast(pl.Float64).fill_null(float("nan")))
    stake, profit, price, edge, clv = (numbers[c].to_numpy() for c in numbers.columns)
    rows = np.flatnonzero(~np.isnan(profit))
    decision_us = ledger["decision_time"].dt.epoch("us").to_numpy()
    decided = code_strings(ledger["result"], [Result.PUSH, Result.VOID], rows) < 0
    settle_day = ledger["settle_time"].dt.epoch("us").to_numpy()[rows] // _US_PER_DAY
    first_day = int(decision_us.min() // _US_PER_DAY) if ledger.height else 0
    return _Settled(stake[rows], profit[rows], price[rows], edge[rows], clv[rows], decided, settle_day,
                    decision_us[rows], rows, first_day, ledger.height - len(rows))


def score(ledger: pl.DataFrame, bankroll: float,
          by: tuple[str, ...] = ()) -> tuple[pl.DataFrame, dict[str, float | int | None], dict[str, pl.DataFrame]]:
    """The equity curve, the headline figures and the breakdowns ``by`` each key, reading the
    ledger once."""
    settled = _settled(ledger)
    curve = _curve(settled, bankroll)
    return curve, _summary(settled, curve, bankroll), {key: _breakdown(ledger, settled, key) for key in by}


def equity_curve(ledger: pl.DataFrame, bankroll: float) -> pl.DataFrame:
    """Daily equity from settled bets; open bets (null profit) are left out."""
    return _curve(_settled(ledger), bankroll)


def _curve(settled: _Settled, bankroll: float) -> pl.DataFrame:
    if len(settled.rows) == 0:
        return pl.DataFrame(schema=EQUITY_SCHEMA)
    offset = settled.settle_day - settled.first_day
    days = max(int(offset.max()), 0) + 1
    profit = np.bincount(offset, settled.profit, minlength=days)
    equity = bankroll + np.cumsum(profit)
    peak = np.maximum(np.maximum.accumulate(equity), bankroll)
    return pl.DataFrame({
        "day": pl.Series(np.arange(settled.first_day, settled.first_day + days, dtype=np.int32)).cast(pl.Date),
        "bets_settled": np.bincount(offset, minlength=days).astype(np.int64), "profit": profit, "equity": equity,
        "drawdown": (peak - equity) / peak}, schema=EQUITY_SCHEMA)


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
    return _summary(_settled(ledger), curve, bankroll)


def _summary(settled: _Settled, curve: pl.DataFrame, bankroll: float) -> dict[str, float | int | None]:
    stake, profit = settled.stake, settled.profit
    turnover, total = float(stake.sum()), float(profit.sum())
    returns = daily_returns(curve, bankroll)
    final = float(curve["equity"][-1]) if curve.height else bankroll
    drawdown = float(curve["drawdown"].max()) if curve.height else 0.0  # type: ignore[arg-type]
    wins, losses = float(profit[profit > 0].sum()), float(-profit[profit < 0].sum())
    win_streak, loss_streak = longest_streaks(profit)
    growth = None
    if curve.height and final > 0:
        growth = (final / bankroll) ** (ANNUAL_DAYS / curve.height) - 1.0
    decided = settled.decided
    return {
        "bets": len(stake),
        "open_bets": settled.open_bets,
        "turnover": turnover,
        "profit": total,
        "roi": total / turnover if turnover > 0 else None,
        "hit_rate": float((profit[decided] > 0).mean()) if decided.any() else None,
        "avg_odds": _mean(settled.price),
        "avg_edge": _mean(settled.edge),
        "clv": _mean(settled.clv),
        "clv_bets": int((~np.isnan(settled.clv)).sum()),
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


def intervals(ledger: pl.DataFrame) -> dict[str, float | int | None]:
    """95 % bootstrap intervals of the headline figures that chance could explain: ROI by
    resampling decision days (bets decided together share a bankroll and often a match), CLV
    and hit rate by resampling bets. None where too few bets or days make an interval."""
    settled = _settled(ledger)
    day = settled.decision_us // _US_PER_DAY
    roi = ratio_interval(settled.profit, settled.stake, day)
    clv = mean_interval(settled.clv)
    hits = mean_interval((settled.profit[settled.decided] > 0).astype(float))
    return {**_bounds("roi", roi), "bet_days": int(np.unique(day).size), **_bounds("clv", clv),
            **_bounds("hit_rate", hits), "hit_rate_bets": int(settled.decided.sum())}


def _bounds(name: str, interval: Interval | None) -> dict[str, float | None]:
    return {f"{name}_low": interval.low if interval else None, f"{name}_high": interval.high if interval else None}


def breakdown(ledger: pl.DataFrame, by: str) -> pl.DataFrame:
    """Bets, turnover, profit, ROI, hit rate and CLV per market, bookmaker or month."""
    return _breakdown(ledger, _settled(ledger), by)


def _breakdown(ledger: pl.DataFrame, settled: _Settled, by: str) -> pl.DataFrame:
    if len(settled.rows) == 0:
        return pl.DataFrame(schema=BREAKDOWN_SCHEMA)
    if by == "month":
        day = settled.decision_us // _US_PER_DAY - settled.first_day  # months of the few days, not of every bet
        days = np.flatnonzero(np.bincount(day))
        month_of_day = np.zeros(days[-1] + 1, dtype=np.int64)
        month_of_day[days] = (days + settled.first_day).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        months = np.unique(month_of_day[days])
        renumber = np.zeros(months[-1] - months[0] + 1, dtype=np.int64)
        renumber[months - months[0]] = np.arange(len(months))
        code = renumber[month_of_day[day] - months[0]]
        labels = pl.Series([str(m) for m in months.astype("datetime64[M]")], dtype=pl.String)
    else:
        keys = ledger[by]
        code, labels = _group(keys if len(settled.rows) == len(keys) else keys.gather(settled.rows))
    count, turnover, profit, decided, won, clv_count, clv_sum = group_sums(code, len(labels), settled.stake,
                                                                      settled.profit, settled.decided, settled.clv)
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pl.DataFrame({
            "key": labels, "bets": count, "turnover": turnover, "profit": profit, "roi": profit / turnover,
            "hit_rate": _where(decided > 0, won / decided), "clv": _where(clv_count > 0, clv_sum / clv_count)},
            schema=BREAKDOWN_SCHEMA)
    return table.sort("key")


def _where(defined: np.ndarray, values: np.ndarray) -> pl.Series:
    """``values`` with null where they are not defined."""
    return pl.Series(values, dtype=pl.Float64).scatter(np.flatnonzero(~defined), None)


def _group(keys: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Each value's group and the groups' values, by a hash of each value; checked value by value
    afterwards, and on a collision (two values, one hash) grouped by polars instead."""
    code, first = first_of_each(keys.hash(seed=0).to_numpy())
    labels = keys.gather(first)
    if keys.eq_missing(labels.gather(code)).all():
        return code, labels
    labels = keys.unique(maintain_order=True)
    code = keys.to_frame("key").join(labels.to_frame("key").with_row_index("code"), on="key", how="left",
                                     nulls_equal=True, maintain_order="left")["code"].to_numpy().astype(np.int64)
    return code, labels


def _mean(values: np.ndarray) -> float | None:
    known = values[~np.isnan(values)]
    return float(known.mean()) if known.size else None


def _ratio(mean: float, spread: float) -> float | None:
    if not np.isfinite(spread) or spread <= 0:
        return None
    return float(mean / spread * math.sqrt(ANNUAL_DAYS))
