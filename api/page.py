"""The try-it page at `/`: a static page that scores postings through the public API.

The page is plain HTML, CSS and JavaScript from api/static/page/, served by the app itself, so it
works offline; its Content-Security-Policy lets it load nothing from anywhere else.
"""

import hashlib
from functools import cache
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    make_response,
    render_template,
    send_from_directory,
    url_for,
)

STATIC_DIR = Path(__file__).parent / "static" / "page"
# The page's files; nothing else in the folder is served.
ASSETS = frozenset({"page.js", "page.css", "examples.json"})
# Asset URLs carry a digest of the file, so a changed file gets a new URL and can be cached long.
ASSET_MAX_AGE = 24 * 60 * 60
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

bp = Blueprint("page", __name__, template_folder="templates")


@bp.get("/")
def index() -> Response:
    """Return the page where a person pastes a posting and sees it scored."""
    response = make_response(render_template("page.html", asset_url=asset_url))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/page/<filename>")
def asset(filename: str) -> Response:
    """Return one of the page's files: its script, style sheet or built-in examples."""
    if filename not in ASSETS:
        abort(404)
    response = send_from_directory(STATIC_DIR, filename, max_age=ASSET_MAX_AGE)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def asset_url(filename: str) -> str:
    """Return the URL of one of the page's files, versioned by its content."""
    return url_for("page.asset", filename=filename, v=_digest(filename))


@cache
def _digest(filename: str) -> str:
    return hashlib.sha256((STATIC_DIR / filename).read_bytes()).hexdigest()[:12]
