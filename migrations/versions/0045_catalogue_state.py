"""catalogue_state: the procedure catalogue's stamp, moved by the database at every write to `procedure`

Revision ID: 0045
Revises: 0041
Create Date: 2026-12-05 01:00:00.000000
"""

import uuid

from alembic import op
import sqlalchemy as sa
import sqlmodel
import kernel.db


revision = '0045'
down_revision = '0041'
branch_labels = None
depends_on = None

# A trigger, not the writers, moves the stamp: whatever writes a procedure version (the catalogue's services, an
# import, a data migration, a hand-written statement) tells every worker's cache of versions in force.
POSTGRESQL = [
    """
    CREATE FUNCTION catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE catalogue_state SET version = md5(random()::text || clock_timestamp()::text), changed_at = now()
        WHERE id = 1;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER procedure_catalogue_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "procedure"
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_changed()
    """,
]
SQLITE = [
    f"""
    CREATE TRIGGER procedure_catalogue_changed_{event.lower()} AFTER {event} ON "procedure"
    BEGIN
        UPDATE catalogue_state SET version = lower(hex(randomblob(16))),
            changed_at = strftime('%Y-%m-%d %H:%M:%f000', 'now')
        WHERE id = 1;
    END
    """
    for event in ("INSERT", "UPDATE", "DELETE")
]


def upgrade() -> None:
    catalogue_state = op.create_table('catalogue_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('changed_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_state'))
    )
    op.bulk_insert(catalogue_state, [{'id': 1, 'version': uuid.uuid4().hex, 'changed_at': kernel.db.utc_now()}])
    for statement in POSTGRESQL if op.get_bind().dialect.name == 'postgresql' else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER procedure_catalogue_changed ON "procedure"')
        op.execute('DROP FUNCTION catalogue_changed()')
    else:
        for event in ('insert', 'update', 'delete'):
            op.execute(f'DROP TRIGGER procedure_catalogue_changed_{event}')
    op.drop_table('catalogue_state')
