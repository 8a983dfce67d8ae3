"""Warehouse schema. Alembic migrations in ``migrations/`` must produce exactly this."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from betting_assets.warehouse.types import JsonDocument, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

BigId = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("sport_key", String(64), nullable=False),
    Column("sport_title", String(128)),
    Column("commence_time", UtcDateTime(), nullable=False),
    Column("home_team", String(128), nullable=False),
    Column("away_team", String(128), nullable=False),
    Column("status", String(16), nullable=False, server_default="scheduled"),
    Column("home_score", Integer),
    Column("away_score", Integer),
    Column("completed", Boolean, nullable=False, server_default="0"),
    Column("scores_last_update", UtcDateTime()),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("last_odds_at", UtcDateTime()),
    Index(None, "sport_key", "commence_time"),
    Index(None, "status", "commence_time"),
)

fetch_log = Table(
    "fetch_log",
    metadata,
    Column("fetch_id", BigId, primary_key=True, autoincrement=True),
    Column("endpoint", String(32), nullable=False),
    Column("sport_key", String(64)),
    Column("url", Text, nullable=False),
    Column("params", JsonDocument, nullable=False),
    Column("requested_at", UtcDateTime(), nullable=False),
    Column("status_code", Integer),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Column("elapsed_ms", Float),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("requests_remaining", Integer),
    Column("requests_used", Integer),
    Column("requests_last", Integer),
    Column("body", Text),
    Index(None, "sport_key", "requested_at"),
    Index(None, "endpoint", "requested_at"),
)

odds_snapshots = Table(
    "odds_snapshots",
    metadata,
    Column("snapshot_id", BigId, primary_key=True, autoincrement=True),
    Column("fetch_id", BigId, ForeignKey("fetch_log.fetch_id"), nullable=True),
    Column("sport_key", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("as_of", UtcDateTime(), nullable=False),
    Column("fetched_at", UtcDateTime(), nullable=False),
    Column("fetch_tier", String(16)),
    Column("hours_to_commence", Float),
    Column("regions", String(64)),
    Column("markets", String(128)),
    Column("odds_format", String(16), nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("requests_remaining", Integer),
    Column("requests_used", Integer),
    Column("requests_last", Integer),
    Column("payload_sha256", String(64), nullable=False),
    Column("payload", JsonDocument, nullable=False),
    UniqueConstraint("sport_key", "source", "as_of", "payload_sha256"),
    Index(None, "sport_key", "as_of"),
)

normalized_odds = Table(
    "normalized_odds",
    metadata,
    Column("event_id", String(64), nullable=False),
    Column("bookmaker", String(64), nullable=False),
    Column("market", String(64), nullable=False),
    Column("outcome", String(128), nullable=False),
    Column("point", Float, nullable=False),
    Column("snapshot_time", UtcDateTime(), nullable=False),
    Column("snapshot_id", BigId, ForeignKey("odds_snapshots.snapshot_id"), nullable=False),
    Column("sport_key", String(64), nullable=False),
    Column("commence_time", UtcDateTime(), nullable=False),
    Column("side", String(8)),
    Column("price_decimal", Float),
    Column("price_american", Float),
    Column("implied_prob", Float),
    Column("last_update", UtcDateTime()),
    Column("hours_to_commence", Float),
    Column("is_valid", Boolean, nullable=False),
    Column("invalid_reason", String(64)),
    PrimaryKeyConstraint("event_id", "market", "bookmaker", "outcome", "point", "snapshot_time"),
    Index(None, "sport_key", "snapshot_time"),
    Index(None, "snapshot_id"),
)

data_quality_log = Table(
    "data_quality_log",
    metadata,
    Column("finding_id", BigId, primary_key=True, autoincrement=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("check_name", String(64), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Column("source", String(64)),
    Column("snapshot_id", BigId),
    Column("fetch_id", BigId),
    Column("event_id", String(64)),
    Column("bookmaker", String(64)),
    Column("market", String(64)),
    Column("context", JsonDocument),
    Index(None, "check_name", "recorded_at"),
    Index(None, "snapshot_id"),
)

features = Table(
    "features",
    metadata,
    Column("event_id", String(64), nullable=False),
    Column("decision_time", UtcDateTime(), nullable=False),
    Column("sport_key", String(64), nullable=False),
    Column("commence_time", UtcDateTime(), nullable=False),
    Column("home_team", String(128), nullable=False),
    Column("away_team", String(128), nullable=False),
    Column("three_way", Boolean, nullable=False),
    Column("sharp_book_used", String(64)),
    Column("feature_version", String(16), nullable=False),
    Column("built_at", UtcDateTime(), nullable=False),
    Column("values", JsonDocument, nullable=False),
    PrimaryKeyConstraint("event_id", "decision_time"),
    Index(None, "sport_key", "commence_time"),
)
