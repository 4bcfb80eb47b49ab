"""The served model: its card."""

from flask import Blueprint, current_app

bp = Blueprint("model", __name__, url_prefix="/v1/model")


@bp.get("")
def card() -> dict:
    """Return the served model's card."""
    # Served whole rather than dumped through ModelCardSchema: the card is training's document,
    # and a schema would silently drop every key it does not yet declare.
    return current_app.extensions["scorer"].card
