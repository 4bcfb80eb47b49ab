"""API keys: issued and revoked by a command, stored only as hashes, checked on every request.

A key is a random 256-bit token shown once when it is created (`python -m api.keys create`).
The database keeps its sha256, which identifies the key but cannot be turned back into it: with
that much entropy, no salt or slow hash is needed. Requests send the token as
`Authorization: Bearer <token>` or `X-API-Key: <token>`.

With AUTH off (the default, for a local first run) a key is optional: a request without one is
served anonymously, and a request with one is checked as usual. With AUTH on, every endpoint
except the public ones (probes, docs, metrics, the page) needs a valid key. Each worker trusts
what it read about a token for KEY_CACHE_SECONDS, so a revoked key stops working within that.
"""

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, current_app, g, request
from limits import parse_many
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from api import database

TOKEN_PREFIX = "exp_"
# Characters of the token kept in the database to tell keys apart in `list`.
SHOWN_PREFIX_CHARS = 8
AUTH_MODES = ("off", "on")
# KEY_CACHE_SECONDS: how long a worker trusts what it read about a token. Requests then cost no
# database query, and revoking a key reaches every worker within that time.
DEFAULTS = {"AUTH": "off", "KEY_CACHE_SECONDS": 5.0}
# Tokens remembered per worker; past this the memory starts over (random tokens can't fill it).
MAX_CACHED_TOKENS = 10_000
# Endpoints of these blueprints never need a key: probes, API docs, metrics, and the page at /
# (its files hold no data; the requests it makes to the API need a key like any other).
PUBLIC_BLUEPRINTS = frozenset({"health", "docs", "observability", "page"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_BEARER = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr] +(\S+) *$")


class KeyStoreError(ValueError):
    """A key name, quota or operation that the store refuses."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its token."""

    name: str
    prefix: str
    quota: str | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        """Say whether the key was revoked."""
        return self.revoked_at is not None


def hash_token(token: str) -> str:
    """Return the hex sha256 under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    """Return a key name if it is 1-64 letters, digits, '.', '_' or '-', else raise."""
    if not _NAME.match(name):
        raise KeyStoreError(
            f"key name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_quota(quota: str) -> str:
    """Return a quota if limits can parse it ("600/minute", "10/second;1000/hour"), else raise."""
    try:
        if not parse_many(quota):
            raise ValueError(quota)
    except ValueError as error:
        raise KeyStoreError(
            f"quota {quota!r} is not a rate such as '600/minute' or '10/second;1000/hour'"
        ) from error
    return quota


class KeyStore:
    """The api_keys table: create, revoke, list and find keys."""

    def __init__(self, engine: Engine, cache_seconds: float = 0.0):
        self.engine = engine
        self.cache_seconds = cache_seconds
        # sha256 of a token -> (monotonic time it was read, its key or None)
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    def create(self, name: str, quota: str | None = None) -> tuple[ApiKey, str]:
        """Create a key and return it with its token, which is never available again."""
        check_name(name)
        if quota is not None:
            check_quota(quota)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = {
            "name": name,
            "token_sha256": hash_token(token),
            "prefix": token[: len(TOKEN_PREFIX) + SHOWN_PREFIX_CHARS],
            "quota": quota,
            "created_at": datetime.now(UTC),
            "revoked_at": None,
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(database.api_keys).values(row))
        except IntegrityError as error:
            raise KeyStoreError(f"a key named {name!r} already exists") from error
        return _key(row), token

    def revoke(self, name: str) -> ApiKey:
        """Revoke a key by name; its token is refused from then on."""
        table = database.api_keys
        with self.engine.begin() as connection:
            connection.execute(
                update(table)
                .where(table.c.name == name, table.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            row = connection.execute(select(table).where(table.c.name == name)).mappings().first()
        if row is None:
            raise KeyStoreError(f"no key named {name!r}")
        self._cache.clear()
        return _key(row)

    def list_all(self) -> list[ApiKey]:
        """Return every key, revoked ones included, by name."""
        table = database.api_keys
        with self.engine.connect() as connection:
            rows = connection.execute(select(table).order_by(table.c.name)).mappings()
            return [_key(row) for row in rows]

    def find(self, token: str) -> ApiKey | None:
        """Return the key a token belongs to, or None; as read at most cache_seconds ago."""
        digest = hash_token(token)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        table = database.api_keys
        with self.engine.connect() as connection:
            row = (
                connection.execute(select(table).where(table.c.token_sha256 == digest))
                .mappings()
                .first()
            )
        key = None if row is None else _key(row)
        if self.cache_seconds > 0:
            if len(self._cache) >= MAX_CACHED_TOKENS:
                self._cache.clear()
            self._cache[digest] = (now, key)
        return key


def _key(row) -> ApiKey:
    return ApiKey(
        name=row["name"],
        prefix=row["prefix"],
        quota=row["quota"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


# --- Requests ---------------------------------------------------------------------------------


def is_public(endpoint: str | None) -> bool:
    """Say whether an endpoint is served without a key (probes, docs, metrics, the page)."""
    return endpoint is not None and endpoint.partition(".")[0] in PUBLIC_BLUEPRINTS


def read_token() -> str | None:
    """Return the token the request sends, or None; raise 401 for a malformed Authorization."""
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        match = _BEARER.match(authorization)
        if match is None:
            raise _unauthorized("The Authorization header must be 'Bearer <API key>'.")
        return match[1]
    return request.headers.get("X-API-Key") or None


def authenticate() -> None:
    """Identify the caller by its key (g.api_key), or refuse the request with 401 or 403."""
    g.api_key = None
    # Unknown routes and wrong methods keep their 404 and 405.
    if request.routing_exception is not None or is_public(request.endpoint):
        return
    token = read_token()
    if token is None:
        if current_app.config["AUTH"] == "on":
            raise _unauthorized(
                "An API key is required: send it as 'Authorization: Bearer <key>' or "
                "'X-API-Key: <key>'."
            )
        return
    key = current_app.extensions["keys"].find(token)
    if key is None:
        raise _unauthorized("The API key is not valid.")
    if key.revoked:
        raise Forbidden("The API key was revoked.")
    g.api_key = key


def _unauthorized(detail: str) -> Unauthorized:
    return Unauthorized(detail, www_authenticate=WWWAuthenticate("bearer", {"realm": "exposure"}))


def init_app(app: Flask) -> None:
    """Check keys on every request (AUTH: off or on) against the app's database, once per app."""
    if "keys" in app.extensions:
        return
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    mode = app.config["AUTH"]
    if not isinstance(mode, str) or mode.lower() not in AUTH_MODES:
        raise _configuration_error(
            f"setting AUTH (environment variable EXPOSURE_AUTH) must be 'off' or 'on', got {mode!r}"
        )
    app.config["AUTH"] = mode.lower()
    cache_seconds = app.config["KEY_CACHE_SECONDS"]
    if isinstance(cache_seconds, bool) or not isinstance(cache_seconds, int | float):
        raise _configuration_error(
            "setting KEY_CACHE_SECONDS (environment variable EXPOSURE_KEY_CACHE_SECONDS) must "
            f"be a number of seconds, got {cache_seconds!r}"
        )
    database.init_app(app)
    app.extensions["keys"] = KeyStore(app.extensions["database"], float(cache_seconds))
    app.before_request(authenticate)
    if app.config["AUTH"] == "off":
        app.logger.warning(
            "AUTHENTICATION IS OFF (EXPOSURE_AUTH=off): anyone who can reach this server can "
            "use it without an API key. Create keys with `python -m api.keys create --name NAME` "
            "and set EXPOSURE_AUTH=on before exposing it to a network."
        )


def _configuration_error(message: str) -> Exception:
    from api import ConfigurationError  # here: api imports this module

    return ConfigurationError(message)
