"""The credit-budget planner on real schedules: the least credits that capture every
decision time and close against fixed 30-minute polling, what monthly budgets of 20,000 and
100,000 credits buy, and the planner's time for 10,000 upcoming events against the sensor's
60 s limit."""

from __future__ import annotations

import os
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from betting_assets.domain.collection_budget import CLOSING, DECISION, Pricing, full_capture, plan_collection
from betting_assets.domain.quota import simulate_quota
from betting_assets.sources.football_data import read_football_data

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "betting_assets" / "data"
SHARED = Path(os.environ.get("BETTING_SHARED_DATA", REPO.parent / "shared" / "data" / "football-data"))
PRICING = Pricing.uniform(3, 1)
LEADS = [timedelta(hours=1)]
SENSOR_LIMIT_S = 60.0


def capture(folder: Path) -> dict[str, float]:
    schedule = read_football_data(folder).events
    fixed = simulate_quota(schedule, markets=3, regions=1, lead=timedelta(days=14))
    least = full_capture(schedule, pricing=PRICING, decision_leads=LEADS)
    found: dict[str, float] = {"events": float(schedule.height), "fixed": float(fixed.fixed_credits),
                               "least": float(least.credits), "ratio": fixed.fixed_credits / least.credits}
    for budget in (20_000, 100_000):
        plan = plan_collection(schedule, pricing=PRICING, decision_leads=LEADS, budget=budget)
        found[f"decision_{budget}"] = plan.share(DECISION)
        found[f"closing_{budget}"] = plan.share(CLOSING)
        found[f"snapshots_{budget}"] = plan.snapshots_per_event
        found[f"spent_{budget}"] = float(plan.credits)
    return found


def planner_time(events: int = 10_000, seed: int = 3) -> float:
    """Seconds to plan the decision-time and closing calls of 10,000 events kicking off over the
    next 14 days in 5 sports, on the quarter hour, within a budget (movement calls replay the
    tier rules tick by tick, which this does not time)."""
    rng = random.Random(seed)
    now = datetime(2024, 3, 2, 12, tzinfo=timezone.utc)
    sports = [f"sport_{i}" for i in range(5)]
    schedule = pl.DataFrame({"sport_key": [rng.choice(sports) for _ in range(events)],
                             "commence_time": [now + timedelta(minutes=15 * rng.randrange(4, 4 * 24 * 14))
                                               for _ in range(events)]})
    began = time.perf_counter()
    plan_collection(schedule, pricing=PRICING, decision_leads=LEADS, budget=20_000, movement=False)
    return time.perf_counter() - began
