"""citizens' ratings of dossiers (dossier_rating) and the complaints register (complaint, complaint_event)

Revision ID: 0055
Revises: 0019
Create Date: 2026-12-04 21:38:16.814043
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import kernel.db


revision = '0055'
down_revision = '0050'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('complaint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('receiving_agency_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('content', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('received_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('refuse_due_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('supplement_due_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answer_due_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('publish_due_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refused_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_supplement_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_due_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('feedback', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('feedback_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('repeated_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('transfer_count', sa.Integer(), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('calendar_version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.CheckConstraint("category IN ('regulations', 'staff_conduct', 'other')", name=op.f('ck_complaint_category_valid')),
    sa.CheckConstraint("channel IN ('portal', 'hotline', 'letter', 'email', 'in_person')", name=op.f('ck_complaint_channel_valid')),
    sa.CheckConstraint("feedback IN ('liked', 'disliked')", name=op.f('ck_complaint_feedback_valid')),
    sa.CheckConstraint("status IN ('received', 'supplement_requested', 'refused', 'answered', 'published')", name=op.f('ck_complaint_status_valid')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_complaint_agency_id_agency')),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_complaint_dossier_id_dossier')),
    sa.ForeignKeyConstraint(['receiving_agency_id'], ['agency.id'], name=op.f('fk_complaint_receiving_agency_id_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint'))
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_agency_received', ['agency_id', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_dossier_id'), ['dossier_id'], unique=False)
        batch_op.create_index('ix_complaint_open_due', ['agency_id', 'next_due_at'], unique=False, postgresql_where=sa.text('next_due_at IS NOT NULL'), sqlite_where=sa.text('next_due_at IS NOT NULL'))
        batch_op.create_index('ix_complaint_receiving_received', ['receiving_agency_id', 'received_at'], unique=False)

    op.create_table('dossier_rating',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('procedure_id', sa.Integer(), nullable=False),
    sa.Column('rating', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('indices', sa.JSON(), nullable=True),
    sa.Column('index_points', sa.Integer(), nullable=True),
    sa.Column('index_max_points', sa.Integer(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('rated_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.CheckConstraint("rating IN ('very_satisfied', 'satisfied', 'dissatisfied')", name=op.f('ck_dossier_rating_rating_valid')),
    sa.CheckConstraint("source IN ('lookup', 'kiosk', 'paper')", name=op.f('ck_dossier_rating_source_valid')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_dossier_rating_agency_id_agency')),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_dossier_rating_dossier_id_dossier'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['procedure_id'], ['procedure.id'], name=op.f('fk_dossier_rating_procedure_id_procedure')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_rating')),
    sa.UniqueConstraint('dossier_id', name=op.f('uq_dossier_rating_dossier_id'))
    )
    with op.batch_alter_table('dossier_rating', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_rating_agency_rated', ['agency_id', 'rated_at', 'procedure_id', 'rating'], unique=False)

    op.create_table('complaint_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('from_agency_id', sa.Integer(), nullable=True),
    sa.Column('to_agency_id', sa.Integer(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaint.id'], name=op.f('fk_complaint_event_complaint_id_complaint'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_agency_id'], ['agency.id'], name=op.f('fk_complaint_event_from_agency_id_agency')),
    sa.ForeignKeyConstraint(['to_agency_id'], ['agency.id'], name=op.f('fk_complaint_event_to_agency_id_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_event')),
    sa.UniqueConstraint('complaint_id', 'seq', name=op.f('uq_complaint_event_complaint_id_seq'))
    )
    with op.batch_alter_table('complaint_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_event_complaint_id'), ['complaint_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('complaint_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_event_complaint_id'))

    op.drop_table('complaint_event')
    with op.batch_alter_table('dossier_rating', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_rating_agency_rated')

    op.drop_table('dossier_rating')
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_receiving_received')
        batch_op.drop_index('ix_complaint_open_due', postgresql_where=sa.text('next_due_at IS NOT NULL'), sqlite_where=sa.text('next_due_at IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_complaint_dossier_id'))
        batch_op.drop_index('ix_complaint_agency_received')

    op.drop_table('complaint')
