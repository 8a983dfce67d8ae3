"""One million candidate bets through the backtest engine: the project's ``execute`` (column
passes, and the account's compiled loop: results booked as they are known, each moment sized on
the day's cash, every bet through the gate's controls, settlement, metrics, breakdowns).

Two runs. Where no control binds (limits no control reaches, the candidates spread so no day
reaches the cap): the same bets as the engine before the account came into it (``engine_today``,
frozen) and as a per-bet Python loop applying the same rules, stakes and metrics to 1e-9. With
the controls on (risk's default limits): the account's time as a multiple of the engine before
it on the same candidates, and how many candidates each control refused."""

from __future__ import annotations

import bisect
import math
import statistics
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import polars as pl

from benchmarks import engine_today
from betting_assets.domain.betting.backtest import CANDIDATE_COLUMNS, Account, Execution, execute
from betting_assets.domain.betting.metrics import METRIC_NAMES
from betting_assets.domain.betting.staking import Sizing
from betting_assets.domain.orders.book import VenueRules
from betting_assets.domain.orders.risk import RiskLimits

UTC = pl.Datetime("us", "UTC")
SIZING = Sizing(method="kelly", kelly_fraction=0.25)
TODAY = engine_today.Sizing(method="kelly", kelly_fraction=0.25, min_stake=1.0, max_stake=50.0, max_day_fraction=0.25)
UNBOUND = engine_today.Sizing(method="kelly", kelly_fraction=0.25, min_stake=1.0, max_stake=50.0, max_day_fraction=1.0)
OPEN = RiskLimits(min_odds=1.001, max_odds=1000.0, min_edge=-1.0, min_stake=1.0, max_stake=50.0, max_stake_fraction=1.0,
                  max_event_exposure=1.0, max_day_exposure=1.0, daily_loss_limit=1.0, max_drawdown=1.0,
                  max_consecutive_losses=1_000_000, max_bets_per_minute=1_000_000)
"""limits no control reaches"""
UNROUNDED = VenueRules(stake_step=0.0)
BANKROLL = 10_000.0
DELAY = timedelta(hours=3)
BOOKS = np.array(["bet365", "williamhill", "unibet", "bwin", "betvictor", "marathonbet"])


def candidates(n: int, days: int, seed: int = 3) -> pl.DataFrame:
    """Singles across the three markets (quarter lines, pushes, voids and a few open results
    included) and, on every 20th pair, a two-leg totals group sized together."""
    rng = np.random.default_rng(seed)
    start = datetime(2020, 1, 1, 11, tzinfo=timezone.utc)
    day = np.sort(rng.integers(0, days, n))
    decision_us = int(start.timestamp() * 1e6) + day * 86_400_000_000 + rng.integers(0, 10 * 3600, n) * 1_000_000
    market = rng.choice(np.array(["h2h", "totals", "spreads"]), n, p=[0.5, 0.25, 0.25])
    side = np.where(market == "h2h", rng.choice(np.array(["home", "draw", "away"]), n),
                    np.where(market == "totals", rng.choice(np.array(["over", "under"]), n),
                             rng.choice(np.array(["home", "away"]), n)))
    point = np.where(market == "totals", rng.choice([2.0, 2.25, 2.5, 2.75, 3.0], n),
                     np.where(market == "spreads", rng.choice(np.arange(-1.5, 1.75, 0.25), n), 0.0))
    price = np.round(np.where(market == "h2h", rng.uniform(1.3, 8.0, n), rng.uniform(1.6, 2.4, n)), 2)
    prob = np.clip((1 / price) * (1 + rng.normal(0.0, 0.06, n)), 0.01, 0.99)
    status = rng.choice(np.array(["final", "cancelled", "scheduled"]), n, p=[0.985, 0.01, 0.005])
    group = np.full(n, None, dtype=object)
    weight = np.ones(n)
    event = np.array([f"e{i}" for i in range(n)], dtype=object)
    pairs = np.arange(0, n - 1, 40)
    pairs = pairs[day[pairs] == day[pairs + 1]]
    for i in pairs:
        market[i] = market[i + 1] = "totals"
        point[i] = point[i + 1] = 2.5
        side[i], side[i + 1] = "over", "under"
        event[i + 1] = event[i]
        decision_us[i + 1] = decision_us[i]
        group[i] = group[i + 1] = f"g{i}"
        weight[i], weight[i + 1] = 0.48, 0.52
        prob[i] = prob[i + 1] = np.nan
    decision = pl.Series(decision_us).cast(UTC)
    home = rng.poisson(1.5, n).astype(float)
    away = rng.poisson(1.2, n).astype(float)
    # a match-result bet wins about as often as its price says, less a 5 % margin
    won = rng.random(n) < 1 / (price * 1.05)
    result = np.where(won, side, np.where(side == "draw", "home", np.where(side == "home", "away", "draw")))
    h2h = market == "h2h"
    home = np.where(h2h, np.select([result == "home", result == "draw"], [2.0, 1.0], 0.0), home)
    away = np.where(h2h, np.select([result == "home", result == "draw"], [1.0, 1.0], 1.0), away)
    home[status == "scheduled"] = np.nan
    away[status == "scheduled"] = np.nan
    frame = pl.DataFrame({
        "event_id": event, "market": market, "side": side, "point": point,
        "line": np.where((market == "spreads") & (side == "away"), -point, point), "bookmaker": rng.choice(BOOKS, n),
        "price": price, "snapshot_time": decision - timedelta(hours=2), "prob": prob, "prob_time": decision,
        "edge": prob * price - 1.0, "group": pl.Series(group, dtype=pl.String), "weight": weight,
        "sport_key": "soccer_sim", "commence_time": decision + timedelta(hours=1), "decision_time": decision,
        "three_way": market == "h2h", "home_score": home, "away_score": away, "status": status,
        "p_close": np.clip(prob + rng.normal(0, 0.01, n), 0.01, 0.99),
    }).with_columns(pl.col("prob").fill_nan(None), pl.col("edge").fill_nan(None))
    return frame.select(CANDIDATE_COLUMNS)


