"""the national exchange: the dossier-change outbox, its change counter, each dossier's and step's sync state

Every dossier there is gets one `backfill` change, so that the first sync sends them all.

Revision ID: 0030
Revises: 0019
Create Date: 2026-12-10 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel

from kernel.db import UTCDateTime


revision = '0030'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dossier_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('change_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('recorded_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_dossier_change_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_change')),
    sa.UniqueConstraint('change_id', name=op.f('uq_dossier_change_change_id'))
    )
    with op.batch_alter_table('dossier_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_change_dossier_id'), ['dossier_id'], unique=False)

    op.create_table('exchange_change_counter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_change_id', sa.BigInteger(), server_default='0', nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_exchange_change_counter_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_change_counter'))
    )
    op.create_table('exchange_dossier_sync',
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('synced_change_id', sa.BigInteger(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTCDateTime(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('last_http_status', sa.Integer(), nullable=True),
    sa.Column('first_synced_at', UTCDateTime(), nullable=True),
    sa.Column('synced_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("state IN ('synced', 'failed')", name=op.f('ck_exchange_dossier_sync_state_valid')),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_exchange_dossier_sync_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dossier_id', name=op.f('pk_exchange_dossier_sync'))
    )
    with op.batch_alter_table('exchange_dossier_sync', schema=None) as batch_op:
        batch_op.create_index('ix_exchange_dossier_sync_failed', ['next_attempt_at'], unique=False,
                              postgresql_where=sa.text("state = 'failed'"), sqlite_where=sa.text("state = 'failed'"))

    op.create_table('exchange_step_sync',
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('synced_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_exchange_step_sync_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dossier_id', 'seq', name=op.f('pk_exchange_step_sync'))
    )
    op.execute("INSERT INTO exchange_change_counter (id, last_change_id) VALUES (1, 0)")
    now = "now()" if op.get_bind().dialect.name == "postgresql" else "CURRENT_TIMESTAMP"
    op.execute(f"INSERT INTO dossier_change (dossier_id, kind, recorded_at) SELECT id, 'backfill', {now} FROM dossier ORDER BY id")


def downgrade() -> None:
    op.drop_table('exchange_step_sync')
    with op.batch_alter_table('exchange_dossier_sync', schema=None) as batch_op:
        batch_op.drop_index('ix_exchange_dossier_sync_failed', postgresql_where=sa.text("state = 'failed'"), sqlite_where=sa.text("state = 'failed'"))

    op.drop_table('exchange_dossier_sync')
    op.drop_table('exchange_change_counter')
    with op.batch_alter_table('dossier_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_change_dossier_id'))

    op.drop_table('dossier_change')
