"""POST /v1/score and /v1/score/batch: result shapes, order, determinism and field errors."""

import json
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from api.schemas import BatchResultSchema, ResultSchema
from models import registry

PROBLEM_JSON = "application/problem+json"
WRITER = {
    "id": "job-1",
    "title": "Content writer",
    "description": "Responsibilities:\n- Write articles for our blog\n"
    "- Translate user manuals into Spanish\n- Proofread and edit articles",
}
WAREHOUSE = {
    "title": "Warehouse associate",
    "description": "Duties:\n- Lift heavy boxes and load trucks\n- Operate forklifts\n"
    "- Clean the warehouse floors",
}
EXPOSURE_KEYS = {"score", "band", "alpha", "beta", "gamma", "confidence", "basis"}


def assert_result(result: dict, posting: dict, app) -> None:
    """Check one result's shape, its duties' offsets and the model it names."""
    assert set(result) == {"id", "exposure", "duties", "model", "language", "language_supported"}
    assert result["id"] == posting.get("id")
    assert (result["language"], result["language_supported"]) == ("en", True)
    exposure = result["exposure"]
    assert set(exposure) == EXPOSURE_KEYS
    assert exposure["band"] in {"low", "moderate", "high"}
    for key in ("score", "alpha", "beta", "gamma", "confidence"):
        assert 0.0 <= exposure[key] <= 1.0
    assert exposure["alpha"] <= exposure["beta"] <= exposure["gamma"]
    for duty in result["duties"]:
        assert set(duty) == {"text", "start", "end", "label", "probabilities"}
        assert duty["label"] in {"E0", "E1", "E2"}
        assert set(duty["probabilities"]) == {"E0", "E1", "E2"}
        assert sum(duty["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
        assert duty["text"] in posting["description"][duty["start"] : duty["end"]]
    scorer = app.extensions["scorer"]
    assert result["model"] == {"version": scorer.version, "sha256": scorer.sha256[:12]}


def test_score_returns_one_result(app, client):
    response = client.post("/v1/score", json=WRITER)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    result = response.get_json()
    assert_result(result, WRITER, app)
    assert [duty["text"] for duty in result["duties"]] == [
        "Write articles for our blog",
        "Translate user manuals into Spanish",
        "Proofread and edit articles",
    ]
    assert result["exposure"]["basis"] == "duties"


def test_score_ranks_writing_above_warehouse_work(client):
    writer = client.post("/v1/score", json=WRITER).get_json()
    warehouse = client.post("/v1/score", json=WAREHOUSE).get_json()
    assert writer["exposure"]["score"] > warehouse["exposure"]["score"]


def test_score_without_id_returns_null_id(app, client):
    response = client.post("/v1/score", json=WAREHOUSE)
    assert response.status_code == 200
    assert response.get_json()["id"] is None
    assert_result(response.get_json(), WAREHOUSE, app)


def test_score_accepts_json_with_charset(client):
    response = client.post(
        "/v1/score",
        data=b'{"title": "Writer", "description": "Write articles"}',
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 200


def test_score_is_deterministic(client):
    first = client.post("/v1/score", json=WRITER)
    second = client.post("/v1/score", json=WRITER)
    assert first.get_json() == second.get_json()
    assert first.data == second.data


def test_batch_returns_results_in_order(app, client):
    postings = [
        {**WRITER, "id": "a"},
        {**WAREHOUSE, "id": "b"},
        {"title": "Translator", "description": "Translate documents", "id": "c"},
        {**WAREHOUSE, "id": "d"},
    ]
    response = client.post("/v1/score/batch", json={"postings": postings})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"results"}
    assert [result["id"] for result in body["results"]] == ["a", "b", "c", "d"]
    for result, posting in zip(body["results"], postings, strict=True):
        assert_result(result, posting, app)
        alone = client.post("/v1/score", json=posting).get_json()
        assert result == alone


def test_batch_scores_in_one_model_call(app, client, monkeypatch):
    scorer = app.extensions["scorer"]
    calls = []
    score_many = scorer.score_many

    def counted(postings):
        calls.append(len(postings))
        return score_many(postings)

    monkeypatch.setattr(scorer, "score_many", counted)
    response = client.post("/v1/score/batch", json={"postings": [WRITER, WAREHOUSE, WRITER]})
    assert response.status_code == 200
    assert calls == [3]


def test_batch_accepts_max_batch_postings(client):
    response = client.post("/v1/score/batch", json={"postings": [WAREHOUSE] * 100})
    assert response.status_code == 200
    assert len(response.get_json()["results"]) == 100


LONG = "x" * 301
BAD_POSTINGS = [
    pytest.param({"description": "Write articles"}, {"title"}, id="missing-title"),
    pytest.param({"title": "Writer"}, {"description"}, id="missing-description"),
    pytest.param({}, {"title", "description"}, id="empty-object"),
    pytest.param({"title": 7, "description": "Write"}, {"title"}, id="title-not-string"),
    pytest.param({"title": None, "description": "Write"}, {"title"}, id="title-null"),
    pytest.param({"title": "Writer", "description": ["a"]}, {"description"}, id="description-list"),
    pytest.param({"title": "", "description": "Write"}, {"title"}, id="title-empty"),
    pytest.param({"title": "Writer", "description": " \n\t "}, {"description"}, id="blank-desc"),
    pytest.param(
        {"title": "\u3000", "description": "Write"}, {"title"}, id="title-ideographic-space"
    ),
    pytest.param({"title": LONG, "description": "Write"}, {"title"}, id="title-too-long"),
    pytest.param({"title": "W", "description": "x" * 20_001}, {"description"}, id="desc-too-long"),
    pytest.param({"title": "W", "description": "Write", "id": "i" * 129}, {"id"}, id="id-too-long"),
    pytest.param({"title": "W", "description": "Write", "id": 42}, {"id"}, id="id-not-string"),
    pytest.param(
        {"title": "W", "description": "Write", "salary": 1}, {"salary"}, id="unknown-field"
    ),
    pytest.param([WRITER], {"_schema"}, id="body-is-list"),
    pytest.param("Writer", {"_schema"}, id="body-is-string"),
    pytest.param(None, {"_schema"}, id="body-is-null"),
    pytest.param(3, {"_schema"}, id="body-is-number"),
]


@pytest.mark.parametrize(("body", "keys"), BAD_POSTINGS)
def test_score_rejects_invalid_posting(client, body, keys):
    # data=, not json=: the test client sends no body at all for json=None.
    response = client.post("/v1/score", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["status"] == 422
    assert problem["type"] == "about:blank"
    assert problem["title"] and problem["detail"]
    assert set(problem["errors"]) == keys
    for messages in problem["errors"].values():
        assert messages and all(isinstance(message, str) for message in messages)


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [("title", "t" * 301, "300"), ("description", "d" * 20_001, "20000"), ("id", "i" * 129, "128")],
)
def test_too_long_field_names_the_limit(client, field, value, limit):
    posting = {"title": "Writer", "description": "Write articles", field: value}
    response = client.post("/v1/score", json=posting)
    assert response.status_code == 422
    assert any(limit in message for message in response.get_json()["errors"][field])


def test_fields_at_their_limits_are_accepted(client):
    posting = {"title": "t" * 300, "description": "Write articles. " * 1250, "id": "i" * 128}
    assert len(posting["description"]) == 20_000
    assert client.post("/v1/score", json=posting).status_code == 200


# A lone surrogate is not text: it is refused with 400 (tests/api/test_hostile.py).
@pytest.mark.parametrize(
    "text",
    ["Write articles\x00 and edit them", "\u202e\ufeff Write", "<b>x</b>"],
    ids=["nul", "bidi-and-bom", "html"],
)
def test_odd_text_is_scored(app, client, text):
    posting = {"title": text, "description": text}
    response = client.post("/v1/score", json=posting)
    assert response.status_code == 200
    assert_result(response.get_json(), posting, app)


BAD_BATCHES = [
    pytest.param({}, {"postings"}, id="missing"),
    pytest.param({"postings": []}, {"postings"}, id="empty"),
    pytest.param({"postings": None}, {"postings"}, id="null"),
    pytest.param({"postings": WRITER}, {"postings"}, id="object-not-list"),
    pytest.param({"postings": [WRITER], "mode": "fast"}, {"mode"}, id="unknown-field"),
    pytest.param({"postings": [WRITER] * 101}, {"postings"}, id="over-max-batch"),
    pytest.param(WRITER, {"title", "description", "id", "postings"}, id="single-posting"),
]


@pytest.mark.parametrize(("body", "keys"), BAD_BATCHES)
def test_batch_rejects_invalid_body(client, body, keys):
    response = client.post("/v1/score/batch", json=body)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    assert set(response.get_json()["errors"]) == keys


def test_batch_over_max_names_the_limit(client):
    response = client.post("/v1/score/batch", json={"postings": [WRITER] * 101})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"postings": ["More than the maximum of 100 postings."]}


def test_batch_errors_are_keyed_by_index(client):
    postings = [
        WRITER,
        {"title": "", "description": "Write"},
        WAREHOUSE,
        {"title": "Writer", "description": "Write", "extra": True},
        "not an object",
    ]
    response = client.post("/v1/score/batch", json={"postings": postings})
    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    errors = response.get_json()["errors"]
    assert set(errors) == {"postings"}
    assert set(errors["postings"]) == {"1", "3", "4"}
    assert set(errors["postings"]["1"]) == {"title"}
    assert set(errors["postings"]["3"]) == {"extra"}
    assert set(errors["postings"]["4"]) == {"_schema"}


@pytest.fixture(scope="module")
def fuzz_client(tiny_model_dir):
    """Return a client whose app outlives hypothesis' examples."""
    return create_app({"TESTING": True, "MODEL_DIR": str(tiny_model_dir)}).test_client()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
POSTING_LIKE = st.fixed_dictionaries(
    {"title": st.text(max_size=40) | JSON, "description": st.text(max_size=200) | JSON},
    optional={"id": st.text(max_size=10) | JSON, "other": JSON},
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/v1/score", "/v1/score/batch"]),
    body=JSON | POSTING_LIKE | st.fixed_dictionaries({"postings": st.lists(POSTING_LIKE | JSON)}),
)
def test_any_json_body_is_scored_or_rejected_never_500(fuzz_client, path, body):
    response = fuzz_client.post(path, data=json.dumps(body), content_type="application/json")
    assert response.status_code in {200, 422}
    if response.status_code == 422:
        assert response.mimetype == PROBLEM_JSON
        assert response.get_json()["errors"]


EVAL = Path(__file__).resolve().parents[2] / "training" / "eval"


def _eval_postings(name: str) -> list[dict]:
    rows = [json.loads(line) for line in (EVAL / name).read_text(encoding="utf-8").splitlines()]
    return [
        # languages.jsonl holds short texts in 14 languages, each sent as a one-line gig.
        {
            "id": f"{name}:{number}",
            "title": row.get("title", row.get("text")),
            "description": row.get("description", row.get("text")),
        }
        for number, row in enumerate(rows, 1)
    ]


@pytest.fixture(scope="module")
def default_app():
    return create_app({"MODEL_DIR": str(registry.default_dir()), "TESTING": True})


@pytest.mark.slow
def test_the_served_results_are_what_the_result_schema_dumps(default_app):
    # The endpoints return the Scorer's dicts without dumping them: the dump must change nothing,
    # for every field the default model fills, in English, Japanese, Persian and other languages.
    postings = _eval_postings("postings.jsonl") + _eval_postings("languages.jsonl")
    postings += _eval_postings("postings_parallel.jsonl")[::6]
    results = default_app.extensions["scorer"].score_many(postings)
    schema = ResultSchema()
    with default_app.app_context():
        for result in results:
            assert schema.dump(result) == result
            assert schema.validate(result) == {}
    languages = {result["language"] for result in results}
    assert {"en", "ja", "fa"} <= languages
    assert all(result["skills"] is not None and result["occupations"] for result in results)


def test_the_tiny_models_results_are_what_the_result_schema_dumps(app, client):
    body = client.post("/v1/score/batch", json={"postings": [WRITER, WAREHOUSE]}).get_json()
    with app.app_context():
        assert BatchResultSchema().dump(body) == body
        assert BatchResultSchema().validate(body) == {}


def test_a_process_scores_one_request_at_a_time(app, monkeypatch):
    # gunicorn's threads serve requests side by side; their scoring must not interleave.
    scorer = app.extensions["scorer"]
    score_many = scorer.score_many
    inside, most, lock = [0], [0], threading.Lock()

    def counting(postings):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        try:
            return score_many(postings)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(scorer, "score_many", counting)
    statuses = []

    def post(path, body):
        statuses.append(app.test_client().post(path, json=body).status_code)

    threads = [
        threading.Thread(target=post, args=("/v1/score", WRITER)),
        threading.Thread(target=post, args=("/v1/score/batch", {"postings": [WAREHOUSE]})),
        threading.Thread(target=post, args=("/v1/score", WAREHOUSE)),
        threading.Thread(target=post, args=("/v1/score/batch", {"postings": [WRITER]})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4 and most[0] == 1
