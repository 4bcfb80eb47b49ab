"""Model versions: the list with their headline figures, each one's report, and the switch.

The server follows models/DEFAULT when the model it starts with is the default version under
MODELS_DIR (and FOLLOW_DEFAULT is on). Before each request, a worker stats the pointer; when it
names another version, the worker loads that version and swaps the Scorer in
`app.extensions["scorer"]`. Requests already running keep the Scorer they started with, and the
next ones get the new one: a promotion needs no restart and drops no request. Each gunicorn
worker switches on its own next request. A version that cannot be loaded is logged and the old
one keeps serving.
"""

import threading
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, send_file
from flask.blueprints import BlueprintSetupState
from flask.wrappers import Response
from marshmallow import Schema, fields

from models import registry
from models.artifact import ArtifactError
from models.scorer import Scorer

DEFAULTS = {"MODELS_DIR": str(registry.MODELS_DIR), "FOLLOW_DEFAULT": True}
# The report is our own file, but it is HTML served from the API's origin: allow it nothing
# beyond its inline style and data: images.
REPORT_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

bp = Blueprint("versions", __name__, url_prefix="/v1/models")


class FiguresSchema(Schema):
    """A version's headline figures, where its card has them."""

    held_out_kappa = fields.Float()
    held_out_beta_spearman = fields.Float()
    postings_spearman_per_posting = fields.Float()
    postings_mean_absolute_error = fields.Float()
    user_duty_kappa = fields.Float()
    user_beta_mean_absolute_error = fields.Float()


class VersionSchema(Schema):
    """One saved model version."""

    version = fields.String(required=True)
    created_at = fields.String(allow_none=True)
    sha256 = fields.String(metadata={"description": "Prefix of the artifact's sha256."})
    default = fields.Boolean(required=True, metadata={"description": "Named by models/DEFAULT."})
    served = fields.Boolean(required=True, metadata={"description": "Served by this process."})
    figures = fields.Nested(FiguresSchema)
    report = fields.String(
        allow_none=True, metadata={"description": "Path of its evaluation report, if any."}
    )
    error = fields.String(metadata={"description": "Why its card cannot be read."})


class VersionsSchema(Schema):
    """The saved model versions, oldest name first."""

    default = fields.String(allow_none=True, required=True)
    versions = fields.List(fields.Nested(VersionSchema), required=True)


versions_schema = VersionsSchema()


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    init_app(state.app)


def init_app(app: Flask) -> None:
    """Set the defaults and, when the app serves the default version, follow models/DEFAULT."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    models_dir = Path(str(app.config["MODELS_DIR"]))
    if not app.config["FOLLOW_DEFAULT"] or "scorer" not in app.extensions:
        return
    try:
        pointer = registry.Pointer(models_dir)
    except registry.RegistryError:
        return
    served = Path(str(app.config.get("MODEL_DIR", ""))).resolve()
    if served == (models_dir / pointer.version).resolve():
        app.extensions["model_pointer"] = pointer
        app.extensions["model_switch"] = threading.Lock()


@bp.before_app_request
def follow_default() -> None:
    """Switch this process to the version models/DEFAULT names, if that changed."""
    app = current_app._get_current_object()
    pointer = app.extensions.get("model_pointer")
    # One thread switches; the others keep serving the current model meanwhile.
    if pointer is None or not app.extensions["model_switch"].acquire(blocking=False):
        return
    try:
        version = pointer.poll()
        if version is None:
            return
        directory = pointer.models_dir / version
        try:
            scorer = Scorer.load(directory)
        except (ArtifactError, OSError) as error:
            app.logger.error(
                "models/DEFAULT names %s, which cannot be loaded (%s); still serving %s",
                version,
                error,
                app.extensions["scorer"].version,
            )
            return
        app.extensions["scorer"] = scorer
        app.config["MODEL_DIR"] = str(directory)
        app.logger.info("now serving model %s (sha256 %s)", version, scorer.sha256[:12])
    finally:
        app.extensions["model_switch"].release()


@bp.get("")
def index() -> dict:
    """List the saved model versions with their headline figures."""
    models_dir = Path(str(current_app.config["MODELS_DIR"]))
    try:
        default = registry.default_version(models_dir)
    except registry.RegistryError:
        default = None
    served = current_app.extensions["scorer"].version
    entries = [
        {
            **entry,
            "default": entry["version"] == default,
            "served": entry["version"] == served,
            "report": f"{bp.url_prefix}/{entry['version']}/report" if entry.get("report") else None,
        }
        for entry in registry.catalogue(models_dir)
    ]
    return versions_schema.dump({"default": default, "versions": entries})


@bp.get("/<version>/report")
def report(version: str) -> Response:
    """Return a version's evaluation report (HTML that needs nothing from the network)."""
    models_dir = Path(str(current_app.config["MODELS_DIR"]))
    if version not in registry.versions(models_dir):
        abort(404, description=f"No model version {version!r}.")
    path = models_dir / version / registry.REPORT_FILE
    if not path.is_file():
        abort(404, description=f"Model version {version!r} has no report.")
    response = send_file(path, mimetype="text/html")
    response.headers["Content-Security-Policy"] = REPORT_POLICY
    return response
