"""The warehouse's own account of the pipeline's health, as ``betting status`` shows it: fetches
per sport, credits, data-quality findings, sizes and the open book."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Engine, case, func, select

from betting_assets.warehouse.tables import account_checks, bets, data_quality_log, events, fetch_log, normalized_odds
from betting_assets.domain.orders.states import OPEN_BETS, BetStatus


def fetches_by_sport(conn: Connection, sports: list[str], now: datetime, window: timedelta) -> list[dict[str, Any]]:
    """Per sport: the last fetch ever (up to ``now``), and over ``window`` the last success,
    the number of fetches and the share that succeeded (None without any). Times are the product's
    clock the call was made at (the sandbox's in a demo or a replay), the machine's where none was
    kept."""
    at = func.coalesce(fetch_log.c.clock_at, fetch_log.c.requested_at)
    rows = conn.execute(
        select(fetch_log.c.sport_key, func.max(at), func.max(case((fetch_log.c.ok, at))),
               func.count(), func.sum(case((fetch_log.c.ok, 1), else_=0)))
        .where(fetch_log.c.sport_key.is_not(None), at >= now - window, at <= now)
        .group_by(fetch_log.c.sport_key)).all()
    seen = {r[0]: r for r in rows}
    out = []
    for sport in sports:
        last_any = conn.scalar(select(func.max(at)).where(fetch_log.c.sport_key == sport, at <= now))
        row = seen.get(sport)
        out.append({"sport": sport, "last_fetch": _iso(last_any),
                    "last_success": _iso(row[2]) if row else None,
                    "fetches_24h": row[3] if row else 0,
                    "success_rate_24h": (row[4] / row[3]) if row and row[3] else None})
    return out


def _iso(value: Any) -> str | None:
    """A time from an aggregate, which SQLite hands back as text."""
    if value is None:
        return None
    if isinstance(value, str):
        from betting_assets.domain.timeutil import parse_utc

        parsed = parse_utc(value)
        return parsed.isoformat() if parsed is not None else value
    return value.isoformat() if value.tzinfo else value.replace(tzinfo=timezone.utc).isoformat()


def credits(conn: Connection, now: datetime, since: datetime) -> tuple[int | None, int]:
    """The provider's last ``x-requests-remaining`` up to ``now``, and the credits spent since
    ``since``, on the product's clock (the sandbox's replayed time in a demo)."""
    remaining = conn.execute(select(fetch_log.c.requests_remaining)
                             .where(fetch_log.c.requests_remaining.is_not(None), fetch_log.c.clock_at <= now)
                             .order_by(fetch_log.c.clock_at.desc(), fetch_log.c.fetch_id.desc()).limit(1)).scalar_one_or_none()
    spent = int(conn.scalar(select(func.coalesce(func.sum(billed()), 0))
                            .where(fetch_log.c.clock_at >= since, fetch_log.c.clock_at <= now)) or 0)
    return remaining, spent


def billed() -> Any:
    """What a logged attempt cost: what the provider's counter rose by at its answer (which
    counts a charged call that got no answer), else its own ``x-requests-last``."""
    return func.coalesce(fetch_log.c.requests_billed, fetch_log.c.requests_last, 0)


def unanswered_credits(conn: Connection, now: datetime, since: datetime) -> int:
    """Credits the provider's counter shows it billed for calls that never got an answer."""
    gap = fetch_log.c.requests_billed - func.coalesce(fetch_log.c.requests_last, 0)
    return int(conn.scalar(select(func.coalesce(func.sum(gap), 0)).where(
        fetch_log.c.requests_billed.is_not(None), gap > 0, fetch_log.c.clock_at >= since,
        fetch_log.c.clock_at <= now)) or 0)


def quality_findings(conn: Connection, now: datetime, window: timedelta) -> list[dict[str, Any]]:
    """Findings of the last ``window`` by check and severity, the most frequent first."""
    return [{"check": c, "severity": s, "findings": n, "last": t.isoformat()} for c, s, n, t in conn.execute(
        select(data_quality_log.c.check_name, data_quality_log.c.severity, func.count(),
               func.max(data_quality_log.c.recorded_at))
        .where(data_quality_log.c.recorded_at >= now - window, data_quality_log.c.recorded_at <= now)
        .group_by(data_quality_log.c.check_name, data_quality_log.c.severity)
        .order_by(func.count().desc())).all()]


def sizes(engine: Engine, conn: Connection) -> tuple[int, int, int | None]:
    """Events, odds rows, and the database's size in bytes (None when it cannot be read)."""
    held = (conn.scalar(select(func.count()).select_from(events)) or 0,
            conn.scalar(select(func.count()).select_from(normalized_odds)) or 0)
    if engine.dialect.name == "postgresql":
        return *held, int(conn.scalar(select(func.pg_database_size(func.current_database()))))
    path = engine.url.database
    return *held, (os.path.getsize(path) if path and os.path.exists(path) else None)


def open_book(conn: Connection) -> tuple[int, float]:
    """Bets pending, resting or placed, and their stakes at risk (a resting bet's whole stake)."""
    at_risk = case((bets.c.status == BetStatus.RESTING, bets.c.requested_stake), else_=bets.c.stake)
    count, staked = conn.execute(select(func.count(), func.coalesce(func.sum(at_risk), 0.0))
                                 .where(bets.c.status.in_(sorted(OPEN_BETS)))).one()
    return int(count), float(staked)


def last_account_check(conn: Connection) -> dict[str, Any] | None:
    """The venue account's last reconciliation with the ledger, and how many of all disagreed."""
    row = conn.execute(select(account_checks).order_by(account_checks.c.check_id.desc()).limit(1)).mappings().first()
    if row is None:
        return None
    off = conn.execute(select(func.count()).where(func.abs(account_checks.c.difference) >= 0.005)).scalar_one()
    checks = conn.execute(select(func.count()).select_from(account_checks)).scalar_one()
    return {**dict(row), "checked_at": row["checked_at"].isoformat(), "checks": int(checks), "off": int(off)}


def unanswered_pending(conn: Connection) -> int:
    """What the calls since the provider's last answered counter could have cost (a timeout, a
    dropped connection): the provider may have billed them, and only its next answer will say,
    so the budget holds them until then."""
    last = conn.execute(select(fetch_log.c.fetch_id).where(fetch_log.c.requests_used.is_not(None))
                        .order_by(fetch_log.c.fetch_id.desc()).limit(1)).scalar_one_or_none()
    since = [fetch_log.c.fetch_id > last] if last is not None else []
    return int(conn.scalar(select(func.coalesce(func.sum(fetch_log.c.requests_expected), 0)).where(
        fetch_log.c.status_code.is_(None), *since)) or 0)
