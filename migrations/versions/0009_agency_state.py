"""agency state: the version stamp of the agency tree

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 01:30:00.000000
"""

import uuid

from alembic import op
import sqlalchemy as sa
import sqlmodel
import kernel.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    agency_state = op.create_table('agency_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('changed_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_state'))
    )
    # A stamp of its own for every database, so that trees cached by stamp are never mixed up.
    op.bulk_insert(agency_state, [{'id': 1, 'version': uuid.uuid4().hex, 'changed_at': kernel.db.utc_now()}])


def downgrade() -> None:
    op.drop_table('agency_state')
