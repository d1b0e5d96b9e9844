"""agency: whether it offers electronic certified copies, and since when (Decision 766, indicator 4.6)

Revision ID: 0070
Revises: 0046
Create Date: 2026-12-06 01:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0070'
down_revision = '0046'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(sa.Column('e_certified_copies', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('e_certified_copies_from', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_column('e_certified_copies_from')
        batch_op.drop_column('e_certified_copies')
