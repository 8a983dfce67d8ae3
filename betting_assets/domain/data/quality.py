"""Data-quality rules over normalised odds, events and scores.

Each rule returns the failing rows as findings (severity ``warn`` or ``error``) with enough
context to find them again; the Dagster layer turns them into asset-check results and the
data-quality log. Rules never change data: ``reject_rows`` is the one place that drops rows,
and only when the reject mode is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import polars as pl

from betting_assets.domain.data.normalize import NATURAL_KEY, Finding, snapshot_events
from betting_assets.domain.collection.tiers import due_events
from betting_assets.domain.vocabulary import EventStatus, Market, needed

SHARP_BOOKS = frozenset({"pinnacle"})
OVERROUND_BOUNDS: dict[tuple[str, str], tuple[float, float]] = {
    ("sharp", Market.H2H): (-0.01, 0.10), ("sharp", Market.SPREADS): (-0.01, 0.10),
    ("sharp", Market.TOTALS): (-0.01, 0.10),
    ("soft", Market.H2H): (0.0, 0.35), ("soft", Market.SPREADS): (0.0, 0.25), ("soft", Market.TOTALS): (0.0, 0.15),
    ("exchange", Market.H2H): (-0.02, 0.10), ("exchange", Market.SPREADS): (-0.02, 0.10),
    ("exchange", Market.TOTALS): (-0.02, 0.10),
}
"""the overround a bookmaker's complete market may show, by its kind and market, outside which
the quote is suspect (a warning). Calibrated on the shared history (the Premier League and the
Bundesliga, 2019-20 to 2023-24, 67,773 complete markets): Pinnacle spans 0.02–7.0 % (median
2.1–3.0 %), the soft books 0.8–31 % on the match result (median 5–6 %, the 31 %
one Interwetten market in May 2020), 1.3–22 % on handicaps and 1.8–7.0 % on totals; every one
lies inside, with room. An exchange's best backs are a market, not a book: near 0 and briefly
below. Unknown markets take their kind's match-result band."""
OVERROUND_ERROR = (-0.05, 0.50)
"""beyond these the quote cannot be a book's price: a digit lost or a price mis-keyed (2.10 read
as 21.0 is −43 %, as 1.21 +35 % on top of the margin)"""
LINE_MOVE_LIMIT = 0.15
CLOCK_SKEW = timedelta(minutes=1)
FRESHNESS_GRACE = 1.5

_GROUP = ["event_id", "bookmaker", "market", "line", "snapshot_time"]
_QUOTE = ["event_id", "bookmaker", "market", "outcome", "point"]


class QualityMode(StrEnum):
    """What a failing row becomes: ``flag`` keeps it with its finding, ``reject`` keeps the
    finding and drops the row."""

    FLAG = "flag"
    REJECT = "reject"


@dataclass
class CheckOutcome:
    """One rule's verdict on one batch: ``rows`` are the keys to drop in reject mode."""

    name: str
    checked: int
    findings: list[Finding] = field(default_factory=list)
    rows: pl.DataFrame | None = None

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warn" for f in self.findings)

    @property
    def passed(self) -> bool:
        return not self.findings


def _findings(frame: pl.DataFrame, check: str, severity: Any, message: Any,
              context: list[str]) -> list[Finding]:
    out: list[Finding] = []
    for row in frame.iter_rows(named=True):
        level = severity(row) if callable(severity) else severity
        out.append(Finding(
            check, level, message(row), event_id=row.get("event_id"), bookmaker=row.get("bookmaker"),
            market=row.get("market"), snapshot_id=row.get("snapshot_id"),
            context={k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items() if k in context},
        ))
    return out


def _with_line(rows: pl.DataFrame) -> pl.DataFrame:
    """Spreads quote the two sides at opposite points (-1.5 / +1.5): one line, two outcomes."""
    return rows.with_columns(
        line=pl.when(pl.col("market") == Market.SPREADS).then(pl.col("point").abs()).otherwise(pl.col("point"))
    )


def _expected_outcomes() -> pl.Expr:
    return (
        needed(three_way=pl.col("sport_key").str.starts_with("soccer"))
    )


