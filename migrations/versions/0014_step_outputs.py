"""Step outputs in the warehouse, where a step on another host can read them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'step_outputs',
        sa.Column('run_id', sa.String(length=64), nullable=False),
        sa.Column('step_key', sa.String(length=255), nullable=False),
        sa.Column('output_name', sa.String(length=255), nullable=False),
        sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('value', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('run_id', 'step_key', 'output_name', name=op.f('pk_step_outputs')),
    )
    op.create_index(op.f('ix_step_outputs_stored_at'), 'step_outputs', ['stored_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_step_outputs_stored_at'), table_name='step_outputs')
    op.drop_table('step_outputs')
