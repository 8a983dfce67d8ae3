"""What the gate refuses on real data: the shared football-data seasons backtested with the
controls on (risk's default limits, paper), each strategy alone and the live strategies that
need no model together on one account, and how many candidates each control refused."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from betting_assets.betting.pipeline import replay, strategy_runs
from betting_assets.settings import load_settings
from betting_assets.sources.football_data import events_with_status, quotes_as_odds, read_football_data

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "football-data"
START = datetime(2020, 7, 1, tzinfo=timezone.utc)
STRATEGIES = ["flat_home", "flat_favourite", "sharp_value", "arbitrage"]


def run(data: Path = SHARED) -> dict[str, Any]:
    settings = load_settings()
    files = read_football_data(data)
    odds, events = quotes_as_odds(files), events_with_status(files.events)
    began = time.perf_counter()
    alone = replay(odds, events, strategy_runs(STRATEGIES, settings), settings, start=START)
    together = replay(odds, events, strategy_runs(["sharp_value", "arbitrage"], settings,
                                                  shares={"sharp_value": 0.5, "arbitrage": 0.5}),
                      settings, start=START, together=True)
    seconds = time.perf_counter() - began
    out: dict[str, Any] = {"events": files.events.height, "seconds": seconds, "strategies": {}}
    for s in alone.strategies:
        out["strategies"][s.name] = {"bets": int(s.metrics["bets"]), "refused": s.refused}
    assert together.account is not None
    out["account"] = {"bets": int(together.account.metrics["bets"]), "refused": together.account.refused}
    return out


if __name__ == "__main__":
    print(run())
