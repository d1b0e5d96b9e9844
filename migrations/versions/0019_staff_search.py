"""staff search at city scale: an exact code whatever its case, an agency's held dossiers newest first, the first
digits of a phone or identity number; on PostgreSQL a trigram index on the folded search text (pg_trgm)

Revision ID: 0019
Revises: 0013
Create Date: 2026-12-12 09:00:00

On PostgreSQL the extension pg_trgm is created when the server has it (it ships with PostgreSQL's contrib);
without it the search still works, reading name words without the trigram index. On a city of millions the
indexes take minutes to build.
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0017'
branch_labels = None
depends_on = None

HELD_ELSEWHERE = sa.text('current_agency_id <> receiving_agency_id')


def upgrade() -> None:
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_code_lower', [sa.text('lower(code)')], unique=False)
        batch_op.create_index(
            'ix_dossier_holder_received',
            ['current_agency_id', 'received_at', 'id', 'receiving_agency_id', 'status_code', 'procedure_id'],
            unique=False, postgresql_where=HELD_ELSEWHERE, sqlite_where=HELD_ELSEWHERE,
        )
        batch_op.create_index(
            'ix_dossier_applicant_phone', ['applicant_phone'], unique=False,
            postgresql_ops={'applicant_phone': 'varchar_pattern_ops'},
        )
        batch_op.create_index(
            'ix_dossier_applicant_id_number', ['applicant_id_number'], unique=False,
            postgresql_ops={'applicant_id_number': 'varchar_pattern_ops'},
        )
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql' and _trigram_available(bind):
        op.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
        op.create_index(
            'ix_dossier_search_trgm', 'dossier', ['search_text'], unique=False,
            postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'},
        )


def _trigram_available(bind) -> bool:
    return bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first() is not None


def downgrade() -> None:
    op.execute(sa.text('DROP INDEX IF EXISTS ix_dossier_search_trgm'))
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_applicant_id_number')
        batch_op.drop_index('ix_dossier_applicant_phone')
        batch_op.drop_index('ix_dossier_holder_received')
        batch_op.drop_index('ix_dossier_code_lower')
