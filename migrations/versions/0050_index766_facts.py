"""the Decision 766 facts: procedure result kind, fee lines and publication facts; dossier electronic result,
VNeID, population reference, component flags, fee lines with their payment, and `index_flags` for the scorecard

Revision ID: 0050
Revises: 0019
Create Date: 2026-12-14 21:40:00

`ix_dossier_report` gains `supplement_count` and `index_flags` (the scorecard's one scan reads it like the
period report does); on a city of millions rebuilding it takes minutes.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel

import kernel.db


revision = '0050'
down_revision = '0030'
branch_labels = None
depends_on = None

REPORT_COLUMNS = [
    'receiving_agency_id', 'received_at', 'finished_at', 'original_due_at', 'status_code', 'procedure_id',
    'channel', 'outcome', 'resolution_working_minutes', 'clock_stopped_since',
]
PAID_ONLINE = sa.text('(index_flags & 8192) <> 0')


def upgrade() -> None:
    with op.batch_alter_table('procedure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_lines', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('result_kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True))
        batch_op.add_column(sa.Column('decision_number', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column('decision_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('legal_basis', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True))
        batch_op.add_column(sa.Column('legal_basis_effective_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('published_on', sa.Date(), nullable=True))
        batch_op.create_check_constraint(
            'result_kind_valid', "result_kind IS NULL OR result_kind IN ('paper', 'electronic')"
        )
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('electronic_result', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('vneid_verified', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('population_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('index_flags', sa.SmallInteger(), server_default='0', nullable=False))
        batch_op.drop_index('ix_dossier_report')
        batch_op.create_index(
            'ix_dossier_report', [*REPORT_COLUMNS, 'supplement_count', 'index_flags'], unique=False
        )
        batch_op.create_index(
            'ix_dossier_paid_online', ['receiving_agency_id', 'received_at', 'procedure_id'], unique=False,
            postgresql_where=PAID_ONLINE, sqlite_where=PAID_ONLINE,
        )
    with op.batch_alter_table('dossier_component', schema=None) as batch_op:
        for name in ('digitised', 'reused', 'from_citizen_store', 'from_national_db'):
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=True))
    op.create_table('dossier_fee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('amount_vnd', sa.Integer(), nullable=False),
    sa.Column('payment_channel', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('paid_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("payment_channel IS NULL OR payment_channel IN ('dvcqg', 'gateway', 'cash', 'bank')", name=op.f('ck_dossier_fee_payment_channel_valid')),
    sa.CheckConstraint('amount_vnd >= 0', name=op.f('ck_dossier_fee_amount_not_negative')),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_dossier_fee_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_fee')),
    sa.UniqueConstraint('dossier_id', 'seq', name=op.f('uq_dossier_fee_dossier_id_seq'))
    )
    with op.batch_alter_table('dossier_fee', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_fee_dossier_id'), ['dossier_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dossier_fee', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_fee_dossier_id'))
    op.drop_table('dossier_fee')
    with op.batch_alter_table('dossier_component', schema=None) as batch_op:
        for name in ('from_national_db', 'from_citizen_store', 'reused', 'digitised'):
            batch_op.drop_column(name)
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_paid_online')
        batch_op.drop_index('ix_dossier_report')
        batch_op.create_index('ix_dossier_report', REPORT_COLUMNS, unique=False)
        for name in ('index_flags', 'population_ref', 'vneid_verified', 'electronic_result'):
            batch_op.drop_column(name)
    with op.batch_alter_table('procedure', schema=None) as batch_op:
        batch_op.drop_constraint('result_kind_valid', type_='check')
        for name in ('published_on', 'legal_basis_effective_date', 'legal_basis', 'decision_date',
                     'decision_number', 'result_kind', 'fee_lines'):
            batch_op.drop_column(name)
