"""dossier report index: the period report reads a covering index instead of the wide rows

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:30:00
"""

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

REPORT_COLUMNS = [
    'receiving_agency_id', 'received_at', 'finished_at', 'original_due_at', 'status_code',
    'procedure_id', 'channel', 'outcome', 'resolution_working_minutes',
]


def upgrade() -> None:
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_report', REPORT_COLUMNS, unique=False)
        batch_op.drop_index('ix_dossier_receiving_received')


def downgrade() -> None:
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_receiving_received', ['receiving_agency_id', 'received_at'], unique=False)
        batch_op.drop_index('ix_dossier_report')
