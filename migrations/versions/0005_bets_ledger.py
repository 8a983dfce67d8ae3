"""bets: the two-phase placement ledger; bankroll_history: the bankroll after each settlement

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'bets',
        sa.Column('bet_id', BigId, autoincrement=True, nullable=False),
        sa.Column('idempotency_key', sa.String(length=255), nullable=False),
        sa.Column('customer_ref', sa.String(length=32), nullable=False),
        sa.Column('slip_id', BigId, nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('broker', sa.String(length=16), nullable=False),
        sa.Column('broker_bet_id', sa.String(length=64), nullable=True),
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('sport_key', sa.String(length=64), nullable=False),
        sa.Column('commence_time', sa.DateTime(timezone=True), nullable=False),
        sa.Column('market', sa.String(length=64), nullable=False),
        sa.Column('side', sa.String(length=8), nullable=False),
        sa.Column('point', sa.Float(), nullable=False),
        sa.Column('bookmaker', sa.String(length=64), nullable=False),
        sa.Column('requested_price', sa.Float(), nullable=False),
        sa.Column('requested_stake', sa.Float(), nullable=False),
        sa.Column('price', sa.Float(), nullable=True),
        sa.Column('stake', sa.Float(), server_default='0', nullable=False),
        sa.Column('edge', sa.Float(), nullable=True),
        sa.Column('model_version', sa.String(length=32), nullable=True),
        sa.Column('reasons', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('placed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('result', sa.String(length=16), nullable=True),
        sa.Column('unit_return', sa.Float(), nullable=True),
        sa.Column('profit', sa.Float(), nullable=True),
        sa.Column('p_close', sa.Float(), nullable=True),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['slip_id'], ['bet_slips.slip_id'], name=op.f('fk_bets_slip_id_bet_slips')),
        sa.PrimaryKeyConstraint('bet_id', name=op.f('pk_bets')),
        sa.UniqueConstraint('customer_ref', name=op.f('uq_bets_customer_ref')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_bets_idempotency_key')),
    )
    op.create_index(op.f('ix_bets_status_commence_time'), 'bets', ['status', 'commence_time'])
    op.create_index(op.f('ix_bets_event_id'), 'bets', ['event_id'])
    op.create_table(
        'bankroll_history',
        sa.Column('entry_id', BigId, autoincrement=True, nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('bet_id', BigId, nullable=True),
        sa.Column('change', sa.Float(), nullable=False),
        sa.Column('bankroll', sa.Float(), nullable=False),
        sa.Column('note', sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(['bet_id'], ['bets.bet_id'], name=op.f('fk_bankroll_history_bet_id_bets')),
        sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_bankroll_history')),
        sa.UniqueConstraint('bet_id', name=op.f('uq_bankroll_history_bet_id')),
    )


def downgrade() -> None:
    op.drop_table('bankroll_history')
    op.drop_index(op.f('ix_bets_event_id'), table_name='bets')
    op.drop_index(op.f('ix_bets_status_commence_time'), table_name='bets')
    op.drop_table('bets')
