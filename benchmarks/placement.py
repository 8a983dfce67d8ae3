"""1,000 slips through the price re-check, the risk gate, the paper venue and the two-phase
ledger on PostgreSQL: throughput on a clean pass, then 20 crash-and-rerun cycles (a crash at a
random bet, either after its ledger row is committed and before the venue is called, or after
the broker answered and before the ledger heard) and a count of duplicates and losses."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, func, select

from benchmarks.normalize_store import Database
from betting_assets.domain.betting.decisions import SLIP_COLUMNS
from betting_assets.orders import service
from betting_assets.venues.base import Fill, OrderRequest
from betting_assets.venues.paper import PaperVenue
from betting_assets.settings import Settings
from betting_assets.warehouse import writes
from betting_assets.warehouse.tables import bets, events, normalized_odds, odds_snapshots

NOW = datetime(2024, 3, 2, 12, 0, tzinfo=timezone.utc)
SETTINGS = Settings(bankroll=1_000_000.0, risk_max_bets_per_minute=1_000_000, max_stake=50.0)


class Crash(Exception):
    pass


class CrashingPaper(PaperVenue):
    """Dies at its ``at``-th order: before the fill, or after it but before the ledger records it."""

    def __init__(self, at: int, after_fill: bool) -> None:
        self.left, self.after_fill = at, after_fill

    def place(self, order: OrderRequest) -> Fill:
        if self.left == 0:
            if self.after_fill:
                super().place(order)
            raise Crash(order.customer_ref)
        self.left -= 1
        return super().place(order)


def seed(engine: Engine, n: int) -> None:
    """``n`` events an hour from now, each quoted by one bookmaker, and one slip per event."""
    kick_off = NOW + timedelta(hours=1)
    ids = [f"bench-{i:05d}" for i in range(n)]
    with engine.begin() as conn:
        snapshot = conn.execute(odds_snapshots.insert().returning(odds_snapshots.c.snapshot_id).values(
            sport_key="soccer_epl", source="bench", as_of=NOW - timedelta(minutes=5), fetched_at=NOW,
            odds_format="decimal", event_count=n, payload_sha256="bench", payload={"data": []})).scalar_one()
        conn.execute(events.insert(), [{"event_id": e, "sport_key": "soccer_epl", "commence_time": kick_off,
                                        "home_team": f"{e} H", "away_team": f"{e} A", "first_seen_at": NOW,
                                        "updated_at": NOW} for e in ids])
        conn.execute(normalized_odds.insert(), [{
            "event_id": e, "bookmaker": "bet365", "market": "h2h", "outcome": f"{e} H", "point": 0.0,
            "snapshot_time": NOW - timedelta(minutes=5), "snapshot_id": snapshot, "sport_key": "soccer_epl",
            "commence_time": kick_off, "side": "home", "price_decimal": 2.0, "implied_prob": 0.5,
            "is_valid": True} for e in ids])
        slips = pl.DataFrame({
            "idempotency_key": [f"{e}|h2h|home|0|bench@1" for e in ids], "strategy": "bench", "event_id": ids, "sport_key": "soccer_epl",
            "commence_time": kick_off, "decision_time": NOW, "home_team": [f"{e} H" for e in ids],
            "away_team": [f"{e} A" for e in ids], "market": "h2h", "side": "home", "point": 0.0, "bookmaker": "bet365",
            "price": 2.0, "price_time": NOW - timedelta(minutes=5), "prob": 0.55, "model_name": "bench", "model_version": "1",
            "model_prob": 0.55, "fair_prob": 0.5, "edge": 0.1, "kelly": 0.1, "stake": 10.0, "bankroll": 1_000_000.0,
            "rationale": "benchmark", "quoted_price": 2.0, "market_version": None, "available_size": None, "group_key": ids,
            "equity": 1_000_000.0}, schema_overrides={"market_version": pl.Int64, "available_size": pl.Float64}).select(SLIP_COLUMNS)
        writes.propose_slips(conn, slips, created_at=NOW)


def run(pg_url: str, workdir: Path, slips: int = 1_000, cycles: int = 20, seed_value: int = 7) -> dict[str, float]:
    rng = random.Random(seed_value)
    clean = Database("postgresql", workdir, pg_url)
    try:
        seed(clean.engine, slips)
        began = time.perf_counter()
        outcome = service.run_placement(clean.engine, PaperVenue(), SETTINGS, NOW)
        seconds = time.perf_counter() - began
        assert outcome.counts.get("placed") == slips, outcome.counts
    finally:
        clean.close()
    crashing = Database("postgresql", workdir, pg_url)
    crashes = 0
    try:
        seed(crashing.engine, slips)
        for _ in range(cycles):
            try:
                service.run_placement(crashing.engine, CrashingPaper(rng.randrange(0, 2 * slips // cycles),
                                                                     rng.random() < 0.5), SETTINGS, NOW)
            except Crash:
                crashes += 1
        service.run_placement(crashing.engine, PaperVenue(), SETTINGS, NOW)
        with crashing.engine.connect() as conn:
            per_slip = conn.execute(select(bets.c.idempotency_key, func.count()).group_by(bets.c.idempotency_key)).all()
            statuses = dict(conn.execute(select(bets.c.status, func.count()).group_by(bets.c.status)).all())
    finally:
        crashing.close()
    return {"slips": float(slips), "seconds": seconds, "rate": slips / seconds, "crashes": float(crashes),
            "duplicates": float(sum(n - 1 for _, n in per_slip)), "missing": float(slips - len(per_slip)),
            "placed": float(statuses.get("placed", 0)), "pending": float(statuses.get("pending", 0))}
