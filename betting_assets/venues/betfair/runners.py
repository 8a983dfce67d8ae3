"""Where a feed bet sits on the Betfair Exchange: the exchange's market types for the feed's
markets, and the runner the stored mapping (``exchange_markets``) holds for a bet's event,
market, line and side."""

from __future__ import annotations

from typing import Any
from betting_assets.domain.vocabulary import Market

import polars as pl

MATCH_ODDS, OVER_UNDER_25, ASIAN_HANDICAP = "MATCH_ODDS", "OVER_UNDER_25", "ASIAN_HANDICAP"
MARKET_TYPES = {Market.H2H: MATCH_ODDS, Market.TOTALS: OVER_UNDER_25, Market.SPREADS: ASIAN_HANDICAP}
"""the feed's markets and the exchange's market types they are bet on (totals at 2.5 goals only)"""


def exchange_runner(market: str, side: str, point: float) -> tuple[str, float] | None:
    """The exchange market type and line a feed bet (market, side, point) is placed on, the
    line keyed as the market view keys it (a handicap at the home team's); None for a line the
    exchange's markets do not carry."""
    if market == Market.H2H:
        return MATCH_ODDS, 0.0
    if market == Market.TOTALS:
        return (OVER_UNDER_25, 2.5) if point == 2.5 else None
    if market == Market.SPREADS:
        return ASIAN_HANDICAP, point if side == "home" else -point
    return None


RunnerKey = tuple[str, str, float, str]


def runner_key(bet: dict[str, Any]) -> RunnerKey | None:
    """Where a feed bet (event_id, market, side, point) sits in the mapping: (event, exchange
    market type, line, side); None for a line the exchange's markets do not carry."""
    found = exchange_runner(bet["market"], bet["side"], bet["point"])
    return (bet["event_id"], found[0], found[1], bet["side"]) if found else None


def index_runners(runners: pl.DataFrame) -> dict[RunnerKey, dict[str, Any]]:
    """The stored mapping's rows by ``runner_key``."""
    return {(r["event_id"], r["market_type"], r["line"], r["side"]): r for r in runners.iter_rows(named=True)}


def unmapped_slips(slips: pl.DataFrame, runners: pl.DataFrame) -> pl.DataFrame:
    """Proposed slips (slip_id, event_id, market, side, point) whose runner the mapping
    (``runners``: event_id, market_type, line, side) does not hold, with why."""
    held = index_runners(runners)
    mapped_events = set(runners["event_id"].to_list()) if runners.height else set()
    rows = []
    for slip in slips.iter_rows(named=True):
        if runner_key(slip) in held:
            continue
        found = exchange_runner(slip["market"], slip["side"], slip["point"])
        why = ("the event is not mapped" if slip["event_id"] not in mapped_events
               else "the exchange carries no such line" if found is None else f"no {found[0]} runner at {found[1]:g}")
        rows.append({**slip, "reason": why})
    return pl.DataFrame(rows, schema={**dict(slips.schema), "reason": pl.String})
