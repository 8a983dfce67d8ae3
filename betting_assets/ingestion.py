"""Collection as a service: fetch through the client, keep the raw response, then derive.

The raw snapshot is committed in its own transaction before normalisation starts, so a
failure while deriving never loses what the provider sent; normalised rows can always be
rebuilt from the raw table. Dagster assets and the CLI both call this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import Engine, select

from betting_assets.domain.normalize import Finding, normalize_odds
from betting_assets.domain.scores import parse_scores
from betting_assets.domain.timeutil import parse_utc
from betting_assets.sources.errors import MalformedResponseError
from betting_assets.sources.odds_api import ApiResponse, Attempt, OddsApiClient
from betting_assets.warehouse import writes
from betting_assets.warehouse.tables import odds_snapshots

_RAW_KEPT_IN_SNAPSHOTS = {"odds", "historical_odds"}


@dataclass
class IngestResult:
    snapshots: int = 0
    duplicate_snapshots: int = 0
    rows: int = 0
    invalid_rows: int = 0
    events: int = 0
    findings: int = 0
    credits: int = 0
    errors: list[str] = field(default_factory=list)
    as_of: list[datetime] = field(default_factory=list)

    def add(self, other: "IngestResult") -> "IngestResult":
        for name in ("snapshots", "duplicate_snapshots", "rows", "invalid_rows", "events", "findings", "credits"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        self.as_of.extend(other.as_of)
        return self


class Collector:
    def __init__(self, engine: Engine, client: OddsApiClient, *, regions: list[str], markets: list[str],
                 odds_format: str = "decimal", bookmakers: list[str] | None = None,
                 quality_mode: str = "flag") -> None:
        self.engine = engine
        self.client = client
        self.regions = regions
        self.markets = markets
        self.odds_format = odds_format
        self.bookmakers = bookmakers or None
        self.quality_mode = quality_mode
        self.last_fetch_id: int | None = None
        client.observer = self._log_attempt

    def _log_attempt(self, attempt: Attempt) -> None:
        keep_body = attempt.error is not None or attempt.endpoint not in _RAW_KEPT_IN_SNAPSHOTS
        record = writes.FetchRecord(
            endpoint=attempt.endpoint, sport_key=attempt.sport_key, url=attempt.url, params=attempt.params,
            requested_at=attempt.requested_at, status_code=attempt.status_code, ok=attempt.error is None,
            error=attempt.error, elapsed_ms=attempt.elapsed_ms, attempts=attempt.attempt,
            requests_remaining=attempt.quota.remaining, requests_used=attempt.quota.used,
            requests_last=attempt.quota.last, body=attempt.body if keep_body else None,
        )
        with self.engine.begin() as conn:
            self.last_fetch_id = writes.record_fetch(conn, record)

    # -- odds ---------------------------------------------------------------------------

    def live_odds(self, sport: str, *, now: datetime | None = None, tier: str | None = None) -> IngestResult:
        try:
            response = self.client.odds(sport, regions=self.regions, markets=self.markets,
                                        odds_format=self.odds_format, bookmakers=self.bookmakers)
        except MalformedResponseError as exc:
            return self._malformed(sport, exc)
        as_of = now or response.requested_at
        return self.store_odds(response, response.data, sport=sport, source="live", as_of=as_of, tier=tier)

    def historical_odds(self, sport: str, date: datetime, tier: str | None = None) -> tuple[IngestResult, dict[str, Any]]:
        try:
            response = self.client.historical_odds(sport, date, regions=self.regions, markets=self.markets,
                                                   odds_format=self.odds_format, bookmakers=self.bookmakers)
        except MalformedResponseError as exc:
            return self._malformed(sport, exc), {}
        envelope = response.data
        as_of = parse_utc(envelope.get("timestamp"))
        if as_of is None:
            return IngestResult(), envelope
        result = self.store_odds(response, envelope.get("data"), sport=sport, source="historical", as_of=as_of,
                                 tier=tier, payload=envelope)
        return result, envelope

    def backfill(self, sport: str, start: datetime, end: datetime,
                 progress: Callable[[datetime], None] | None = None) -> IngestResult:
        """Walks the provider's snapshot timestamps from ``start`` to ``end``."""
        total = IngestResult()
        date: datetime | None = start
        seen: set[datetime] = set()
        while date is not None and date <= end:
            result, envelope = self.historical_odds(sport, date)
            total.add(result)
            stamp = parse_utc(envelope.get("timestamp"))
            following = parse_utc(envelope.get("next_timestamp"))
            if stamp is not None:
                seen.add(stamp)
            if progress and stamp:
                progress(stamp)
            if following is None or following in seen:
                break
            date = following
        return total

    def store_odds(self, response: ApiResponse, events: Any, *, sport: str, source: str, as_of: datetime,
                   tier: str | None = None, payload: Any = None) -> IngestResult:
        payload = response.data if payload is None else payload
        normalized = normalize_odds(events, as_of, self.odds_format)
        hours: float | None = None
        if not normalized.events.is_empty():
            hours = (normalized.events["commence_time"].min() - as_of).total_seconds() / 3600.0
        with self.engine.begin() as conn:
            snapshot_id, inserted = writes.store_snapshot(
                conn, payload=payload, sport_key=sport, source=source, as_of=as_of,
                fetched_at=response.requested_at, odds_format=self.odds_format, fetch_id=self.last_fetch_id,
                fetch_tier=tier, hours_to_commence=hours, regions=",".join(self.regions),
                markets=",".join(self.markets), quota=response.quota.as_dict(),
                event_count=len(events) if isinstance(events, list) else 0,
            )
        result = IngestResult(snapshots=int(inserted), duplicate_snapshots=int(not inserted),
                              credits=response.quota.last or 0, as_of=[as_of])
        rows = normalized.rows.with_columns(snapshot_id=snapshot_id)
        result.invalid_rows = rows.filter(~rows["is_valid"]).height
        if self.quality_mode == "reject":
            rows = rows.filter(rows["is_valid"])
        with self.engine.begin() as conn:
            result.events = writes.upsert_events(conn, normalized.events, seen_at=response.requested_at)
            result.rows = writes.write_normalized(conn, rows)
            if inserted:
                result.findings = writes.record_findings(conn, normalized.findings, source=f"odds:{source}",
                                                         snapshot_id=snapshot_id, fetch_id=self.last_fetch_id)
        return result

    def renormalize(self, snapshot_id: int) -> IngestResult:
        """Rebuilds normalised rows from one stored raw snapshot (idempotent)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(odds_snapshots).where(odds_snapshots.c.snapshot_id == snapshot_id)).one()
        events = row.payload["data"] if row.source == "historical" else row.payload
        normalized = normalize_odds(events, row.as_of, row.odds_format)
        with self.engine.begin() as conn:
            writes.upsert_events(conn, normalized.events, seen_at=row.fetched_at)
            count = writes.write_normalized(conn, normalized.rows.with_columns(snapshot_id=snapshot_id))
        return IngestResult(rows=count)

    def _malformed(self, sport: str, exc: MalformedResponseError) -> IngestResult:
        finding = Finding("malformed_response", "error", str(exc), context={"url": exc.url})
        with self.engine.begin() as conn:
            writes.record_findings(conn, [finding], source=f"odds:{sport}", fetch_id=self.last_fetch_id)
        return IngestResult(findings=1, errors=[str(exc)])

    # -- scores and events -----------------------------------------------------------------

    def scores(self, sport: str, days_from: int | None = 3) -> IngestResult:
        try:
            response = self.client.scores(sport, days_from=days_from)
        except MalformedResponseError as exc:
            return self._malformed(sport, exc)
        updates, findings = parse_scores(response.data)
        with self.engine.begin() as conn:
            changed = writes.apply_scores(conn, updates)
            writes.record_findings(conn, findings, source=f"scores:{sport}", fetch_id=self.last_fetch_id)
        return IngestResult(events=changed, findings=len(findings), credits=response.quota.last or 0)

    def discover_events(self, sport: str) -> IngestResult:
        response = self.client.events(sport)
        frame = normalize_odds(
            [{**e, "bookmakers": []} for e in response.data if isinstance(e, dict)],
            datetime.now(timezone.utc),
        )
        with self.engine.begin() as conn:
            count = writes.upsert_events(conn, frame.events, seen_at=response.requested_at)
            writes.record_findings(conn, frame.findings, source=f"events:{sport}", fetch_id=self.last_fetch_id)
        return IngestResult(events=count, findings=len(frame.findings))

