"""The one place that reads and writes the provider's timestamps (ISO 8601, ``Z`` for UTC)."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_utc(value: object) -> datetime | None:
    """Aware UTC, or ``None`` for anything that is not an ISO 8601 string; a timestamp without
    an offset is taken as UTC, as the provider writes them."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def require_utc(value: object, what: str) -> datetime:
    parsed = parse_utc(value)
    if parsed is None:
        raise ValueError(f"{what}: not an ISO 8601 timestamp: {value!r}")
    return parsed


def format_utc(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("naive datetime given; use UTC-aware datetimes")
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
