"""staff search: the applicant's name by whole words on PostgreSQL (a word index replaces the trigram index)

Revision ID: 0023
Revises: 0019
Create Date: 2026-12-04 21:30:00

A trigram of 'nguyen' is in millions of rows, so a common full name read most of the trigram index and
rechecked the table (p95 9.4 s in a scope, 24.8 s across the 11.4-million city). A GIN index of the name's
words ('simple' configuration, over the folded text after the code) intersects one posting list per word,
the rarest leading. The trigram index served nothing else of weight (a code is found by lower(code), a
phone or identity number by their own indexes; a part of a code now reads the agency's ordered path) and
cost every intake about sixty index entries: it goes. SQLite keeps matching words between spaces.
"""

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0019'
branch_labels = None
depends_on = None

NAME_WORDS = "to_tsvector('simple'::regconfig, substr(search_text, strpos(search_text, ' ') + 1))"


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(sa.text('DROP INDEX IF EXISTS ix_dossier_search_trgm'))
    op.execute(sa.text(f'CREATE INDEX ix_dossier_name_words ON dossier USING gin ({NAME_WORDS})'))


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(sa.text('DROP INDEX IF EXISTS ix_dossier_name_words'))
    if op.get_bind().execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
        op.create_index(
            'ix_dossier_search_trgm', 'dossier', ['search_text'], unique=False,
            postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'},
        )
