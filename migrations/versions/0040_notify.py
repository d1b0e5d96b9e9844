"""notifications (#17): the applicant's contact consent and channel, staff emails, the message outbox and its
delivery log, staff notifications (the inbox), message templates, warning and escalation rules

Revision ID: 0040
Revises: 0019
Create Date: 2026-12-04 21:14:36.420317

On PostgreSQL the dossier's new columns are added without rewriting the table (a constant default).
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import kernel.db


revision = '0040'
down_revision = '0035'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notify_template',
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('updated_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.CheckConstraint("channel IN ('sms', 'zalo', 'email')", name=op.f('ck_notify_template_channel_valid')),
    sa.PrimaryKeyConstraint('kind', 'channel', name=op.f('pk_notify_template'))
    )
    op.create_table('notify_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('procedure_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('warn_share', sa.Float(), nullable=True),
    sa.Column('warn_working_hours_before', sa.Float(), nullable=True),
    sa.Column('apology_reminder', sa.Boolean(), nullable=True),
    sa.Column('apology_lead_working_hours', sa.Float(), nullable=True),
    sa.Column('supplement_reminder_working_days', sa.Float(), nullable=True),
    sa.Column('escalation', sa.JSON(), nullable=True),
    sa.Column('updated_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_notify_rule_agency_id_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_rule')),
    sa.UniqueConstraint('agency_id', 'procedure_code', name=op.f('uq_notify_rule_agency_id_procedure_code'))
    )
    op.create_table('notify_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=True),
    sa.Column('cause', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('audience', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("audience IN ('citizen', 'staff')", name=op.f('ck_notify_message_audience_valid')),
    sa.CheckConstraint("channel IN ('sms', 'zalo', 'email')", name=op.f('ck_notify_message_channel_valid')),
    sa.CheckConstraint("status IN ('pending', 'sent', 'gave_up')", name=op.f('ck_notify_message_status_valid')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_notify_message_agency_id_agency')),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_notify_message_dossier_id_dossier')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_notify_message_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_message')),
    sa.UniqueConstraint('key', name=op.f('uq_notify_message_key'))
    )
    with op.batch_alter_table('notify_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_message_dossier_id'), ['dossier_id'], unique=False)
        batch_op.create_index('ix_notify_message_pending', ['next_attempt_at', 'id'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))

    op.create_table('notify_notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('level', sa.Integer(), nullable=True),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('due_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('visible_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('stage_warning', 'dossier_warning', 'apology_owed', 'escalation')", name=op.f('ck_notify_notification_kind_valid')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_notify_notification_agency_id_agency')),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_notify_notification_dossier_id_dossier')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_notify_notification_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_notification')),
    sa.UniqueConstraint('key', name=op.f('uq_notify_notification_key'))
    )
    with op.batch_alter_table('notify_notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_notification_dossier_id'), ['dossier_id'], unique=False)
        batch_op.create_index('ix_notify_notification_inbox', ['user_id', 'read_at', 'visible_at'], unique=False)

    op.create_table('notify_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('answer', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.CheckConstraint("outcome IN ('sent', 'failed', 'gave_up', 'held')", name=op.f('ck_notify_delivery_outcome_valid')),
    sa.ForeignKeyConstraint(['message_id'], ['notify_message.id'], name=op.f('fk_notify_delivery_message_id_notify_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_delivery'))
    )
    with op.batch_alter_table('notify_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_delivery_message_id'), ['message_id'], unique=False)

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True))

    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applicant_email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True))
        batch_op.add_column(sa.Column('contact_consent', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('preferred_channel', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_column('preferred_channel')
        batch_op.drop_column('contact_consent')
        batch_op.drop_column('applicant_email')

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('email')

    with op.batch_alter_table('notify_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notify_delivery_message_id'))

    op.drop_table('notify_delivery')
    with op.batch_alter_table('notify_notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notify_notification_inbox')
        batch_op.drop_index(batch_op.f('ix_notify_notification_dossier_id'))

    op.drop_table('notify_notification')
    with op.batch_alter_table('notify_message', schema=None) as batch_op:
        batch_op.drop_index('ix_notify_message_pending', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_notify_message_dossier_id'))

    op.drop_table('notify_message')
    op.drop_table('notify_rule')
    op.drop_table('notify_template')
