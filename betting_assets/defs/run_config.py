"""Reading run config and settings values the same way in every folder."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TypeVar

T = TypeVar("T")


def day_start(text: str | None) -> datetime | None:
    """A run-config or settings day (ISO) as UTC midnight; empty means no bound."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc) if text else None


def given(value: T | None, default: T) -> T:
    """A run-config value when the run gives one (``None`` is the only "unset"), else the setting."""
    return default if value is None else value
