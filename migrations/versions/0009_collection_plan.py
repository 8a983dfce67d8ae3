"""The collection plan: the provider calls a credit budget buys (collection_plan), and each
fetch's time on the product's clock (fetch_log.clock_at), which budget periods are kept in

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('fetch_log') as batch:
        batch.add_column(sa.Column('clock_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE fetch_log SET clock_at = requested_at")    # calls logged before: the wall clock
    with op.batch_alter_table('fetch_log') as batch:
        batch.alter_column('clock_at', existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_index('ix_fetch_log_clock_at', 'fetch_log', ['clock_at'])
    op.create_table(
        'collection_plan',
        sa.Column('call_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True,
                  autoincrement=True),
        sa.Column('sport_key', sa.String(64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('priority', sa.String(16), nullable=False),
        sa.Column('endpoint', sa.String(32), nullable=False),
        sa.Column('event_id', sa.String(64), nullable=True),
        sa.Column('markets', sa.String(255), nullable=False),
        sa.Column('credits', sa.Integer(), nullable=False),
        sa.Column('events_served', sa.Integer(), nullable=False),
        sa.Column('due_until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('planned_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('budget', sa.Integer(), nullable=True),
    )
    op.create_index('ix_collection_plan_sport_key_at', 'collection_plan', ['sport_key', 'at'])


def downgrade() -> None:
    op.drop_index('ix_collection_plan_sport_key_at', 'collection_plan')
    op.drop_table('collection_plan')
    op.drop_index('ix_fetch_log_clock_at', 'fetch_log')
    with op.batch_alter_table('fetch_log') as batch:
        batch.drop_column('clock_at')
