"""``make bench``: every benchmark, ending with one ``figure`` line per figure."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from benchmarks import (
    backtest_engine,
    collection_plan,
    exchange_placement,
    features_asof,
    normalize_store,
    placement,
    refusals,
    scale,
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
            print(f"{kind}: fetch sensor following the plan of 10,000 upcoming events in 5 sports: median "
                  f"{r['median_s'] * 1000:.0f} ms per tick, {r['requested']:.0f} runs requested", flush=True)
            figures.append(f"figure sensor_tick_share_of_limit_{kind}: {r['share_of_limit'] * 100:.2f} % (goal <= 1)")
    with tempfile.TemporaryDirectory() as tmp:
        lines, scaled = scale.report(scale.run(Path(tmp), pg_url))
    print("the cost at 2, 10 and 50 sports (two weeks ahead, PostgreSQL):", *lines, sep="\n  ", flush=True)
    figures += scaled
    for name, folder in (("bundled", collection_plan.BUNDLED), ("shared", collection_plan.SHARED)):
        if not folder.exists():
            print(f"collection plan on the {name} files: {folder} not found, skipped")
            continue
        c = collection_plan.capture(folder)
        print(f"collection plan on the {name} files ({c['events']:,.0f} events, {collection_plan.PRICING.cost('decision')} "
              f"credits an odds call): every decision time and close for {c['least']:,.0f} credits in "
              f"{c['calls']:,.0f} calls ({c['slots']:,.0f} distinct kick-off slots: about a decision call and a "
              f"closing call per slot is the limit), against {c['fixed']:,.0f} for fixed 30-minute polling and "
              f"{c['tiers']:,.0f} for the tier rules alone; with no budget the busiest month takes "
              f"{c['busiest_month']:,.0f}", flush=True)
        figures.append(f"figure budget_full_capture_vs_fixed_{name}: {c['ratio']:.1f} x (goal >= 10)")
        for budget in (*collection_plan.BUDGETS, *collection_plan.TIGHT):
            print(f"  {budget:,} credits a month, replayed day by day: decision {c[f'decision_{budget}']:.1%}, "
                  f"closing {c[f'closing_{budget}']:.1%}, results {c[f'results_{budget}']:.1%}, "
                  f"{c[f'snapshots_{budget}']:.1f} snapshots per event, {c[f'spent_{budget}']:,.0f} spent "
                  f"(at most {c[f'month_{budget}']:,.0f} in a month)", flush=True)
            for key in ("decision", "closing") if budget in collection_plan.BUDGETS else ():
                figures.append(f"figure budget_{budget}_{key}_share_{name}: {c[f'{key}_{budget}'] * 100:.1f} % "
                               "(goal >= 100)")
    seconds = collection_plan.planner_time()
    print(f"collection plan: every call (decision, closing, results, tier movement) for 10,000 upcoming events "
          f"in 5 sports planned in {seconds:.2f} s", flush=True)
    figures.append(f"figure budget_planner_share_of_sensor_limit: "
                   f"{seconds / collection_plan.SENSOR_LIMIT_S * 100:.2f} % (goal <= 1)")
    r = features_asof.run()
    print(f"features as of the decision time: {r['rows']:,.0f} odds rows for 10,000 events in {r['project_s']:.2f} s; "
          f"event-by-event baseline {r['naive_per_event_s'] * 1000:.1f} ms per event over {r['naive_events']:.0f} "
          "events, identical results", flush=True)
    figures.append(f"figure features_asof_vs_per_event: {r['ratio']:.1f} x (goal >= 50)")
    r = backtest_engine.run()
    print(f"backtest engine, where no control binds: {r['candidates']:,.0f} candidate bets over 10,000 days "
          f"({r['spread_bets']:,.0f} staked) in {r['spread_s']:.3f} s ({r['warm_s']:.2f} s to compile or load the "
          f"loops first), the same bets as the engine before the account came into it (stakes, profits and metrics "
          f"to 1e-9); per-bet Python loop {r['loop_s']:.1f} s ({r['ratio']:.0f}x the engine), the same stakes, "
          "metrics and breakdowns", flush=True)
    print(f"backtest engine with the controls on (risk's default limits), {r['candidates']:,.0f} candidates over "
          f"1,000 days: {r['bets']:,.0f} staked in {r['project_s']:.3f} s (median of 6), the engine before the "
          f"account {r['before_s']:.3f} s on the same candidates; refused by control: "
          + (", ".join(f"{k} {v:,}" for k, v in sorted(r["refused"].items(), key=lambda kv: -kv[1])) or "none"),
          flush=True)
    figures.append(f"figure backtest_engine_vs_today: {r['vs_today']:.2f} x (goal <= 1.5)")
    if refusals.SHARED.is_dir():
        r = refusals.run()
        print(f"the gate on the shared data ({r['events']:,} matches, from {refusals.START:%Y-%m-%d}, risk's default "
              f"limits, paper), candidates refused by control:", flush=True)
        for name, done in [*r["strategies"].items(), ("sharp_value + arbitrage on one account", r["account"])]:
            refused = ", ".join(f"{k} {v:,}" for k, v in sorted(done["refused"].items(), key=lambda kv: -kv[1]))
            print(f"  {name}: {done['bets']:,} bets; refused {refused or 'none'}", flush=True)
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
          f"gate and placeOrders over HTTP to the sandbox's exchange in {r['seconds']:.2f} s", flush=True)
    for phase, what in (("crashing", "fill-or-kill"), ("resting", "resting orders, cancelled after their patience")):
        print(f"  {what}: after {r[f'{phase}_crashes']:.0f} crashes in 20 cycles and a final run: "
              f"{r[f'{phase}_placed']:,.0f} placed, {r[f'{phase}_pending']:.0f} pending, {r[f'{phase}_resting']:.0f} "
              f"resting, {r[f'{phase}_missing']:.0f} slips without a bet, {r[f'{phase}_duplicates']:.0f} with two; at "
              f"the exchange {r[f'{phase}_exchange_duplicates']:.0f} duplicate and {r[f'{phase}_exchange_missing']:.0f} "
              f"missing orders, {r[f'{phase}_cancelled']:,.0f} cancelled, {r[f'{phase}_still_resting']:.0f} still "
              f"resting, {r[f'{phase}_stake_differs']:.0f} whose matched stake differs from the ledger's", flush=True)
        lost = sum(r[f"{phase}_{k}"] for k in ("duplicates", "missing", "exchange_duplicates", "exchange_missing",
                                               "stake_differs", "still_resting", "pending", "resting"))
        name = "exchange_placement" if phase == "crashing" else "exchange_resting"
        figures.append(f"figure {name}_duplicate_or_lost_bets_after_crashes: {lost:.0f} slips (goal == 0)")
    figures.append(f"figure exchange_placement_slips_per_s_postgresql: {r['rate']:.0f} slips/s (goal >= 10)")
    for line in figures:
        print(line)


if __name__ == "__main__":
    main()
