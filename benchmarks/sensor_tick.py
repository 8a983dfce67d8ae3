"""Fetch-sensor evaluation over the collection plan of 10,000 upcoming events in five sports,
against Dagster's 60-second sensor evaluation limit. The plan is made from the warehouse and
stored as the collection_plan asset would; the sensor runs as the daemon would run it: a real
instance, real resources, the plan's due calls, the calls made and the decision."""

from __future__ import annotations

import random
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dagster import DagsterInstance, build_sensor_context
from sqlalchemy import insert

from betting_assets.collection import planning
from betting_assets.defs.collection.sensors import odds_fetch_sensor
from betting_assets.defs.resources import ClockResource, SettingsResource, WarehouseResource, default_resources
from betting_assets.settings import load_settings
from betting_assets.warehouse import migrate
from betting_assets.warehouse import plan as plan_store
from betting_assets.warehouse.engine import make_engine
from betting_assets.warehouse.tables import events

SPORTS = ["soccer_epl", "soccer_germany_bundesliga", "basketball_nba", "icehockey_nhl", "tennis_atp"]
SENSOR_LIMIT_S = 60.0


def seed(url: str, n_events: int, now: datetime) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    rng = random.Random(7)
    rows = []
    for i in range(n_events):
        commence = now + timedelta(minutes=rng.randint(5, 60 * 24 * 14))
        last = None if rng.random() < 0.1 else now - timedelta(minutes=rng.randint(1, 60 * 72))
        rows.append({"event_id": f"e{i:06d}", "sport_key": SPORTS[i % len(SPORTS)], "sport_title": "x",
                     "commence_time": commence, "home_team": f"h{i}", "away_team": f"a{i}",
                     "status": "scheduled", "completed": False, "first_seen_at": now, "updated_at": now,
                     "last_odds_at": last})
    with engine.begin() as conn:
        conn.execute(insert(events), rows)
    engine.dispose()


def run(url: str, n_events: int = 10_000, repeats: int = 7) -> dict[str, float]:
    now = datetime(2024, 1, 6, 12, tzinfo=timezone.utc)
    seed(url, n_events, now)
    settings_values = load_settings(collection={"sports": SPORTS, "credit_budget": 100_000})
    engine = make_engine(url)
    live = planning.live_plan(engine, settings_values, now, now + timedelta(days=15))
    with engine.begin() as conn:
        plan_store.replace_plan(conn, live.rows(), now, SPORTS, now, now + timedelta(days=15))
    engine.dispose()

    times, requested = tick_times(url, {"collection": {"sports": SPORTS, "credit_budget": 100_000}}, now, repeats)
    median = statistics.median(times)
    return {"median_s": median, "share_of_limit": median / SENSOR_LIMIT_S, "requested": requested}


def tick_times(url: str, values: dict[str, object], now: datetime, repeats: int) -> tuple[list[float], int]:
    """``odds_fetch_sensor`` evaluated ``repeats`` times as the daemon would, at ``now``, over the
    warehouse at ``url`` with the settings ``values``: each evaluation's seconds, and the runs the
    last one asked for."""

    class FixedClock(ClockResource):
        def now(self) -> datetime:
            return now

    settings = SettingsResource(values=values)
    resources = default_resources(settings, warehouse=WarehouseResource(settings=settings, database_url=url),
                                  clock=FixedClock(settings=settings, source="system"))
    instance = DagsterInstance.ephemeral()
    times = []
    requested = 0
    for _ in range(repeats):
        with build_sensor_context(instance=instance, resources=resources) as context:
            started = time.perf_counter()
            result = odds_fetch_sensor(context)
            times.append(time.perf_counter() - started)
        requested = len(getattr(result, "run_requests", []) or [])
    return times, requested


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(run(f"sqlite:///{Path(tmp) / 'w.sqlite'}"))
