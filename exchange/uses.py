"""The history import and the reconciliation as one use case each, for the JSON routes, the pages and the CLI."""

import io
from typing import BinaryIO

import orjson
from sqlmodel import Session

from exchange.history import ImportReport, import_history
from exchange.reconcile import Reconciliation, read_portal, reconcile
from kernel.errors import Forbidden
from procedures.service import agency_tree


def import_upload(
    session: Session, content: BinaryIO, *, file_name: str, actor: str, calendar_for, skip_bad: bool
) -> tuple[ImportReport, list[dict]]:
    """An uploaded file imported in the request's transaction; with `skip_bad`, the rejects as a list."""
    rejects = io.BytesIO()
    report = import_history(session, content, file_name=file_name, actor=actor, calendar_for=calendar_for,
                            skip_bad=skip_bad, rejects=rejects)  # fmt: skip
    return report, [orjson.loads(line) for line in rejects.getvalue().splitlines()]


def reconcile_upload(session: Session, content: bytes, *, period: str, within=None) -> Reconciliation:
    """`within`: the agency ids a scoped user may read; a unit of the file outside them is refused."""
    units = read_portal(content)
    if within is not None:
        tree = agency_tree(session)
        outside = [u.code for u in units if u.code in tree.by_code and tree.by_code[u.code].id not in within]
        if outside:
            raise Forbidden(f"the units {', '.join(outside)} are outside your scope: reconcile your agencies only",
                            message_id="outside_scope", agency=", ".join(outside), own="")  # fmt: skip
    return reconcile(session, period=period, units=units)
