"""Raw odds payloads (The Odds API v4 shape) to one row per priced outcome.

Walking the nested JSON is forgiving: a partial event, bookmaker or outcome yields a
data-quality finding and the rest of the payload still normalises. Validation is
vectorised in polars afterwards so that a million rows stay cheap.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from betting_assets.domain.data.catalog import KNOWN_BOOKMAKERS, KNOWN_MARKETS
from betting_assets.domain.vocabulary import Side
from betting_assets.domain.pricing.odds import (
    MAX_DECIMAL,
    MIN_DECIMAL,
    american_to_decimal_expr,
    decimal_to_american_expr,
)

NATURAL_KEY = ["event_id", "bookmaker", "market", "outcome", "point", "snapshot_time"]
SPORT_SOURCES = ("live", "historical")
"""snapshots of a whole sport (every listed event); an ``event`` snapshot holds one"""


def snapshot_events(payload: Any, source: str) -> Any:
    """The events a stored provider answer holds: a historical answer's ``data``, one event's
    odds as a list of one."""
    events = payload.get("data") if source == "historical" and isinstance(payload, dict) else payload
    return [events] if isinstance(events, dict) else events

_RAW_SCHEMA: dict[str, pl.DataType] = {
    "sport_key": pl.String,
    "event_id": pl.String,
    "commence_time_raw": pl.String,
    "home_team": pl.String,
    "away_team": pl.String,
    "bookmaker": pl.String,
    "market": pl.String,
    "last_update_raw": pl.String,
    "outcome": pl.String,
    "point": pl.Float64,
    "price_raw": pl.Object,
}

NORMALIZED_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_id": pl.Int64,
    "sport_key": pl.String,
    "event_id": pl.String,
    "commence_time": pl.Datetime("us", "UTC"),
    "bookmaker": pl.String,
    "market": pl.String,
    "outcome": pl.String,
    "side": pl.String,
    "point": pl.Float64,
    "price_decimal": pl.Float64,
    "price_american": pl.Float64,
    "implied_prob": pl.Float64,
    "last_update": pl.Datetime("us", "UTC"),
    "snapshot_time": pl.Datetime("us", "UTC"),
    "hours_to_commence": pl.Float64,
    "is_valid": pl.Boolean,
    "invalid_reason": pl.String,
}


@dataclass(frozen=True)
class Finding:
    """A data-quality record: what rule, how bad, where, and enough context to look it up."""

    check: str
    severity: str
    message: str
    event_id: str | None = None
    bookmaker: str | None = None
    market: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    snapshot_id: int | None = None


@dataclass
class Normalized:
    rows: pl.DataFrame
    events: pl.DataFrame
    findings: list[Finding]


_EVENT_FIELDS = ("id", "commence_time", "home_team", "away_team")


def normalize_odds(
    payload: Any,
    snapshot_time: datetime,
    odds_format: str = "decimal",
    snapshot_id: int | None = None,
    fast: bool = True,
) -> Normalized:
    """Flattens a list of odds events observed at ``snapshot_time``."""
    fast_result = _normalize_fast(payload, snapshot_time, odds_format, snapshot_id) if fast else None
    if fast_result is not None:
        return fast_result
    findings: list[Finding] = []
    if not isinstance(payload, list):
        findings.append(
            Finding("payload_shape", "error", f"expected a list of events, got {type(payload).__name__}")
        )
        payload = []
    columns: dict[str, list[Any]] = {name: [] for name in _RAW_SCHEMA}
    events: list[dict[str, Any]] = []
    unknown_books: set[str] = set()
    unknown_markets: set[str] = set()
    for event in payload:
        if not isinstance(event, dict) or any(not event.get(f) for f in _EVENT_FIELDS):
            missing = [f for f in _EVENT_FIELDS if not (isinstance(event, dict) and event.get(f))]
            findings.append(
                Finding(
                    "event_required_fields",
                    "error",
                    f"event skipped: missing {', '.join(missing)}",
                    event_id=event.get("id") if isinstance(event, dict) else None,
                    context={"missing": missing},
                )
            )
            continue
        event_id = event["id"]
        sport_key = event.get("sport_key")
        events.append(
            {
                "event_id": event_id,
                "sport_key": sport_key,
                "sport_title": event.get("sport_title"),
                "commence_time_raw": event["commence_time"],
                "home_team": event["home_team"],
                "away_team": event["away_team"],
            }
        )
        for book in event.get("bookmakers") or []:
            book_key = book.get("key") if isinstance(book, dict) else None
            if not book_key:
                findings.append(
                    Finding("bookmaker_required_fields", "error", "bookmaker without key skipped",
                            event_id=event_id)
                )
                continue
            if book_key not in KNOWN_BOOKMAKERS:
                unknown_books.add(book_key)
            for market in book.get("markets") or []:
                market_key = market.get("key") if isinstance(market, dict) else None
                if not market_key:
                    findings.append(
                        Finding("market_required_fields", "error", "market without key skipped",
                                event_id=event_id, bookmaker=book_key)
                    )
                    continue
                if market_key not in KNOWN_MARKETS:
                    unknown_markets.add(market_key)
                last_update = market.get("last_update") or book.get("last_update")
                for outcome in market.get("outcomes") or []:
                    if not isinstance(outcome, dict) or not outcome.get("name"):
                        findings.append(
                            Finding("outcome_required_fields", "error", "outcome without name skipped",
                                    event_id=event_id, bookmaker=book_key, market=market_key)
                        )
                        continue
                    point = outcome.get("point")
                    columns["sport_key"].append(sport_key)
                    columns["event_id"].append(event_id)
                    columns["commence_time_raw"].append(event["commence_time"])
                    columns["home_team"].append(event["home_team"])
                    columns["away_team"].append(event["away_team"])
                    columns["bookmaker"].append(book_key)
                    columns["market"].append(market_key)
                    columns["last_update_raw"].append(last_update)
                    columns["outcome"].append(outcome["name"])
                    columns["point"].append(float(point) if isinstance(point, (int, float)) else 0.0)
                    columns["price_raw"].append(outcome.get("price"))
    for key in sorted(unknown_books):
        findings.append(Finding("unknown_bookmaker", "warn", f"bookmaker {key!r} is not in the catalogue",
                                bookmaker=key))
    for key in sorted(unknown_markets):
        findings.append(Finding("unknown_market", "warn", f"market {key!r} is not in the catalogue",
                                market=key))
    rows, row_findings = _row_findings(_validate(_columns_frame(columns), snapshot_time, odds_format, snapshot_id))
    findings.extend(row_findings)
    events_frame = pl.DataFrame(
        events,
        schema={"event_id": pl.String, "sport_key": pl.String, "sport_title": pl.String,
                "commence_time_raw": pl.String, "home_team": pl.String, "away_team": pl.String},
    ).with_columns(commence_time=_parse_ts(pl.col("commence_time_raw"))).drop("commence_time_raw")
    return _finish(rows, events_frame, findings)


def _finish(rows: pl.DataFrame, events_frame: pl.DataFrame, findings: list[Finding]) -> Normalized:
    """Events whose kick-off cannot be read are dropped with a finding, and so are their rows."""
    for event_id in events_frame.filter(pl.col("commence_time").is_null())["event_id"]:
        findings.append(Finding("event_commence_time", "error", "unparseable commence_time; event skipped",
                                event_id=event_id))
    return Normalized(
        rows=rows.filter(pl.col("commence_time").is_not_null()),
        events=events_frame.filter(pl.col("commence_time").is_not_null()).unique("event_id", keep="last"),
        findings=findings,
    )


def _parse_ts(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_datetime(time_zone="UTC", strict=False, time_unit="us")


def _numeric(values: list[Any]) -> tuple[list[float | None], list[bool]]:
    prices: list[float | None] = []
    non_numeric: list[bool] = []
    for value in values:
        if isinstance(value, bool) or value is None:
            prices.append(None)
            non_numeric.append(value is not None)
        elif isinstance(value, (int, float)):
            prices.append(float(value))
            non_numeric.append(False)
        else:
            try:
                prices.append(float(value))
                non_numeric.append(False)
            except (TypeError, ValueError):
                prices.append(None)
                non_numeric.append(True)
    return prices, non_numeric


def _columns_frame(columns: dict[str, list[Any]]) -> pl.DataFrame:
    prices, non_numeric = _numeric(columns.pop("price_raw"))
    schema = {k: v for k, v in _RAW_SCHEMA.items() if k != "price_raw"}
    return pl.DataFrame(columns, schema=schema).with_columns(
        pl.Series("price_in", prices, dtype=pl.Float64),
        pl.Series("non_numeric", non_numeric, dtype=pl.Boolean),
    )


def _validate(frame: pl.DataFrame, snapshot_time: datetime, odds_format: str, snapshot_id: int | None) -> pl.DataFrame:
    american = odds_format == "american"
    price_in = pl.col("price_in")
    decimal = american_to_decimal_expr(price_in) if american else price_in
    snap = pl.lit(snapshot_time).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    frame = frame.with_columns(
        commence_time=_parse_ts(pl.col("commence_time_raw")),
        last_update=_parse_ts(pl.col("last_update_raw")),
        price_decimal=pl.when(decimal >= MIN_DECIMAL).then(decimal).otherwise(None),
        snapshot_time=snap,
        invalid_reason=(
            pl.when(pl.col("non_numeric")).then(pl.lit("non_numeric_price"))
            .when(price_in.is_null()).then(pl.lit("missing_price"))
            .when(pl.lit(american) & (price_in.abs() < 100)).then(pl.lit("american_out_of_range"))
            .when(decimal < MIN_DECIMAL).then(pl.lit("price_below_minimum"))
            .when(~price_in.is_finite()).then(pl.lit("non_finite_price"))
            .when(decimal > MAX_DECIMAL).then(pl.lit("price_above_maximum"))
            .otherwise(None)
        ),
    )
    return frame.with_columns(
        snapshot_id=pl.lit(snapshot_id, dtype=pl.Int64),
        side=side_expr(),
        price_american=(pl.when(pl.lit(american)).then(price_in)
                        .otherwise(decimal_to_american_expr(pl.col("price_decimal")))),
        implied_prob=1.0 / pl.col("price_decimal"),
        hours_to_commence=(pl.col("commence_time") - pl.col("snapshot_time")).dt.total_seconds() / 3600.0,
        is_valid=pl.col("invalid_reason").is_null(),
    ).with_columns(
        price_american=pl.when(pl.col("is_valid")).then(pl.col("price_american")).otherwise(None),
        price_decimal=pl.when(pl.col("is_valid")).then(pl.col("price_decimal")).otherwise(None),
        implied_prob=pl.when(pl.col("is_valid")).then(pl.col("implied_prob")).otherwise(None),
    ).select(*NORMALIZED_SCHEMA, copies=pl.len().over(NATURAL_KEY))


def side_expr() -> pl.Expr:
    """home, away, draw, over or under from the outcome name and the event's teams."""
    outcome = pl.col("outcome")
    return (
        pl.when(outcome == pl.col("home_team")).then(pl.lit(Side.HOME))
        .when(outcome == pl.col("away_team")).then(pl.lit(Side.AWAY))
        .when(outcome == "Draw").then(pl.lit(Side.DRAW))
        .when(outcome == "Over").then(pl.lit(Side.OVER))
        .when(outcome == "Under").then(pl.lit(Side.UNDER))
        .otherwise(None)
    )


