"""The app serving the tiny model, and its test client."""

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app, keys, observability, quotas


@pytest.fixture
def app(tiny_model_dir) -> Flask:
    """Build the app around the session's tiny model."""
    return create_app({"TESTING": True, "MODEL_DIR": str(tiny_model_dir)})


@pytest.fixture
def client(app) -> FlaskClient:
    """Return a test client for the app."""
    return app.test_client()


@pytest.fixture
def make_app(tiny_model_dir, tmp_path) -> Callable[..., Flask]:
    """Return a factory of apps with request ids, logs, metrics, keys and quotas, given settings.

    It adds the extensions in create_app's order, and adding one twice changes nothing, so the
    apps are the same whether or not create_app already adds them.
    """

    def make(**settings) -> Flask:
        # The test's own database, so that keys never leak from one test into another.
        settings.setdefault("DATABASE_URL", f"sqlite:///{tmp_path / 'exposure.sqlite3'}")
        app = create_app({"TESTING": True, "MODEL_DIR": str(tiny_model_dir), **settings})
        observability.init_app(app)
        keys.init_app(app)
        quotas.init_app(app)
        return app

    return make
