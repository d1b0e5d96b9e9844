"""history import: exchange_import (one row per file), imported_dossier (each record's code, appointment, status)

Revision ID: 0035
Revises: 0019
Create Date: 2026-12-04 21:40:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel

from kernel.db import UTCDateTime


revision = '0035'
down_revision = '0055'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'exchange_import',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('file_format', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('skip_bad', sa.Boolean(), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.Column('written', sa.Integer(), nullable=False),
        sa.Column('rejected', sa.Integer(), nullable=False),
        sa.Column('findings', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_import')),
    )
    op.create_table(
        'imported_dossier',
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('import_id', sa.Integer(), nullable=False),
        sa.Column('line', sa.Integer(), nullable=False),
        sa.Column('external_code', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('their_appointment_at', UTCDateTime(), nullable=True),
        sa.Column('our_appointment_at', UTCDateTime(), nullable=True),
        sa.Column('their_status_code', sa.Integer(), nullable=False),
        sa.Column('our_status_code', sa.Integer(), nullable=False),
        sa.Column('working_days_apart', sa.Integer(), nullable=True),
        sa.Column('explaining_days', sa.JSON(), nullable=True),
        sa.Column('finding', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_imported_dossier_dossier_id_dossier'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['import_id'], ['exchange_import.id'],
                                name=op.f('fk_imported_dossier_import_id_exchange_import')),
        sa.PrimaryKeyConstraint('dossier_id', name=op.f('pk_imported_dossier')),
        sa.UniqueConstraint('external_code', name=op.f('uq_imported_dossier_external_code')),
    )
    with op.batch_alter_table('imported_dossier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imported_dossier_import_id'), ['import_id'], unique=False)
        batch_op.create_index('ix_imported_dossier_findings', ['import_id', 'line'], unique=False,
                              postgresql_where=sa.text('finding'), sqlite_where=sa.text('finding'))


def downgrade() -> None:
    with op.batch_alter_table('imported_dossier', schema=None) as batch_op:
        batch_op.drop_index('ix_imported_dossier_findings', postgresql_where=sa.text('finding'),
                            sqlite_where=sa.text('finding'))
        batch_op.drop_index(batch_op.f('ix_imported_dossier_import_id'))
    op.drop_table('imported_dossier')
    op.drop_table('exchange_import')
