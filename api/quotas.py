"""Per-key quotas: flask-limiter counts requests, and RateLimit-* headers report what is left.

A key's quota is its own (set with `python -m api.keys create --quota`) or DEFAULT_QUOTA; a
request without a key (AUTH off) is counted against DEFAULT_QUOTA per client address. A quota
counts requests to every non-public endpoint together, a batch as one request. Counters live in
RATELIMIT_STORAGE_URL: `memory://` (each gunicorn worker counts on its own, so the effective
quota is the quota times the workers) or `redis://host:port/db` (exact across workers and
servers).
"""

import math
import time

from flask import Flask, current_app, g, request
from flask.wrappers import Response
from flask_limiter import ApplicationLimit, Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many
from limits.errors import ConfigurationError as LimitsConfigurationError
from limits.storage import MemoryStorage

from api import keys

DEFAULTS = {"RATELIMIT_STORAGE_URL": "memory://", "DEFAULT_QUOTA": "600/minute"}
# Counts the last window's requests in proportion to its overlap with a window ending now: no
# burst of twice the quota across a window boundary, at the cost of two counters per key.
STRATEGY = "sliding-window-counter"
# A storage that does not answer must not hold requests: fail after this many seconds, and serve
# the request unlimited (the error is logged) rather than refuse it.
STORAGE_TIMEOUT = 0.5


class ProcessStorage(MemoryStorage):
    """limits' in-memory storage, dropping expired counters as it goes rather than from timers.

    MemoryStorage starts a timer thread whenever a counter changes and the last timer has run
    out, which at a request every few milliseconds is a new thread per request. This one sweeps
    expired counters at most once a second, in the request that comes along.
    """

    STORAGE_SCHEME = ["exposure-memory"]
    SWEEP_EVERY = 1.0

    def __init__(self, uri: str | None = None, **options):
        self._next_sweep = 0.0
        super().__init__(uri, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the private timer method
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_EVERY
            self._MemoryStorage__expire_events()


def quota() -> str:
    """Return the quota of the current caller."""
    key = g.get("api_key")
    if key is not None and key.quota:
        return key.quota
    return current_app.config["DEFAULT_QUOTA"]


def identify() -> str:
    """Return whom the current request is counted against: its key, else its address."""
    key = g.get("api_key")
    if key is not None:
        return f"key:{key.name}"
    return f"address:{get_remote_address()}"


def add_headers(response: Response) -> Response:
    """Report the caller's quota in RateLimit-* headers, and when to retry after a 429."""
    limiter: Limiter = current_app.extensions["quotas"]
    limit = limiter.current_limit
    if limit is None:
        return response
    try:
        reset_at, remaining = limit.window
    except Exception:  # the storage is down: serve without headers rather than fail
        current_app.logger.exception("cannot read the quota of %s", identify())
        return response
    item = limit.limit
    reset = max(0, math.ceil(reset_at - time.time()))
    # draft-ietf-httpapi-ratelimit-headers: the quota, what is left of it, seconds until more
    # is allowed, and the policy as "quota;w=window seconds".
    response.headers["RateLimit-Limit"] = str(item.amount)
    response.headers["RateLimit-Remaining"] = str(remaining)
    response.headers["RateLimit-Reset"] = str(reset)
    response.headers["RateLimit-Policy"] = f"{item.amount};w={item.get_expiry()}"
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, reset))
    return response


def _exceeded() -> str:
    return (
        f"The quota of {quota()} requests is used up; retry after the number of seconds in "
        "the Retry-After header."
    )


def init_app(app: Flask) -> None:
    """Count every non-public request against its caller's quota, once per app."""
    if "quotas" in app.extensions:
        return
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    _check_settings(app.config)
    storage_url = str(app.config["RATELIMIT_STORAGE_URL"])
    if storage_url.startswith("memory://"):
        storage_url = "exposure-memory://"
    options = {}
    if storage_url.startswith(("redis://", "rediss://", "redis+unix://")):
        options = {"socket_timeout": STORAGE_TIMEOUT, "socket_connect_timeout": STORAGE_TIMEOUT}
    # One limiter per app, so that apps in one process (tests) never share counters.
    limiter = Limiter(
        key_func=identify,
        application_limits=[
            ApplicationLimit(
                limit_provider=quota,
                key_function=identify,
                error_message=_exceeded,
            )
        ],
        strategy=STRATEGY,
        storage_uri=storage_url,
        storage_options=options,
        headers_enabled=False,
        swallow_errors=True,
    )
    limiter.request_filter(lambda: keys.is_public(request.endpoint))
    try:
        limiter.init_app(app)
    except LimitsConfigurationError as error:
        raise _configuration_error(
            f"setting RATELIMIT_STORAGE_URL (environment variable EXPOSURE_RATELIMIT_STORAGE_URL) "
            f"is not a storage that limits supports: {error}"
        ) from error
    app.extensions["quotas"] = limiter
    app.after_request(add_headers)


def _check_settings(config: dict) -> None:
    value = config["DEFAULT_QUOTA"]
    try:
        if not isinstance(value, str) or not parse_many(value):
            raise ValueError(value)
    except ValueError as error:
        raise _configuration_error(
            "setting DEFAULT_QUOTA (environment variable EXPOSURE_DEFAULT_QUOTA) must be a "
            f"rate such as '600/minute', got {value!r}"
        ) from error


def _configuration_error(message: str) -> Exception:
    from api import ConfigurationError  # here: api imports this module

    return ConfigurationError(message)
