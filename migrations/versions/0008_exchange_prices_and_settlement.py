"""Exchange prices and settlement: slips and bets keep the price as quoted beside the price
net of commission, a slip priced from the exchange's book keeps the market version and size it
saw, a bet keeps the exchange market and runner it went to, and an exchange bet the profit and
commission the exchange settled it with, and a refused bet the codes of the rules that refused
it; exchange_books keeps each market book read before a
decision, whole

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'exchange_books',
        sa.Column('book_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True,
                  autoincrement=True),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('purpose', sa.String(16), nullable=False),
        sa.Column('market_id', sa.String(32), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=True),
        sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    )
    op.create_index('ix_exchange_books_market_id_read_at', 'exchange_books', ['market_id', 'read_at'])
    with op.batch_alter_table('bet_slips') as batch:
        batch.add_column(sa.Column('quoted_price', sa.Float(), nullable=True))
        batch.add_column(sa.Column('market_version', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('available_size', sa.Float(), nullable=True))
    with op.batch_alter_table('bets') as batch:
        batch.add_column(sa.Column('quoted_price', sa.Float(), nullable=True))
        batch.add_column(sa.Column('market_id', sa.String(32), nullable=True))
        batch.add_column(sa.Column('selection_id', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('exchange_profit', sa.Float(), nullable=True))
        batch.add_column(sa.Column('commission', sa.Float(), nullable=True))
        batch.add_column(sa.Column('refusal_codes', sa.String(255), nullable=True))


def downgrade() -> None:
    op.drop_index('ix_exchange_books_market_id_read_at', 'exchange_books')
    op.drop_table('exchange_books')
    with op.batch_alter_table('bets') as batch:
        for name in ('refusal_codes', 'commission', 'exchange_profit', 'selection_id', 'market_id', 'quoted_price'):
            batch.drop_column(name)
    with op.batch_alter_table('bet_slips') as batch:
        for name in ('available_size', 'market_version', 'quoted_price'):
            batch.drop_column(name)