def _settle_one(market: str, side: str, point: float, price: float, home: float, away: float, status: str,
                three: bool) -> tuple[float, str]:
    if status in ("cancelled", "postponed"):
        return 1.0, "void"
    if status != "final" or math.isnan(home) or math.isnan(away):
        return math.nan, "open"

    def margin(pt: float) -> float:
        diff = home - away
        if market == "h2h":
            won = diff > 0 if side == "home" else diff < 0 if side == "away" else diff == 0
            return 1.0 if won else (0.0 if diff == 0 and not three else -1.0)
        if market == "spreads":
            return (diff if side == "home" else -diff) + pt
        return home + away - pt if side == "over" else pt - home - away

    def unit(m: float) -> float:
        return price if m > 0 else 1.0 if m == 0 else 0.0

    if market != "h2h" and abs(round(point * 4)) % 2 == 1:
        ret = 0.5 * unit(margin(point - 0.25)) + 0.5 * unit(margin(point + 0.25))
    else:
        ret = unit(margin(point))
    if ret == 0.0:
        return ret, "loss"
    if ret < 1.0:
        return ret, "half_loss"
    if ret == 1.0:
        return ret, "push"
    return ret, "half_win" if ret < price else "win"


def loop_engine(rows: list[dict]) -> dict:  # type: ignore[type-arg]
    """The same rules, one bet at a time; ``rows`` sorted as the engine sorts them."""
    delay_us = int(DELAY.total_seconds() * 1e6)
    groups: list[list[dict]] = []  # type: ignore[type-arg]
    for row in rows:
        row["ret"], row["result"] = _settle_one(row["market"], row["side"], row["point"], row["price"],
                                                row["home_score"], row["away_score"], row["status"], row["three_way"])
        key = row["group"]
        if groups and key is not None and groups[-1][0]["group"] == key:
            groups[-1].append(row)
        else:
            groups.append([row])
    days: list[list[list[dict]]] = []  # type: ignore[type-arg]
    for legs in groups:
        day = legs[0]["decision_us"] // 86_400_000_000
        if days and days[-1][0][0]["decision_us"] // 86_400_000_000 == day:
            days[-1].append(legs)
        else:
            days.append([legs])
    first = [d[0][0]["decision_us"] for d in days]
    profit_due = [0.0] * (len(days) + 1)
    stake_due = [0.0] * (len(days) + 1)
    settled = outstanding = 0.0
    for index, day_groups in enumerate(days):
        settled += profit_due[index]
        outstanding -= stake_due[index]
        cash = BANKROLL + settled - outstanding
        stakes = []
        for legs in day_groups:
            if cash <= 0:
                stakes.append(0.0)
                continue
            top, low = max(r["weight"] for r in legs), min(r["weight"] for r in legs)
            f = 0.0
            if len(legs) == 1 and legs[0]["prob"] is not None:
                p, d = legs[0]["prob"], legs[0]["price"]
                f = max((p * d - 1.0) / (d - 1.0), 0.0)
            raw = min(UNBOUND.kelly_fraction * f * cash, UNBOUND.max_stake / top)
            stakes.append(0.0 if raw * low < UNBOUND.min_stake or raw <= 0 else raw)
        if cash > 0:
            total, limit = sum(stakes), UNBOUND.max_day_fraction * cash
            if total > limit:
                stakes = [s * (limit / total) for s in stakes]
                stakes = [0.0 if s * min(r["weight"] for r in legs) < UNBOUND.min_stake else s
                          for s, legs in zip(stakes, day_groups)]
        for stake, legs in zip(stakes, day_groups):
            open_ = any(math.isnan(r["ret"]) for r in legs)
            gain = 0.0 if open_ else sum(r["weight"] * r["ret"] for r in legs) - 1.0
            settle_us = max(r["commence_us"] for r in legs) + delay_us
            release = len(days) if open_ else bisect.bisect_left(first, settle_us)
            profit_due[release] += stake * gain
            stake_due[release] += stake
            outstanding += stake
            for r in legs:
                r["stake"] = stake * r["weight"]
                r["settle_us"] = settle_us
    return _loop_metrics([r for r in rows if r["stake"] > 0])


