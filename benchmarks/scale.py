"""What following more sports costs (issue 32), measured at 2, 10 and 50 sports: a synthetic
schedule two weeks ahead (six kick-offs a sport a day, at the quarter hours football and the
American leagues use) in a fresh PostgreSQL warehouse, planned by the collection planner and
followed by the odds sensor as the daemon ticks it; the sport × day partitions each ingestion
asset holds and what Dagster spends listing them; the warehouse a season of live snapshots
fills (40 bookmakers, three markets), from the bytes a normalised row takes on PostgreSQL.
Each figure is the 50-sport cost over the 10-sport cost: 5 is linear growth (at 2 sports the
times are hundredths of a second, mostly fixed cost, so the table gives them without a ratio)."""

from __future__ import annotations

import logging
import random
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dagster import DailyPartitionsDefinition, MultiPartitionsDefinition, StaticPartitionsDefinition
from sqlalchemy import func, insert, select, text

from benchmarks import normalize_store, sensor_tick
from betting_assets.collection import planning
from betting_assets.settings import load_settings
from betting_assets.warehouse import plan as plan_store
from betting_assets.warehouse.tables import events, normalized_odds

SIZES = (2, 10, 50)
NOW = datetime(2024, 1, 6, 12, tzinfo=timezone.utc)
KICK_OFFS_PER_DAY = 6
BOOKMAKERS = 40
ROWS_PER_BOOKMAKER = 7
"""h2h (3 outcomes), totals (2), spreads (2)"""
SEASON_DAYS = 280
SAMPLE_ROWS = 200_000
TABLES = ("odds_snapshots", "normalized_odds")


@dataclass
class Size:
    sports: int
    events: int
    partitions: int
    list_partitions_s: float
    plan_s: float
    planned_calls: int
    snapshots_per_event: float
    sensor_s: float
    season_rows: float
    season_gb: dict[str, float]
    price_bytes: dict[str, float]


def sports_of(n: int) -> list[str]:
    return [f"sport_{i:02d}" for i in range(n)]


def seed(engine, sports: list[str], seed_: int = 11) -> int:  # type: ignore[no-untyped-def]
    rng = random.Random(seed_)
    rows = []
    for sport in sports:
        for day in range(14):
            for k in range(KICK_OFFS_PER_DAY):
                commence = (NOW.replace(hour=0, minute=0) + timedelta(days=day + 1, hours=12)
                            + timedelta(minutes=15 * rng.randrange(0, 40)))
                rows.append({"event_id": f"{sport}-{day}-{k}", "sport_key": sport, "sport_title": sport,
                             "commence_time": commence, "home_team": f"h{day}{k}", "away_team": f"a{day}{k}",
                             "status": "scheduled", "completed": False, "first_seen_at": NOW, "updated_at": NOW,
                             "last_odds_at": None})
    with engine.begin() as conn:
        conn.execute(insert(events), rows)
    return len(rows)


def partitions(n: int, history_start: str) -> tuple[int, float]:
    """The keys of one sport × day asset from the history's first day to tomorrow, and the
    seconds Dagster takes to list them (what the UI's partition view and a backfill ask first)."""
    definition = MultiPartitionsDefinition({
        "sport": StaticPartitionsDefinition(sports_of(n)),
        "date": DailyPartitionsDefinition(start_date=history_start, end_offset=1),
    })
    started = time.perf_counter()       # once: Dagster caches the keys of a definition it has listed
    keys = definition.get_partition_keys(current_time=NOW)
    return len(keys), time.perf_counter() - started


def served_snapshots(prices: int) -> list[tuple[datetime, list]]:  # type: ignore[type-arg]
    """Real answers: the sandbox serving the bundled 2023-24 EPL and Bundesliga prices over HTTP,
    asked at noon each day of the season (every market, every region) until ``prices`` came back."""
    from betting_assets.sandbox.server import SandboxServer, SandboxState, load_market
    from betting_assets.settings import SANDBOX_API_KEY
    from betting_assets.sources.odds_api import OddsApiClient

    market = load_market(str(Path(__file__).resolve().parents[1] / "betting_assets" / "data"))
    state = SandboxState(market, api_key=SANDBOX_API_KEY, quota=10_000_000)
    found: list[tuple[datetime, list]] = []  # type: ignore[type-arg]
    count = 0
    moment = market.first_time().replace(hour=12, minute=0, second=0, microsecond=0)
    with SandboxServer(state) as server, OddsApiClient(server.url, SANDBOX_API_KEY) as client:
        while count < prices and moment < market.first_time() + timedelta(days=300):
            state.now = moment
            for sport in ("soccer_epl", "soccer_germany_bundesliga"):
                payload = client.odds(sport, regions=["uk", "eu", "us", "au"], markets=["h2h", "totals", "spreads"]).data
                count += sum(len(m["outcomes"]) for e in payload for b in e["bookmakers"] for m in b["markets"])
                if payload:
                    found.append((moment, payload))
            moment += timedelta(days=1)
    return found


