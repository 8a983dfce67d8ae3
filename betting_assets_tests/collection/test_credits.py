"""Credits exactly as the provider bills them, on both databases over real HTTP: a call that
timed out after the provider charged it is counted at the next answer's ``x-requests-used``
(and shown as unanswered), and the budget is held before every attempt, retries included,
counting a call still without an answer as spent until the provider says otherwise."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import Engine, func, select

from betting_assets.collection.collector import Collector
from betting_assets.domain.collection.credit_budget import period_start
from betting_assets.sandbox.server import SandboxServer
from betting_assets.sources.errors import CreditBudgetError, OddsApiError
from betting_assets.sources.odds_api import OddsApiClient
from betting_assets.warehouse import health
from betting_assets.warehouse.tables import fetch_log

NOW = "2023-08-12T12:00:00Z"
COST = 6
"""three markets in two regions"""


def _set(server: SandboxServer, path: str, doc: dict) -> None:  # type: ignore[type-arg]
    httpx.post(f"{server.url}/sandbox/{path}", json=doc, headers={"x-api-key": "test-key"}).raise_for_status()


def _used(server: SandboxServer) -> int:
    return int(httpx.get(f"{server.url}/sandbox/quota").json()["used"])


def _requests(server: SandboxServer) -> int:
    return int(httpx.get(f"{server.url}/sandbox/quota").json()["requests"])


def _collector(engine: Engine, server: SandboxServer, budget: int | None = None, **kw) -> Collector:  # type: ignore[no-untyped-def]
    client = OddsApiClient(server.url, "test-key", sleep=lambda s: None, **kw)
    return Collector(engine, client, regions=["uk", "eu"], markets=["h2h", "totals", "spreads"], budget=budget)


def _spent(engine: Engine) -> tuple[int, int]:
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        return (health.credits(conn, now, period_start(now, 1))[1],
                health.unanswered_credits(conn, now, period_start(now, 1)))


def test_a_call_billed_but_never_answered_is_counted_at_the_next_answer(engine: Engine,
                                                                        sandbox: SandboxServer) -> None:
    _set(sandbox, "clock", {"now": NOW})
    collector = _collector(engine, sandbox, timeout_s=0.3, max_retries=0)
    collector.discover_events("soccer_epl")               # an answer showing the counter: the anchor
    start = _used(sandbox)
    _set(sandbox, "faults", {"latency_ms": 1500, "only": "/odds"})
    with pytest.raises(OddsApiError):
        collector.live_odds("soccer_epl")                 # the provider bills it; the answer never comes
    deadline = time.monotonic() + 30
    while _used(sandbox) < start + COST and time.monotonic() < deadline:
        time.sleep(0.05)                                  # the sandbox bills once its delay has passed
    _set(sandbox, "faults", {})
    collector.live_odds("soccer_epl")
    billed = _used(sandbox) - start
    assert billed == 2 * COST
    with engine.connect() as conn:
        rows = conn.execute(select(fetch_log.c.endpoint, fetch_log.c.status_code, fetch_log.c.requests_last,
                                   fetch_log.c.requests_billed).order_by(fetch_log.c.fetch_id)).all()
    timed_out, answered = rows[-2], rows[-1]
    assert timed_out.status_code is None and timed_out.requests_last is None
    assert (answered.requests_last, answered.requests_billed) == (COST, 2 * COST)   # the rise of x-requests-used
    spent, unanswered = _spent(engine)
    assert spent == billed and unanswered == COST        # as billed, the unanswered part shown apart


def test_the_budget_is_held_before_every_attempt_retries_included(engine: Engine, sandbox: SandboxServer) -> None:
    _set(sandbox, "clock", {"now": NOW})
    collector = _collector(engine, sandbox, budget=2 * COST + 1, timeout_s=0.3, max_retries=5)
    collector.discover_events("soccer_epl")
    collector.live_odds("soccer_epl")                     # within the budget: COST of it spent
    asked = _requests(sandbox)
    _set(sandbox, "faults", {"latency_ms": 1500, "only": "/odds"})
    with pytest.raises(CreditBudgetError) as refused:     # the first attempt may be billed: the retry is not made
        collector.live_odds("soccer_epl")
    _set(sandbox, "faults", {})
    assert _requests(sandbox) == asked + 1                 # one attempt reached the provider, no retry did
    assert "could cost 6 credits and the budget has 1 of 13 left this period, 6 of them held" in str(refused.value)
    with engine.connect() as conn:
        attempts = conn.execute(select(func.count()).select_from(fetch_log).where(fetch_log.c.endpoint == "odds")
                                ).scalar_one()
    assert attempts == 2                                   # the answered call and the one that timed out
    with pytest.raises(CreditBudgetError):
        collector.live_odds("soccer_epl")                  # still held: no answer has said otherwise
    assert _requests(sandbox) == asked + 1
