"""``betting status``: the health of the pipeline at a glance, read from the warehouse and the
registry — what a person checks before trusting today's bets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, case, func, select

from betting_assets.settings import Settings
from betting_assets.warehouse import ledger
from betting_assets.warehouse.tables import bets, data_quality_log, events, fetch_log, normalized_odds

QUALITY_WINDOW = timedelta(days=7)
HEALTH_WINDOW = timedelta(days=1)


@dataclass
class StatusReport:
    now: str
    sports: list[dict[str, Any]] = field(default_factory=list)
    credits_remaining: int | None = None
    credits_spent_this_month: int = 0
    quality: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    odds_rows: int = 0
    database_bytes: int | None = None
    champions: list[dict[str, Any]] = field(default_factory=list)
    open_bets: int = 0
    open_stake: float = 0.0
    bankroll: float = 0.0
    settled_profit: float = 0.0


def collect(engine: Engine, settings: Settings, now: datetime, with_registry: bool = True) -> StatusReport:
    report = StatusReport(now=now.isoformat())
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with engine.connect() as conn:
        rows = conn.execute(
            select(fetch_log.c.sport_key, func.max(fetch_log.c.requested_at),
                   func.max(case((fetch_log.c.ok, fetch_log.c.requested_at))),
                   func.count(), func.sum(case((fetch_log.c.ok, 1), else_=0)))
            .where(fetch_log.c.sport_key.is_not(None), fetch_log.c.requested_at >= now - HEALTH_WINDOW,
                   fetch_log.c.requested_at <= now)
            .group_by(fetch_log.c.sport_key)).all()
        seen = {r[0]: r for r in rows}
        for sport in settings.sports:
            last_any = conn.scalar(select(func.max(fetch_log.c.requested_at))
                                   .where(fetch_log.c.sport_key == sport, fetch_log.c.requested_at <= now))
            row = seen.get(sport)
            report.sports.append({
                "sport": sport, "last_fetch": last_any.isoformat() if last_any else None,
                "last_success": row[2].isoformat() if row and row[2] else None,
                "fetches_24h": row[3] if row else 0, "success_rate_24h": (row[4] / row[3]) if row and row[3] else None})
        last = conn.execute(select(fetch_log.c.requests_remaining)
                            .where(fetch_log.c.requests_remaining.is_not(None), fetch_log.c.requested_at <= now)
                            .order_by(fetch_log.c.requested_at.desc(), fetch_log.c.fetch_id.desc())
                            .limit(1)).scalar_one_or_none()
        report.credits_remaining = last
        report.credits_spent_this_month = int(conn.scalar(
            select(func.coalesce(func.sum(fetch_log.c.requests_last), 0))
            .where(fetch_log.c.requested_at >= month, fetch_log.c.requested_at <= now)) or 0)
        report.quality = [{"check": c, "severity": s, "findings": n, "last": t.isoformat()} for c, s, n, t in conn.execute(
            select(data_quality_log.c.check_name, data_quality_log.c.severity, func.count(),
                   func.max(data_quality_log.c.recorded_at))
            .where(data_quality_log.c.recorded_at >= now - QUALITY_WINDOW, data_quality_log.c.recorded_at <= now)
            .group_by(data_quality_log.c.check_name, data_quality_log.c.severity)
            .order_by(func.count().desc())).all()]
        report.events = conn.scalar(select(func.count()).select_from(events)) or 0
        report.odds_rows = conn.scalar(select(func.count()).select_from(normalized_odds)) or 0
        report.database_bytes = _database_bytes(engine, conn)
        open_rows = conn.execute(select(func.count(), func.coalesce(func.sum(bets.c.stake), 0.0))
                                 .where(bets.c.status.in_(["pending", "placed"]))).one()
        report.open_bets, report.open_stake = int(open_rows[0]), float(open_rows[1])
        report.bankroll = ledger.current_bankroll(conn, settings.bankroll)
        report.settled_profit = report.bankroll - settings.bankroll
    if with_registry:
        report.champions = _champions(settings)
    return report


def _database_bytes(engine: Engine, conn: Any) -> int | None:
    if engine.dialect.name == "postgresql":
        return int(conn.scalar(select(func.pg_database_size(func.current_database()))))
    path = engine.url.database
    return os.path.getsize(path) if path and os.path.exists(path) else None


def _champions(settings: Settings) -> list[dict[str, Any]]:
    from betting_assets.modelling.registry import Tracker

    tracker = Tracker(settings.tracking_uri, settings.artifact_root)
    return [{"model": ref.name, "version": ref.version, "out_of_time_from": ref.test_from,
             "log_loss": metrics.get("oot_model_log_loss_priced"), "market_log_loss": metrics.get("oot_market_log_loss"),
             "vs_market": tags.get("betting/vs_market")}
            for ref, metrics, tags in tracker.champions()]


def render(report: StatusReport, console: Console) -> None:
    fetches = Table(title=f"pipeline at {report.now[:16]} UTC")
    for column in ("sport", "last fetch", "last success", "fetches 24 h", "success 24 h"):
        fetches.add_column(column)
    for s in report.sports:
        rate = s["success_rate_24h"]
        fetches.add_row(s["sport"], (s["last_fetch"] or "never")[:16], (s["last_success"] or "–")[:16],
                        str(s["fetches_24h"]),
                        Text(f"{rate:.0%}", style="red" if rate < 0.9 else "green") if rate is not None else "–")
    console.print(fetches)
    console.print(f"credits: {report.credits_remaining if report.credits_remaining is not None else 'unknown'} "
                  f"remaining, {report.credits_spent_this_month:,} spent this month")
    quality = Table(title="data quality, last 7 days")
    for column in ("check", "severity", "findings", "last"):
        quality.add_column(column)
    for q in report.quality:
        quality.add_row(q["check"], Text(q["severity"], style="red" if q["severity"] == "error" else "yellow"),
                        f"{q['findings']:,}", q["last"][:16])
    if not report.quality:
        quality.add_row("no findings", "", "", "")
    console.print(quality)
    size = f"{report.database_bytes / 1e6:,.1f} MB" if report.database_bytes is not None else "unknown"
    console.print(f"storage: {report.events:,} events, {report.odds_rows:,} odds rows, database {size}")
    models = Table(title="champion models")
    for column in ("model", "version", "out of time from", "log loss", "market"):
        models.add_column(column)
    for m in report.champions:
        models.add_row(m["model"], m["version"], (m["out_of_time_from"] or "")[:10],
                       f"{m['log_loss']:.4f}" if m["log_loss"] is not None else "–",
                       f"{m['market_log_loss']:.4f}" if m["market_log_loss"] is not None else "–")
    if not report.champions:
        models.add_row("no champion yet", "", "", "", "")
    console.print(models)
    for m in report.champions:
        if m.get("vs_market"):
            console.print(f"  {m['model']} v{m['version']}: {m['vs_market']}", soft_wrap=True)
    console.print(f"bets: {report.open_bets} open ({report.open_stake:,.2f} staked); bankroll "
                  f"{report.bankroll:,.2f} ({report.settled_profit:+,.2f} settled)")

