"""The live strategies: every slip and bet names the strategy that chose it (slips from before
came from the model strategy), a slip keeps the strategy's probability, the group of legs it
belongs to and the bankroll it was sized at, a slip from a strategy that reads no model has no model; the venue is named as the
venue (the exchange is betfair); event_decisions records each event's one live decision, and
with it the day's first, when the day's cash is taken

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'event_decisions',
        sa.Column('event_id', sa.String(64), sa.ForeignKey('events.event_id'), primary_key=True),
        sa.Column('decision_time', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('candidates', sa.Integer(), nullable=False),
        sa.Column('slips', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.String(64), nullable=True),
        sa.Column('refusals', sa.Text(), nullable=True),
    )
    op.create_index('ix_event_decisions_decided_at', 'event_decisions', ['decided_at'])
    with op.batch_alter_table('bet_slips') as batch:
        batch.add_column(sa.Column('strategy', sa.String(16), nullable=False, server_default='model_value'))
        batch.add_column(sa.Column('prob', sa.Float(), nullable=True))
        batch.add_column(sa.Column('group_key', sa.String(128), nullable=True))
        batch.add_column(sa.Column('equity', sa.Float(), nullable=True))
        batch.alter_column('model_name', existing_type=sa.String(128), nullable=True)
        batch.alter_column('model_version', existing_type=sa.String(32), nullable=True)
        batch.alter_column('model_prob', existing_type=sa.Float(), nullable=True)
    op.execute("update bet_slips set prob = model_prob")
    with op.batch_alter_table('bets') as batch:
        batch.add_column(sa.Column('strategy', sa.String(16), nullable=False, server_default='model_value'))
        batch.add_column(sa.Column('group_key', sa.String(128), nullable=True))
    op.execute("update bets set broker = 'betfair' where broker = 'exchange'")


def downgrade() -> None:
    op.execute("update bets set broker = 'exchange' where broker = 'betfair'")
    with op.batch_alter_table('bets') as batch:
        batch.drop_column('group_key')
        batch.drop_column('strategy')
    op.execute("delete from bet_slips where model_name is null")
    with op.batch_alter_table('bet_slips') as batch:
        batch.alter_column('model_prob', existing_type=sa.Float(), nullable=False)
        batch.alter_column('model_version', existing_type=sa.String(32), nullable=False)
        batch.alter_column('model_name', existing_type=sa.String(128), nullable=False)
        batch.drop_column('equity')
        batch.drop_column('group_key')
        batch.drop_column('prob')
        batch.drop_column('strategy')
    op.drop_index('ix_event_decisions_decided_at', 'event_decisions')
    op.drop_table('event_decisions')
