"""stage open index: the worklist reads an agency's open steps in step-due order off an index

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-04 19:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0018'
branch_labels = None
depends_on = None

OPEN = sa.text('ended_at IS NULL')


def upgrade() -> None:
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.create_index(
            'ix_stage_open', ['agency_id', 'due_at', 'dossier_id'], unique=False,
            postgresql_where=OPEN, sqlite_where=OPEN,
        )


def downgrade() -> None:
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_open')