def _row_findings(rows: pl.DataFrame) -> tuple[pl.DataFrame, list[Finding]]:
    """Invalid prices and repeated natural keys become findings; of repeated keys the last
    quote is kept, as a provider lists its newest quote last."""
    repeated = rows.filter(pl.col("copies") > 1).unique(NATURAL_KEY, keep="last", maintain_order=True)
    duplicates = [
        Finding(
            "duplicate_key", "error",
            f"{row['copies']} quotes for {row['outcome']!r} at point {row['point']} in one snapshot; last kept",
            event_id=row["event_id"], bookmaker=row["bookmaker"], market=row["market"],
            context={"outcome": row["outcome"], "point": row["point"], "copies": row["copies"]},
        )
        for row in repeated.iter_rows(named=True)
    ]
    rows = rows.unique(NATURAL_KEY, keep="last", maintain_order=True).drop("copies")
    bad = rows.filter(~pl.col("is_valid"))
    return rows, duplicates + [
        Finding(
            "price_valid",
            "error",
            f"{row['invalid_reason'].replace('_', ' ')} for {row['outcome']!r}",
            event_id=row["event_id"],
            bookmaker=row["bookmaker"],
            market=row["market"],
            context={"outcome": row["outcome"], "point": row["point"], "reason": row["invalid_reason"]},
        )
        for row in bad.iter_rows(named=True)
    ]


