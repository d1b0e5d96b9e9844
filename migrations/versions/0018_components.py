"""components (thành phần hồ sơ): each procedure version's list of documents, and what a dossier received

Revision ID: 0018
Revises: 0013
Create Date: 2026-12-04 19:40:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0018'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('procedure_component',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('procedure_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('form', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('copies', sa.Integer(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.CheckConstraint("form IN ('original', 'copy', 'certified_copy')", name=op.f('ck_procedure_component_form_valid')),
    sa.CheckConstraint('copies >= 1', name=op.f('ck_procedure_component_copies_positive')),
    sa.ForeignKeyConstraint(['procedure_id'], ['procedure.id'], name=op.f('fk_procedure_component_procedure_id_procedure'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_procedure_component')),
    sa.UniqueConstraint('procedure_id', 'seq', name=op.f('uq_procedure_component_procedure_id_seq'))
    )
    with op.batch_alter_table('procedure_component', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_procedure_component_procedure_id'), ['procedure_id'], unique=False)

    op.create_table('dossier_component',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('component_seq', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('form', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('copies', sa.Integer(), nullable=False),
    sa.CheckConstraint("form IN ('original', 'copy', 'certified_copy')", name=op.f('ck_dossier_component_form_valid')),
    sa.CheckConstraint('copies >= 1', name=op.f('ck_dossier_component_copies_positive')),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_dossier_component_dossier_id_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_component')),
    sa.UniqueConstraint('dossier_id', 'seq', name=op.f('uq_dossier_component_dossier_id_seq'))
    )
    with op.batch_alter_table('dossier_component', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_component_dossier_id'), ['dossier_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dossier_component', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_component_dossier_id'))

    op.drop_table('dossier_component')
    with op.batch_alter_table('procedure_component', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_procedure_component_procedure_id'))

    op.drop_table('procedure_component')