def _loop_metrics(bets: list[dict]) -> dict:  # type: ignore[type-arg]
    settled = [b for b in bets if not math.isnan(b["ret"])]
    for b in settled:
        b["profit"] = b["stake"] * (b["ret"] - 1.0)
    turnover = sum(b["stake"] for b in settled)
    profit = sum(b["profit"] for b in settled)
    decided = [b for b in settled if b["result"] not in ("push", "void")]
    by_day: dict = defaultdict(float)  # type: ignore[type-arg]
    for b in settled:
        by_day[datetime.fromtimestamp(b["settle_us"] / 1e6, timezone.utc).date()] += b["profit"]
    first = datetime.fromtimestamp(min(b["decision_us"] for b in bets) / 1e6, timezone.utc).date()
    last = max(by_day)
    equity, returns, peak, drawdown, value = [], [], BANKROLL, 0.0, BANKROLL
    day = first
    while day <= last:
        before = value
        value += by_day.get(day, 0.0)
        returns.append(by_day.get(day, 0.0) / before if before > 0 else 0.0)
        peak = max(peak, value)
        drawdown = max(drawdown, (peak - value) / peak)
        equity.append(value)
        day += timedelta(days=1)
    mean = sum(returns) / len(returns)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    wins = sum(b["profit"] for b in settled if b["profit"] > 0)
    losses = -sum(b["profit"] for b in settled if b["profit"] < 0)
    streak = best_win = best_loss = 0
    for b in settled:
        if b["profit"] == 0:
            continue
        streak = (streak + 1 if streak > 0 else 1) if b["profit"] > 0 else (streak - 1 if streak < 0 else -1)
        best_win, best_loss = max(best_win, streak), max(best_loss, -streak)
    growth = (value / BANKROLL) ** (365 / len(equity)) - 1.0
    clv = [b["price"] * b["p_close"] - 1.0 for b in settled if b["p_close"] is not None]
    edges = [b["edge"] for b in settled if b["edge"] is not None]
    breakdowns: dict = defaultdict(lambda: [0, 0.0, 0.0])  # type: ignore[type-arg]
    for b in settled:
        month = datetime.fromtimestamp(b["decision_us"] / 1e6, timezone.utc).strftime("%Y-%m")
        for key in (("market", b["market"]), ("bookmaker", b["bookmaker"]), ("month", month)):
            cell = breakdowns[key]
            cell[0] += 1
            cell[1] += b["stake"]
            cell[2] += b["profit"]
    return {
        "metrics": {
            "bets": len(settled), "open_bets": len(bets) - len(settled), "turnover": turnover, "profit": profit,
            "roi": profit / turnover, "hit_rate": sum(b["profit"] > 0 for b in decided) / len(decided),
            "avg_odds": sum(b["price"] for b in settled) / len(settled), "avg_edge": sum(edges) / len(edges),
            "clv": sum(clv) / len(clv), "clv_bets": len(clv),
            "sharpe": mean / statistics.stdev(returns) * math.sqrt(365), "sortino": mean / downside * math.sqrt(365),
            "max_drawdown": drawdown, "calmar": growth / drawdown if drawdown > 0 else None,
            "profit_factor": wins / losses, "longest_win_streak": best_win, "longest_loss_streak": best_loss,
            "final_bankroll": value, "days": len(equity)},
        "stakes": [b["stake"] for b in bets],
        "breakdowns": dict(breakdowns),
    }


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


IDENTITY = ["event_id", "market", "side", "point", "bookmaker", "price", "decision_time", "result"]
NUMBERS = ["stake", "profit", "unit_return", "bankroll"]


