"""Collection as a service: fetch through the client, keep the raw response, then derive.

The raw snapshot is committed in its own transaction before normalisation starts, so a
failure while deriving never loses what the provider sent; normalised rows can always be
rebuilt from the raw table. Dagster assets and the CLI both call this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import polars as pl
from sqlalchemy import Connection, Engine

from betting_assets.domain.data import quality
from betting_assets.domain.data.quality import QualityMode
from betting_assets.domain.data.normalize import NORMALIZED_SCHEMA, Finding, normalize_odds, snapshot_events
from betting_assets.domain.data.scores import ScoreUpdate, parse_scores
from betting_assets.domain.collection.tiers import FEED_LEAD, TierCall, tier_calls, tier_name
from betting_assets.domain.timeutil import format_utc, parse_utc
from betting_assets.sources.errors import CreditBudgetError, MalformedResponseError, OddsApiError
from betting_assets.sources.odds_api import ApiResponse, Attempt, OddsApiClient
from betting_assets.domain.collection.credit_budget import period_start
from betting_assets.warehouse import health, queries, writes
from betting_assets.warehouse.transactions import in_transaction
from betting_assets.domain.vocabulary import EventStatus

_RAW_KEPT_IN_SNAPSHOTS = {"odds", "historical_odds", "event_odds", "historical_event_odds"}
PARTICIPANTS_AGE = timedelta(days=7)
"""a sport's participants list is asked for again after this, or sooner for a team it lacks"""
WARMUP = timedelta(days=3)
COVERAGE_LOOKBACK = timedelta(days=14)
"""how far before a day a stored historical answer may be stamped and still answer for it"""
POSTPONEMENT = timedelta(days=1)
LIVE_STATES = (EventStatus.SCHEDULED, EventStatus.POSTPONED, EventStatus.CANCELLED)


def derive_snapshots(snapshots: list[Any], event_ids: set[str] | None = None) -> tuple[pl.DataFrame, list[Finding]]:
    """Normalised rows and findings of stored raw snapshots (rows of ``odds_snapshots``),
    optionally of some events only."""
    frames: list[pl.DataFrame] = []
    findings: list[Finding] = []
    scopes = {s.snapshot_id: e for s in snapshots if s.source == "event"
              and (e := quality.snapshot_event(s.payload)) is not None}
    for snap in quality.current_snapshots(snapshots, scopes):
        events = snapshot_events(snap.payload, snap.source)
        if event_ids is not None and isinstance(events, list):
            events = [e for e in events if isinstance(e, dict) and e.get("id") in event_ids]
        normalized = normalize_odds(events, snap.as_of, snap.odds_format, snapshot_id=snap.snapshot_id)
        frames.append(normalized.rows.with_columns(snapshot_id=pl.lit(snap.snapshot_id, dtype=pl.Int64)))
        findings.extend(replace(f, snapshot_id=snap.snapshot_id) for f in normalized.findings)
    rows = pl.concat(frames) if frames else pl.DataFrame(schema=NORMALIZED_SCHEMA)
    return rows, findings


def _logged(outcomes: list[quality.CheckOutcome], findings: list[Finding]) -> list[Finding]:
    """Every failing rule's findings, and the normaliser's own that no rule already reports."""
    covered = {f.check for o in outcomes for f in o.findings} | quality.NORMALIZED_CHECK_SOURCES
    return [f for o in outcomes for f in o.findings] + [f for f in findings if f.check not in covered]


