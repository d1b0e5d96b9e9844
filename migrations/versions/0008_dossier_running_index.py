"""dossier running index: the queues read a page of running dossiers in due order off an index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:45:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

RUNNING = sa.text('status_code IN (2, 4)')


def upgrade() -> None:
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.create_index(
            'ix_dossier_running', ['current_agency_id', 'due_at', 'id'], unique=False,
            postgresql_where=RUNNING, sqlite_where=RUNNING,
        )


def downgrade() -> None:
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_running')