def price_validity(rows: pl.DataFrame) -> CheckOutcome:
    bad = rows.filter(~pl.col("is_valid"))
    return CheckOutcome(
        "prices_valid", rows.height,
        _findings(bad, "price_valid", "error",
                  lambda r: f"{(r['invalid_reason'] or 'invalid').replace('_', ' ')} for {r['outcome']!r}",
                  ["outcome", "point", "invalid_reason", "snapshot_time"]),
        bad.select(NATURAL_KEY),
    )


def market_completeness(rows: pl.DataFrame) -> CheckOutcome:
    groups = (
        _with_line(rows).filter(pl.col("is_valid"))
        .group_by(_GROUP)
        .agg(pl.col("sport_key").first(), outcomes=pl.col("outcome").n_unique(),
             names=pl.col("outcome").sort())
        .with_columns(expected=_expected_outcomes())
    )
    bad = groups.filter(pl.col("outcomes") != pl.col("expected"))
    findings = _findings(
        bad.with_columns(pl.col("names").list.join(", ")), "market_complete", "error",
        lambda r: f"{r['outcomes']} of {r['expected']} outcomes at line {r['line']} ({r['names']})",
        ["line", "outcomes", "expected", "names", "snapshot_time"],
    )
    return CheckOutcome("market_complete", groups.height, findings, _group_rows(rows, bad))


def bookmaker_kind(bookmaker: pl.Expr) -> pl.Expr:
    """sharp, exchange or soft: what margin a bookmaker's book may carry."""
    from betting_assets.domain.data.catalog import EXCHANGE_BOOKMAKERS

    return (pl.when(bookmaker.is_in(list(SHARP_BOOKS))).then(pl.lit("sharp"))
            .when(bookmaker.is_in(sorted(EXCHANGE_BOOKMAKERS))).then(pl.lit("exchange")).otherwise(pl.lit("soft")))


def overround_range(rows: pl.DataFrame) -> CheckOutcome:
    """Each complete market's overround against its kind's band (``OVERROUND_BOUNDS``): a
    warning outside it, an error beyond what any book could quote (``OVERROUND_ERROR``)."""
    bounds = pl.DataFrame([{"kind": k, "market": str(m), "low": lo, "high": hi}
                           for (k, m), (lo, hi) in OVERROUND_BOUNDS.items()])
    fallback = {k: OVERROUND_BOUNDS[(k, Market.H2H)] for k in ("sharp", "soft", "exchange")}
    groups = (
        _with_line(rows).filter(pl.col("is_valid"))
        .group_by(_GROUP)
        .agg(pl.col("sport_key").first(), outcomes=pl.col("outcome").n_unique(),
             overround=pl.col("implied_prob").sum() - 1.0)
        .with_columns(expected=_expected_outcomes(), kind=bookmaker_kind(pl.col("bookmaker")))
        .filter(pl.col("outcomes") == pl.col("expected"))
        .join(bounds, on=["kind", "market"], how="left")
        .with_columns(low=pl.col("low").fill_null(pl.col("kind").replace_strict({k: v[0] for k, v in fallback.items()})),
                      high=pl.col("high").fill_null(pl.col("kind").replace_strict({k: v[1] for k, v in fallback.items()})))
    )
    low_e, high_e = OVERROUND_ERROR
    bad = groups.filter((pl.col("overround") < pl.col("low")) | (pl.col("overround") > pl.col("high"))).with_columns(
        is_error=(pl.col("overround") < low_e) | (pl.col("overround") > high_e)
    )
    findings = _findings(
        bad, "overround_range", lambda r: "error" if r["is_error"] else "warn",
        lambda r: f"overround {r['overround']:.2%} outside {r['low']:.0%}–{r['high']:.0%} for a {r['kind']} book"
        + (f" (error beyond {low_e:.0%}–{high_e:.0%})" if r["is_error"] else ""),
        ["line", "overround", "kind", "snapshot_time"],
    )
    return CheckOutcome("overround_range", groups.height, findings, _group_rows(rows, bad.filter("is_error")))


