"""Probes for orchestrators: liveness and readiness."""

from flask import Blueprint, abort, current_app

from api.schemas import HealthSchema, ReadySchema

bp = Blueprint("health", __name__)

health_schema = HealthSchema()
ready_schema = ReadySchema()


@bp.get("/healthz")
def healthz() -> dict:
    """Answer that the process is alive."""
    return health_schema.dump({"status": "ok"})


@bp.get("/readyz")
def readyz() -> dict:
    """Answer whether a model is loaded and requests can be scored."""
    scorer = current_app.extensions.get("scorer")
    if scorer is None:
        abort(503, description="No model is loaded.")
    return ready_schema.dump({"status": "ready", "model": scorer.version})
