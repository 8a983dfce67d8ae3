"""A backtest for people: the comparison table in markdown, the equity curves as a PNG, and
the exports (JSON that reloads to the same result, and CSV) written to a folder."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from betting_assets.domain import backtest_export
from betting_assets.domain.backtest import BacktestResult
from betting_assets.modelling.plots import png_bytes

_COLUMNS: list[tuple[str, str, str]] = [
    ("bets", "bets", "{:,}"), ("turnover", "turnover", "{:,.0f}"), ("profit", "profit", "{:+,.2f}"),
    ("roi", "ROI", "{:+.2%}"), ("hit_rate", "hit", "{:.1%}"), ("avg_odds", "avg odds", "{:.2f}"),
    ("avg_edge", "avg edge", "{:+.2%}"), ("clv", "CLV", "{:+.2%}"), ("sharpe", "Sharpe", "{:.2f}"),
    ("sortino", "Sortino", "{:.2f}"), ("max_drawdown", "max DD", "{:.1%}"), ("calmar", "Calmar", "{:.2f}"),
    ("profit_factor", "PF", "{:.2f}"), ("longest_win_streak", "W streak", "{}"),
    ("longest_loss_streak", "L streak", "{}"), ("final_bankroll", "bankroll", "{:,.2f}"),
]


def comparison_markdown(result: BacktestResult) -> str:
    lines = ["| strategy | " + " | ".join(label for _, label, _ in _COLUMNS) + " |",
             "| --- |" + " ---: |" * len(_COLUMNS)]
    for strategy in result.strategies:
        cells = []
        for key, _, fmt in _COLUMNS:
            value = strategy.metrics.get(key)
            cells.append("–" if value is None else fmt.format(value))
        lines.append(f"| {strategy.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def equity_png(result: BacktestResult, title: str = "Backtest: bankroll by day") -> bytes:
    """Each strategy's bankroll over time, and its drawdown from the running peak below."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 1]})
    bankroll = result.config.get("bankroll", 0.0)
    for strategy in result.strategies:
        curve = strategy.equity
        if curve.is_empty():
            continue
        days = curve["day"].to_list()
        top.plot(days, curve["equity"].to_list(), label=strategy.name, linewidth=1.4)
        bottom.plot(days, (-curve["drawdown"] * 100).to_list(), linewidth=1.0)
    top.axhline(bankroll, color="grey", linestyle="--", linewidth=1)
    top.set_ylabel("bankroll")
    top.set_title(title)
    if result.strategies:
        top.legend(loc="upper left", fontsize=8)
    bottom.set_ylabel("drawdown %")
    bottom.set_xlabel("day (UTC)")
    figure.autofmt_xdate()
    return png_bytes(figure)


def write_exports(result: BacktestResult, folder: Path) -> dict[str, Path]:
    """``result.json``, the CSVs and ``equity.png`` into ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {"result.json": folder / "result.json"}
    written["result.json"].write_text(backtest_export.to_json(result), encoding="utf-8")
    for name, text in backtest_export.to_csv(result).items():
        written[name] = folder / name
        written[name].write_text(text, encoding="utf-8")
    written["equity.png"] = folder / "equity.png"
    written["equity.png"].write_bytes(equity_png(result))
    return written

