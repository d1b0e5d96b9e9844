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

On the 11.4-million city the index takes minutes to build (it reads every dossier's name once).
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
    op.execute(sa.text('CREATE INDEX ix_dossier_name_terms ON dossier USING gin (motcua_name_terms(search_text))'))
    # a thousand terms' frequencies are kept by default: a city's common pairs are more
    op.execute(sa.text('ALTER INDEX ix_dossier_name_terms ALTER COLUMN 1 SET STATISTICS 1000'))
    op.execute(sa.text('DROP INDEX IF EXISTS ix_dossier_name_words'))
    op.execute(sa.text('ANALYZE dossier'))


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(sa.text(f'CREATE INDEX IF NOT EXISTS ix_dossier_name_words ON dossier USING gin ({NAME_WORDS})'))
    op.execute(sa.text('DROP INDEX IF EXISTS ix_dossier_name_terms'))
    op.execute(sa.text('DROP FUNCTION IF EXISTS motcua_name_terms(text)'))
