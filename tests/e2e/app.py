"""The production app for the browser test, with the page's blueprint even before create_app
registers it (a no-op once it does)."""

from flask import Flask

import api
from api import page


def create_app() -> Flask:
    """Create the app as gunicorn would, making sure it serves the page at `/`."""
    app = api.create_app()
    if page.bp.name not in app.blueprints:
        app.register_blueprint(page.bp)
    return app