def prices_not_after_fetch(rows: pl.DataFrame) -> CheckOutcome:
    bad = rows.filter(pl.col("last_update") > pl.col("snapshot_time") + pl.lit(CLOCK_SKEW))
    return CheckOutcome(
        "no_future_prices", rows.height,
        _findings(bad, "no_future_prices", "error",
                  lambda r: f"price updated {r['last_update'].isoformat()} after its fetch at "
                            f"{r['snapshot_time'].isoformat()}",
                  ["outcome", "point", "last_update", "snapshot_time"]),
        bad.select(NATURAL_KEY),
    )


def line_moves(rows: pl.DataFrame, previous: pl.DataFrame | None = None,
               limit: float = LINE_MOVE_LIMIT) -> CheckOutcome:
    """A quote whose implied probability moved more than ``limit`` since the same book's
    previous snapshot is flagged (a warning: news moves lines, so do typos)."""
    columns = [*_QUOTE, "snapshot_time", "implied_prob"]
    history = rows.filter(pl.col("is_valid")).select(columns)
    if previous is not None and not previous.is_empty():
        history = pl.concat([previous.filter(pl.col("is_valid")).select(columns), history]).unique(
            [*_QUOTE, "snapshot_time"], keep="last")
    moved = (
        history.sort("snapshot_time")
        .with_columns(
            previous_prob=pl.col("implied_prob").shift(1).over(_QUOTE),
            previous_time=pl.col("snapshot_time").shift(1).over(_QUOTE),
        )
        .with_columns(move=(pl.col("implied_prob") - pl.col("previous_prob")))
        .join(rows.select(_QUOTE + ["snapshot_time"]), on=[*_QUOTE, "snapshot_time"], how="semi")
    )
    checked = moved.filter(pl.col("move").is_not_null()).height
    bad = moved.filter(pl.col("move").abs() > limit)
    return CheckOutcome(
        "line_moves", checked,
        _findings(bad, "line_move", "warn",
                  lambda r: f"implied probability of {r['outcome']!r} moved {r['move']:+.3f} since "
                            f"{r['previous_time'].isoformat()}",
                  ["outcome", "point", "move", "previous_prob", "implied_prob", "previous_time", "snapshot_time"]),
    )


def required_fields(findings: list[Finding], checked: int) -> CheckOutcome:
    """The normaliser reports every skipped event, bookmaker, market or outcome; this collects
    them as one check."""
    wanted = {"payload_shape", "event_required_fields", "bookmaker_required_fields",
              "market_required_fields", "outcome_required_fields", "event_commence_time",
              "malformed_response"}
    return CheckOutcome("required_fields", checked, [f for f in findings if f.check in wanted])


def incomplete(rows: pl.DataFrame, findings: list[Finding]) -> bool:
    """Whether a response lost part of itself on the way: a required field missing, a price
    included. A price that is there but wrong (below 1.01, not a number) is the provider's
    answer, kept and flagged; a missing one is a hole a re-fetch may fill."""
    return bool(required_fields(findings, 0).findings) or bool(
        rows.height and (rows["invalid_reason"] == "missing_price").any())


LIVE_SOURCES = ("live", "event")
"""answers of a moment that has passed: the same time cannot be asked again"""


def current_snapshots(snapshots: list[Any], events: Mapping[int, str] | None = None) -> list[Any]:
    """The snapshots that answer for their time (rows with ``snapshot_id``, ``sport_key``,
    ``source``, ``markets``, ``as_of``, ``complete``): an incomplete response is left out once a
    complete one answers for it, so its gaps never shadow complete rows. A complete one answers
    for the same sport, source and time; and, as a live moment cannot be asked again, a later
    complete live answer of the same sport, markets and scope answers for an incomplete one
    (``events``: the event each per-event snapshot is of, by snapshot id). Without that, one
    cut-short live body would fail every later run of its day, as no re-run can fetch it."""
    events = events or {}
    complete = {(s.sport_key, s.source, s.as_of) for s in snapshots if s.complete}

    def scope(s: Any) -> tuple[Any, ...] | None:
        if s.source == "live":
            return s.sport_key, s.source, s.markets
        if s.source == "event" and s.snapshot_id in events:
            return s.sport_key, s.source, s.markets, events[s.snapshot_id]
        return None

    answered: dict[tuple[Any, ...], datetime] = {}
    for s in snapshots:
        key = scope(s)
        if s.complete and key is not None:
            answered[key] = max(answered.get(key, s.as_of), s.as_of)

    def superseded(s: Any) -> bool:
        key = scope(s)
        return (s.sport_key, s.source, s.as_of) in complete or (key is not None and answered.get(key, s.as_of) > s.as_of)

    return [s for s in snapshots if s.complete or not superseded(s)]


