"""The HTTP API: an app factory that loads the model once and mounts one blueprint per resource."""

from pathlib import Path

from flask import Flask

from api import (
    body,
    docs,
    errors,
    feedback,
    health,
    keys,
    model,
    observability,
    occupations,
    page,
    quotas,
    scoring,
    skills,
    versions,
)
from models import registry
from models.artifact import ArtifactError
from models.scorer import Scorer

# Every setting can be overridden by an environment variable named EXPOSURE_<SETTING>.
ENV_PREFIX = "EXPOSURE"
DEFAULTS = {
    # Werkzeug enforces this on the raw body, with or without a Content-Length header.
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "MAX_TITLE_CHARS": 300,
    "MAX_DESCRIPTION_CHARS": 20_000,
    "MAX_BATCH": 100,
    "MAX_ID_CHARS": 128,
    # All titles and descriptions of one batch together: bounds the time one request can take.
    "MAX_BATCH_CHARS": 500_000,
}


class ConfigurationError(RuntimeError):
    """A setting or model that the server cannot start with."""


def create_app(test_config: dict | None = None) -> Flask:
    """Create the app: settings from code, then EXPOSURE_* variables, then test_config."""
    # No static folder: the only files served are Swagger UI's and the page's, each through
    # its blueprint.
    app = Flask(__name__, static_folder=None)
    app.request_class = body.Request
    app.json = body.JSONProvider(app)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env(prefix=ENV_PREFIX)
    if test_config is not None:
        app.config.from_mapping(test_config)
    _check_limits(app.config)
    # Loaded once here so that gunicorn --preload shares it across workers, and so that a
    # server with a missing or tampered model refuses to start instead of answering 500s.
    app.extensions["scorer"] = _load_scorer(app.config)

    # Request ids, the access log and metrics first: they see every request, refusals too.
    observability.init_app(app)
    errors.register(app)
    # Keys before quotas: a request counts against the key it was identified by.
    keys.init_app(app)
    quotas.init_app(app)
    app.register_blueprint(scoring.bp)
    app.register_blueprint(model.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(occupations.bp)
    app.register_blueprint(skills.bp)
    app.register_blueprint(page.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(versions.bp)
    return app


def _check_limits(config: dict) -> None:
    # from_prefixed_env parses values as JSON, so EXPOSURE_MAX_BATCH=ten arrives as a string.
    for name in DEFAULTS:
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(
                f"setting {name} (environment variable {ENV_PREFIX}_{name}) must be a "
                f"positive integer, got {value!r}"
            )


def _load_scorer(config: dict) -> Scorer:
    try:
        if config.get("MODEL_DIR") is None:
            config["MODEL_DIR"] = str(registry.default_dir())
        # str(): from_prefixed_env turns a directory named like a number into an int.
        return Scorer.load(Path(str(config["MODEL_DIR"])))
    except (ArtifactError, registry.RegistryError) as error:
        raise ConfigurationError(
            f"cannot load the model (set {ENV_PREFIX}_MODEL_DIR to choose another): {error}"
        ) from error
