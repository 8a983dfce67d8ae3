"""The provider's clock: against the sandbox, the time sensors, live fetches and the CLI act on
is the sandbox's own, so a test or the demo moves time by moving the sandbox."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import httpx

from betting_assets import tls
from betting_assets.domain.timeutil import parse_utc


class ProviderUnreachable(RuntimeError):
    """The provider (or its clock) did not answer: a sensor skips saying so instead of failing."""


def provider_now(base_url: str) -> datetime:
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/sandbox/clock", timeout=5.0, verify=tls.context())
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ProviderUnreachable(
            f"the provider clock at {base_url} is unreachable ({type(exc).__name__}): start the sandbox "
            "(make dev, or betting sandbox serve) or set BETTING_CLOCK=system for the real time") from exc
    now = parse_utc(response.json().get("now"))
    if now is None:
        raise ValueError(f"the provider clock at {base_url} answered without a readable time")
    return now


def product_now(settings: Any) -> tuple[datetime, bool]:
    """The product's time and whether it came from the provider's clock: the sandbox's when it is
    the provider (``BETTING_CLOCK``), the system's otherwise, and when the provider's clock cannot
    be read."""
    if not settings.uses_provider_clock:
        return datetime.now(timezone.utc), False
    try:
        return provider_now(settings.collection.odds_api_base_url), True
    except (ProviderUnreachable, ValueError):
        return datetime.now(timezone.utc), False
