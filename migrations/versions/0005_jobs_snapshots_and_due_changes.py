"""jobs snapshots and due changes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:33:05.428889
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import kernel.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('period_key', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('started_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rows_written', sa.Integer(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
    sa.CheckConstraint("status IN ('running', 'done', 'failed')", name=op.f('ck_job_run_status_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run')),
    sa.UniqueConstraint('job', 'period_key', 'revision', name=op.f('uq_job_run_job_period_key_revision'))
    )
    op.create_table('daily_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('open', sa.Integer(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('due_soon', sa.Integer(), nullable=False),
    sa.Column('resolved_early', sa.Integer(), nullable=False),
    sa.Column('resolved_on_time', sa.Integer(), nullable=False),
    sa.Column('resolved_late', sa.Integer(), nullable=False),
    sa.Column('withdrawn', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_daily_snapshot_agency_id_agency')),
    sa.ForeignKeyConstraint(['run_id'], ['job_run.id'], name=op.f('fk_daily_snapshot_run_id_job_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_snapshot')),
    sa.UniqueConstraint('day', 'agency_id', name=op.f('uq_daily_snapshot_day_agency_id'))
    )
    with op.batch_alter_table('daily_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_daily_snapshot_day'), ['day'], unique=False)

    op.create_table('period_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_key', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('frozen_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_period_snapshot_agency_id_agency')),
    sa.ForeignKeyConstraint(['run_id'], ['job_run.id'], name=op.f('fk_period_snapshot_run_id_job_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_period_snapshot')),
    sa.UniqueConstraint('period_key', 'scope', 'revision', name=op.f('uq_period_snapshot_period_key_scope_revision'))
    )
    with op.batch_alter_table('period_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_period_snapshot_period_key'), ['period_key'], unique=False)

    op.create_table('due_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('old_due_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('new_due_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_due_change_dossier_id_dossier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_due_change'))
    )
    with op.batch_alter_table('due_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_due_change_dossier_id'), ['dossier_id'], unique=False)

    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_finished_at', ['finished_at'], unique=False)

    with op.batch_alter_table('procedure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', kernel.db.UTCDateTime(timezone=True), nullable=False, server_default=sa.func.now()))



def downgrade() -> None:
    with op.batch_alter_table('procedure', schema=None) as batch_op:
        batch_op.drop_column('updated_at')

    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_finished_at')

    with op.batch_alter_table('due_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_due_change_dossier_id'))

    op.drop_table('due_change')
    with op.batch_alter_table('period_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_period_snapshot_period_key'))

    op.drop_table('period_snapshot')
    with op.batch_alter_table('daily_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_daily_snapshot_day'))

    op.drop_table('daily_snapshot')
    op.drop_table('job_run')
