"""Alembic environment: the engine, the tables and what to compare come from motcua (`api.db.alembic_config`
puts them in the config's attributes), never from an ini file. The package imports nothing of `api`: the
composition root imports it, not the other way round."""

from alembic import context

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=config.attributes["target_metadata"],
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=config.attributes["include_name"],
    )
    with context.begin_transaction():
        context.run_migrations()
