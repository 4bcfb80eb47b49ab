"""Request ids, a JSON access log, and Prometheus metrics at /metrics.

Every response carries `X-Request-ID`: the caller's, when it sends a sane one, else a new one.
Every request is logged as one JSON line on stdout (logger `api.access`): request id, method,
path, route, status, duration, key name, model version and postings scored; never a body.

Metrics are prometheus-client's. Under gunicorn, each worker is a process with its own counters;
with PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it), every process writes its samples
there and /metrics adds them up, so a scrape sees the whole server whichever worker answers.
"""

import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_ID_HEADER = "X-Request-ID"
# Visible ASCII without spaces: safe to echo in a header and to log. Anything else is replaced.
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
# A path is logged, and a route and method are metric labels: bound what a caller can put there.
MAX_LOGGED_PATH = 256
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
# Endpoints whose successful responses scored postings, and how many each scored.
_POSTINGS_SCORED = {
    "scoring.score": lambda body: 1,
    "scoring.score_batch": lambda body: len(body["postings"]),
}

ACCESS_LOGGER = "api.access"

REQUESTS = Counter(
    "exposure_http_requests",
    "HTTP requests answered, by route, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "exposure_http_request_duration_seconds",
    "Time from the request reaching the app to its response being ready, by route and method.",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
POSTINGS = Counter("exposure_postings_scored", "Postings scored, batches counted by posting.")
MODEL = Gauge(
    "exposure_model_info",
    "The served model: 1 for its version and artifact sha256, 0 for one no longer served.",
    ["version", "sha256"],
    # Across workers: 1 while any live worker serves that version (they switch one by one).
    multiprocess_mode="livemax",
)
# The model this process last reported in MODEL; the scorer can be swapped while it runs.
_reported_model: list[tuple[str, str]] = []

bp = Blueprint("observability", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """Return the metrics in Prometheus' text format."""
    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def start_request() -> None:
    """Note when the request started and give it an id."""
    g.request_started = time.perf_counter()
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
    scorer = current_app.extensions.get("scorer")
    if scorer is not None:
        report_model(scorer.version, scorer.sha256)


def report_model(version: str, sha256: str) -> None:
    """Set MODEL to the model this process serves, if it changed since the last report."""
    served = (version, sha256)
    if _reported_model and _reported_model[0] == served:
        return
    for previous in _reported_model:
        MODEL.labels(*previous).set(0)
    MODEL.labels(*served).set(1)
    _reported_model[:] = [served]


def finish_request(response: Response) -> Response:
    """Add the request id to the response, count it, time it and log it."""
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    duration = time.perf_counter() - g.get("request_started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    method = request.method if request.method in METHODS else "other"
    postings = 0
    if response.status_code == 200 and request.endpoint in _POSTINGS_SCORED:
        # Already parsed and cached by the view.
        postings = _POSTINGS_SCORED[request.endpoint](request.get_json())
        POSTINGS.inc(postings)
    REQUESTS.labels(route, method, str(response.status_code)).inc()
    LATENCY.labels(route, method).observe(duration)
    key = g.get("api_key")
    scorer = current_app.extensions.get("scorer")
    entry = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "request_id": request_id,
        "method": request.method[:16],
        "path": request.path[:MAX_LOGGED_PATH],
        "route": route,
        "status": response.status_code,
        "duration_ms": round(duration * 1000, 3),
        "key": key.name if key is not None else None,
        "model": scorer.version if scorer is not None else None,
        "postings": postings,
    }
    logging.getLogger(ACCESS_LOGGER).info(json.dumps(entry, ensure_ascii=True))
    return response


class StdoutHandler(logging.StreamHandler):
    """A handler writing to whatever sys.stdout is at the time (servers and tests replace it)."""

    def __init__(self):
        super().__init__(sys.stdout)

    @property
    def stream(self):
        """Return the current sys.stdout."""
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


def init_app(app: Flask) -> None:
    """Give every request an id, log and count it, and serve /metrics, once per app."""
    if "observability" in app.extensions:
        return
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(handler, StdoutHandler) for handler in logger.handlers):
        handler = StdoutHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        # The lines are already JSON; a handler on the root logger would print them again.
        logger.propagate = False
    # MODEL is set by the workers as they serve: set in gunicorn's master, which lives on, it
    # would report the model the server started with after the workers moved to another.
    app.before_request(start_request)
    app.after_request(finish_request)
    app.register_blueprint(bp)
    app.extensions["observability"] = True