def snapshots_complete(snapshots: list[Any], events: Mapping[int, str] | None = None) -> CheckOutcome:
    """The ``required_fields`` rule over what a partition holds, not over one run's fetches:
    a stored response with a field missing fails it until a complete one answers for it (a
    re-run of a historical time, or the next live answer to the same call)."""
    current = current_snapshots(snapshots, events)
    return CheckOutcome("required_fields", len(current), [
        Finding("required_fields", "error",
                f"the {s.source} response of {s.as_of.isoformat()} lacks required fields; "
                + ("the next complete answer to the same call answers for it" if s.source in LIVE_SOURCES else
                   "a re-run of this partition fetches it again"), snapshot_id=s.snapshot_id)
        for s in current if not s.complete])


def snapshot_event(payload: Any) -> str | None:
    """The event a per-event snapshot's payload is of."""
    events = snapshot_events(payload, "event")
    first = events[0] if isinstance(events, list) and events else None
    return first.get("id") if isinstance(first, dict) and isinstance(first.get("id"), str) else None


def duplicate_keys(findings: list[Finding], checked: int) -> CheckOutcome:
    return CheckOutcome("no_duplicate_keys", checked, [f for f in findings if f.check == "duplicate_key"])


def odds_freshness(events: pl.DataFrame, now: datetime, grace: float = FRESHNESS_GRACE) -> CheckOutcome:
    """Upcoming events whose last snapshot is older than ``grace`` × their tier's interval."""
    frame = due_events(events, now).filter(pl.col("tier").is_not_null())
    stale_after = (pl.col("due_at") - pl.col("last_odds_at")) * grace
    bad = frame.filter(pl.col("last_odds_at").is_null() | ((pl.lit(now) - pl.col("last_odds_at")) > stale_after))
    return CheckOutcome(
        "odds_freshness", frame.height,
        _findings(bad, "odds_freshness", "warn",
                  lambda r: (f"no odds yet, {r['hours_to_start']:.1f} h before start ({r['tier']} tier)"
                             if r["last_odds_at"] is None else
                             f"last odds {r['last_odds_at'].isoformat()}, stale for the {r['tier']} tier "
                             f"({r['hours_to_start']:.1f} h before start)"),
                  ["tier", "hours_to_start", "last_odds_at", "commence_time"]),
    )


RESULT_GRACE = timedelta(hours=6)
"""how long after its start an event may go without a result before the scores check fails"""


def scores_sanity(events: pl.DataFrame, now: datetime | None = None, grace: timedelta = RESULT_GRACE) -> CheckOutcome:
    """Scores are non-negative integers, a final event has both, a live one has both once it
    has any; and (given ``now``) an event that started more than ``grace`` ago has a result,
    or is cancelled or postponed. A result missing is a failure, never a quiet pass."""
    one_missing = pl.col("home_score").is_null() != pl.col("away_score").is_null()
    overdue = (pl.col("status").is_in([EventStatus.SCHEDULED, EventStatus.LIVE]) & (pl.col("commence_time") < pl.lit(now - grace))
               if now is not None else pl.lit(False))
    bad = events.filter(
        (pl.col("home_score") < 0) | (pl.col("away_score") < 0)
        | ((pl.col("status") == EventStatus.FINAL) & (pl.col("home_score").is_null() | pl.col("away_score").is_null()))
        | ((pl.col("status") == "live") & one_missing)
        | overdue
    ).with_columns(overdue=overdue)

    def message(row: dict[str, Any]) -> str:
        if row["overdue"]:
            return (f"no result: started {row['commence_time']:%Y-%m-%d %H:%M}, still {row['status']} "
                    f"more than {grace.total_seconds() / 3600:g} h later")
        return f"{row['status']} event with scores {row['home_score']}–{row['away_score']}"

    return CheckOutcome(
        "scores_sane", events.height,
        _findings(bad, "scores_sane", "error", message, ["status", "home_score", "away_score", "commence_time"]),
    )