_OUTCOME = pl.Struct({"name": pl.String, "price": pl.Float64, "point": pl.Float64})
_MARKET = pl.Struct({"key": pl.String, "last_update": pl.String, "outcomes": pl.List(_OUTCOME)})
_BOOK = pl.Struct({"key": pl.String, "last_update": pl.String, "markets": pl.List(_MARKET)})
_EVENT_SCHEMA = pl.Schema({"id": pl.String, "sport_key": pl.String, "sport_title": pl.String,
                           "commence_time": pl.String, "home_team": pl.String, "away_team": pl.String,
                           "bookmakers": pl.List(_BOOK)})


def _normalize_fast(payload: Any, snapshot_time: datetime, odds_format: str,
                    snapshot_id: int | None) -> Normalized | None:
    """Parses a well-formed payload in polars; ``None`` sends anything unusual to the walker,
    which knows how to describe what is wrong with it."""
    if not isinstance(payload, list) or not payload:
        return None
    try:
        events = pl.read_json(io.BytesIO(json.dumps(payload).encode()), schema=_EVENT_SCHEMA)
    except Exception:  # noqa: BLE001 - any parse trouble is the walker's to explain
        return None
    required = events.select(pl.any_horizontal(pl.col(f).is_null() | (pl.col(f) == "")
                                               for f in ("id", "commence_time", "home_team", "away_team")))
    if required.to_series().any():
        return None
    flat = (
        events.rename({"id": "event_id", "commence_time": "commence_time_raw"})
        .explode("bookmakers").unnest("bookmakers")
        .rename({"key": "bookmaker", "last_update": "book_last_update"})
        .explode("markets").unnest("markets")
        .rename({"key": "market", "last_update": "market_last_update"})
        .explode("outcomes").unnest("outcomes")
        .rename({"name": "outcome"})
    )
    if flat.select(pl.col("bookmaker").is_null().any() | pl.col("market").is_null().any()
                   | pl.col("outcome").is_null().any() | (pl.col("outcome") == "").any()).item():
        return None
    findings: list[Finding] = []
    for key in sorted(set(flat["bookmaker"].unique().to_list()) - KNOWN_BOOKMAKERS):
        findings.append(Finding("unknown_bookmaker", "warn", f"bookmaker {key!r} is not in the catalogue",
                                bookmaker=key))
    for key in sorted(set(flat["market"].unique().to_list()) - KNOWN_MARKETS):
        findings.append(Finding("unknown_market", "warn", f"market {key!r} is not in the catalogue", market=key))
    frame = flat.select(
        "sport_key", "event_id", "commence_time_raw", "home_team", "away_team", "bookmaker", "market",
        pl.coalesce("market_last_update", "book_last_update").alias("last_update_raw"),
        "outcome", pl.col("point").fill_null(0.0), pl.col("price").alias("price_in"),
        pl.lit(False).alias("non_numeric"),
    )
    rows, row_findings = _row_findings(_validate(frame, snapshot_time, odds_format, snapshot_id))
    findings.extend(row_findings)
    events_frame = events.select(
        pl.col("id").alias("event_id"), "sport_key", "sport_title", "home_team", "away_team",
        _parse_ts(pl.col("commence_time")).alias("commence_time"),
    )
    return _finish(rows, events_frame, findings)
