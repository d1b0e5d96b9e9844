"""dossiers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:20:21.244235
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import kernel.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_record',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('created_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_idempotency_record'))
    )
    op.create_table('dossier_code_counter',
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_dossier_code_counter_agency_id_agency')),
    sa.PrimaryKeyConstraint('agency_id', 'day', name=op.f('pk_dossier_code_counter'))
    )
    op.create_table('dossier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('procedure_id', sa.Integer(), nullable=False),
    sa.Column('procedure_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('receiving_agency_id', sa.Integer(), nullable=False),
    sa.Column('current_agency_id', sa.Integer(), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('applicant_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('applicant_id_number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('applicant_phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('applicant_address', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('search_text', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('submitted_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('received_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('clock_start_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('original_due_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rescheduled_due_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('supplement_count', sa.Integer(), nullable=False),
    sa.Column('paused_minutes', sa.Integer(), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('derived_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('calendar_version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.CheckConstraint("channel IN ('counter', 'online', 'post')", name=op.f('ck_dossier_channel_valid')),
    sa.CheckConstraint('status_code BETWEEN 1 AND 10', name=op.f('ck_dossier_status_code_valid')),
    sa.ForeignKeyConstraint(['current_agency_id'], ['agency.id'], name=op.f('fk_dossier_current_agency_id_agency')),
    sa.ForeignKeyConstraint(['procedure_id'], ['procedure.id'], name=op.f('fk_dossier_procedure_id_procedure')),
    sa.ForeignKeyConstraint(['receiving_agency_id'], ['agency.id'], name=op.f('fk_dossier_receiving_agency_id_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier'))
    )
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_code'), ['code'], unique=True)
        batch_op.create_index('ix_dossier_open_due', ['status_code', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dossier_procedure_code'), ['procedure_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_dossier_procedure_id'), ['procedure_id'], unique=False)
        batch_op.create_index('ix_dossier_queue', ['current_agency_id', 'status_code', 'due_at'], unique=False)
        batch_op.create_index('ix_dossier_receiving_received', ['receiving_agency_id', 'received_at'], unique=False)

    op.create_table('dossier_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('from_agency_id', sa.Integer(), nullable=True),
    sa.Column('to_agency_id', sa.Integer(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('result', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('new_due_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_dossier_event_agency_id_agency')),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_dossier_event_dossier_id_dossier')),
    sa.ForeignKeyConstraint(['from_agency_id'], ['agency.id'], name=op.f('fk_dossier_event_from_agency_id_agency')),
    sa.ForeignKeyConstraint(['to_agency_id'], ['agency.id'], name=op.f('fk_dossier_event_to_agency_id_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_event')),
    sa.UniqueConstraint('dossier_id', 'seq', name=op.f('uq_dossier_event_dossier_id_seq'))
    )
    op.create_table('stage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('step_seq', sa.Integer(), nullable=True),
    sa.Column('started_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('allotment_minutes', sa.Integer(), nullable=True),
    sa.Column('due_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('overrun_minutes', sa.Integer(), nullable=False),
    sa.Column('excluded', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_stage_agency_id_agency')),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_stage_dossier_id_dossier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage')),
    sa.UniqueConstraint('dossier_id', 'seq', name=op.f('uq_stage_dossier_id_seq'))
    )
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_agency_id'), ['agency_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_agency_id'))

    op.drop_table('stage')
    op.drop_table('dossier_event')
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_receiving_received')
        batch_op.drop_index('ix_dossier_queue')
        batch_op.drop_index(batch_op.f('ix_dossier_procedure_id'))
        batch_op.drop_index(batch_op.f('ix_dossier_procedure_code'))
        batch_op.drop_index('ix_dossier_open_due')
        batch_op.drop_index(batch_op.f('ix_dossier_code'))

    op.drop_table('dossier')
    op.drop_table('dossier_code_counter')
    op.drop_table('idempotency_record')
