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
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

from betting_assets.warehouse.types import JsonDocument, UtcDateTime
from betting_assets.domain.vocabulary import EventStatus
from betting_assets.domain.orders.states import SlipStatus

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
    Column("status", String(16), nullable=False, server_default=str(EventStatus.SCHEDULED)),
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
    Column("clock_at", UtcDateTime(), nullable=False),
    Column("requests_billed", Integer),
    Column("requests_expected", Integer),
    Index(None, "sport_key", "requested_at"),
    Index(None, "endpoint", "requested_at"),
    Index(None, "clock_at"),
)
"""``clock_at``: when the call was made on the product's clock (the sandbox's replayed time in a
demo, the wall clock in production), which budget periods and the collection plan are kept in;
``requests_billed``: what the provider's cumulative ``x-requests-used`` rose by since the answer
before (this call, and any call it charged that got no answer), the spend of record;
``requests_expected``: what the call could cost, estimated before it was made"""

collection_plan = Table(
    "collection_plan",
    metadata,
    Column("call_id", BigId, primary_key=True, autoincrement=True),
    Column("sport_key", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("endpoint", String(32), nullable=False),
    Column("event_id", String(64)),
    Column("markets", String(255), nullable=False),
    Column("credits", Integer, nullable=False),
    Column("events_served", Integer, nullable=False),
    Column("due_until", UtcDateTime(), nullable=False),
    Column("planned_at", UtcDateTime(), nullable=False),
    Column("budget", Integer),
    Index(None, "sport_key", "at"),
)
"""the calls the credit budget buys, one row each; a new plan replaces the calls not yet due and
keeps the past ones as they were planned"""

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
    Column("complete", Boolean, nullable=False, server_default=true()),
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
    Column("fingerprint", String(64)),
    UniqueConstraint("fingerprint"),
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

exchange_markets = Table(
    "exchange_markets",
    metadata,
    Column("event_id", String(64), ForeignKey("events.event_id"), primary_key=True),
    Column("market_type", String(32), primary_key=True),
    Column("line", Float, primary_key=True),
    Column("side", String(16), primary_key=True),
    Column("market_id", String(32), nullable=False),
    Column("selection_id", BigInteger, nullable=False),
    Column("handicap", Float, nullable=False),
    Column("exchange_event_id", String(32), nullable=False),
    Column("exchange_event_name", Text, nullable=False),
    Column("market_version", BigInteger),
    Column("score", Float, nullable=False),
    Column("method", String(16), nullable=False),
    Column("mapped_at", UtcDateTime(), nullable=False),
    Column("market_base_rate", Float),
)
"""each mapped event's runners on the exchange: which market and selection a bet on that side goes to"""

exchange_books = Table(
    "exchange_books",
    metadata,
    Column("book_id", BigId, primary_key=True, autoincrement=True),
    Column("read_at", UtcDateTime(), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("market_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", BigInteger),
    Column("payload", JsonDocument, nullable=False),
    Index(None, "market_id", "read_at"),
)
"""each exchange market book read before a decision (mapping, slips, placement), whole as the
exchange answered it: what a slip's price can be read back from"""

bet_slips = Table(
    "bet_slips",
    metadata,
    Column("slip_id", BigId, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(255), nullable=False),
    Column("status", String(16), nullable=False, server_default=str(SlipStatus.PROPOSED)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("sport_key", String(64), nullable=False),
    Column("commence_time", UtcDateTime(), nullable=False),
    Column("decision_time", UtcDateTime(), nullable=False),
    Column("home_team", String(128), nullable=False),
    Column("away_team", String(128), nullable=False),
    Column("market", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("point", Float, nullable=False),
    Column("bookmaker", String(64), nullable=False),
    Column("price", Float, nullable=False),
    Column("price_time", UtcDateTime(), nullable=False),
    Column("model_name", String(128)),
    Column("model_version", String(32)),
    Column("model_prob", Float),
    Column("fair_prob", Float),
    Column("edge", Float, nullable=False),
    Column("kelly", Float, nullable=False),
    Column("stake", Float, nullable=False),
    Column("bankroll", Float, nullable=False),
    Column("rationale", Text, nullable=False),
    Column("run_id", String(64)),
    Column("quoted_price", Float),
    Column("market_version", BigInteger),
    Column("available_size", Float),
    Column("strategy", String(16), nullable=False, server_default="model_value"),
    Column("prob", Float),
    Column("group_key", String(128)),
    Column("equity", Float),
    UniqueConstraint("idempotency_key"),
    Index(None, "status", "commence_time"),
    Index(None, "event_id"),
)
"""``price`` is what a unit returns on a win (an exchange's net of commission), ``quoted_price``
the price as quoted; ``market_version`` and ``available_size`` are the exchange book's when the
slip was priced from it; ``strategy`` the registered strategy that chose it, ``prob`` its
probability (the model's, for a strategy that reads one: ``model_*``), ``group_key`` the legs
that stand or fall together; ``bankroll`` is what it was sized on (the strategy's share of the
day's cash), ``equity`` the account's bankroll then"""

bets = Table(
    "bets",
    metadata,
    Column("bet_id", BigId, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(255), nullable=False),
    Column("customer_ref", String(32), nullable=False),
    Column("slip_id", BigId, ForeignKey("bet_slips.slip_id")),
    Column("status", String(16), nullable=False),
    Column("broker", String(16), nullable=False),
    Column("broker_bet_id", String(64)),
    Column("event_id", String(64), nullable=False),
    Column("sport_key", String(64), nullable=False),
    Column("commence_time", UtcDateTime(), nullable=False),
    Column("market", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("point", Float, nullable=False),
    Column("bookmaker", String(64), nullable=False),
    Column("requested_price", Float, nullable=False),
    Column("requested_stake", Float, nullable=False),
    Column("price", Float),
    Column("stake", Float, nullable=False, server_default="0"),
    Column("edge", Float),
    Column("model_version", String(32)),
    Column("reasons", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("placed_at", UtcDateTime()),
    Column("settled_at", UtcDateTime()),
    Column("result", String(16)),
    Column("unit_return", Float),
    Column("profit", Float),
    Column("p_close", Float),
    Column("run_id", String(64)),
    Column("quoted_price", Float),
    Column("market_id", String(32)),
    Column("selection_id", BigInteger),
    Column("exchange_profit", Float),
    Column("commission", Float),
    Column("refusal_codes", String(255)),
    Column("strategy", String(16), nullable=False, server_default="model_value"),
    Column("group_key", String(128)),
    UniqueConstraint("idempotency_key"),
    UniqueConstraint("customer_ref"),
    Index(None, "status", "commence_time"),
    Index(None, "event_id"),
)
"""``refusal_codes``: the codes of the controls (``domain.controls``), re-check rules or exchange
errors that refused the bet, comma-separated, so refusals can be counted by rule"""

event_decisions = Table(
    "event_decisions",
    metadata,
    Column("event_id", String(64), ForeignKey("events.event_id"), primary_key=True),
    Column("decision_time", UtcDateTime(), nullable=False),
    Column("decided_at", UtcDateTime(), nullable=False),
    Column("candidates", Integer, nullable=False),
    Column("slips", Integer, nullable=False),
    Column("run_id", String(64)),
    Column("refusals", Text),
    Index(None, "decided_at"),
)
"""each event's one live decision: when the live strategies looked at it, how many bets they chose,
how many became slips and how many each control refused before sizing (JSON, code → count); the
day's first decision with a bet chosen is when its cash is taken"""

bankroll_history = Table(
    "bankroll_history",
    metadata,
    Column("entry_id", BigId, primary_key=True, autoincrement=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("bet_id", BigId, ForeignKey("bets.bet_id")),
    Column("change", Float, nullable=False),
    Column("bankroll", Float, nullable=False),
    Column("note", String(255), nullable=False),
    UniqueConstraint("bet_id"),
)

account_checks = Table(
    "account_checks",
    metadata,
    Column("check_id", BigId, primary_key=True, autoincrement=True),
    Column("venue", String(16), nullable=False),
    Column("checked_at", UtcDateTime(), nullable=False),
    Column("available", Float, nullable=False),
    Column("exposure", Float, nullable=False),
    Column("wallet", Float, nullable=False),
    Column("ledger_net", Float, nullable=False),
    Column("wallet_moved", Float),
    Column("ledger_moved", Float),
    Column("difference", Float),
    Column("markets", Integer, nullable=False, server_default="0"),
    Index(None, "venue", "checked_at"),
)
"""the venue's account beside the ledger after each settlement that read it: ``wallet`` is what
the account holds (available to bet less the exposure, which Betfair reports negative),
``ledger_net`` the net P&L of every bet the venue settled, ``markets`` how many markets those
bets were in, and both movements since the venue's previous check, which must agree to the penny
(None on the first, the anchor)"""

step_outputs = Table(
    "step_outputs",
    metadata,
    Column("run_id", String(64), nullable=False),
    Column("step_key", String(255), nullable=False),
    Column("output_name", String(255), nullable=False),
    Column("stored_at", UtcDateTime(), nullable=False),
    Column("value", LargeBinary, nullable=False),
    PrimaryKeyConstraint("run_id", "step_key", "output_name"),
    Index(None, "stored_at"),
)
"""what one op hands the next (``place_bets``: the reconciled counts, the slips to place), pickled as
Dagster's own file IO manager does, but in the warehouse: a step on another host (a Celery worker)
reads it from there, never from the disk of the host that ran the step before"""