def results_overdue(events: pl.DataFrame, now: datetime, grace: timedelta = RESULT_GRACE) -> CheckOutcome:
    """Events anywhere in the warehouse still without a result ``grace`` after their start:
    a partition's own scores check sees only the partitions that ran, this sees them all."""
    late = events.filter(pl.col("status").is_in([EventStatus.SCHEDULED, EventStatus.LIVE]) & (pl.col("commence_time") < now - grace))
    hours = grace.total_seconds() / 3600

    def message(row: dict[str, Any]) -> str:
        return (f"{row['home_team']} v {row['away_team']} ({row['sport_key']}) started "
                f"{row['commence_time']:%Y-%m-%d %H:%M} UTC and is still {row['status']} more than {hours:g} h later")

    return CheckOutcome("results_overdue", events.height, _findings(
        late, "results_overdue", "error", message, ["sport_key", "home_team", "away_team", "status", "commence_time"]))


def _group_rows(rows: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    if groups.is_empty():
        return rows.head(0).select(NATURAL_KEY)
    return _with_line(rows).join(groups.select(_GROUP), on=_GROUP, how="semi").select(NATURAL_KEY)


RAW_CHECKS = ("required_fields", "no_future_prices")
NORMALIZED_CHECKS = ("prices_valid", "no_duplicate_keys", "market_complete", "overround_range", "line_moves")
NORMALIZED_CHECK_SOURCES = {"price_valid", "duplicate_key"} | {
    "payload_shape", "event_required_fields", "bookmaker_required_fields", "market_required_fields",
    "outcome_required_fields", "event_commence_time",
}


def evaluate_raw(rows: pl.DataFrame, findings: list[Finding]) -> list[CheckOutcome]:
    """Rules about what the provider sent, judged as it arrives: a payload failing them
    should not be derived from."""
    return [required_fields(findings, rows.height), prices_not_after_fetch(rows)]


def evaluate_normalized(rows: pl.DataFrame, findings: list[Finding],
                        previous: pl.DataFrame | None = None) -> list[CheckOutcome]:
    return [
        price_validity(rows),
        duplicate_keys(findings, rows.height),
        market_completeness(rows),
        overround_range(rows),
        line_moves(rows, previous),
    ]


def merge(left: list[CheckOutcome], right: list[CheckOutcome]) -> list[CheckOutcome]:
    """Adds up outcomes of the same rules over several batches."""
    merged: dict[str, CheckOutcome] = {o.name: CheckOutcome(o.name, o.checked, list(o.findings), o.rows)
                                       for o in left}
    for outcome in right:
        if outcome.name not in merged:
            merged[outcome.name] = CheckOutcome(outcome.name, outcome.checked, list(outcome.findings), outcome.rows)
            continue
        into = merged[outcome.name]
        into.checked += outcome.checked
        into.findings.extend(outcome.findings)
        if outcome.rows is not None:
            into.rows = outcome.rows if into.rows is None else pl.concat([into.rows, outcome.rows])
    return list(merged.values())


def reject_rows(rows: pl.DataFrame, outcomes: list[CheckOutcome]) -> tuple[pl.DataFrame, int]:
    """Drops the rows an error-level rule named; returns the rows kept and how many went."""
    keys = [o.rows for o in outcomes if o.rows is not None and not o.rows.is_empty()]
    if not keys:
        return rows, 0
    drop = pl.concat(keys).unique()
    kept = rows.join(drop, on=NATURAL_KEY, how="anti", nulls_equal=True)
    return kept, rows.height - kept.height
