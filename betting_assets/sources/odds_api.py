"""The Odds API v4 client (httpx).

Every HTTP attempt, failed or not, is reported to an optional observer so the caller can
keep it in the fetch log with its body; retries (tenacity: exponential backoff with jitter,
``Retry-After`` honoured on 429), a circuit breaker and a credit guard sit in front.
"""

from __future__ import annotations

import json
import math
from collections import deque
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import httpx
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from betting_assets import tls
from betting_assets.domain.timeutil import format_utc
from betting_assets.settings import Settings
from betting_assets.sources.breaker import CircuitBreaker
from betting_assets.sources.errors import (
    AUTH_ERRORS,
    AuthError,
    CreditReserveError,
    InvalidParametersError,
    MalformedResponseError,
    NotFoundError,
    OddsApiError,
    RateLimitedError,
    ServerError,
    TransportFailure,
)

HISTORICAL_MULTIPLIER = 10
RETRIED_WHEN_MALFORMED = {"sports", "events", "historical_events"}
"""endpoints whose garbled answer is asked again at once, as an outage would be: they are free
or cost one credit, where a charged odds or scores call is left to the step's retry policy"""


@dataclass(frozen=True)
class Quota:
    remaining: int | None = None
    used: int | None = None
    last: int | None = None

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> "Quota":
        def number(name: str) -> int | None:
            value = headers.get(name)
            try:
                return int(float(value)) if value is not None else None
            except ValueError:
                return None

        return cls(number("x-requests-remaining"), number("x-requests-used"), number("x-requests-last"))

    def as_dict(self) -> dict[str, int | None]:
        return {"remaining": self.remaining, "used": self.used, "last": self.last}


@dataclass(frozen=True)
class Attempt:
    """One HTTP exchange as the fetch log keeps it (the key is never in ``url``)."""

    endpoint: str
    sport_key: str | None
    url: str
    params: dict[str, Any]
    requested_at: datetime
    status_code: int | None
    elapsed_ms: float
    quota: Quota
    error: str | None
    body: str | None
    attempt: int
    expected: int = 0
    """what the call could cost, as estimated before it was made"""


@dataclass(frozen=True)
class ApiResponse:
    endpoint: str
    sport_key: str | None
    url: str
    params: dict[str, Any]
    status_code: int
    data: Any
    text: str
    quota: Quota
    elapsed_ms: float
    attempts: int
    requested_at: datetime
    expected_cost: int = 0
    headers: dict[str, str] = field(default_factory=dict)


def estimate_cost(markets: list[str], regions: list[str], bookmakers: list[str] | None,
                  historical: bool = False) -> int:
    """Credits an odds call costs if it returns data (docs/odds-api.md: markets × regions)."""
    region_units = math.ceil(len(bookmakers) / 10) if bookmakers else len(regions)
    cost = max(1, len(markets)) * max(1, region_units)
    return cost * HISTORICAL_MULTIPLIER if historical else cost


def _iso(value: datetime | str) -> str:
    return value if isinstance(value, str) else format_utc(value)


