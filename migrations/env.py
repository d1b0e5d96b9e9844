"""Alembic environment: the engine comes from motcua (api.db.alembic_config), never from an ini file."""

from alembic import context
from sqlmodel import SQLModel

import api.models  # noqa: F401  (every table registered on SQLModel.metadata)
from api.db import include_name

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
