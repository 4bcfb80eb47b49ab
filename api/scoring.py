"""Scoring: one posting, or a batch scored in one model call.

Results are returned as the Scorer gives them. ResultSchema documents them (and so the OpenAPI
document); dumping each through it would return the same dict at a fifth of a millisecond per
posting, a twentieth of a batch's time. tests/api/test_scoring.py checks, over the realistic
postings in three languages, that the dump changes nothing and that every result validates.
"""

import threading
from collections.abc import Sequence

from flask import Blueprint, current_app, request

from api.schemas import BatchSchema, PostingSchema

bp = Blueprint("scoring", __name__, url_prefix="/v1/score")

posting_schema = PostingSchema()
batch_schema = BatchSchema()

# A worker's threads read, parse and answer requests side by side, but score one request at a
# time. Scoring is CPU-bound Python: under the interpreter lock two scorings never run at once
# anyway, and interleaving them every few milliseconds only evicts each other's model data from
# the core's caches (measured in the README's benchmark section).
_scoring = threading.Lock()


def score_many(postings: Sequence[dict]) -> list[dict]:
    """Score postings with the served model, one request at a time in this process."""
    scorer = current_app.extensions["scorer"]
    with _scoring:
        return scorer.score_many(postings)


@bp.post("")
def score() -> dict:
    """Score one posting."""
    posting = posting_schema.load(request.get_json())
    return score_many([posting])[0]


@bp.post("/batch")
def score_batch() -> dict:
    """Score a batch of postings, returning results in the same order."""
    batch = batch_schema.load(request.get_json())
    return {"results": score_many(batch["postings"])}
