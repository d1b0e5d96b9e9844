"""staff search: one or two words of a name are one term of a GIN index over the name's words and word pairs

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-05 03:30:00

Two common words ('nguyen anh') went through the word index (migration 0023), whose posting lists of
'nguyen' (38 % of names) and 'anh' intersect: 1.3 s p50, 2.1 s p95 on the 11.4-million city. Now the name's
terms are its words and every pair of them, sorted ('anh nguyen'): a word or two typed is one term, one posting
list, nothing to intersect; and the planner's statistics of that index count each term as it is, a pair
included (not two words' frequencies multiplied as if names were random), which the search uses to say
"more than 10,000" without counting millions (dossiers/search.py).

The terms are the name key's words (`motcua_name_key`, digits left out), distinct; `dossiers/names.py`
`name_terms` is the same in Python and a test compares the two. SQLite keeps matching words between spaces.

Many matches of a common word are paged by reading the newest dossiers in order and checking the words on each
row: across the city along `ix_dossier_search_newest` (received_at, id), partial on `search_text <> ''` so that
no report reads it.

The terms' index carries the receiving and the holding agency too (btree_gin, where the server has it), so that a
scope's count of a term intersects posting lists within the index.

On the 11.4-million city the terms' index took 2 min 33 s to build (3 min 45 s without the agencies, under
load), the newest-first index 5 s.
"""

from alembic import op
import sqlalchemy as sa


revision = '0046'
down_revision = '0045'
branch_labels = None
depends_on = None

NAME_TERMS_FUNCTION = """
CREATE OR REPLACE FUNCTION motcua_name_terms(search_text text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    WITH words AS (
        SELECT DISTINCT w
        FROM unnest(string_to_array(substr(search_text, strpos(search_text, ' ') + 1), ' ')) AS w
        WHERE w <> '' AND w !~ '[0-9]'
    )
    SELECT coalesce(array_agg(term), '{}')
    FROM (
        SELECT w AS term FROM words
        UNION ALL
        SELECT a.w || ' ' || b.w FROM words a JOIN words b ON a.w COLLATE "C" < b.w COLLATE "C"
    ) AS terms
$$
"""
NAME_WORDS = "to_tsvector('simple'::regconfig, substr(search_text, strpos(search_text, ' ') + 1))"


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(sa.text(NAME_TERMS_FUNCTION))
    # the agencies beside the terms (btree_gin, PostgreSQL's contrib): a term within an agency is the intersection
    # of two posting lists inside the index, not a heap visit for each of a common term's dossiers city-wide
    columns = 'motcua_name_terms(search_text)'
    if op.get_bind().execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gin'")).first():
        op.execute(sa.text('CREATE EXTENSION IF NOT EXISTS btree_gin'))
        columns += ', receiving_agency_id, current_agency_id'
    op.execute(sa.text(f'CREATE INDEX ix_dossier_name_terms ON dossier USING gin ({columns})'))
    # a thousand terms' frequencies are kept by default: a city's common pairs are more
    op.execute(sa.text('ALTER INDEX ix_dossier_name_terms ALTER COLUMN 1 SET STATISTICS 1000'))
    op.execute(sa.text('DROP INDEX IF EXISTS ix_dossier_name_words'))
    # every dossier newest first, for a search across the city: partial on a condition only the search states,
    # so that the reports keep reading ix_dossier_report (a plain received_at index drew their period ranges)
    op.execute(sa.text(
        "CREATE INDEX IF NOT EXISTS ix_dossier_search_newest ON dossier (received_at, id) WHERE search_text <> ''"
    ))
    op.execute(sa.text('ANALYZE dossier'))


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(sa.text(f'CREATE INDEX IF NOT EXISTS ix_dossier_name_words ON dossier USING gin ({NAME_WORDS})'))
    op.execute(sa.text('DROP INDEX IF EXISTS ix_dossier_search_newest'))
    op.execute(sa.text('DROP INDEX IF EXISTS ix_dossier_name_terms'))
    op.execute(sa.text('DROP FUNCTION IF EXISTS motcua_name_terms(text)'))