def same_bets(done: Execution, before: Execution) -> None:
    """The same bets in the same order (event, market, side, line, bookmaker, price, decision,
    result), stakes, profits and the bankroll each was sized on to 1e-9, and every metric and
    breakdown alike: the account books equity bet by bet where the engine before it summed a
    day's results first, so only the last bits of a sum may differ."""
    assert done.ledger.height == before.ledger.height, (done.ledger.height, before.ledger.height)
    assert done.ledger.select(IDENTITY).equals(before.ledger.select(IDENTITY)), "different bets"
    for column in NUMBERS:
        a, b = done.ledger[column].fill_null(0.0).to_numpy(), before.ledger[column].fill_null(0.0).to_numpy()
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9), column
    differ = {k: (v, before.metrics[k]) for k, v in done.metrics.items()
              if not (_close(v, before.metrics[k]) if isinstance(v, float) else v == before.metrics[k])}
    assert not differ, differ
    for by, table in done.breakdowns.items():
        other = before.breakdowns[by]
        assert table["key"].equals(other["key"]) and table["bets"].equals(other["bets"]), by
        assert np.allclose(table["profit"].to_numpy(), other["profit"].to_numpy(), rtol=1e-9, atol=1e-9), by


def _timed(engine, frame: pl.DataFrame, runs: list[float], repeats: int) -> Execution:  # type: ignore[no-untyped-def]
    """The median of several runs, taken before and after the other work, stands for an engine:
    one run of a tenth of a second is at the mercy of the machine's noise."""
    done = None
    for _ in range(repeats):
        began = time.perf_counter()
        done = engine(frame)
        runs.append(time.perf_counter() - began)
    return done  # type: ignore[return-value]


def run(n: int = 1_000_000, days: int = 1_000, spread_days: int = 10_000, repeats: int = 3) -> dict[str, Any]:
    """``days``: the controls-on run's span (busy days: the day's cap binds); ``spread_days``: the
    span of the run where nothing binds."""
    new = lambda frame: execute(frame, SIZING, BANKROLL, DELAY, Account(RiskLimits(), VenueRules()))  # noqa: E731
    unbound = lambda frame: execute(frame, SIZING, BANKROLL, DELAY, Account(OPEN, UNROUNDED))  # noqa: E731
    old = lambda frame: engine_today.execute(frame, TODAY, BANKROLL, DELAY)  # noqa: E731
    old_unbound = lambda frame: engine_today.execute(frame, UNBOUND, BANKROLL, DELAY)  # noqa: E731
    spread = candidates(n, spread_days)
    began = time.perf_counter()
    for engine in (new, unbound, old, old_unbound):
        engine(spread.head(1_000))  # compiles the loops, or loads them from cache
    warm_s = time.perf_counter() - began

    same_runs: list[float] = []
    done = _timed(unbound, spread, same_runs, 1)
    before = old_unbound(spread)
    same_bets(done, before)
    ordered = spread.sort("decision_time", maintain_order=True)  # the legs of a group are adjacent already
    rows = ordered.with_columns(decision_us=pl.col("decision_time").dt.epoch("us"),
                                commence_us=pl.col("commence_time").dt.epoch("us"),
                                home_score=pl.col("home_score").fill_null(float("nan")),
                                away_score=pl.col("away_score").fill_null(float("nan"))).to_dicts()
    began = time.perf_counter()
    loop = loop_engine(rows)
    loop_s = time.perf_counter() - began
    del rows
    mismatched = [k for k in METRIC_NAMES if not _close(done.metrics[k], loop["metrics"][k])]
    assert not mismatched, {k: (done.metrics[k], loop["metrics"][k]) for k in mismatched}
    assert np.allclose(done.ledger["stake"].to_numpy(), np.array(loop["stakes"]), rtol=1e-9, atol=1e-9)
    for by, table in done.breakdowns.items():
        for row in table.iter_rows(named=True):
            bets, turnover, profit = loop["breakdowns"][(by, row["key"])]
            assert bets == row["bets"] and _close(turnover, row["turnover"]) and _close(profit, row["profit"])
    _timed(unbound, spread, same_runs, repeats - 1)

    busy = candidates(n, days)
    runs: list[float] = []
    before_runs: list[float] = []
    controlled = _timed(new, busy, runs, repeats)
    _timed(old, busy, before_runs, repeats)
    _timed(old, busy, before_runs, repeats)   # as many runs of each before and after: the machine's speed drifts
    _timed(new, busy, runs, repeats)
    project_s, before_s = statistics.median(runs), statistics.median(before_runs)
    return {"candidates": float(n), "spread_bets": float(done.metrics["bets"]), "spread_s": statistics.median(same_runs),
            "loop_s": loop_s, "ratio": loop_s / statistics.median(same_runs), "warm_s": warm_s,
            "bets": float(controlled.metrics["bets"]), "project_s": project_s, "before_s": before_s,
            "vs_today": project_s / before_s, "refused": controlled.refused}


if __name__ == "__main__":
    print(run())
