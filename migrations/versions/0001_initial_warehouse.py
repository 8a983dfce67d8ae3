"""warehouse: events, fetch log, raw odds snapshots, normalised odds, data-quality log

Revision ID: 0001
Revises: 
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_quality_log',
    sa.Column('finding_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('check_name', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('snapshot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('fetch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('event_id', sa.String(length=64), nullable=True),
    sa.Column('bookmaker', sa.String(length=64), nullable=True),
    sa.Column('market', sa.String(length=64), nullable=True),
    sa.Column('context', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('finding_id', name=op.f('pk_data_quality_log'))
    )
    with op.batch_alter_table('data_quality_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_quality_log_check_name_recorded_at'), ['check_name', 'recorded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_quality_log_snapshot_id'), ['snapshot_id'], unique=False)

    op.create_table('events',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('sport_key', sa.String(length=64), nullable=False),
    sa.Column('sport_title', sa.String(length=128), nullable=True),
    sa.Column('commence_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('home_team', sa.String(length=128), nullable=False),
    sa.Column('away_team', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='scheduled', nullable=False),
    sa.Column('home_score', sa.Integer(), nullable=True),
    sa.Column('away_score', sa.Integer(), nullable=True),
    sa.Column('completed', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('scores_last_update', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_sport_key_commence_time'), ['sport_key', 'commence_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_status_commence_time'), ['status', 'commence_time'], unique=False)

    op.create_table('fetch_log',
    sa.Column('fetch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('endpoint', sa.String(length=32), nullable=False),
    sa.Column('sport_key', sa.String(length=64), nullable=True),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('elapsed_ms', sa.Float(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='1', nullable=False),
    sa.Column('requests_remaining', sa.Integer(), nullable=True),
    sa.Column('requests_used', sa.Integer(), nullable=True),
    sa.Column('requests_last', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('fetch_id', name=op.f('pk_fetch_log'))
    )
    with op.batch_alter_table('fetch_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fetch_log_endpoint_requested_at'), ['endpoint', 'requested_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fetch_log_sport_key_requested_at'), ['sport_key', 'requested_at'], unique=False)

    op.create_table('odds_snapshots',
    sa.Column('snapshot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('fetch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('sport_key', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fetch_tier', sa.String(length=16), nullable=True),
    sa.Column('hours_to_commence', sa.Float(), nullable=True),
    sa.Column('regions', sa.String(length=64), nullable=True),
    sa.Column('markets', sa.String(length=128), nullable=True),
    sa.Column('odds_format', sa.String(length=16), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('requests_remaining', sa.Integer(), nullable=True),
    sa.Column('requests_used', sa.Integer(), nullable=True),
    sa.Column('requests_last', sa.Integer(), nullable=True),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['fetch_id'], ['fetch_log.fetch_id'], name=op.f('fk_odds_snapshots_fetch_id_fetch_log')),
    sa.PrimaryKeyConstraint('snapshot_id', name=op.f('pk_odds_snapshots')),
    sa.UniqueConstraint('sport_key', 'source', 'as_of', 'payload_sha256', name=op.f('uq_odds_snapshots_sport_key_source_as_of_payload_sha256'))
    )
    with op.batch_alter_table('odds_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_odds_snapshots_sport_key_as_of'), ['sport_key', 'as_of'], unique=False)

    op.create_table('normalized_odds',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('bookmaker', sa.String(length=64), nullable=False),
    sa.Column('market', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=128), nullable=False),
    sa.Column('point', sa.Float(), nullable=False),
    sa.Column('snapshot_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('snapshot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sport_key', sa.String(length=64), nullable=False),
    sa.Column('commence_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=True),
    sa.Column('price_decimal', sa.Float(), nullable=True),
    sa.Column('price_american', sa.Float(), nullable=True),
    sa.Column('implied_prob', sa.Float(), nullable=True),
    sa.Column('last_update', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hours_to_commence', sa.Float(), nullable=True),
    sa.Column('is_valid', sa.Boolean(), nullable=False),
    sa.Column('invalid_reason', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['snapshot_id'], ['odds_snapshots.snapshot_id'], name=op.f('fk_normalized_odds_snapshot_id_odds_snapshots')),
    sa.PrimaryKeyConstraint('event_id', 'market', 'bookmaker', 'outcome', 'point', 'snapshot_time', name=op.f('pk_normalized_odds'))
    )
    with op.batch_alter_table('normalized_odds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_normalized_odds_snapshot_id'), ['snapshot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_normalized_odds_sport_key_snapshot_time'), ['sport_key', 'snapshot_time'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('normalized_odds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_normalized_odds_sport_key_snapshot_time'))
        batch_op.drop_index(batch_op.f('ix_normalized_odds_snapshot_id'))

    op.drop_table('normalized_odds')
    with op.batch_alter_table('odds_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_odds_snapshots_sport_key_as_of'))

    op.drop_table('odds_snapshots')
    with op.batch_alter_table('fetch_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fetch_log_sport_key_requested_at'))
        batch_op.drop_index(batch_op.f('ix_fetch_log_endpoint_requested_at'))

    op.drop_table('fetch_log')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_status_commence_time'))
        batch_op.drop_index(batch_op.f('ix_events_sport_key_commence_time'))

    op.drop_table('events')
    with op.batch_alter_table('data_quality_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_quality_log_snapshot_id'))
        batch_op.drop_index(batch_op.f('ix_data_quality_log_check_name_recorded_at'))

    op.drop_table('data_quality_log')
