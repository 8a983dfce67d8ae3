"""``make bench``: every benchmark, ending with one ``figure`` line per figure."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from benchmarks import (
    backtest_engine,
    collection_budget,
    exchange_placement,
    features_asof,
    normalize_store,
    placement,
    sensor_tick,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-rows", type=int, default=20_000)
    args = parser.parse_args()
    pg_url = os.environ.get("BETTING_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    figures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            r = normalize_store.run(kind, args.rows, args.naive_rows, Path(tmp), pg_url)
            print(f"{kind}: project {r['project_rows']:,.0f} rows at {r['project_rate']:,.0f} rows/s; "
                  f"naive ORM {r['naive_rows']:,.0f} rows at {r['naive_rate']:,.0f} rows/s"
                  + (f"; raw COPY at {r['copy_rate']:,.0f} rows/s" if "copy_rate" in r else ""), flush=True)
            figures.append(f"figure normalize_store_vs_orm_{kind}: {r['project_rate'] / r['naive_rate']:.1f} x "
                           "(goal >= 20)")
            if "copy_rate" in r:
                figures.append(f"figure normalize_store_vs_copy_postgresql: {r['project_rate'] / r['copy_rate']:.2f} x "
                               "(goal >= 0.5)")
        for kind in ("sqlite", "postgresql"):
            database = normalize_store.Database(kind, Path(tmp), pg_url)
            try:
                r = sensor_tick.run(database.url)
            finally:
                database.close()
            print(f"{kind}: fetch sensor over 10,000 upcoming events in 5 sports: median {r['median_s'] * 1000:.0f} ms "
                  f"per tick, {r['requested']:.0f} runs requested", flush=True)
            figures.append(f"figure sensor_tick_share_of_limit_{kind}: {r['share_of_limit'] * 100:.2f} % (goal <= 1)")
    from datetime import timedelta

    from betting_assets.domain.quota import simulate_quota
    from betting_assets.sources.football_data import read_football_data

    bundled = Path(__file__).resolve().parents[1] / "betting_assets" / "data"
    report = simulate_quota(read_football_data(bundled).events, markets=3, regions=1, lead=timedelta(days=14))
    print(f"quota over EPL and Bundesliga 2023-24: tiered {report.tiered_credits:,} credits, fixed 30-minute "
          f"polling {report.fixed_credits:,}; closing captured for {report.closing_share:.1%}")
    figures.append(f"figure quota_tiered_vs_fixed: {report.ratio:.1f} x (goal >= 10)")
    figures.append(f"figure quota_closing_captured: {report.closing_share * 100:.1f} % (goal >= 100)")
    for name, folder in (("bundled", collection_budget.BUNDLED), ("shared", collection_budget.SHARED)):
        if not folder.exists():
            print(f"budget planner on the {name} files: {folder} not found, skipped")
            continue
        c = collection_budget.capture(folder)
        print(f"budget planner on the {name} files ({c['events']:,.0f} events): every decision time and close for "
              f"{c['least']:,.0f} credits against {c['fixed']:,.0f} for fixed 30-minute polling; 20,000 a month: "
              f"decision {c['decision_20000']:.1%}, closing {c['closing_20000']:.1%}, "
              f"{c['snapshots_20000']:.1f} snapshots per event ({c['spent_20000']:,.0f} spent); 100,000 a month: "
              f"decision {c['decision_100000']:.1%}, closing {c['closing_100000']:.1%}, "
              f"{c['snapshots_100000']:.1f} snapshots per event ({c['spent_100000']:,.0f} spent)", flush=True)
        figures.append(f"figure budget_full_capture_vs_fixed_{name}: {c['ratio']:.1f} x (goal >= 10)")
    seconds = collection_budget.planner_time()
    print(f"budget planner: decision-time and closing calls for 10,000 upcoming events in 5 sports planned in "
          f"{seconds:.2f} s (movement snapshots not included: they replay the tier rules, far slower)", flush=True)
    figures.append(f"figure budget_planner_priorities_share_of_sensor_limit: "
                   f"{seconds / collection_budget.SENSOR_LIMIT_S * 100:.2f} % (goal <= 1)")
    r = features_asof.run()
    print(f"features as of the decision time: {r['rows']:,.0f} odds rows for 10,000 events in {r['project_s']:.2f} s; "
          f"event-by-event baseline {r['naive_per_event_s'] * 1000:.1f} ms per event over {r['naive_events']:.0f} "
          "events, identical results", flush=True)
    figures.append(f"figure features_asof_vs_per_event: {r['ratio']:.1f} x (goal >= 50)")
    r = backtest_engine.run()
    print(f"backtest engine: {r['candidates']:,.0f} candidate bets ({r['bets']:,.0f} staked) in {r['project_s']:.3f} s "
          f"(median of 6; {r['warm_s']:.2f} s to compile or load its loops first); the engine before its rewrite "
          f"{r['before_s']:.3f} s, identical ledger and metrics; per-bet Python loop {r['loop_s']:.1f} s "
          f"({r['ratio']:.0f}x the engine), identical stakes, metrics and breakdowns", flush=True)
    figures.append(f"figure backtest_engine_vs_before: {r['vs_before']:.2f} x (goal <= 1.5)")
    with tempfile.TemporaryDirectory() as tmp:
        r = placement.run(pg_url, Path(tmp))
    print(f"placement on PostgreSQL: {r['slips']:,.0f} slips through re-check, gate, paper broker and ledger in "
          f"{r['seconds']:.2f} s; after {r['crashes']:.0f} crashes in 20 cycles and a final run: {r['placed']:,.0f} "
          f"placed, {r['pending']:.0f} pending, {r['missing']:.0f} slips without a bet", flush=True)
    figures.append(f"figure placement_duplicate_or_lost_bets_after_crashes: {r['duplicates'] + r['missing']:.0f} "
                   "slips (goal == 0)")
    figures.append(f"figure placement_slips_per_s_postgresql: {r['rate']:.0f} slips/s (goal >= 10)")
    with tempfile.TemporaryDirectory() as tmp:
        r = exchange_placement.run(pg_url, Path(tmp))
    print(f"exchange placement on PostgreSQL: {r['slips']:,.0f} slips through the mapping, the live books, re-check, "
          f"gate and placeOrders over HTTP to the sandbox's exchange in {r['seconds']:.2f} s; after {r['crashes']:.0f} "
          f"crashes in 20 cycles and a final run: {r['placed']:,.0f} placed, {r['pending']:.0f} pending, "
          f"{r['missing']:.0f} slips without a bet; at the exchange {r['exchange_duplicates']:.0f} duplicate and "
          f"{r['exchange_missing']:.0f} missing orders", flush=True)
    lost = r["duplicates"] + r["missing"] + r["exchange_duplicates"] + r["exchange_missing"]
    figures.append(f"figure exchange_placement_duplicate_or_lost_bets_after_crashes: {lost:.0f} slips (goal == 0)")
    figures.append(f"figure exchange_placement_slips_per_s_postgresql: {r['rate']:.0f} slips/s (goal >= 10)")
    for line in figures:
        print(line)


if __name__ == "__main__":
    main()
