"""Alembic's entry point: migrate the database to api.database.metadata, every table included.

The URL is, in order: a connection handed over by the caller (`config.attributes["connection"]`,
as api/database.py does at start), `alembic -x url=...`, $EXPOSURE_DATABASE_URL, and the
server's default, instance/exposure.sqlite3.
"""

import os
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine, pool

import api.feedback  # noqa: F401  (defines the feedback table on the metadata)
from api.database import default_url, metadata

PROJECT = Path(__file__).resolve().parents[1]

config = context.config
if config.config_file_name is not None and config.attributes.get("connection") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """Return the URL to migrate when no connection is handed over."""
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("EXPOSURE_DATABASE_URL")
        or default_url(PROJECT / "instance")
    )


def run(connection) -> None:
    """Run the migrations on a connection."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters tables by copying them; batch mode does that for later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    run(config.attributes["connection"])
else:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        run(connection)
    engine.dispose()
