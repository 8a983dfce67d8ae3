"""events.last_odds_at: when the event last appeared in an odds snapshot (the fetch sensor's input)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('last_odds_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE events SET last_odds_at = (SELECT max(n.snapshot_time) FROM normalized_odds n "
        "WHERE n.event_id = events.event_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.drop_column('last_odds_at')