@dataclass
class IngestResult:
    snapshots: int = 0
    duplicate_snapshots: int = 0
    incomplete_snapshots: int = 0
    rows: int = 0
    invalid_rows: int = 0
    events: int = 0
    findings: int = 0
    errors: list[str] = field(default_factory=list)
    as_of: list[datetime] = field(default_factory=list)
    snapshot_ids: list[int] = field(default_factory=list)
    outcomes: list[quality.CheckOutcome] = field(default_factory=list)
    bookmakers: set[str] = field(default_factory=set)
    tiers: dict[str, int] = field(default_factory=dict)
    status_changes: dict[str, int] = field(default_factory=dict)

    def add(self, other: "IngestResult") -> "IngestResult":
        for name in ("snapshots", "duplicate_snapshots", "incomplete_snapshots", "rows", "invalid_rows", "events",
                     "findings"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        self.as_of.extend(other.as_of)
        self.snapshot_ids.extend(other.snapshot_ids)
        self.bookmakers |= other.bookmakers
        for tier, count in other.tiers.items():
            self.tiers[tier] = self.tiers.get(tier, 0) + count
        self.outcomes = quality.merge(self.outcomes, other.outcomes)
        return self


@dataclass
class RebuildResult:
    snapshots: int
    rows: int
    rejected: int
    outcomes: list[quality.CheckOutcome]


class Collector:
    def __init__(self, engine: Engine, client: OddsApiClient, *, regions: list[str], markets: list[str],
                 odds_format: str = "decimal", bookmakers: list[str] | None = None,
                 quality_mode: QualityMode = QualityMode.FLAG, clock_at: datetime | None = None,
                 budget: int | None = None, reset_day: int = 1) -> None:
        """``clock_at``: the time every fetch is logged at on the clock budgets and plans are
        kept in, when it is not the wall clock (a sandbox's clock stands still between moves);
        ``budget``: the credits a period may spend (``BETTING_CREDIT_BUDGET``), held before every
        call, retries included, against what the period has spent as the provider billed it."""
        self.engine = engine
        self.client = client
        self.regions = regions
        self.markets = markets
        self.odds_format = odds_format
        self.bookmakers = bookmakers or None
        self.quality_mode = quality_mode
        self.clock_at = clock_at
        self.last_fetch_id: int | None = None
        self.credits_charged = 0
        """credits the provider's headers say this collector's calls cost, failed ones included"""
        if client.observer is not None:
            raise ValueError("this client already reports its attempts elsewhere; a collector records every "
                             "attempt in fetch_log itself, so give it a client of its own")
        client.observer = self._log_attempt   # the collector owns its client's attempt log
        self.budget, self.reset_day = budget, reset_day
        client.gate = self._within_budget

    def _within_budget(self, endpoint: str, sport: str | None, cost: int) -> None:
        if self.budget is None or cost <= 0:
            return
        now = self.clock_at or datetime.now(timezone.utc)
        with self.engine.connect() as conn:
            _, spent = health.credits(conn, now, period_start(now, self.reset_day))
            pending = health.unanswered_pending(conn)
        left = self.budget - spent - pending
        if cost > left:
            held = f", {pending} of them held for calls that got no answer yet" if pending else ""
            raise CreditBudgetError(f"{endpoint}{' for ' + sport if sport else ''} could cost {cost} credits and the "
                                    f"budget has {max(left, 0)} of {self.budget} left this period{held} "
                                    "(BETTING_CREDIT_BUDGET): not called")

    def _log_attempt(self, attempt: Attempt) -> None:
        keep_body = attempt.error is not None or attempt.endpoint not in _RAW_KEPT_IN_SNAPSHOTS
        self.credits_charged += attempt.quota.last or 0
        record = writes.FetchRecord(
            endpoint=attempt.endpoint, sport_key=attempt.sport_key, url=attempt.url, params=attempt.params,
            requested_at=attempt.requested_at, status_code=attempt.status_code, ok=attempt.error is None,
            error=attempt.error, elapsed_ms=attempt.elapsed_ms, attempts=attempt.attempt,
            requests_remaining=attempt.quota.remaining, requests_used=attempt.quota.used,
            requests_last=attempt.quota.last, body=attempt.body if keep_body else None,
            clock_at=self.clock_at, requests_expected=attempt.expected,
        )
        with self.engine.begin() as conn:
            self.last_fetch_id = writes.record_fetch(conn, record)

    # -- odds ---------------------------------------------------------------------------

    def live_odds(self, sport: str, *, now: datetime | None = None, tier: str | None = None,
                  derive: bool = True, markets: list[str] | None = None) -> IngestResult:
        """Every listed event's odds; ``markets`` (the configured ones by default) may be fewer,
        as a plan's closing snapshot asks for only what bets and CLV use."""
        markets = markets or self.markets
        try:
            response = self.client.odds(sport, regions=self.regions, markets=markets,
                                        odds_format=self.odds_format, bookmakers=self.bookmakers)
        except MalformedResponseError as exc:
            return self._malformed(sport, exc)
        as_of = now or response.requested_at
        result = self.store_odds(response, response.data, sport=sport, source="live", as_of=as_of, tier=tier,
                                 derive=derive, markets=markets)
        with self.engine.begin() as conn:
            writes.touch_sport(conn, sport, as_of)
        return result

    def event_odds(self, sport: str, event_id: str, *, now: datetime | None = None, tier: str | None = None,
                   derive: bool = True, markets: list[str] | None = None) -> IngestResult:
        """One event's odds through the per-event endpoint (billed by the markets it returns),
        kept whole as a snapshot of source ``event``."""
        markets = markets or self.markets
        try:
            response = self.client.event_odds(sport, event_id, regions=self.regions, markets=markets,
                                              odds_format=self.odds_format, bookmakers=self.bookmakers)
        except MalformedResponseError as exc:
            return self._malformed(sport, exc)
        return self.store_odds(response, [response.data], sport=sport, source="event", as_of=now or response.requested_at,
                               tier=tier, payload=response.data, derive=derive, markets=markets)

    def historical_odds(self, sport: str, date: datetime, tier: str | None = None,
                        derive: bool = True) -> tuple[IngestResult, dict[str, Any]]:
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
                                 tier=tier, payload=envelope, derive=derive)
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
                   tier: str | None = None, payload: Any = None, derive: bool = True,
                   markets: list[str] | None = None) -> IngestResult:
        """Keeps the raw payload (committed on its own), then, when ``derive``, its normalised
        rows. With ``derive=False`` only the raw-level checks run (required fields, prices not
        after the fetch) and normalisation is left to ``rebuild``."""
        payload = response.data if payload is None else payload
        normalized = normalize_odds(events, as_of, self.odds_format)
        hours: float | None = None
        if not normalized.events.is_empty():
            hours = (normalized.events["commence_time"].min() - as_of).total_seconds() / 3600.0
        tier = tier or tier_name(hours)
        missing = quality.incomplete(normalized.rows, normalized.findings)
        with self.engine.begin() as conn:
            snapshot_id, inserted = writes.store_snapshot(
                conn, payload=payload, sport_key=sport, source=source, as_of=as_of,
                fetched_at=response.requested_at, odds_format=self.odds_format, fetch_id=self.last_fetch_id,
                fetch_tier=tier, hours_to_commence=hours, regions=",".join(self.regions),
                markets=",".join(markets or self.markets), quota=response.quota.as_dict(),
                event_count=len(events) if isinstance(events, list) else 0, complete=not missing,
            )
        result = IngestResult(snapshots=int(inserted), duplicate_snapshots=int(not inserted),
                              incomplete_snapshots=int(bool(missing)),
                              as_of=[as_of], snapshot_ids=[snapshot_id],
                              bookmakers=set(normalized.rows["bookmaker"].unique().to_list()),
                              tiers={tier or "none": 1})
        rows = normalized.rows.with_columns(snapshot_id=snapshot_id)

        def derive_rows(conn: Connection) -> None:
            result.events = writes.upsert_events(conn, normalized.events, seen_at=response.requested_at)
            writes.touch_last_odds(conn, normalized.events["event_id"].to_list(), as_of)
            if not derive:
                outcomes = quality.evaluate_raw(rows, normalized.findings)
                result.outcomes = outcomes
                if inserted:
                    found = [replace(f, snapshot_id=snapshot_id) for o in outcomes for f in o.findings]
                    result.findings = writes.record_findings(conn, found, source="odds:raw",
                                                             fetch_id=self.last_fetch_id)
                return
            kept = rows.filter(rows["is_valid"]) if self.quality_mode is QualityMode.REJECT else rows
            result.invalid_rows = rows.filter(~rows["is_valid"]).height
            result.rows = writes.write_normalized(conn, kept)
            result.outcomes = quality.evaluate_normalized(rows, normalized.findings, None)
            if inserted:
                result.findings = writes.record_findings(conn, _logged(result.outcomes, normalized.findings),
                                                         source=f"odds:{source}", snapshot_id=snapshot_id,
                                                         fetch_id=self.last_fetch_id)

        in_transaction(self.engine, derive_rows)
        return result

    def rebuild(self, sport: str, start: datetime, end: datetime) -> RebuildResult:
        """Re-derives normalised rows from every raw snapshot of ``sport`` in [start, end).

        Idempotent: what was derived from these snapshots before is replaced in the same
        transaction. The quality rules run over the whole batch (line moves are measured
        against the quotes just before ``start``); in reject mode the rows an error-level rule
        names are left out, and every failing row is in the data-quality log either way.
        """
        with self.engine.connect() as conn:
            snapshots = queries.snapshots_between(conn, sport, start, end)
        rows, findings = derive_snapshots(snapshots)
        ids = [s.snapshot_id for s in snapshots]
        with self.engine.connect() as conn:
            previous = queries.previous_quotes(conn, rows["event_id"].unique().to_list(), start)
        outcomes = quality.evaluate_normalized(rows, findings, previous)
        kept, rejected = (quality.reject_rows(rows, outcomes) if self.quality_mode is QualityMode.REJECT else (rows, 0))
        with self.engine.begin() as conn:
            writes.clear_derived(conn, ids)
            written = writes.write_normalized(conn, kept)
            writes.record_findings(conn, _logged(outcomes, findings), source="odds:normalized")
        return RebuildResult(snapshots=len(ids), rows=written, rejected=rejected, outcomes=outcomes)

    def backfill_day(self, sport: str, start: datetime, end: datetime, *, lead: timedelta = FEED_LEAD,
                     warmup: timedelta = WARMUP, progress: Callable[[TierCall, str], None] | None = None,
                     ) -> IngestResult:
        """Collects [start, end) of history the way the live sensor would have: the events
        known then decide, by tier, when odds were fetched; each planned time is one
        historical call. A time whose answer is already known (the provider's
        ``next_timestamp`` says no newer snapshot exists yet, or a snapshot is already stored
        within a minute of it) costs nothing."""
        schedule: dict[str, datetime] = {}
        for moment in (start - warmup, start):
            frame = self._fixtures_at(sport, moment)
            in_transaction(self.engine, lambda conn, f=frame, m=moment: writes.upsert_events(conn, f.events, seen_at=m))
            schedule.update(dict(frame.events.select("event_id", "commence_time").iter_rows()))
        plans = [p for p in tier_calls(sorted(schedule.values()), start - warmup, end, lead=lead)
                 if p.at >= start]
        with self.engine.connect() as conn:
            covered = queries.snapshot_coverage(conn, sport, start - COVERAGE_LOOKBACK, end)
        total = IngestResult()
        for plan in plans:
            if any(since <= plan.at < until for since, until in covered):
                if progress:
                    progress(plan, "already stored")
                continue
            result, envelope = self.historical_odds(sport, plan.at, tier=plan.tier, derive=False)
            total.add(result)
            stamp, following = parse_utc(envelope.get("timestamp")), parse_utc(envelope.get("next_timestamp"))
            if stamp is not None and not result.incomplete_snapshots and not result.errors:
                covered.append((stamp, following or datetime.max.replace(tzinfo=timezone.utc)))
            if progress:
                progress(plan, "fetched")
        return total

    def _fixtures_at(self, sport: str, moment: datetime) -> Any:
        """The fixture list as it was at ``moment``, normalised: from the fetch log when a
        whole answer was bought before (history does not change), else from the provider. An
        answer with an event missing a required field is recorded and never reused."""
        with self.engine.connect() as conn:
            body = queries.stored_answer(conn, "historical_events", sport, format_utc(moment))
        if body is not None:
            try:
                stored = self._fixture_frame(json.loads(body).get("data"), moment)
                if not quality.required_fields(stored.findings, 0).findings:
                    return stored
            except (ValueError, AttributeError):
                pass
        frame = self._fixture_frame(self.client.historical_events(sport, moment).data.get("data"), moment)
        if frame.findings:
            in_transaction(self.engine, lambda conn: writes.record_findings(
                conn, frame.findings, source=f"events:{sport}", fetch_id=self.last_fetch_id))
        return frame

    @staticmethod
    def _fixture_frame(listed: Any, moment: datetime) -> Any:
        return normalize_odds([{**e, "bookmakers": []} for e in (listed if isinstance(listed, list) else [])
                               if isinstance(e, dict)], moment)

    def import_results(self, results: pl.DataFrame, sport: str, start: datetime, end: datetime) -> int:
        """Final scores for the sport's events in [start, end) from a results source (football-data
        files, which may hold other leagues too: those are not the partition's and are left alone),
        for history older than the provider's three-day scores window. Events are matched by id,
        as the sandbox serving the same files uses the same ids."""
        window = results.filter((pl.col("sport_key") == sport)
                                & (pl.col("commence_time") >= start) & (pl.col("commence_time") < end)
                                & pl.col("home_score").is_not_null() & pl.col("away_score").is_not_null())
        updates = [
            ScoreUpdate(event_id=r["event_id"], sport_key=r["sport_key"], commence_time=r["commence_time"], home_team=r["home_team"],
                        away_team=r["away_team"], status=EventStatus.FINAL, completed=True, home_score=int(r["home_score"]),
                        away_score=int(r["away_score"]), last_update=r.get("ends_at"))
            for r in window.iter_rows(named=True)
        ]
        return in_transaction(self.engine, lambda conn: writes.apply_scores(conn, updates))

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

        def apply(conn: Connection) -> int:
            changed = writes.apply_scores(conn, updates)
            writes.record_findings(conn, findings, source=f"scores:{sport}", fetch_id=self.last_fetch_id)
            return changed

        changed = in_transaction(self.engine, apply)
        return IngestResult(events=changed, findings=len(findings))

    def participants(self, sport: str, now: datetime) -> list[str]:
        """The sport's teams as the feed names them: the last list the fetch log kept, asked for
        again (one credit) when there is none, when it is older than ``PARTICIPANTS_AGE``, or when
        an upcoming event names a team it lacks (a promoted club)."""
        with self.engine.connect() as conn:
            last = queries.last_answer(conn, "participants", sport)
            teams = queries.upcoming_events(conn, now, [sport]).select("home_team", "away_team")
        named = set(teams["home_team"].to_list()) | set(teams["away_team"].to_list())
        known = _participant_names(json.loads(last[1])) if last is not None else set()
        if last is None or last[0] < now - PARTICIPANTS_AGE or not named <= known:
            try:
                known = _participant_names(self.client.participants(sport).data)
            except OddsApiError as exc:
                if last is None:
                    raise
                self._log_stale(sport, exc)
        return sorted(known)

    def _log_stale(self, sport: str, exc: Exception) -> None:
        finding = Finding("participants_stale", "warn", f"{sport}: the participants list could not be refreshed "
                          f"({exc}); the last one kept is used")
        with self.engine.begin() as conn:
            writes.record_findings(conn, [finding], source=f"participants:{sport}", fetch_id=self.last_fetch_id)

    def discover_events(self, sport: str, now: datetime | None = None) -> IngestResult:
        """Upserts the provider's fixture list and reads the lifecycle off it: a known event
        whose start moved by more than a day is ``postponed`` (and fetched at its new time); one
        missing from the list while others later than it are listed is ``cancelled``; a
        cancelled event that comes back is ``scheduled`` again."""
        response = self.client.events(sport)
        now = now or response.requested_at
        frame = normalize_odds([{**e, "bookmakers": []} for e in response.data if isinstance(e, dict)], now)
        listed = dict(frame.events.select("event_id", "commence_time").iter_rows())
        horizon = max(listed.values()) if listed else now

        def apply(conn: Connection) -> tuple[int, dict[str, list[str]]]:
            known = queries.upcoming_with_status(conn, sport, LIVE_STATES, now)
            count = writes.upsert_events(conn, frame.events, seen_at=response.requested_at)
            changes: dict[str, list[str]] = {}
            for event_id, row in known.items():
                new = listed.get(event_id)
                if new is None and row.commence_time < horizon and row.status != EventStatus.CANCELLED:
                    changes.setdefault(EventStatus.CANCELLED, []).append(event_id)
                elif new is not None and row.status == EventStatus.CANCELLED:
                    changes.setdefault(EventStatus.SCHEDULED, []).append(event_id)
                elif new is not None and abs(new - row.commence_time) > POSTPONEMENT and row.status == EventStatus.SCHEDULED:
                    changes.setdefault(EventStatus.POSTPONED, []).append(event_id)
            writes.set_event_statuses(conn, changes, response.requested_at)
            writes.record_findings(conn, frame.findings, source=f"events:{sport}", fetch_id=self.last_fetch_id)
            return count, changes

        count, changes = in_transaction(self.engine, apply)
        return IngestResult(events=count, findings=len(frame.findings),
                            status_changes={k: len(v) for k, v in changes.items()})


def _participant_names(data: Any) -> set[str]:
    return {str(p["full_name"]) for p in data or [] if isinstance(p, dict) and p.get("full_name")}
