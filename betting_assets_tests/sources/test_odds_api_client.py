"""The client against the sandbox over real HTTP; the clock and sleep are moved, not waited."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from betting_assets.sandbox.server import SandboxServer
from betting_assets.sources.breaker import CircuitBreaker
from betting_assets.sources.errors import (
    CircuitOpenError,
    CreditReserveError,
    HistoricalNotOnPlanError,
    InvalidKeyError,
    InvalidParametersError,
    MalformedResponseError,
    MissingKeyError,
    OutOfCreditsError,
    RateLimitedError,
    ServerError,
    TransportFailure,
)
from betting_assets.sources.odds_api import OddsApiClient

DATE = datetime(2023, 8, 12, 10, tzinfo=timezone.utc)
ODDS = dict(regions=["uk", "eu"], markets=["h2h", "totals"])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _client(server: SandboxServer, key: str = "test-key", **kw) -> OddsApiClient:  # type: ignore[no-untyped-def]
    kw.setdefault("sleep", lambda s: None)
    return OddsApiClient(server.url, key, **kw)


def _control(server: SandboxServer, path: str, doc: dict) -> None:  # type: ignore[type-arg]
    httpx.post(f"{server.url}/sandbox/{path}", json=doc, headers={"x-api-key": "test-key"}).raise_for_status()


def test_one_events_odds_are_billed_by_the_markets_they_return(sandbox: SandboxServer) -> None:
    """A sport call bills every market asked for; the per-event endpoint only those it returns
    (none for a market the event is not priced in, a prop key included), ×10 historical, and its
    historical ``data`` is the event itself."""
    from betting_assets.sources.errors import NotFoundError

    _control(sandbox, "clock", {"now": "2023-08-12T10:00:00Z"})
    asked = dict(regions=["uk", "eu"], markets=["h2h", "totals", "btts"])       # the sandbox prices no btts
    with _client(sandbox) as client:
        sport = client.odds("soccer_epl", **asked)
        assert sport.quota.last == 3 * 2
        event_id = sport.data[0]["id"]
        one = client.event_odds("soccer_epl", event_id, **asked)
        assert one.data["id"] == event_id and one.quota.last == 2 * 2
        assert {m["key"] for b in one.data["bookmakers"] for m in b["markets"]} == {"h2h", "totals"}
        props = client.event_odds("soccer_epl", event_id, regions=["uk"], markets=["player_goal_scorer_anytime"])
        assert props.quota.last == 0 and props.data["bookmakers"] == []
        past = client.historical_event_odds("soccer_epl", event_id, DATE, **asked)
        assert past.quota.last == 2 * 2 * 10 and past.data["data"]["id"] == event_id
        assert set(past.data) == {"timestamp", "previous_timestamp", "next_timestamp", "data"}
        with pytest.raises(NotFoundError):
            client.event_odds("soccer_epl", "no-such-event", **asked)


def test_odds_and_quota_headers(sandbox: SandboxServer) -> None:
    _control(sandbox, "clock", {"now": "2023-08-12T10:00:00Z"})
    with _client(sandbox) as client:
        response = client.odds("soccer_epl", **ODDS)
        assert response.quota.last == 4 and response.quota.used == 4
        assert response.quota.remaining == 100_000 - 4
        assert len(response.data) > 0 and all(e["sport_key"] == "soccer_epl" for e in response.data)
        assert "apiKey" not in response.url and "test-key" not in response.url
        hist = client.historical_odds("soccer_epl", DATE, **ODDS)
        assert hist.quota.last == 40
        assert set(hist.data) == {"timestamp", "previous_timestamp", "next_timestamp", "data"}
        free = client.events("soccer_epl")
        assert free.quota.last == 0


def test_typed_auth_and_parameter_errors(sandbox: SandboxServer) -> None:
    with pytest.raises(MissingKeyError):
        _client(sandbox, key="").sports()
    with pytest.raises(InvalidKeyError):
        _client(sandbox, key="wrong").sports()
    with _client(sandbox) as client:
        with pytest.raises(InvalidParametersError):
            client.odds("soccer_epl", regions=["mars"], markets=["h2h"])
        _control(sandbox, "quota", {"historical_allowed": False})
        with pytest.raises(HistoricalNotOnPlanError):
            client.historical_odds("soccer_epl", DATE, **ODDS)
        _control(sandbox, "quota", {"historical_allowed": True, "remaining": 3})
        _control(sandbox, "clock", {"now": "2023-08-12T10:00:00Z"})
        with pytest.raises(OutOfCreditsError):
            client.odds("soccer_epl", **ODDS)


def test_server_errors_are_retried_with_backoff(sandbox: SandboxServer) -> None:
    _control(sandbox, "faults", {"fail_next": [503, 500]})
    with _client(sandbox) as client:
        response = client.sports()
        assert response.attempts == 3
        assert len(client.waits) == 2 and client.waits[1] >= client.waits[0] * 0.5
    _control(sandbox, "faults", {"fail_next": [503] * 10})
    with _client(sandbox, max_retries=2, breaker=CircuitBreaker(threshold=10)) as client:
        with pytest.raises(ServerError):
            client.sports()


def test_429_bursts_honour_retry_after(sandbox: SandboxServer) -> None:
    _control(sandbox, "faults", {"burst_429": 2})
    with _client(sandbox) as client:
        assert client.sports().attempts == 3
        assert all(w >= 1.0 for w in client.waits)
    _control(sandbox, "faults", {"burst_429": 9})
    with _client(sandbox, max_retries=1) as client:
        with pytest.raises(RateLimitedError):
            client.sports()


def test_timeouts_are_transport_failures(sandbox: SandboxServer) -> None:
    _control(sandbox, "faults", {"latency_ms": 300})
    with _client(sandbox, timeout_s=0.05, max_retries=1) as client:
        with pytest.raises(TransportFailure):
            client.sports()
    _control(sandbox, "faults", {})


def test_malformed_body_raises_with_the_body_kept(sandbox: SandboxServer) -> None:
    _control(sandbox, "faults", {"malformed_rate": 1.0})
    with _client(sandbox) as client:
        with pytest.raises(MalformedResponseError) as info:
            client.sports()
    assert info.value.body and info.value.body.startswith("[")


def test_a_garbled_free_answer_is_asked_again_a_charged_one_is_not(sandbox: SandboxServer) -> None:
    """Sports and historical fixture lists are retried like an outage; a garbled odds answer was
    paid for, so it goes back to the caller (and the step's retry policy) at once."""
    attempts: list[str] = []
    _control(sandbox, "clock", {"now": "2023-08-12T10:00:00Z"})
    _control(sandbox, "faults", {"malformed_rate": 1.0, "only": "/events"})
    with _client(sandbox, max_retries=2, observer=lambda a: attempts.append(a.error or "ok")) as client:
        with pytest.raises(MalformedResponseError):
            client.historical_events("soccer_epl", DATE)
        assert attempts == ["malformed JSON body"] * 3                      # asked again, twice
        attempts.clear()
        _control(sandbox, "faults", {"malformed_rate": 1.0, "only": "/odds"})
        with pytest.raises(MalformedResponseError):
            client.odds("soccer_epl", **ODDS)
        assert attempts == ["malformed JSON body"]
    _control(sandbox, "faults", {})


def test_breaker_opens_then_half_opens_after_cooldown(sandbox: SandboxServer) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, cooldown_s=60, clock=clock)
    _control(sandbox, "faults", {"fail_next": [500, 500, 500, 500]})
    with _client(sandbox, breaker=breaker, max_retries=5) as client:
        with pytest.raises(CircuitOpenError):
            client.sports()
        assert breaker.state == "open"
        before = httpx.get(f"{sandbox.url}/sandbox/quota").json()["requests"]
        with pytest.raises(CircuitOpenError):
            client.sports()
        assert httpx.get(f"{sandbox.url}/sandbox/quota").json()["requests"] == before
        clock.now = 61
        assert breaker.state == "half-open"
        with pytest.raises(ServerError):
            _client(sandbox, breaker=breaker, max_retries=0).sports()
        assert breaker.state == "open"
        clock.now = 122
        assert client.sports().status_code == 200
        assert breaker.state == "closed"


def test_credit_guard_refuses_calls_below_the_reserve(sandbox: SandboxServer) -> None:
    _control(sandbox, "quota", {"remaining": 45})
    _control(sandbox, "clock", {"now": "2023-08-12T10:00:00Z"})
    with _client(sandbox, credit_reserve=10) as client:
        assert client.odds("soccer_epl", **ODDS).quota.remaining == 41
        with pytest.raises(CreditReserveError):
            client.historical_odds("soccer_epl", DATE, **ODDS)
        before = httpx.get(f"{sandbox.url}/sandbox/quota").json()
        assert before["remaining"] == 41
