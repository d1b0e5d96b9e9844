from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.db import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(request: Request):
    """Database reachability and the migration revision (503 when the database cannot be reached)."""
    engine = request.app.state.engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        return JSONResponse(
            status_code=503,
            content={"status": "unavailable", "database": "unreachable", "detail": type(exc).__name__},
        )
    head = head_revision(engine)
    return {
        "status": "ok" if revision == head else "migrations_pending",
        "database": "reachable",
        "dialect": engine.dialect.name,
        "migration_revision": revision,
        "migration_head": head,
    }
