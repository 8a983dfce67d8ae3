"""bet_slips: proposed bets, one per event, market, outcome and model version

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'bet_slips',
        sa.Column('slip_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('idempotency_key', sa.String(length=255), nullable=False),
        sa.Column('status', sa.String(length=16), server_default='proposed', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('sport_key', sa.String(length=64), nullable=False),
        sa.Column('commence_time', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decision_time', sa.DateTime(timezone=True), nullable=False),
        sa.Column('home_team', sa.String(length=128), nullable=False),
        sa.Column('away_team', sa.String(length=128), nullable=False),
        sa.Column('market', sa.String(length=64), nullable=False),
        sa.Column('side', sa.String(length=8), nullable=False),
        sa.Column('point', sa.Float(), nullable=False),
        sa.Column('bookmaker', sa.String(length=64), nullable=False),
        sa.Column('price', sa.Float(), nullable=False),
        sa.Column('price_time', sa.DateTime(timezone=True), nullable=False),
        sa.Column('model_name', sa.String(length=128), nullable=False),
        sa.Column('model_version', sa.String(length=32), nullable=False),
        sa.Column('model_prob', sa.Float(), nullable=False),
        sa.Column('fair_prob', sa.Float(), nullable=True),
        sa.Column('edge', sa.Float(), nullable=False),
        sa.Column('kelly', sa.Float(), nullable=False),
        sa.Column('stake', sa.Float(), nullable=False),
        sa.Column('bankroll', sa.Float(), nullable=False),
        sa.Column('rationale', sa.Text(), nullable=False),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('slip_id', name=op.f('pk_bet_slips')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_bet_slips_idempotency_key')),
    )
    op.create_index(op.f('ix_bet_slips_status_commence_time'), 'bet_slips', ['status', 'commence_time'])
    op.create_index(op.f('ix_bet_slips_event_id'), 'bet_slips', ['event_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_bet_slips_event_id'), table_name='bet_slips')
    op.drop_index(op.f('ix_bet_slips_status_commence_time'), table_name='bet_slips')
    op.drop_table('bet_slips')
