"""sign-in throttle counts; usernames normalised (NFKC, case-folded)

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-10 09:00:00.000000

Existing usernames are rewritten to their normalised form ('Clerk' → 'clerk'), so that sign-in, which
looks up the normalised name, finds them. If two existing users would get the same name, the upgrade
stops and names them: rename one (`UPDATE app_user SET username = ...`) and upgrade again.
"""

import unicodedata

from alembic import op
import sqlalchemy as sa
import sqlmodel
import kernel.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _normalized(username: str) -> str:  # as api.accounts.normalize_username (a migration keeps its own copy)
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def upgrade() -> None:
    op.create_table('sign_in_failure',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_failure'))
    )

    connection = op.get_bind()
    users = sa.table('app_user', sa.column('id', sa.Integer), sa.column('username', sa.String))
    rows = connection.execute(sa.select(users.c.id, users.c.username)).all()
    by_name: dict[str, list[str]] = {}
    for row in rows:
        by_name.setdefault(_normalized(row.username), []).append(row.username)
    clashes = {name: found for name, found in by_name.items() if len(found) > 1}
    if clashes:
        listed = "; ".join(
            f"{' and '.join(map(repr, found))} would both be {name!r}" for name, found in clashes.items()
        )
        raise RuntimeError(
            f"usernames are now compared case-insensitively (NFKC, case-folded), and {listed}: rename all but one "
            "of each (UPDATE app_user SET username = ... WHERE id = ...), then upgrade again"
        )
    for row in rows:
        if (name := _normalized(row.username)) != row.username:
            connection.execute(sa.update(users).where(users.c.id == row.id).values(username=name))


def downgrade() -> None:
    op.drop_table('sign_in_failure')
