"""event time: back-dated events keep their reason, late apologies are flagged, the clock's stop is stored,
and the overdue queue reads running dossiers by their original due

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import kernel.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

RUNNING = sa.text('status_code IN (2, 4)')
FLAGGED = sa.text('backdate_reason IS NOT NULL OR apology_late')
REPORT_COLUMNS = [
    'receiving_agency_id', 'received_at', 'finished_at', 'original_due_at', 'status_code',
    'procedure_id', 'channel', 'outcome', 'resolution_working_minutes',
]


def upgrade() -> None:
    with op.batch_alter_table('dossier_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backdate_reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True))
        batch_op.add_column(sa.Column('apology_late', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('dossier_event', schema=None) as batch_op:
        batch_op.create_index(
            'ix_dossier_event_flagged', ['recorded_at'], unique=False, postgresql_where=FLAGGED, sqlite_where=FLAGGED
        )
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clock_stopped_since', kernel.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_index('ix_dossier_report')
        batch_op.create_index('ix_dossier_report', [*REPORT_COLUMNS, 'clock_stopped_since'], unique=False)
        batch_op.create_index(
            'ix_dossier_running_original', ['current_agency_id', 'original_due_at', 'id'], unique=False,
            postgresql_where=RUNNING, sqlite_where=RUNNING,
        )
    # The stop of dossiers waiting now (status 5, 6): the latest event that stopped their clock. A rebuild
    # (`motcua dossiers rebuild`) derives it exactly; this keeps the figures right until then.
    op.execute(sa.text(
        "UPDATE dossier SET clock_stopped_since = ("
        " SELECT MAX(e.at) FROM dossier_event e WHERE e.dossier_id = dossier.id"
        " AND e.type IN ('supplement_requested', 'paused'))"
        " WHERE status_code IN (5, 6) AND finished_at IS NULL"
    ))


def downgrade() -> None:
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_running_original')
        batch_op.drop_index('ix_dossier_report')
        batch_op.create_index('ix_dossier_report', REPORT_COLUMNS, unique=False)
        batch_op.drop_column('clock_stopped_since')
    with op.batch_alter_table('dossier_event', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_event_flagged')
        batch_op.drop_column('apology_late')
        batch_op.drop_column('backdate_reason')
