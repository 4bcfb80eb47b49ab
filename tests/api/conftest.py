"""The app serving the tiny model, and its test client."""

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app


@pytest.fixture
def app(tiny_model_dir) -> Flask:
    """Build the app around the session's tiny model."""
    return create_app({"TESTING": True, "MODEL_DIR": str(tiny_model_dir)})


@pytest.fixture
def client(app) -> FlaskClient:
    """Return a test client for the app."""
    return app.test_client()
