"""The history import and the reconciliation as one use case each, for the JSON routes, the pages and the CLI."""

import io
from typing import BinaryIO

import orjson
from sqlmodel import Session

from exchange.history import ImportReport, import_history
from exchange.reconcile import Reconciliation, read_portal, reconcile


def import_upload(
    session: Session, content: BinaryIO, *, file_name: str, actor: str, calendar_for, skip_bad: bool
) -> tuple[ImportReport, list[dict]]:
    """An uploaded file imported in the request's transaction; with `skip_bad`, the rejects as a list."""
    rejects = io.BytesIO()
    report = import_history(session, content, file_name=file_name, actor=actor, calendar_for=calendar_for,
                            skip_bad=skip_bad, rejects=rejects)  # fmt: skip
    return report, [orjson.loads(line) for line in rejects.getvalue().splitlines()]


def reconcile_upload(session: Session, content: bytes, *, period: str) -> Reconciliation:
    return reconcile(session, period=period, units=read_portal(content))
