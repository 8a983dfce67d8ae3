"""``betting status``: the health of the pipeline at a glance, read from the warehouse and the
registry — what a person checks before trusting today's bets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from betting_assets.domain.collection.credit_budget import period_start
from betting_assets.settings import Settings
from betting_assets.warehouse import health, ledger

QUALITY_WINDOW = timedelta(days=7)
HEALTH_WINDOW = timedelta(days=1)


@dataclass
class StatusReport:
    now: str
    sports: list[dict[str, Any]] = field(default_factory=list)
    credits_remaining: int | None = None
    credits_spent_this_period: int = 0
    credits_unanswered: int = 0
    """of the period's spend, what the provider billed for calls that never got an answer"""
    period_start: str = ""
    credit_budget: int | None = None
    quality: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    odds_rows: int = 0
    database_bytes: int | None = None
    champions: list[dict[str, Any]] = field(default_factory=list)
    open_bets: int = 0
    open_stake: float = 0.0
    bankroll: float = 0.0
    settled_profit: float = 0.0
    account: dict[str, Any] | None = None


def collect(engine: Engine, settings: Settings, now: datetime, with_registry: bool = True) -> StatusReport:
    report = StatusReport(now=now.isoformat())
    period = period_start(now, settings.collection.credit_reset_day)
    report.period_start, report.credit_budget = period.date().isoformat(), settings.collection.credit_budget
    with engine.connect() as conn:
        report.sports = health.fetches_by_sport(conn, settings.collection.sports, now, HEALTH_WINDOW)
        report.credits_remaining, report.credits_spent_this_period = health.credits(conn, now, period)
        report.credits_unanswered = health.unanswered_credits(conn, now, period)
        report.quality = health.quality_findings(conn, now, QUALITY_WINDOW)
        report.events, report.odds_rows, report.database_bytes = health.sizes(engine, conn)
        report.open_bets, report.open_stake = health.open_book(conn)
        report.bankroll = ledger.current_bankroll(conn, settings.bankroll)
        report.settled_profit = report.bankroll - settings.bankroll
        report.account = health.last_account_check(conn)
    if with_registry:
        report.champions = _champions(settings)
    return report


def _champions(settings: Settings) -> list[dict[str, Any]]:
    from betting_assets.modelling.registry import Tracker

    tracker = Tracker(settings.tracking_uri, settings.artifact_root)
    return [{"model": ref.name, "version": ref.version, "out_of_time_from": ref.test_from,
             "log_loss": metrics.get("oot_model_log_loss_priced"), "market_log_loss": metrics.get("oot_market_log_loss"),
             "vs_market": tags.get("betting/vs_market")}
            for ref, metrics, tags in tracker.champions()]


def _short(iso: str | None) -> str | None:
    """``2023-11-26 15:00``: the minute, which is what a reader needs, in 16 characters."""
    return iso[:16].replace("T", " ") if iso else None


def render(report: StatusReport, console: Console) -> None:
    fetches = Table(title=f"pipeline at {report.now[:16]} UTC (times UTC, the product's clock)")
    for column in ("sport", "last fetch", "last success", "24 h", "ok"):
        fetches.add_column(column, no_wrap=column != "sport", overflow="fold")
    for s in report.sports:
        rate = s["success_rate_24h"]
        fetches.add_row(s["sport"], _short(s["last_fetch"]) or "never", _short(s["last_success"]) or "–",
                        str(s["fetches_24h"]),
                        Text(f"{rate:.0%}", style="red" if rate < 0.9 else "green") if rate is not None else "–")
    console.print(fetches)
    unanswered = (f" ({report.credits_unanswered:,} of them billed for calls that got no answer)"
                  if report.credits_unanswered else "")
    console.print(f"credits: {report.credits_remaining if report.credits_remaining is not None else 'unknown'} "
                  f"remaining, {report.credits_spent_this_period:,} spent since {report.period_start}{unanswered} "
                  + (f"(budget {report.credit_budget:,} a period)" if report.credit_budget is not None
                     else "(no BETTING_CREDIT_BUDGET: the provider's remaining is the limit)"))
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
    a = report.account
    if a is not None:
        moved = ("anchor" if a["difference"] is None else
                 f"moved {a['wallet_moved']:+,.2f}, ledger {a['ledger_moved']:+,.2f}, difference {a['difference']:+,.2f}")
        console.print(Text(f"{a['venue']} account at {a['checked_at'][:16]}: {a['wallet']:,.2f} ({moved}); "
                           f"{a['off']} of {a['checks']} checks disagreed with the ledger",
                           style="red" if a["off"] else "green"))

