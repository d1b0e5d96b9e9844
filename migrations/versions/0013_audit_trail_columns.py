"""audit trail: the action, the dossier and whether personal data was shown; indexes for the filters

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-05 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('dossier_code', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.add_column(sa.Column('personal_data', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_entry_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_dossier_code'), ['dossier_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_outcome'), ['outcome'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_outcome'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_dossier_code'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_action'))
        batch_op.drop_column('personal_data')
        batch_op.drop_column('dossier_code')
        batch_op.drop_column('action')
