"""Errors outside field validation: every one is problem+json with the right status."""

import io
import logging

import pytest

from api import create_app

PROBLEM_JSON = "application/problem+json"
POSTING = b'{"title": "Writer", "description": "Write articles"}'


def assert_problem(response, status: int) -> dict:
    """Check a problem details response and return its body."""
    assert response.status_code == status
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["status"] == status
    assert problem["type"] == "about:blank"
    assert isinstance(problem["title"], str) and problem["title"]
    assert isinstance(problem["detail"], str) and problem["detail"]
    return problem


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("POST", "/v1/scores"), ("GET", "/v1/score/batch/x"), ("GET", "/v2/model")],
)
def test_unknown_route_is_404(client, method, path):
    assert_problem(client.open(path, method=method), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/score", {"POST", "OPTIONS"}),
        ("PUT", "/v1/score/batch", {"POST", "OPTIONS"}),
        ("POST", "/v1/model", {"GET", "HEAD", "OPTIONS"}),
        ("DELETE", "/healthz", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_wrong_method_is_405_with_allow(client, method, path, allowed):
    response = client.open(path, method=method)
    assert_problem(response, 405)
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


@pytest.mark.parametrize("path", ["/v1/score", "/v1/score/batch"])
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_non_json_content_type_is_415(client, path, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    assert_problem(client.post(path, data=POSTING, headers=headers), 415)


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"title": "Writer",}', b"{'title': 'Writer'}", b"\xff\xfe\xfa", b"[" * 100_000],
    ids=["empty", "truncated", "trailing-comma", "single-quotes", "invalid-utf8", "deep-nesting"],
)
@pytest.mark.parametrize("path", ["/v1/score", "/v1/score/batch"])
def test_unreadable_json_is_400(client, path, body):
    problem = assert_problem(client.post(path, data=body, content_type="application/json"), 400)
    assert problem["detail"].startswith("The body is not valid JSON")


def test_invalid_utf8_inside_a_string_is_400(client):
    body = b'{"title": "Writer \xc3\x28", "description": "Write articles"}'
    assert_problem(client.post("/v1/score", data=body, content_type="application/json"), 400)


def test_body_over_limit_with_content_length_is_413(tiny_model_dir):
    client = create_app(
        {"TESTING": True, "MODEL_DIR": str(tiny_model_dir), "MAX_CONTENT_LENGTH": 1000}
    ).test_client()
    posting = b'{"title": "Writer", "description": "' + b"Write articles. " * 100 + b'"}'
    response = client.post("/v1/score", data=posting, content_type="application/json")
    problem = assert_problem(response, 413)
    assert "1000 bytes" in problem["detail"]


def test_default_body_limit_is_2_mib(client):
    body = b'{"title": "Writer", "description": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert_problem(client.post("/v1/score", data=body, content_type="application/json"), 413)


def test_chunked_body_over_limit_is_413(tiny_model_dir):
    client = create_app(
        {"TESTING": True, "MODEL_DIR": str(tiny_model_dir), "MAX_CONTENT_LENGTH": 1000}
    ).test_client()
    posting = b'{"title": "Writer", "description": "' + b"Write articles. " * 100 + b'"}'
    # A chunked request has no Content-Length; a server that decodes chunks (gunicorn) says
    # so with wsgi.input_terminated, and werkzeug then counts the bytes as they are read.
    response = client.post(
        "/v1/score",
        input_stream=io.BytesIO(posting),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.request.content_length is None
    assert_problem(response, 413)


@pytest.mark.parametrize("extra", [0, -1])
def test_chunked_body_at_or_under_limit_is_read_whole(tiny_model_dir, extra):
    posting = b'{"title": "Writer", "description": "Write articles"}'
    client = create_app(
        {
            "TESTING": True,
            "MODEL_DIR": str(tiny_model_dir),
            "MAX_CONTENT_LENGTH": len(posting) - extra,
        }
    ).test_client()
    response = client.post(
        "/v1/score",
        input_stream=io.BytesIO(posting),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200


def test_chunked_body_under_limit_is_scored(client):
    response = client.post(
        "/v1/score",
        input_stream=io.BytesIO(POSTING),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200


def test_unhandled_exception_is_500_without_details(tiny_model_dir, caplog):
    app = create_app({"TESTING": True, "MODEL_DIR": str(tiny_model_dir)})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals at /srv/model.joblib")

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/boom")
    problem = assert_problem(response, 500)
    text = response.get_data(as_text=True)
    assert "secret" not in text and "RuntimeError" not in text and "Traceback" not in text
    assert "secret internals" in caplog.text
    assert set(problem) == {"type", "title", "status", "detail"}


def test_scorer_failure_is_500(app, client, monkeypatch):
    def fail(postings):
        raise ValueError("numpy exploded")

    monkeypatch.setattr(app.extensions["scorer"], "score_many", fail)
    response = client.post("/v1/score", data=POSTING, content_type="application/json")
    assert_problem(response, 500)
    assert "numpy" not in response.get_data(as_text=True)