class OddsApiClient:
    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | str,
        *,
        timeout_s: float = 10.0,
        max_retries: int = 4,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        breaker: CircuitBreaker | None = None,
        credit_reserve: int = 0,
        observer: Callable[[Attempt], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport,
                                  headers={"accept": "application/json"}, verify=tls.context())
        self.max_retries = max_retries
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.breaker = breaker or CircuitBreaker()
        self.credit_reserve = credit_reserve
        self.observer = observer
        self._expected = 0
        self.gate: Callable[[str, str | None, int], None] | None = None
        """asked before every attempt with (endpoint, sport, cost): raises to refuse the call
        (the collector's budget)"""
        self._sleep = sleep
        self.quota = Quota()
        self.waits: deque[float] = deque(maxlen=64)

    @classmethod
    def from_settings(cls, settings: Settings, *, base_url: str | None = None, api_key: SecretStr | None = None,
                      **overrides: Any) -> "OddsApiClient":
        """The settings' provider and retry policy; ``base_url`` and ``api_key`` name another
        provider (the sandbox), ``overrides`` replace client arguments."""
        collection = settings.collection
        kwargs: dict[str, Any] = dict(
            timeout_s=collection.http_timeout_s,
            max_retries=collection.http_max_retries,
            backoff_initial_s=collection.http_backoff_initial_s,
            backoff_max_s=collection.http_backoff_max_s,
            breaker=CircuitBreaker(collection.breaker_failure_threshold, collection.breaker_cooldown_s),
            credit_reserve=collection.credit_reserve,
        )
        kwargs.update(overrides)
        return cls(base_url or collection.odds_api_base_url, api_key or collection.odds_api_key, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "OddsApiClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OddsApiClient(base_url={str(self._http.base_url)!r}, api_key=********)"

    # -- endpoints ---------------------------------------------------------------------

    def sports(self, all_sports: bool = False) -> ApiResponse:
        return self._get("sports", "/v4/sports", {"all": "true"} if all_sports else {}, None, 0)

    def events(self, sport: str, commence_time_from: datetime | None = None,
               commence_time_to: datetime | None = None) -> ApiResponse:
        params = self._window({"dateFormat": "iso"}, commence_time_from, commence_time_to)
        return self._get("events", f"/v4/sports/{sport}/events", params, sport, 0)

    def odds(self, sport: str, *, regions: list[str], markets: list[str], odds_format: str = "decimal",
             bookmakers: list[str] | None = None, event_ids: list[str] | None = None,
             commence_time_from: datetime | None = None, commence_time_to: datetime | None = None) -> ApiResponse:
        params = self._odds_params(regions, markets, odds_format, bookmakers)
        if event_ids:
            params["eventIds"] = ",".join(event_ids)
        params = self._window(params, commence_time_from, commence_time_to)
        cost = estimate_cost(markets, regions, bookmakers)
        return self._get("odds", f"/v4/sports/{sport}/odds", params, sport, cost)

    def event_odds(self, sport: str, event_id: str, *, regions: list[str], markets: list[str],
                   odds_format: str = "decimal", bookmakers: list[str] | None = None) -> ApiResponse:
        """One event's odds (any market key): billed by the markets it returns × regions, so the
        expected cost is an upper bound; the headers say what it cost."""
        params = self._odds_params(regions, markets, odds_format, bookmakers)
        return self._get("event_odds", f"/v4/sports/{sport}/events/{event_id}/odds", params, sport,
                         estimate_cost(markets, regions, bookmakers), self._check_event)

    def historical_event_odds(self, sport: str, event_id: str, date: datetime | str, *, regions: list[str],
                              markets: list[str], odds_format: str = "decimal",
                              bookmakers: list[str] | None = None) -> ApiResponse:
        """One event's odds at ``date``: an envelope whose ``data`` is the event, 10× the live bill."""
        params = self._odds_params(regions, markets, odds_format, bookmakers)
        params["date"] = _iso(date)
        return self._get("historical_event_odds", f"/v4/historical/sports/{sport}/events/{event_id}/odds", params,
                         sport, estimate_cost(markets, regions, bookmakers, historical=True), self._check_event_envelope)

    def participants(self, sport: str) -> ApiResponse:
        """The sport's teams as the feed names them (``full_name``), one credit: what the exchange
        mapping learns its aliases against."""
        return self._get("participants", f"/v4/sports/{sport}/participants", {}, sport, 1)

    def scores(self, sport: str, days_from: int | None = None) -> ApiResponse:
        params: dict[str, Any] = {"dateFormat": "iso"}
        if days_from is not None:
            if not 1 <= days_from <= 3:
                raise ValueError("days_from must be between 1 and 3")
            params["daysFrom"] = days_from
        return self._get("scores", f"/v4/sports/{sport}/scores", params, sport, 2 if days_from else 1)

    def historical_odds(self, sport: str, date: datetime | str, *, regions: list[str], markets: list[str],
                        odds_format: str = "decimal", bookmakers: list[str] | None = None) -> ApiResponse:
        params = self._odds_params(regions, markets, odds_format, bookmakers)
        params["date"] = _iso(date)
        cost = estimate_cost(markets, regions, bookmakers, historical=True)
        return self._get("historical_odds", f"/v4/historical/sports/{sport}/odds", params, sport, cost,
                         self._check_envelope)

    def historical_events(self, sport: str, date: datetime | str) -> ApiResponse:
        params = {"date": _iso(date), "dateFormat": "iso"}
        return self._get("historical_events", f"/v4/historical/sports/{sport}/events", params, sport, 1,
                         self._check_envelope)

    # -- mechanics -----------------------------------------------------------------------

    @staticmethod
    def _odds_params(regions: list[str], markets: list[str], odds_format: str,
                     bookmakers: list[str] | None) -> dict[str, Any]:
        if odds_format not in {"decimal", "american"}:
            raise ValueError("odds_format must be 'decimal' or 'american'")
        params: dict[str, Any] = {"markets": ",".join(markets), "oddsFormat": odds_format, "dateFormat": "iso"}
        if bookmakers:
            params["bookmakers"] = ",".join(bookmakers)
        else:
            params["regions"] = ",".join(regions)
        return params

    @staticmethod
    def _window(params: dict[str, Any], start: datetime | None, end: datetime | None) -> dict[str, Any]:
        if start is not None:
            params["commenceTimeFrom"] = _iso(start)
        if end is not None:
            params["commenceTimeTo"] = _iso(end)
        return params

    @staticmethod
    def _check_envelope(response: ApiResponse) -> None:
        data = response.data
        if not isinstance(data, dict) or "data" not in data or "timestamp" not in data:
            raise MalformedResponseError(
                "historical response is not an envelope {timestamp, previous_timestamp, next_timestamp, data}",
                status_code=response.status_code, url=response.url, body=response.text,
            )

    @staticmethod
    def _check_event(response: ApiResponse) -> None:
        if not isinstance(response.data, dict) or "id" not in response.data:
            raise MalformedResponseError("event odds response is not an event {id, ..., bookmakers}",
                                         status_code=response.status_code, url=response.url, body=response.text)

    @classmethod
    def _check_event_envelope(cls, response: ApiResponse) -> None:
        cls._check_envelope(response)
        if not isinstance(response.data["data"], dict):
            raise MalformedResponseError("historical event odds response's data is not one event",
                                         status_code=response.status_code, url=response.url, body=response.text)

    def _guard_credits(self, cost: int) -> None:
        if cost <= 0 or self.credit_reserve <= 0:
            return
        if self.quota.remaining is None:
            self.sports()
        remaining = self.quota.remaining
        if remaining is not None and remaining - cost < self.credit_reserve:
            raise CreditReserveError(
                f"call would cost up to {cost} credits with {remaining} remaining; "
                f"reserve is {self.credit_reserve}"
            )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = wait_exponential_jitter(initial=self.backoff_initial_s, max=self.backoff_max_s)(state)
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            backoff = max(backoff, min(exc.retry_after, self.backoff_max_s))
        self.waits.append(backoff)
        return backoff

    def _get(self, endpoint: str, path: str, params: dict[str, Any], sport: str | None,
             cost: int, validate: Callable[[ApiResponse], None] | None = None) -> ApiResponse:
        counter = {"n": 0}

        def attempt() -> ApiResponse:
            counter["n"] += 1
            self._guard_credits(cost)          # every attempt, retries included, is a call that may be billed
            if self.gate is not None:
                self.gate(endpoint, sport, cost)
            self.breaker.before_call()
            response = self._attempt(endpoint, path, params, sport, counter["n"], cost)
            if validate is not None:
                validate(response)
            return response

        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, OddsApiError) and (e.retryable or (
                isinstance(e, MalformedResponseError) and endpoint in RETRIED_WHEN_MALFORMED))),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(attempt)

    def _attempt(self, endpoint: str, path: str, params: dict[str, Any], sport: str | None,
                 number: int, cost: int) -> ApiResponse:
        requested_at = datetime.now(timezone.utc)
        started = time.perf_counter()
        self._expected = cost
        query = {**params, "apiKey": self._key.get_secret_value()}
        public_url = str(self._http.base_url.join(path).copy_merge_params(params))
        try:
            response = self._http.get(path, params=query)
        except httpx.TimeoutException as exc:
            self._fail(endpoint, sport, public_url, params, requested_at, started, None, Quota(),
                       f"timeout: {exc}", None, number)
            raise TransportFailure(f"{endpoint}: timed out", url=public_url) from exc
        except httpx.TransportError as exc:
            self._fail(endpoint, sport, public_url, params, requested_at, started, None, Quota(),
                       f"transport: {exc}", None, number)
            raise TransportFailure(f"{endpoint}: {exc}", url=public_url) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        quota = Quota.from_headers(response.headers)
        if quota.remaining is not None:
            self.quota = quota
        text = response.text
        if response.status_code >= 400:
            error = self._error_for(response, public_url, text)
            if isinstance(error, (ServerError, TransportFailure)):
                self.breaker.record_failure()
            self._notify(endpoint, sport, public_url, params, requested_at, elapsed_ms, response.status_code,
                         quota, str(error), text, number)
            raise error
        try:
            data = json.loads(text)
        except ValueError as exc:
            self.breaker.record_success()
            self._notify(endpoint, sport, public_url, params, requested_at, elapsed_ms, response.status_code,
                         quota, "malformed JSON body", text, number)
            raise MalformedResponseError(f"{endpoint}: body is not valid JSON ({exc})",
                                         status_code=response.status_code, url=public_url, body=text) from exc
        self.breaker.record_success()
        self._notify(endpoint, sport, public_url, params, requested_at, elapsed_ms, response.status_code,
                     quota, None, text, number)
        return ApiResponse(endpoint, sport, public_url, dict(params), response.status_code, data, text, quota,
                           elapsed_ms, number, requested_at, cost, dict(response.headers))

    def _fail(self, endpoint: str, sport: str | None, url: str, params: dict[str, Any], requested_at: datetime,
              started: float, status: int | None, quota: Quota, error: str, body: str | None,
              number: int) -> None:
        self.breaker.record_failure()
        self._notify(endpoint, sport, url, params, requested_at, (time.perf_counter() - started) * 1000,
                     status, quota, error, body, number)

    def _notify(self, endpoint: str, sport: str | None, url: str, params: dict[str, Any], requested_at: datetime,
                elapsed_ms: float, status: int | None, quota: Quota, error: str | None, body: str | None,
                number: int) -> None:
        if self.observer is not None:
            self.observer(Attempt(endpoint, sport, url, dict(params), requested_at, status, elapsed_ms, quota,
                                  error, body, number, self._expected))

    @staticmethod
    def _error_for(response: httpx.Response, url: str, text: str) -> OddsApiError:
        status = response.status_code
        try:
            body = json.loads(text)
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        code = body.get("error_code")
        message = body.get("message") or text[:200] or response.reason_phrase
        kwargs: dict[str, Any] = dict(status_code=status, error_code=code, url=url, body=text)
        if status == 401:
            return AUTH_ERRORS.get(code or "", AuthError)(f"401 {code}: {message}", **kwargs)
        if status == 422:
            return InvalidParametersError(f"422: {message}", **kwargs)
        if status == 404:
            return NotFoundError(f"404: {message}", **kwargs)
        if status == 429:
            retry_after = response.headers.get("retry-after")
            try:
                seconds = float(retry_after) if retry_after is not None else None
            except ValueError:
                seconds = None
            return RateLimitedError(f"429: {message}", retry_after=seconds, **kwargs)
        if status >= 500:
            return ServerError(f"{status}: {message}", **kwargs)
        return OddsApiError(f"{status}: {message}", **kwargs)
