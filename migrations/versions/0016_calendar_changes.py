"""calendar changes: which days each calendar stamp changed (the nightly re-derivation's window test)

Revision ID: 0016
Revises: 0009
Create Date: 2026-12-04 18:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import kernel.db


revision = '0016'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('changed_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_change'))
    )
    with op.batch_alter_table('calendar_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_change_version'), ['version'], unique=False)
    # the log starts at the present stamp: dossiers derived with it are known to need no day re-checked
    op.execute(
        "INSERT INTO calendar_change (version, changed_at) SELECT version, changed_at FROM calendar_state WHERE id = 1"
    )


def downgrade() -> None:
    with op.batch_alter_table('calendar_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_change_version'))
    op.drop_table('calendar_change')
