"""The service's own database: every table in one SQLAlchemy `metadata`, and the app's engine.

Tables are SQLAlchemy Core `Table`s on `metadata`, so that a migration tool (Alembic's
`target_metadata`) and later tables (feedback, ...) extend the same schema in this module.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    make_url,
)
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

# Settings, each overridable by EXPOSURE_<NAME>; DATABASE_URL's default is a file in the app's
# instance folder (instance/ next to the api package, ignored by git).
DATABASE_FILE = "exposure.sqlite3"

# Deterministic constraint names, so that migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    # sha256 of the token, hex; the token itself is shown once, at creation, and never stored.
    Column("token_sha256", String(64), nullable=False, unique=True),
    # The token's first characters, to recognise a key in `list` without being able to use it.
    Column("prefix", String(16), nullable=False),
    # A limits string such as "600/minute"; NULL means the server's DEFAULT_QUOTA.
    Column("quota", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


# Alembic's scripts: an initial revision creates every table below and in api/feedback.py.
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def upgrade(engine: Engine) -> None:
    """Migrate the database to the latest schema (migrations/, Alembic)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        # env.py uses this connection instead of opening its own.
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def default_url(instance_path: str | Path) -> str:
    """Return the default database URL: a SQLite file in the instance folder."""
    return f"sqlite:///{Path(instance_path) / DATABASE_FILE}"


def connect(url: str) -> Engine:
    """Create an engine for a database URL and make sure every table exists."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ValueError(f"not a database URL: {url!r}") from error
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # Each connection, and each gunicorn worker, would see its own empty database.
            raise ValueError("an in-memory SQLite database cannot hold keys; name a file")
        folder = Path(parsed.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"cannot create the database folder {folder}: {error}") from error
    try:
        engine = create_engine(parsed)
    except ArgumentError as error:  # an unknown dialect or driver
        raise ValueError(f"cannot use database URL {parsed!r}: {error}") from error
    upgrade(engine)
    # No connection stays open: gunicorn forks workers after this runs (preload_app), and a
    # connection must never be shared between processes.
    engine.dispose()
    return engine


def init_app(app: Flask) -> None:
    """Connect the app to its database (setting DATABASE_URL), once per app."""
    if "database" in app.extensions:
        return
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = default_url(app.instance_path)
    url = app.config["DATABASE_URL"]
    try:
        app.extensions["database"] = connect(str(url))
    except (ValueError, SQLAlchemyError) as error:
        from api import ConfigurationError  # here: api imports this module

        raise ConfigurationError(
            f"setting DATABASE_URL (environment variable EXPOSURE_DATABASE_URL): {error}"
        ) from error
