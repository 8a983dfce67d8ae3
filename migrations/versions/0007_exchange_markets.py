"""exchange_markets: each mapped event's runners on the exchange (market, selection, handicap,
market version), with how the event was matched

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'exchange_markets',
        sa.Column('event_id', sa.String(64), sa.ForeignKey('events.event_id'), primary_key=True),
        sa.Column('market_type', sa.String(32), primary_key=True),
        sa.Column('line', sa.Float(), primary_key=True),
        sa.Column('side', sa.String(16), primary_key=True),
        sa.Column('market_id', sa.String(32), nullable=False),
        sa.Column('selection_id', sa.BigInteger(), nullable=False),
        sa.Column('handicap', sa.Float(), nullable=False),
        sa.Column('exchange_event_id', sa.String(32), nullable=False),
        sa.Column('exchange_event_name', sa.Text(), nullable=False),
        sa.Column('market_version', sa.BigInteger(), nullable=True),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('method', sa.String(16), nullable=False),
        sa.Column('mapped_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('exchange_markets')
