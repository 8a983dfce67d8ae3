"""One million candidate bets through the backtest engine: the project's ``execute``, column
passes and compiled loops (settlement, day-by-day Kelly sizing on a shared bankroll, metrics, breakdowns)
against a per-bet Python loop that applies the same rules one bet at a time. Both must agree
on every stake, profit and metric before the ratio is printed. The engine as it stood before
it was rewritten to be read (``engine_before``) runs on the same candidates: its ledger must be
identical, and the readable engine's time is given as a multiple of its time."""

from __future__ import annotations

import bisect
import math
import statistics
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl

from benchmarks import engine_before
from betting_assets.domain.betting.backtest import CANDIDATE_COLUMNS, Execution, execute
from betting_assets.domain.betting.metrics import METRIC_NAMES
from betting_assets.domain.betting.staking import Sizing

UTC = pl.Datetime("us", "UTC")
SIZING = Sizing(method="kelly", kelly_fraction=0.25, min_stake=1.0, max_stake=50.0, max_day_fraction=0.25)
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
            raw = min(SIZING.kelly_fraction * f * cash, SIZING.max_stake / top)
            stakes.append(0.0 if raw * low < SIZING.min_stake or raw <= 0 else raw)
        if cash > 0:
            total, limit = sum(stakes), SIZING.max_day_fraction * cash
            if total > limit:
                stakes = [s * (limit / total) for s in stakes]
                stakes = [0.0 if s * min(r["weight"] for r in legs) < SIZING.min_stake else s
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


def _timed(engine, frame: pl.DataFrame, runs: list[float], repeats: int) -> Execution:  # type: ignore[no-untyped-def]
    """The median of several runs, taken before and after the loop, stands for an engine: one run
    of a tenth of a second is at the mercy of the machine's noise."""
    for _ in range(repeats):
        began = time.perf_counter()
        done = engine(frame, SIZING, BANKROLL, DELAY)
        runs.append(time.perf_counter() - began)
    return done


def _same(done: Execution, before: Execution) -> None:
    """The readable engine gives what the one before it gave: every ledger value and metric."""
    assert done.ledger.equals(before.ledger), "the ledgers differ"
    assert done.metrics == before.metrics, {k: (v, before.metrics[k]) for k, v in done.metrics.items()
                                            if v != before.metrics[k]}
    for by, table in done.breakdowns.items():
        assert table.equals(before.breakdowns[by]), by


def run(n: int = 1_000_000, days: int = 1_000, repeats: int = 3) -> dict[str, float]:
    frame = candidates(n, days)
    began = time.perf_counter()
    execute(frame.head(1_000), SIZING, BANKROLL, DELAY)  # compiles the engine's loops, or loads them from cache
    warm_s = time.perf_counter() - began
    engine_before.execute(frame.head(1_000), SIZING, BANKROLL, DELAY)
    runs: list[float] = []
    before_runs: list[float] = []
    done = _timed(execute, frame, runs, repeats)
    _same(done, _timed(engine_before.execute, frame, before_runs, repeats))

    ordered = frame.sort("decision_time", maintain_order=True)  # the legs of a group are adjacent already
    rows = ordered.with_columns(decision_us=pl.col("decision_time").dt.epoch("us"),
                                commence_us=pl.col("commence_time").dt.epoch("us"),
                                home_score=pl.col("home_score").fill_null(float("nan")),
                                away_score=pl.col("away_score").fill_null(float("nan"))).to_dicts()
    began = time.perf_counter()
    loop = loop_engine(rows)
    loop_s = time.perf_counter() - began
    del rows
    _timed(engine_before.execute, frame, before_runs, repeats)  # as many runs after the loop as before:
    _timed(execute, frame, runs, repeats)                       # the machine's speed drifts
    project_s, before_s = statistics.median(runs), statistics.median(before_runs)

    mismatched = [k for k in METRIC_NAMES if not _close(done.metrics[k], loop["metrics"][k])]
    assert not mismatched, {k: (done.metrics[k], loop["metrics"][k]) for k in mismatched}
    assert np.allclose(done.ledger["stake"].to_numpy(), np.array(loop["stakes"]), rtol=1e-9, atol=1e-9)
    for by, table in done.breakdowns.items():
        for row in table.iter_rows(named=True):
            bets, turnover, profit = loop["breakdowns"][(by, row["key"])]
            assert bets == row["bets"] and _close(turnover, row["turnover"]) and _close(profit, row["profit"])
    return {"candidates": float(n), "bets": float(done.metrics["bets"]), "project_s": project_s, "loop_s": loop_s,
            "ratio": loop_s / project_s, "warm_s": warm_s, "before_s": before_s, "vs_before": project_s / before_s}


if __name__ == "__main__":
    print(run())
