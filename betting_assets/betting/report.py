"""A backtest for people: the comparison table in markdown, the equity curves as a PNG, and
the exports (JSON that reloads to the same result, and CSV) written to a folder."""

from __future__ import annotations

from pathlib import Path

from betting_assets.domain.betting import backtest_export, claims
from betting_assets.domain.pricing.devig import describe_choice
from betting_assets.domain.betting.backtest import BacktestResult, StrategyResult
from betting_assets.modelling.plots import png_bytes, pyplot

_COLUMNS: list[tuple[str, str, str]] = [
    ("turnover", "turnover", "{:,.0f}"), ("profit", "profit", "{:+,.2f}"), ("avg_odds", "avg odds", "{:.2f}"),
    ("avg_edge", "avg edge", "{:+.1%}"), ("sharpe", "Sharpe", "{:.2f}"), ("sortino", "Sortino", "{:.2f}"),
    ("max_drawdown", "max DD", "{:.1%}"), ("calmar", "Calmar", "{:.2f}"), ("profit_factor", "PF", "{:.2f}"),
    ("longest_win_streak", "W streak", "{}"), ("longest_loss_streak", "L streak", "{}"),
    ("final_bankroll", "bankroll", "{:,.2f}"),
]


def ordered(result: BacktestResult) -> list[StrategyResult]:
    """Strategies with an ROI above zero beyond chance first, then within noise, then losing."""
    return sorted(result.strategies, key=lambda s: claims.sort_key(s.name, s.metrics))


def comparison_markdown(result: BacktestResult) -> str:
    """The strategies side by side, each figure chance could explain with its sample and its
    95 % interval, read in the last claim column; sorted so that noise never heads the table."""
    head = ["strategy", "bets", "ROI", "ROI 95% CI", "days", "CLV", "CLV 95% CI", "hit rate", "ROI reading"]
    lines = ["| " + " | ".join(head + [label for _, label, _ in _COLUMNS]) + " |",
             "| --- |" + " ---: |" * (len(head) - 2) + " --- |" + " ---: |" * len(_COLUMNS)]
    for strategy in ordered(result):
        m = strategy.metrics
        cells = [f"{m['bets']:,}", claims.pct(m.get("roi")), claims.ci(m.get("roi_low"), m.get("roi_high")),
                 f"{m.get('bet_days', 0):,}", claims.pct(m.get("clv")), claims.ci(m.get("clv_low"), m.get("clv_high")),
                 claims.pct(m.get("hit_rate"), signed=False), claims.strategy_reading(m)]
        for key, _, fmt in _COLUMNS:
            value = m.get(key)
            cells.append("–" if value is None else fmt.format(value))
        lines.append(f"| {strategy.name} | " + " | ".join(cells) + " |")
    devig = describe_choice(result.config.get("devig_method", "multiplicative"))
    lines.append("")
    lines.append(f"Fair prices, edges and CLV: {result.config.get('sharp_book', 'sharp')} de-vigged by {devig}. "
                 "Intervals: 95% bootstrap, ROI over decision days, CLV and hit rate over bets.")
    return "\n".join(lines)


def refusals_markdown(result: BacktestResult) -> str:
    """How many candidates each control of the gate refused, per strategy: what the backtest did
    not bet because the live gate would not have let it."""
    codes = sorted({c for s in [*result.strategies, *([result.account] if result.account else [])] for c in s.refused})
    if not codes:
        return "no candidate refused by a control"
    rows = [*result.strategies, *([result.account] if result.account else [])]
    lines = ["| strategy | " + " | ".join(codes) + " |", "| --- |" + " ---: |" * len(codes)]
    for strategy in rows:
        lines.append(f"| {strategy.name} | " + " | ".join(f"{strategy.refused.get(c, 0):,}" for c in codes) + " |")
    return "\n".join(lines)


def refusals_line(refused: dict[str, int]) -> str:
    return ", ".join(f"{code} {n:,}" for code, n in sorted(refused.items(), key=lambda kv: -kv[1])) or "none"


def account_markdown(result: BacktestResult) -> str:
    """The strategies on one account, as they bet live: each one's share and figures, and the
    account's."""
    assert result.account is not None
    lines = ["| strategy | sizing | share | bets | stake | profit | ROI | ROI 95% CI |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    sizing = result.account.sizing
    for strategy in [*result.strategies, result.account]:
        m, own = strategy.metrics, sizing.get(strategy.name, {})
        lines.append(f"| {strategy.name} | {own.get('method', '')} | "
                     f"{own['share']:.0%} | " if own else f"| {strategy.name} | | | ")
        lines[-1] += (f"{m['bets']:,} | {m.get('turnover') or 0:,.2f} | {m.get('profit') or 0:+,.2f} | "
                      f"{claims.pct(m.get('roi'))} | {claims.ci(m.get('roi_low'), m.get('roi_high'))} |")
    lines += ["", f"Refused by the gate: {refusals_line(result.account.refused)}."]
    return "\n".join(lines)


def summary_lines(result: BacktestResult) -> list[str]:
    """One line per strategy, in the table's order: what the CLI prints and MLflow keeps."""
    return [f"{s.name}: {claims.strategy_line(s.metrics)}" for s in ordered(result)]


def equity_png(result: BacktestResult, title: str = "Backtest: bankroll by day") -> bytes:
    """Each strategy's bankroll over time, and its drawdown from the running peak below."""
    figure, (top, bottom) = pyplot().subplots(2, 1, figsize=(10, 6.5), sharex=True,
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

