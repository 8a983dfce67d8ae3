"""odds_snapshots.complete: whether a raw response carried every required field (an
incomplete one does not count as covering its time, so a re-run fetches it again);
data_quality_log.fingerprint: one finding is recorded once, however often the same data is
checked

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('odds_snapshots') as batch:
        batch.add_column(sa.Column('complete', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('data_quality_log') as batch:
        batch.add_column(sa.Column('fingerprint', sa.String(64), nullable=True))
        batch.create_unique_constraint('uq_data_quality_log_fingerprint', ['fingerprint'])


def downgrade() -> None:
    with op.batch_alter_table('data_quality_log') as batch:
        batch.drop_constraint('uq_data_quality_log_fingerprint', type_='unique')
        batch.drop_column('fingerprint')
    with op.batch_alter_table('odds_snapshots') as batch:
        batch.drop_column('complete')
