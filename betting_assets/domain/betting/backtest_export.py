"""A backtest result as JSON (which reloads to an equal result) and as CSV texts.

The JSON is meant to be read by people and other tools too: frames are lists of records with
ISO timestamps, metrics are plain numbers, and every frame reloads with its fixed schema.
"""

from __future__ import annotations

import io
import json
from typing import Any

import polars as pl

from betting_assets.domain.betting.backtest import BACKTEST_BETS_SCHEMA, BacktestResult, StrategyResult
from betting_assets.domain.betting.metrics import BREAKDOWN_SCHEMA, EQUITY_SCHEMA

FORMAT = "betting_assets.backtest/1"


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.write_json())


def _frame(records: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not records:
        return pl.DataFrame(schema=schema)
    return pl.read_json(io.StringIO(json.dumps(records)), schema=schema)


def _strategy(s: StrategyResult) -> dict[str, Any]:
    return {"name": s.name, "params": s.params, "sizing": s.sizing, "metrics": s.metrics, "refused": s.refused,
            "bets": _records(s.bets), "equity": _records(s.equity),
            "breakdowns": {k: _records(v) for k, v in s.breakdowns.items()}}


def _loaded(s: dict[str, Any]) -> StrategyResult:
    return StrategyResult(name=s["name"], params=s["params"], sizing=s["sizing"], metrics=s["metrics"],
                          bets=_frame(s["bets"], BACKTEST_BETS_SCHEMA), equity=_frame(s["equity"], EQUITY_SCHEMA),
                          breakdowns={k: _frame(v, BREAKDOWN_SCHEMA) for k, v in s["breakdowns"].items()},
                          refused=dict(s.get("refused") or {}))


def to_json(result: BacktestResult, indent: int | None = None) -> str:
    document = {
        "format": FORMAT,
        "config": result.config,
        "strategies": [_strategy(s) for s in result.strategies],
        "account": _strategy(result.account) if result.account is not None else None,
    }
    return json.dumps(document, indent=indent, allow_nan=False)


def from_json(text: str) -> BacktestResult:
    document = json.loads(text)
    if document.get("format") != FORMAT:
        raise ValueError(f"not a backtest export: format {document.get('format')!r}, expected {FORMAT!r}")
    account = document.get("account")
    return BacktestResult(config=document["config"], strategies=[_loaded(s) for s in document["strategies"]],
                          account=_loaded(account) if account else None)


def to_csv(result: BacktestResult) -> dict[str, str]:
    """File name to CSV text: the comparison, and every strategy's bets, equity and breakdowns
    stacked with a strategy column."""

    def stacked(pick: Any) -> pl.DataFrame:
        parts = [pick(s).drop("strategy", strict=False).with_columns(pl.lit(s.name).alias("strategy"))
                 for s in result.strategies]
        parts = [p.select("strategy", *[c for c in p.columns if c != "strategy"]) for p in parts]
        return pl.concat(parts) if parts else pl.DataFrame()

    files = {
        "comparison.csv": result.comparison().with_columns(
            devig_method=pl.lit(result.config.get("devig_method"))).write_csv(),
        "bets.csv": stacked(lambda s: s.bets).write_csv(),
        "equity.csv": stacked(lambda s: s.equity).write_csv(),
    }
    for name in ("market", "bookmaker", "month"):
        files[f"by_{name}.csv"] = stacked(lambda s, n=name: s.breakdowns[n]).write_csv()
    return files
