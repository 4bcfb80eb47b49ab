"""The app with every production extension, for the tests that run it under gunicorn.

    gunicorn --config gunicorn.conf.py 'tests.api.wsgi:create_app()'

Once create_app adds the extensions itself, adding them again here changes nothing.
"""

from flask import Flask

from api import create_app as create_api
from api import keys, observability, quotas


def create_app() -> Flask:
    """Build the app as the Procfile does, with request ids, logs, metrics, keys and quotas."""
    app = create_api()
    observability.init_app(app)
    keys.init_app(app)
    quotas.init_app(app)
    return app
