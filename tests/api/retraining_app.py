"""The app with feedback and model versions, for the tests, in-process or under gunicorn.

    gunicorn --config gunicorn.conf.py 'tests.api.retraining_app:create_app()'

Once create_app registers the feedback and versions blueprints itself, registering them here is
skipped, and these tests exercise create_app's own wiring.
"""

from flask import Flask

from api import create_app as create_api
from api import feedback, versions

# The app as gunicorn is told to serve it.
TARGET = "tests.api.retraining_app:create_app()"


def with_retraining(app: Flask) -> Flask:
    """Register the feedback and versions blueprints on an app that lacks them."""
    for blueprint in (feedback.bp, versions.bp):
        if blueprint.name not in app.blueprints:
            app.register_blueprint(blueprint)
    return app


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app as the Procfile does, with feedback and model versions."""
    return with_retraining(create_api(test_config))
