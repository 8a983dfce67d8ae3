"""features: one row per event and decision time, the feature values as a JSON document

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'features',
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('decision_time', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sport_key', sa.String(length=64), nullable=False),
        sa.Column('commence_time', sa.DateTime(timezone=True), nullable=False),
        sa.Column('home_team', sa.String(length=128), nullable=False),
        sa.Column('away_team', sa.String(length=128), nullable=False),
        sa.Column('three_way', sa.Boolean(), nullable=False),
        sa.Column('sharp_book_used', sa.String(length=64), nullable=True),
        sa.Column('feature_version', sa.String(length=16), nullable=False),
        sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.PrimaryKeyConstraint('event_id', 'decision_time', name=op.f('pk_features')),
    )
    op.create_index(op.f('ix_features_sport_key_commence_time'), 'features', ['sport_key', 'commence_time'])


def downgrade() -> None:
    op.drop_index(op.f('ix_features_sport_key_commence_time'), table_name='features')
    op.drop_table('features')
