"""staff full names: app_user.full_name, shown on forms and timelines instead of the username

Revision ID: 0020
Revises: 0013
Create Date: 2026-12-04 19:40:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0020'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('full_name')
