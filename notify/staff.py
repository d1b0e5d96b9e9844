"""Who is told: the staff of an agency, its managers (or the nearest ancestor's), the centre's director.

Read from the accounts table by its columns (the accounts live in `api`, which nothing below it imports).
"""

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Boolean, Integer, String, column, select, table
from sqlmodel import Session

from procedures.service import AgencyTree, agency_tree

USERS = table(
    "app_user",
    column("id", Integer),
    column("username", String),
    column("role", String),
    column("agency_id", Integer),
    column("full_name", String),
    column("email", String),
    column("active", Boolean),
)
HANDLING_ROLES = ("manager", "officer", "clerk")
"""Who of an agency gets its warnings: those who handle its dossiers (not viewers; administrators see all)."""


class Staff:
    """The active users, indexed for the rules: by agency and role, by username; ancestors of agencies."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(
            select(USERS.c.id, USERS.c.username, USERS.c.role, USERS.c.agency_id).where(USERS.c.active.is_(True))
        ).all()
        self.frame = pd.DataFrame(rows, columns=["user_id", "username", "role", "agency_id"])
        self.tree: AgencyTree = agency_tree(session)
        self._by_agency_role: dict[tuple[int, str], list[int]] = {}
        for user_id, _, role, agency_id in rows:
            if agency_id is not None:
                self._by_agency_role.setdefault((agency_id, role), []).append(user_id)
        self._by_username = {username: user_id for user_id, username, _, _ in rows}
        self.agency_of = {user_id: agency_id for user_id, _, _, agency_id in rows}

    def ancestors(self, agency_id: int) -> list[int]:
        """The agency, its parent, … up to the root."""
        chain, current = [], self.tree.by_id.get(agency_id)
        while current is not None and len(chain) < 64:
            chain.append(current.id)
            current = self.tree.by_id.get(current.parent_id) if current.parent_id is not None else None
        return chain

    def handling(self, agency_id: int) -> list[int]:
        """The agency's own handling staff (managers, officers, clerks)."""
        return [u for role in HANDLING_ROLES for u in self._by_agency_role.get((agency_id, role), ())]

    def with_role(self, agency_id: int, role: str, *, nearest: bool) -> list[int]:
        """Users with `role` at the agency; `nearest`: else at its nearest ancestor that has some."""
        for ancestor in self.ancestors(agency_id) if nearest else [agency_id]:
            found = self._by_agency_role.get((ancestor, role))
            if found:
                return list(found)
        return []

    def named(self, usernames: Iterable[str]) -> list[int]:
        return [self._by_username[name] for name in usernames if name in self._by_username]

    def root_of(self, agency_id: int) -> int:
        chain = self.ancestors(agency_id)
        return chain[-1] if chain else agency_id
