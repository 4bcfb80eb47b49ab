"""Scoring: one posting, or a batch scored in one model call.

Results are returned as the Scorer gives them. ResultSchema documents them (and so the OpenAPI
document); dumping each through it would return the same dict at a fifth of a millisecond per
posting, a twentieth of a batch's time. tests/api/test_scoring.py checks, over the realistic
postings in three languages, that the dump changes nothing and that every result validates.
"""

from flask import Blueprint, current_app, request

from api.schemas import BatchSchema, PostingSchema

bp = Blueprint("scoring", __name__, url_prefix="/v1/score")

posting_schema = PostingSchema()
batch_schema = BatchSchema()


@bp.post("")
def score() -> dict:
    """Score one posting."""
    posting = posting_schema.load(request.get_json())
    return current_app.extensions["scorer"].score_many([posting])[0]


@bp.post("/batch")
def score_batch() -> dict:
    """Score a batch of postings, returning results in the same order."""
    batch = batch_schema.load(request.get_json())
    return {"results": current_app.extensions["scorer"].score_many(batch["postings"])}
