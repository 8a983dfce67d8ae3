"""The bets of a backtest and of the live loop in one shape, so they can be held to each other
bet for bet: strategy, event, market, line, side, bookmaker, price, stake, result and profit.

``differences`` lines two sets up by (strategy, event, market, line, side) and gives every bet
that is in one and not the other, or in both with a different bookmaker, price, stake (to the
cent), result or profit (to the cent): an empty frame is parity, anything else is the table a
user reads.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from betting_assets.domain.betting.backtest import BacktestResult
from betting_assets.domain.orders.states import BetStatus
from betting_assets.domain.vocabulary import line

KEY = ["strategy", "event_id", "market", "line", "side"]
FIELDS = [*KEY, "commence_time", "decision_time", "bookmaker", "price", "stake", "result", "profit"]
SCHEMA: dict[str, pl.DataType] = {
    "strategy": pl.String, "event_id": pl.String, "market": pl.String, "line": pl.Float64, "side": pl.String,
    "commence_time": pl.Datetime("us", "UTC"), "decision_time": pl.Datetime("us", "UTC"), "bookmaker": pl.String,
    "price": pl.Float64, "stake": pl.Float64, "result": pl.String, "profit": pl.Float64,
}
COMPARED = {"bookmaker": None, "price": 1e-9, "stake": 0.005, "result": None, "profit": 0.005}
"""each compared field and how far two values may be apart (None: equal)"""


def from_backtest(result: BacktestResult) -> pl.DataFrame:
    """Every bet the backtest placed, each with its strategy."""
    bets = result.bets()
    if bets.is_empty():
        return pl.DataFrame(schema=SCHEMA)
    return bets.select(FIELDS).cast(SCHEMA).sort(["decision_time", *KEY])


def from_ledger(ledger: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """The bets the live loop placed (placed, settled or void), with the decision time of their
    event (``decisions``: event_id, decision_time)."""
    placed = ledger.filter(pl.col("status").is_in([BetStatus.PLACED, BetStatus.SETTLED, BetStatus.VOID]))
    if placed.is_empty():
        return pl.DataFrame(schema=SCHEMA)
    return (placed.join(decisions.select("event_id", "decision_time"), on="event_id", how="left")
            .with_columns(line=line()).select(FIELDS).cast(SCHEMA).sort(["decision_time", *KEY]))


def to_json(bets: pl.DataFrame) -> str:
    return json.dumps(json.loads(bets.select(FIELDS).write_json()), indent=1)


def from_json(text: str) -> pl.DataFrame:
    rows: list[dict[str, Any]] = json.loads(text)
    if not rows:
        return pl.DataFrame(schema=SCHEMA)
    return pl.DataFrame(rows).with_columns(
        pl.col("commence_time", "decision_time").str.to_datetime(time_zone="UTC")).cast(SCHEMA)


def differences(replayed: pl.DataFrame, backtested: pl.DataFrame) -> pl.DataFrame:
    """Each bet on one side only, or on both with a field apart (``field``, both values)."""
    joined = replayed.join(backtested, on=KEY, how="full", coalesce=True, suffix="_backtest")
    rows = []
    for row in joined.iter_rows(named=True):
        if row["stake"] is None or row["stake_backtest"] is None:
            rows.append({**{k: row[k] for k in KEY}, "field": "bet",
                         "replay": "placed" if row["stake"] is not None else "none",
                         "backtest": "placed" if row["stake_backtest"] is not None else "none"})
            continue
        for name, tolerance in COMPARED.items():
            a, b = row[name], row[f"{name}_backtest"]
            apart = (a != b) if tolerance is None else (a is None) != (b is None) or (
                a is not None and abs(a - b) > tolerance)
            if apart:
                rows.append({**{k: row[k] for k in KEY}, "field": name, "replay": str(a), "backtest": str(b)})
    schema = {**{k: SCHEMA[k] for k in KEY}, "field": pl.String, "replay": pl.String, "backtest": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def by_strategy(bets: pl.DataFrame) -> pl.DataFrame:
    """Bets, stake and profit per strategy: the parity table's rows."""
    if bets.is_empty():
        return pl.DataFrame(schema={"strategy": pl.String, "bets": pl.UInt32, "stake": pl.Float64,
                                    "profit": pl.Float64})
    return bets.group_by("strategy").agg(pl.len().alias("bets"), pl.col("stake").sum().round(2),
                                         pl.col("profit").sum().round(2)).sort("strategy")
