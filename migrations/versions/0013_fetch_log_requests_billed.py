"""What each answer shows the provider billed: the rise of its cumulative ``x-requests-used``
since the answer before, which counts a call that timed out after the provider charged it
(``x-requests-last`` counts only the answered call); and what each call was expected to cost, which
an attempt left without an answer holds against the budget until the next answer says

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('fetch_log') as batch:
        batch.add_column(sa.Column('requests_billed', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('requests_expected', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('fetch_log') as batch:
        batch.drop_column('requests_expected')
        batch.drop_column('requests_billed')
