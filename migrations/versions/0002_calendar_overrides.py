"""calendar overrides

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:16:49.053867
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import kernel.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('changed_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_state'))
    )
    op.create_table('calendar_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('legal_ref', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('created_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('off', 'workday')", name=op.f('ck_calendar_override_kind_valid')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_calendar_override_agency_id_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_override')),
    sa.UniqueConstraint('day', 'scope', name=op.f('uq_calendar_override_day_scope'))
    )
    with op.batch_alter_table('calendar_override', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_override_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_override_day'), ['day'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('calendar_override', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_override_day'))
        batch_op.drop_index(batch_op.f('ix_calendar_override_agency_id'))

    op.drop_table('calendar_override')
    op.drop_table('calendar_state')
