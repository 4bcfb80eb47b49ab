"""Scoring: one posting, or a batch scored in one model call."""

from flask import Blueprint, current_app, request

from api.schemas import BatchResultSchema, BatchSchema, PostingSchema, ResultSchema

bp = Blueprint("scoring", __name__, url_prefix="/v1/score")

posting_schema = PostingSchema()
batch_schema = BatchSchema()
result_schema = ResultSchema()
batch_result_schema = BatchResultSchema()


@bp.post("")
def score() -> dict:
    """Score one posting."""
    posting = posting_schema.load(request.get_json())
    result = current_app.extensions["scorer"].score_many([posting])[0]
    return result_schema.dump(result)


@bp.post("/batch")
def score_batch() -> dict:
    """Score a batch of postings, returning results in the same order."""
    batch = batch_schema.load(request.get_json())
    results = current_app.extensions["scorer"].score_many(batch["postings"])
    return batch_result_schema.dump({"results": results})
