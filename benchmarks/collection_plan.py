"""The collection plan on real schedules, at the product's default markets and regions: the
least credits that capture every decision time and close against fixed 30-minute polling, what
monthly budgets of 20,000 and 100,000 credits buy when the plan is made day by day as the
sensors follow it, and the planner's time for 10,000 upcoming events against the sensor's 60 s
limit."""

from __future__ import annotations

import os
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from betting_assets.domain.collection.collection_plan import CLOSING, DECISION, RESULTS, full_capture, plan_collection
from betting_assets.domain.collection.collection_plan import simulate_collection
from betting_assets.domain.collection.credit_budget import Budget
from betting_assets.domain.collection.quota import simulate_quota
from betting_assets.collection.planning import decision_leads, pricing
from betting_assets.settings import load_settings
from betting_assets.sources.football_data import read_football_data

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "betting_assets" / "data"
SHARED = Path(os.environ.get("BETTING_SHARED_DATA", REPO.parent / "shared" / "data" / "football-data"))
SENSOR_LIMIT_S = 60.0
BUDGETS = (20_000, 100_000)
TIGHT = (1_000, 300)
"""budgets that bind at the default pricing, reported beside the figures"""
SETTINGS = load_settings()
PRICING = pricing(SETTINGS.collection)
LEADS = decision_leads(SETTINGS)


def capture(folder: Path) -> dict[str, float]:
    schedule = read_football_data(folder).events
    fixed = simulate_quota(schedule, markets=len(PRICING.markets[DECISION]), regions=PRICING.units)
    least = full_capture(schedule, pricing=PRICING, decision_leads=LEADS)
    slots = schedule.select("sport_key", "commence_time").unique().height
    found: dict[str, float] = {"events": float(schedule.height), "fixed": float(fixed.fixed_credits),
                               "tiers": float(fixed.tiered_credits), "least": float(least.credits),
                               "calls": float(len(least.calls)), "slots": float(slots),
                               "ratio": fixed.fixed_credits / least.credits}
    roomy = simulate_collection(schedule, pricing=PRICING, decision_leads=LEADS, budget=None)
    found["busiest_month"] = float(max(roomy.spent_by_period.values()))
    for budget in (*BUDGETS, *TIGHT):
        plan = simulate_collection(schedule, pricing=PRICING, decision_leads=LEADS, budget=budget)
        for key in (DECISION, CLOSING, RESULTS):
            found[f"{key}_{budget}"] = plan.share(key)
        found[f"snapshots_{budget}"] = plan.snapshots_per_event
        found[f"spent_{budget}"] = float(plan.credits)
        found[f"month_{budget}"] = float(max(plan.spent_by_period.values()))
    return found


def planner_time(events: int = 10_000, seed: int = 3, repeats: int = 3) -> float:
    """Seconds (best of ``repeats``) to plan, live, every call for 10,000 events kicking off over
    the next 14 days in 5 sports on the quarter hour: decision-time, closing and results calls,
    then tier movement, paced within a 20,000-credit month."""
    rng = random.Random(seed)
    now = datetime(2024, 3, 2, 12, tzinfo=timezone.utc)
    sports = [f"sport_{i}" for i in range(5)]
    schedule = pl.DataFrame({
        "sport_key": [rng.choice(sports) for _ in range(events)],
        "event_id": [f"event_{i}" for i in range(events)],
        "commence_time": [now + timedelta(minutes=15 * rng.randrange(4, 4 * 24 * 14)) for _ in range(events)],
        "last_odds_at": [None] * events,
    }, schema_overrides={"last_odds_at": pl.Datetime("us", "UTC")})
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        plan_collection(schedule, pricing=PRICING, decision_leads=LEADS, now=now,
                        budget=Budget(20_000, 1, {}, paced_from=now))
        best = min(best, time.perf_counter() - began)
    return best
