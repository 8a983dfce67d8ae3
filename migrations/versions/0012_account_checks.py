"""The exchange account reconciled with the ledger: after each settlement the venue's funds are
recorded beside the ledger's net P&L, so a movement of the money that the ledger does not hold
(a deposit, a bet placed elsewhere, a settlement read wrong) is seen to the penny

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'account_checks',
        sa.Column('check_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('venue', sa.String(length=16), nullable=False),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('available', sa.Float(), nullable=False),
        sa.Column('exposure', sa.Float(), nullable=False),
        sa.Column('wallet', sa.Float(), nullable=False),
        sa.Column('ledger_net', sa.Float(), nullable=False),
        sa.Column('wallet_moved', sa.Float(), nullable=True),
        sa.Column('ledger_moved', sa.Float(), nullable=True),
        sa.Column('difference', sa.Float(), nullable=True),
        sa.Column('markets', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('check_id', name=op.f('pk_account_checks')),
    )
    op.create_index(op.f('ix_account_checks_venue_checked_at'), 'account_checks', ['venue', 'checked_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_account_checks_venue_checked_at'), table_name='account_checks')
    op.drop_table('account_checks')
