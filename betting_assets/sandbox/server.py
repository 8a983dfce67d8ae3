"""The sandbox HTTP server: The Odds API v4 routes, credit arithmetic, a settable clock, fault
injection and a fake Betfair-shaped exchange, served by uvicorn (a real socket, so clients
exercise real HTTP)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import random
import socket
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from betting_assets.domain.data.catalog import BOOKMAKERS_BY_REGION, KNOWN_MARKETS
from betting_assets.domain.timeutil import format_utc as iso
from betting_assets.domain.timeutil import parse_utc as _parse_date
from betting_assets.sandbox.exchange import FakeExchange, exchange_routes
from betting_assets.sandbox.exchange_book import ExchangeBooks
from betting_assets.sandbox.market import Market, bookmakers_for

HISTORICAL_MULTIPLIER = 10


def load_market(spec: str) -> Market:
    """``sim:SEED[:sport]``, a football-data CSV file or folder, or a folder of recordings."""
    if spec.startswith("sim:"):
        from betting_assets.sandbox.simulated import simulate

        parts = spec.split(":")
        seed = int(parts[1]) if len(parts) > 1 and parts[1] else 0
        return simulate(seed, parts[2] if len(parts) > 2 else "soccer_epl")
    path = Path(spec)
    if path.is_dir() and any(path.glob("*.json")):
        from betting_assets.sandbox.recorded import RecordedMarket

        return RecordedMarket(path)
    from betting_assets.sandbox.market import QuoteMarket
    from betting_assets.sources.football_data import read_football_data

    import polars as pl

    from betting_assets.sandbox.team_names import ODDS_API

    data = read_football_data(path)   # served under The Odds API's names, as the real feed names the teams
    events = data.events.with_columns(pl.col("home_team", "away_team").replace(ODDS_API))
    return QuoteMarket(events, data.quotes.with_columns(pl.col("outcome").replace(ODDS_API)))


@dataclass
class Faults:
    """What goes wrong, and how often. Seeded so a test sees the same sequence every run."""

    error_rates: dict[int, float] = field(default_factory=dict)
    burst_429: int = 0
    fail_next: list[int] = field(default_factory=list)
    healthy_first: int = 0
    latency_ms: float = 0.0
    malformed_rate: float = 0.0
    partial_rate: float = 0.0
    seed: int = 0
    only: str | None = None
    """faults hit only the requests whose path ends with this (e.g. ``/odds``, ``/scores``)"""

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Faults":
        return cls(
            error_rates={int(k): float(v) for k, v in (doc.get("error_rates") or {}).items()},
            burst_429=int(doc.get("burst_429", 0)),
            fail_next=[int(s) for s in doc.get("fail_next", [])],
            healthy_first=int(doc.get("healthy_first", 0)),
            latency_ms=float(doc.get("latency_ms", 0.0)),
            malformed_rate=float(doc.get("malformed_rate", 0.0)),
            partial_rate=float(doc.get("partial_rate", 0.0)),
            seed=int(doc.get("seed", 0)),
            only=doc.get("only"),
        )


class SandboxState:
    def __init__(self, market: Market, *, now: datetime | None = None, api_key: str | None = None,
                 quota: int = 100_000, historical_allowed: bool = True, keep: Path | None = None) -> None:
        """``keep``: a file the provider's account (credits used and remaining, the clock, the
        faults) is written to at every change and read back from at start, so a sandbox killed
        and started again bills on from where it was, as the real provider's account does."""
        self.market = market
        self.now = now or market.first_time()
        self.api_key = api_key
        self.remaining = quota
        self.used = 0
        self.historical_allowed = historical_allowed
        self.faults = Faults()
        self.rng = random.Random(0)
        self.requests = 0
        self.lock = threading.Lock()
        self.exchange = FakeExchange(books=ExchangeBooks(market, lambda: self.now))
        self.keep = keep
        if keep is not None and keep.exists():
            kept = json.loads(keep.read_text(encoding="utf-8"))
            self.used, self.remaining = int(kept["used"]), int(kept["remaining"])
            self.now = _parse_date(kept["now"]) or self.now
            self.faults = Faults.from_json(kept.get("faults") or {})
            self.rng = random.Random(self.faults.seed + self.used)

    def set_faults(self, faults: Faults) -> None:
        with self.lock:
            self.faults = faults
            self.rng = random.Random(faults.seed)
            self.save()

    def save(self) -> None:
        """Called under the lock."""
        if self.keep is None:
            return
        partial = self.keep.with_suffix(".partial")
        partial.write_text(json.dumps({"used": self.used, "remaining": self.remaining, "now": iso(self.now),
                                       "faults": asdict(self.faults)}), encoding="utf-8")
        os.replace(partial, self.keep)


