"""resolution working minutes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:28:46.228089
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import kernel.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolution_working_minutes', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_column('resolution_working_minutes')