def bytes_per_price(engine) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """What one price costs on PostgreSQL, from real answers written as the collector writes them:
    in the raw answer kept whole (``odds_snapshots``) and as a normalised row (``normalized_odds``),
    each with its indexes."""
    snapshots = served_snapshots(SAMPLE_ROWS)
    normalize_store.project_path(engine, snapshots, normalize_store._insert_snapshot_rows(engine, snapshots))
    with engine.begin() as conn:
        count = float(conn.scalar(select(func.count()).select_from(normalized_odds)))
        return {table: float(conn.scalar(text(f"SELECT pg_total_relation_size('{table}')"))) / count
                for table in TABLES}


def one(n: int, workdir: Path, pg_url: str, price_bytes: dict[str, float]) -> Size:
    sports = sports_of(n)
    database = normalize_store.Database("postgresql", workdir, pg_url)
    try:
        engine = database.engine
        held = seed(engine, sports)
        settings = load_settings(collection={"sports": sports})
        plans = []
        for _ in range(3):
            started = time.perf_counter()
            live = planning.live_plan(engine, settings, NOW, NOW + timedelta(days=15), remaining=10_000_000)
            plans.append(time.perf_counter() - started)
        with engine.begin() as conn:
            calls = plan_store.replace_plan(conn, live.rows(), NOW, sports, NOW, NOW + timedelta(days=15))
        ticks, _ = sensor_tick.tick_times(database.url, {"collection": {"sports": sports}},
                                          NOW + timedelta(days=1, hours=1), 5)
    finally:
        database.close()
    count, listing = partitions(n, settings.collection.history_start)
    per_event = live.plan.snapshots_per_event
    season_events = n * KICK_OFFS_PER_DAY * SEASON_DAYS
    season_rows = season_events * per_event * BOOKMAKERS * ROWS_PER_BOOKMAKER
    return Size(n, held, count, listing, min(plans), calls, per_event, statistics.median(ticks),
                season_rows, {t: season_rows * b / 1e9 for t, b in price_bytes.items()}, price_bytes)


def run(workdir: Path, pg_url: str) -> dict[int, Size]:
    logging.getLogger("dagster").setLevel(logging.WARNING)     # the sensor logs each call it asks for
    database = normalize_store.Database("postgresql", workdir, pg_url)
    try:
        price_bytes = bytes_per_price(database.engine)
    finally:
        database.close()
    return {n: one(n, workdir, pg_url, price_bytes) for n in SIZES}


def report(sizes: dict[int, Size]) -> tuple[list[str], list[str]]:
    """Lines for the log and ``figure`` lines: the growth from the fewest to the most sports."""
    lines = [f"{'sports':>6} {'events':>7} {'partitions/asset':>16} {'list s':>7} {'plan s':>7} {'calls':>7} "
             f"{'snaps/event':>11} {'sensor s':>8} {'season prices':>13} {'raw GB':>8} {'rows GB':>8}"]
    for s in sizes.values():
        lines.append(f"{s.sports:>6} {s.events:>7,} {s.partitions:>16,} {s.list_partitions_s:>7.2f} {s.plan_s:>7.2f} "
                     f"{s.planned_calls:>7,} {s.snapshots_per_event:>11.1f} {s.sensor_s:>8.2f} "
                     f"{s.season_rows:>13,.0f} {s.season_gb['odds_snapshots']:>8.0f} "
                     f"{s.season_gb['normalized_odds']:>8.0f}")
    low, high = sizes[min(sizes)], sizes[max(sizes)]
    # the growth is judged from 10 sports on: at 2, the times are hundredths of a second of fixed cost
    base = sizes[sorted(sizes)[1]] if len(sizes) > 2 else low
    lines.append(f"(a price takes {low.price_bytes['odds_snapshots']:.0f} bytes in the raw answer kept whole and "
                 f"{low.price_bytes['normalized_odds']:.0f} as a normalised row, with their indexes on PostgreSQL; a season is "
                 f"{SEASON_DAYS} days of {KICK_OFFS_PER_DAY} kick-offs a sport, each snapshot {BOOKMAKERS} bookmakers "
                 f"x {ROWS_PER_BOOKMAKER} prices, as often as the plan calls with credits unbounded; the bytes come from the sandbox's answers "
                 "of the bundled season, stored as the collector stores them; the plan's time is the best of 3, the sensor's the median of 5, the listing a first, uncached call)")
    linear = high.sports / base.sports
    figures = [
        f"figure scale_plan_time_{high.sports}_vs_{base.sports}_sports: {high.plan_s / base.plan_s:.1f} x "
        f"(goal <= {linear:.0f})",
        f"figure scale_sensor_tick_{high.sports}_vs_{base.sports}_sports: {high.sensor_s / base.sensor_s:.1f} x "
        f"(goal <= {linear:.0f})",
        f"figure scale_partition_listing_{high.sports}_vs_{base.sports}_sports: "
        f"{high.list_partitions_s / base.list_partitions_s:.1f} x (goal <= {linear:.0f})",
        f"figure scale_sensor_tick_{high.sports}_sports_share_of_limit: {high.sensor_s / 60 * 100:.2f} % (goal <= 1)",
    ]
    return lines, figures


if __name__ == "__main__":
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        found = run(Path(tmp), os.environ.get("BETTING_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"))
    lines, figures = report(found)
    print("\n".join(lines + figures))