def _error(status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if code:
        body["error_code"] = code
    return JSONResponse(body, status_code=status, headers=headers)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def build_app(state: SandboxState) -> Starlette:
    def quota_headers(cost: int) -> dict[str, str]:
        return {"x-requests-remaining": str(state.remaining), "x-requests-used": str(state.used),
                "x-requests-last": str(cost)}

    async def guarded(request: Request, handler: Any) -> Response:
        with state.lock:
            state.requests += 1
            faults = state.faults
            if faults.latency_ms:
                delay = faults.latency_ms / 1000.0
            else:
                delay = 0.0
        if delay:
            await asyncio.sleep(delay)
        key = request.query_params.get("apiKey")
        if not key:
            return _error(401, "API key is missing", "MISSING_KEY")
        if state.api_key is not None and key != state.api_key:
            return _error(401, "API key is not recognized", "INVALID_KEY")
        with state.lock:
            forced: int | None = None
            if faults.only is not None and not request.url.path.endswith(faults.only):
                faults = Faults()
            if faults.healthy_first > 0:
                faults.healthy_first -= 1
            elif faults.fail_next:
                forced = faults.fail_next.pop(0)
            elif faults.burst_429 > 0:
                faults.burst_429 -= 1
                forced = 429
            else:
                for status, rate in sorted(faults.error_rates.items()):
                    if state.rng.random() < rate:
                        forced = status
                        break
            malformed = faults.malformed_rate and state.rng.random() < faults.malformed_rate
            partial = faults.partial_rate and state.rng.random() < faults.partial_rate
        if forced == 429:
            return _error(429, "Too many requests", "EXCEEDED_FREQ_LIMIT", {"retry-after": "1"})
        if forced is not None:
            return _error(forced, "Injected fault")
        sport = request.path_params.get("sport")
        if sport is not None and sport != "upcoming" and not state.market.has_sport(sport):
            return _error(404, f"Unknown sport {sport}", "UNKNOWN_SPORT")
        result = handler(request, sport)
        if isinstance(result, Response):
            return result
        payload, cost = result
        with state.lock:
            if cost > state.remaining:
                return _error(401, "Usage quota has been reached", "OUT_OF_USAGE_CREDITS",
                              quota_headers(0))
            state.remaining -= cost
            state.used += cost
            state.save()
            headers = quota_headers(cost)
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        if partial:
            body = _partial(body, state.rng)
        if malformed:
            body = body[: max(1, len(body) // 2)]
        return Response(body, media_type="application/json", headers=headers)

    def odds_request(request: Request, any_market: bool = False) -> tuple[set[str], set[str], str, int] | Response:
        """The markets, bookmakers and format asked for, and the regions billed (each group of
        up to 10 bookmakers one). ``any_market``: the per-event endpoint takes any market key."""
        params = request.query_params
        markets = _csv(params.get("markets") or "h2h")
        unknown = [m for m in markets if m not in KNOWN_MARKETS]
        if unknown and not any_market:
            return _error(422, f"Invalid markets: {', '.join(unknown)}", "INVALID_MARKET")
        odds_format = params.get("oddsFormat", "decimal")
        if odds_format not in {"decimal", "american"}:
            return _error(422, "oddsFormat must be decimal or american", "INVALID_ODDS_FORMAT")
        books = _csv(params.get("bookmakers"))
        regions = _csv(params.get("regions"))
        if books:
            units = math.ceil(len(books) / 10)
            allowed = set(books)
        else:
            if not regions:
                return _error(422, "Missing regions or bookmakers", "INVALID_REGION")
            bad = [r for r in regions if r not in BOOKMAKERS_BY_REGION]
            if bad:
                return _error(422, f"Invalid regions: {', '.join(bad)}", "INVALID_REGION")
            units = len(regions)
            allowed = bookmakers_for(regions)
        return set(markets), allowed, odds_format, units

    def historical_date(request: Request) -> datetime | Response:
        """The ``date`` of a historical call, on a plan that has history and not after the clock."""
        if not state.historical_allowed:
            return _error(401, "Historical data is not available on this plan",
                          "HISTORICAL_UNAVAILABLE_ON_FREE_USAGE_PLAN")
        date = _parse_date(request.query_params.get("date"))
        if date is None:
            return _error(422, "date must be an ISO 8601 timestamp", "INVALID_HISTORICAL_TIMESTAMP")
        if date > state.now:
            return _error(422, "date is in the future of the sandbox clock", "INVALID_HISTORICAL_TIMESTAMP")
        return date

    def sports(request: Request, _sport: str | None) -> tuple[Any, int]:
        return state.market.sports(), 0

    def events(request: Request, sport: str) -> tuple[Any, int]:
        return state.market.events(sport, state.now), 0

    def odds(request: Request, sport: str) -> tuple[Any, int] | Response:
        parsed = odds_request(request)
        if isinstance(parsed, Response):
            return parsed
        markets, books, odds_format, units = parsed
        data = state.market.odds(sport, state.now, markets, books, odds_format)
        ids = set(_csv(request.query_params.get("eventIds")))
        if ids:
            data = [e for e in data if e["id"] in ids]
        return data, len(markets) * units if data else 0

    def event_odds(historical: bool):  # type: ignore[no-untyped-def]
        """One event's odds: billed by the markets it returns × regions (×10 historical), nothing
        when it returns none; the historical form's ``data`` is the event itself."""
        def handler(request: Request, sport: str) -> tuple[Any, int] | Response:
            event_id = request.path_params["event_id"]
            parsed = odds_request(request, any_market=True)
            if isinstance(parsed, Response):
                return parsed
            markets, books, odds_format, units = parsed
            if historical:
                date = historical_date(request)
                if isinstance(date, Response):
                    return date
                doc = json.loads(state.market.historical_odds(sport, date, markets, books, odds_format))
                listed = json.loads(state.market.historical_events(sport, date)).get("data") or []
                found = [e for e in doc.get("data") or [] if e.get("id") == event_id]
            else:
                listed = state.market.events(sport, state.now)
                found = [e for e in state.market.odds(sport, state.now, markets, books, odds_format)
                         if e["id"] == event_id]
            if not found:
                named = [e for e in listed if e.get("id") == event_id]
                if not named:
                    return _error(404, f"Event not found: {event_id}", "EVENT_NOT_FOUND")
                found = [{**named[0], "bookmakers": []}]
            event = found[0]
            returned = {m["key"] for b in event.get("bookmakers") or [] for m in b.get("markets") or []}
            cost = len(returned & markets) * units * (HISTORICAL_MULTIPLIER if historical else 1)
            if historical:
                return {**{k: doc.get(k) for k in ("timestamp", "previous_timestamp", "next_timestamp")},
                        "data": event}, cost
            return event, cost
        return handler

    def participants(request: Request, sport: str) -> tuple[Any, int]:
        """The sport's participants (teams), each ``full_name`` and ``id``, at one credit: The Odds
        API's "GET participants" ("a whitelist ... may include participants that are not currently
        active"), https://the-odds-api.com/liveapi/guides/v4/#get-participants."""
        listed = getattr(state.market, "participants", None)
        names = listed(sport) if listed is not None else sorted(
            {e[k] for e in state.market.events(sport, state.market.first_time()) for k in ("home_team", "away_team")})
        return [{"full_name": n, "id": "par_" + hashlib.sha1(f"{sport}|{n}".encode()).hexdigest()[:26]}
                for n in names], 1

    def scores(request: Request, sport: str) -> tuple[Any, int] | Response:
        raw = request.query_params.get("daysFrom")
        days = None
        if raw is not None:
            if not raw.isdigit() or not 1 <= int(raw) <= 3:
                return _error(422, "daysFrom must be 1, 2 or 3", "INVALID_DAYS_FROM")
            days = int(raw)
        return state.market.scores(sport, state.now, days), 2 if days else 1

    def historical(kind: str):  # type: ignore[no-untyped-def]
        def handler(request: Request, sport: str) -> tuple[Any, int] | Response:
            date = historical_date(request)
            if isinstance(date, Response):
                return date
            if kind == "events":
                body = state.market.historical_events(sport, date)
                return body, 1 if _has_data(body) else 0
            parsed = odds_request(request)
            if isinstance(parsed, Response):
                return parsed
            markets, books, odds_format, units = parsed
            body = state.market.historical_odds(sport, date, markets, books, odds_format)
            return body, len(markets) * units * HISTORICAL_MULTIPLIER if _has_data(body) else 0
        return handler

    def route(path: str, handler: Any) -> Route:
        async def endpoint(request: Request) -> Response:
            return await guarded(request, handler)
        return Route(path, endpoint)

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            doc = await request.json()
            with state.lock:
                if "now" in doc:
                    parsed = _parse_date(doc["now"])
                    if parsed is None:
                        return _error(422, "now must be ISO 8601")
                    state.now = parsed
                if "advance_seconds" in doc:
                    state.now += timedelta(seconds=float(doc["advance_seconds"]))
                state.save()
        return JSONResponse({"now": iso(state.now)})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.set_faults(Faults())
        elif request.method == "POST":
            state.set_faults(Faults.from_json(await request.json()))
        return JSONResponse({k: v for k, v in asdict(state.faults).items()})

    async def quota(request: Request) -> Response:
        if request.method == "POST":
            doc = await request.json()
            with state.lock:
                if "remaining" in doc:
                    state.remaining = int(doc["remaining"])
                if "historical_allowed" in doc:
                    state.historical_allowed = bool(doc["historical_allowed"])
                state.save()
        return JSONResponse({"remaining": state.remaining, "used": state.used,
                             "historical_allowed": state.historical_allowed, "requests": state.requests})

    async def control_needs_the_key(request: Request, call_next: Any) -> Response:
        """With a key set, only its holder may move the clock, inject faults, set the quota or
        script the exchange; reading them stays open, as the sensors read the clock."""
        if (state.api_key is not None and request.url.path.startswith("/sandbox/") and request.method != "GET"
                and (request.query_params.get("apiKey") or request.headers.get("x-api-key")) != state.api_key):
            return _error(401, "the sandbox's control endpoints need its API key (apiKey= or x-api-key)",
                          "INVALID_KEY")
        return await call_next(request)  # type: ignore[no-any-return]

    return Starlette(middleware=[Middleware(BaseHTTPMiddleware, dispatch=control_needs_the_key)], routes=[
        route("/v4/sports", sports),
        route("/v4/sports/{sport}/events", events),
        route("/v4/sports/{sport}/odds", odds),
        route("/v4/sports/{sport}/events/{event_id}/odds", event_odds(historical=False)),
        route("/v4/sports/{sport}/scores", scores),
        route("/v4/sports/{sport}/participants", participants),
        route("/v4/historical/sports/{sport}/events/{event_id}/odds", event_odds(historical=True)),
        route("/v4/historical/sports/{sport}/odds", historical("odds")),
        route("/v4/historical/sports/{sport}/events", historical("events")),
        Route("/sandbox/clock", clock, methods=["GET", "POST"]),
        Route("/sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/sandbox/quota", quota, methods=["GET", "POST"]),
        *exchange_routes(state.exchange),
    ])


def _has_data(envelope: bytes) -> bool:
    """An empty result costs nothing; recorded envelopes may be laid out any way, so parse."""
    return bool(json.loads(envelope).get("data"))


def _partial(body: bytes, rng: random.Random) -> bytes:
    """Drops one required field somewhere, as a provider hiccup might."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    events = doc["data"] if isinstance(doc, dict) and "data" in doc else doc
    if isinstance(events, dict):
        events = [events]                                   # one event's odds
    if isinstance(events, list) and events:
        event = rng.choice(events)
        books = event.get("bookmakers") or []
        if books and books[0].get("markets") and rng.random() < 0.5:
            outcome = books[0]["markets"][0]["outcomes"][0]
            outcome.pop("price", None)
        else:
            event.pop("home_team", None)
    return json.dumps(doc, separators=(",", ":")).encode()


class SandboxServer:
    """Runs the app on a real socket in a background thread (``with SandboxServer(...) as s``)."""

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.host, self.port = self.socket.getsockname()[:2]
        config = uvicorn.Config(build_app(state), log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "SandboxServer":
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("sandbox server failed to start")
            self.thread.join(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
