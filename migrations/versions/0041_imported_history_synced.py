"""history import: imported dossiers count as synced (exchange_dossier_sync.import_id), an import keeps its first
problems (exchange_import.problems)

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-05 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0041'
down_revision = '0040'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('exchange_dossier_sync', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_exchange_dossier_sync_import_id_exchange_import'),
                                    'exchange_import', ['import_id'], ['id'])
        batch_op.create_index('ix_exchange_dossier_sync_gateway', ['first_synced_at'], unique=False,
                              postgresql_where=sa.text('import_id IS NULL'), sqlite_where=sa.text('import_id IS NULL'))
    with op.batch_alter_table('exchange_import', schema=None) as batch_op:
        batch_op.add_column(sa.Column('problems', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('exchange_import', schema=None) as batch_op:
        batch_op.drop_column('problems')
    with op.batch_alter_table('exchange_dossier_sync', schema=None) as batch_op:
        batch_op.drop_index('ix_exchange_dossier_sync_gateway', postgresql_where=sa.text('import_id IS NULL'),
                            sqlite_where=sa.text('import_id IS NULL'))
        batch_op.drop_constraint(batch_op.f('fk_exchange_dossier_sync_import_id_exchange_import'), type_='foreignkey')
        batch_op.drop_column('import_id')
