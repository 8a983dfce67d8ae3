"""Integrity under provider faults, not speed: three days of EPL history collected through the
Dagster assets while the sandbox injects one fault, then re-run clean, compared key for key
with a run that met no fault. Per fault and database: normalised rows and results lost or
corrupted, keys duplicated, and credits the fetch log counts against what the sandbox charged.

``python -m benchmarks.fault_matrix`` prints the table and one figure line per database.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from dagster import DagsterInstance, materialize
from sqlalchemy import Engine, func, select

from benchmarks.normalize_store import Database
from betting_assets.defs.collection.assets import normalized_odds, odds_snapshots, scores
from betting_assets.defs.resources import ClockResource, OddsApiResource, SettingsResource, WarehouseResource, default_resources
from betting_assets.sandbox.server import SandboxServer, SandboxState, load_market
from betting_assets.warehouse.tables import events, fetch_log
from betting_assets.warehouse.tables import normalized_odds as normalized_table

BUNDLED = Path(__file__).resolve().parents[1] / "betting_assets" / "data"
DAYS = ["soccer_epl|2023-08-11", "soccer_epl|2023-08-12", "soccer_epl|2023-08-13"]
CLOCK = "2023-08-20T00:00:00Z"
FAULTS: dict[str, dict[str, Any]] = {
    "none": {},
    "503 on 20% of calls": {"error_rates": {"503": 0.2}, "seed": 5},
    "bursts of 429": {"burst_429": 3, "seed": 5},
    "malformed body on 20%": {"malformed_rate": 0.2, "seed": 5},
    "partial body on 20%": {"partial_rate": 0.2, "seed": 5},
    "500 then 503 on every call for a while": {"fail_next": [500, 503] * 6, "seed": 5},
}


def _control(server: SandboxServer, path: str, doc: dict[str, Any]) -> None:
    httpx.post(f"{server.url}/sandbox/{path}", json=doc, headers={"x-api-key": "bench"}).raise_for_status()


def _collect(server: SandboxServer, url: str) -> bool:
    settings = SettingsResource(values={"collection": {"results_data": str(BUNDLED)}})
    resources = default_resources(settings, warehouse=WarehouseResource(settings=settings, database_url=url),
                                  odds_api=OddsApiResource(settings=settings, base_url=server.url, api_key="bench"),
                                  clock=ClockResource(settings=settings, source="provider", base_url=server.url))
    ok = True
    for key in DAYS:
        done = materialize([odds_snapshots, normalized_odds, scores], resources=resources, partition_key=key,
                           instance=DagsterInstance.ephemeral(), raise_on_error=False)
        ok = ok and done.success
    return ok


def _state(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(normalized_table.c.event_id, normalized_table.c.bookmaker, normalized_table.c.market,
                                   normalized_table.c.outcome, normalized_table.c.point,
                                   normalized_table.c.snapshot_time, normalized_table.c.price_decimal,
                                   normalized_table.c.is_valid)).all()
        results = conn.execute(select(events.c.event_id, events.c.home_score, events.c.away_score)
                               .where(events.c.status == "final")).all()
        logged = conn.scalar(select(func.coalesce(func.sum(fetch_log.c.requests_last), 0))) or 0
    return {"rows": {tuple(r[:6]): tuple(r[6:]) for r in rows}, "count": len(rows),
            "results": {r[0]: (r[1], r[2]) for r in results}, "logged_credits": int(logged)}


def run(kind: str, workdir: Path, pg_url: str) -> list[dict[str, Any]]:
    market = load_market(str(BUNDLED / "E0_2324.csv"))
    lines: list[dict[str, Any]] = []
    reference: dict[str, Any] | None = None
    for name, faults in FAULTS.items():
        database = Database(kind, workdir, pg_url)
        state = SandboxState(market, api_key="bench", now=datetime(2023, 8, 20, tzinfo=timezone.utc))
        try:
            with SandboxServer(state) as server:
                _control(server, "faults", faults)
                first_ok = _collect(server, database.url)
                after_fault = _state(database.engine)
                _control(server, "faults", {})
                clean_ok = _collect(server, database.url)
                final = _state(database.engine)
                charged = state.used
        finally:
            database.close()
        if reference is None:
            reference = final
        lost = set(reference["rows"]) - set(final["rows"])
        corrupted = sum(final["rows"][k] != v for k, v in reference["rows"].items() if k in final["rows"])
        results_lost = set(reference["results"]) - set(final["results"])
        results_wrong = sum(final["results"][k] != v for k, v in reference["results"].items() if k in final["results"])
        lines.append({
            "kind": kind, "fault": name, "first_run_ok": first_ok, "rows_short_after_fault":
                len(set(reference["rows"]) - set(after_fault["rows"])), "clean_rerun_ok": clean_ok,
            "rows_lost": len(lost), "rows_corrupted": corrupted, "rows_duplicated": final["count"] - len(final["rows"]),
            "results_lost": len(results_lost), "results_wrong": results_wrong,
            "credits_charged": charged, "credits_logged": final["logged_credits"],
            "credits_miscounted": charged - final["logged_credits"], "reference_rows": len(reference["rows"]),
            "reference_results": len(reference["results"]),
        })
    return lines


def main() -> None:
    pg_url = os.environ.get("BETTING_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    lines: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            lines.extend(run(kind, Path(tmp), pg_url))
    print("| database | fault | faulty run | rows short after it | clean re-run | rows lost | corrupted | "
          "duplicated | results lost | results wrong | credits charged | logged | miscounted |")
    print("| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in lines:
        print(f"| {r['kind']} | {r['fault']} | {'success' if r['first_run_ok'] else 'failed'} | "
              f"{r['rows_short_after_fault']} of {r['reference_rows']} | {'success' if r['clean_rerun_ok'] else 'failed'} "
              f"| {r['rows_lost']} | {r['rows_corrupted']} | {r['rows_duplicated']} | {r['results_lost']} of "
              f"{r['reference_results']} | {r['results_wrong']} | {r['credits_charged']} | {r['credits_logged']} | "
              f"{r['credits_miscounted']} |")
    for kind in ("sqlite", "postgresql"):
        mine = [r for r in lines if r["kind"] == kind]
        bad = sum(r["rows_lost"] + r["rows_corrupted"] + r["rows_duplicated"] + r["results_lost"] + r["results_wrong"]
                  + abs(r["credits_miscounted"]) for r in mine)
        print(f"figure fault_matrix_defects_{kind}: {bad} rows, results or credits (goal == 0)")


if __name__ == "__main__":
    main()
