"""Tables for the terminal, readable at 80 columns: the demo and ``backtest run`` print the
same strategy table, in the words of ``domain.claims``, under a legend saying what the
intervals resample."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.table import Table

from betting_assets.domain.betting import claims
SHORT = {claims.EDGE: "edge", claims.LOSS: "loss", claims.NOISE: "noise", claims.TOO_FEW: "too few"}
LEGEND = ("ROI and CLV with their 95% bootstrap interval beneath (ROI resamples decision days, CLV bets); "
          "reading: edge / loss = above / below zero beyond chance, noise = the interval holds zero, "
          "too few = under 20 bets or 10 days for an interval")


def span(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "no interval"
    return f"{claims.pct(low).rstrip('%')}…{claims.pct(high)}"


def strategies_table(rows: list[Mapping[str, Any]], title: str) -> Table:
    """``rows``: a strategy's metrics with its ``strategy`` name, in the order to show."""
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), title_justify="left")
    for column in ("strategy", "bets", "days", "ROI", "CLV", "hit", "reading"):
        table.add_column(column, justify="left" if column in ("strategy", "reading") else "right",
                         no_wrap=True)
    for m in rows:
        reading = claims.strategy_reading(m)
        table.add_row(str(m["strategy"]), f"{m.get('bets') or 0:,}", f"{m.get('bet_days') or 0:,}",
                      f"{claims.pct(m.get('roi'))}\n{span(m.get('roi_low'), m.get('roi_high'))}",
                      f"{claims.pct(m.get('clv'))}\n{span(m.get('clv_low'), m.get('clv_high'))}",
                      claims.pct(m.get("hit_rate"), signed=False), SHORT.get(reading, reading))
    return table
