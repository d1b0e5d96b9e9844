"""staff search: the applicant's name on PostgreSQL by its key (a whole name) and by its words (a word or two);
the trigram index goes

Revision ID: 0023
Revises: 0019
Create Date: 2026-12-04 21:30:00

A trigram of 'nguyen' is in millions of rows, so a common full name read most of the trigram index and
rechecked the table (p95 9.4 s in a scope, 24.8 s across the 11.4-million city). Now:

- a whole name (three words or more) is its key, the folded words without digits sorted
  (`motcua_name_key`, the same as dossiers/names.py `name_key`): every dossier of that name is one range of
  its index, which carries `received_at`, `id` and the agencies, so that the page (a few thousand entries
  sorted) and the scope's filter read no table row. They are carried, not keyed: a key column `received_at`
  would let the planner read this index for a period's range and leave the report's index-only scan
  (tests/sla/test_reports.py);
- a word or two go through a GIN index of the name's words ('simple' configuration, over the folded text
  after the code), whose posting lists intersect.

The trigram index served nothing else of weight (a code is found by lower(code), a phone or identity number
by their own indexes) and cost every intake about sixty index entries. SQLite keeps matching words between
spaces, and calls the key function from Python (api/db.py).
"""

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0019'
branch_labels = None
depends_on = None

NAME_KEY_FUNCTION = """
CREATE OR REPLACE FUNCTION motcua_name_key(search_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT string_agg(w, ' ' ORDER BY w COLLATE "C")
    FROM unnest(string_to_array(substr(search_text, strpos(search_text, ' ') + 1), ' ')) AS w
    WHERE w <> '' AND w !~ '[0-9]'
$$
"""
NAME_WORDS = "to_tsvector('simple'::regconfig, substr(search_text, strpos(search_text, ' ') + 1))"


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(sa.text('DROP INDEX IF EXISTS ix_dossier_search_trgm'))
    op.execute(sa.text(NAME_KEY_FUNCTION))
    op.execute(sa.text(
        'CREATE INDEX ix_dossier_name_key ON dossier (motcua_name_key(search_text)) '
        'INCLUDE (received_at, id, receiving_agency_id, current_agency_id)'
    ))
    op.execute(sa.text(f'CREATE INDEX IF NOT EXISTS ix_dossier_name_words ON dossier USING gin ({NAME_WORDS})'))


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(sa.text('DROP INDEX IF EXISTS ix_dossier_name_words'))
    op.execute(sa.text('DROP INDEX IF EXISTS ix_dossier_name_key'))
    op.execute(sa.text('DROP FUNCTION IF EXISTS motcua_name_key(text)'))
    if op.get_bind().execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
        op.create_index(
            'ix_dossier_search_trgm', 'dossier', ['search_text'], unique=False,
            postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'},
        )
