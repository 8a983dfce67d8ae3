"""The exchange's commission per market: each mapped market keeps its Market Base Rate as the
catalogue states it (``description.marketBaseRate``), so slips are priced net of the rate that
market charges rather than one setting for every market

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('exchange_markets') as batch:
        batch.add_column(sa.Column('market_base_rate', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('exchange_markets') as batch:
        batch.drop_column('market_base_rate')
