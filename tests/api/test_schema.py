"""Alembic owns the schema: the migrations build exactly what the models declare."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import api.models  # noqa: F401
from api.db import current_revision, head_revision, include_name


def test_migrations_match_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include_name})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_database_is_at_head(engine):
    assert current_revision(engine) == head_revision(engine) is not None


def test_healthz_reports_database_and_revision(client, engine):
    response = client.get("/api/v1/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "reachable"
    assert body["status"] == "ok"
    assert body["migration_revision"] == head_revision(engine)
    assert body["dialect"] == engine.dialect.name


def test_unknown_route_uses_the_error_shape(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "detail"}
