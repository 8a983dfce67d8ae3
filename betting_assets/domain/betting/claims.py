"""The words a figure is shown with, one source for the demo, the CLI, Dagster metadata,
exports and MLflow, so that a figure reads the same wherever it appears.

Every claim carries its sample size; where chance could explain it, its 95 % interval and a
reading of that interval: a figure whose interval holds zero is "within noise", never an edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from betting_assets.domain.betting.intervals import Interval

EDGE = "above zero beyond chance"
LOSS = "below zero beyond chance"
NOISE = "within noise"
TOO_FEW = "too few bets or days to tell"
INDISTINGUISHABLE = "not distinguishable from the market"
PRIOR_ALONE = "the model is its market prior alone"
"""said of a model whose trees did not split, or did not beat the prior beyond chance"""
_ORDER = {EDGE: 0, NOISE: 1, TOO_FEW: 2, LOSS: 3}


def pct(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def reading(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return TOO_FEW
    if low > 0:
        return EDGE
    if high < 0:
        return LOSS
    return NOISE


def ci(low: float | None, high: float | None, signed: bool = True) -> str:
    if low is None or high is None:
        return "no interval"
    return f"95% CI {pct(low, signed)} to {pct(high, signed)}"


def strategy_reading(m: Mapping[str, Any]) -> str:
    """What the strategy's ROI says: read from its interval over days."""
    if not m.get("bets"):
        return "no bets"
    return reading(m.get("roi_low"), m.get("roi_high"))


def roi_text(m: Mapping[str, Any]) -> str:
    return f"ROI {pct(m.get('roi'))} ({ci(m.get('roi_low'), m.get('roi_high'))}, {m.get('bet_days', 0)} days)"


def clv_text(m: Mapping[str, Any]) -> str:
    return f"CLV {pct(m.get('clv'))} ({ci(m.get('clv_low'), m.get('clv_high'))}, {m.get('clv_bets', 0)} bets)"


def hit_text(m: Mapping[str, Any]) -> str:
    return (f"hit rate {pct(m.get('hit_rate'), False)} "
            f"({ci(m.get('hit_rate_low'), m.get('hit_rate_high'), False)}, {m.get('hit_rate_bets', 0)} bets)")


def strategy_line(m: Mapping[str, Any]) -> str:
    """One line per strategy: its bets, ROI, CLV and hit rate with intervals, and the reading."""
    if not m.get("bets"):
        return "0 bets"
    return f"{m['bets']:,} bets; {roi_text(m)}; {clv_text(m)}; {hit_text(m)}: ROI {strategy_reading(m)}"


def sort_key(name: str, m: Mapping[str, Any]) -> tuple[int, float, str]:
    """Strategies whose ROI is above zero beyond chance first, then those within noise, then
    the losing ones; within each, by the lower end of the ROI interval."""
    low = m.get("roi_low")
    return _ORDER.get(strategy_reading(m), 4), -(low if low is not None else float("-inf")), name


def model_gain(model_loss: float, market_loss: float, market_method: str, events: int,
               gain: Interval | None) -> str:
    """The model's log-loss gain over the best market reference (positive: the model is
    better), with the interval of the paired bootstrap over events."""
    head = (f"model log loss {model_loss:.4f} vs market ({market_method}) {market_loss:.4f} on {events:,} events: "
            f"gain {market_loss - model_loss:+.4f}")
    if gain is None:
        return f"{head} (too few events for an interval)"
    return f"{head} (95% CI {gain.low:+.4f} to {gain.high:+.4f}): {model_reading(gain)}"


def model_reading(gain: Interval | None) -> str:
    if gain is None:
        return "too few events to tell"
    if gain.low > 0:
        return "better than the market beyond chance"
    if gain.high < 0:
        return "worse than the market beyond chance"
    return INDISTINGUISHABLE
