"""Hostile and odd input: each case gets a 4xx problem+json or a correct result, never a 5xx
and never a hang.

Cases the test client can show run in-process; body sizes, missing Content-Length and slow
clients go through a real gunicorn on loopback (gunicorn.conf.py, the production extensions).
Invalid input is refused; odd but valid text (NUL, bidi controls, zero-width characters, Persian
with its zero-width non-joiner) is scored, with offsets into the text as sent.
"""

import http.client
import json
import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server import GunicornServer

PROBLEM_JSON = "application/problem+json"
MAX_BODY = 2 * 1024 * 1024
MAX_TITLE = 300
MAX_DESCRIPTION = 20_000
MAX_ID = 128
POSTING = {"title": "Content writer", "description": "Write articles for our blog"}
# Bounds, not timings: a healthy server answers each of these in well under a second.
REQUEST_TIMEOUT = 60
BODY_TIMEOUT = 1.0
JSON_HEADERS = {"Content-Type": "application/json"}


def maximal_posting(i: int) -> dict:
    """Return a posting with every field at its longest: a title, id and 20,000-char duties."""
    sentence = "Write and edit long articles about espresso machines for our blog. "
    description = (sentence * (MAX_DESCRIPTION // len(sentence) + 1))[:MAX_DESCRIPTION]
    return {"id": f"{i:0{MAX_ID}d}", "title": "T" * MAX_TITLE, "description": description}


def assert_problem(response_status: int, content_type: str, body: bytes, status: int) -> dict:
    """Check a problem details answer and return it."""
    assert response_status == status, body[:300]
    assert content_type.split(";")[0] == PROBLEM_JSON
    problem = json.loads(body)
    assert problem["status"] == status
    assert problem["type"] == "about:blank" and problem["title"] and problem["detail"]
    return problem


# --- In-process -------------------------------------------------------------------------------


def raw(text: str) -> bytes:
    """Return a JSON body written by hand, as UTF-8."""
    return text.encode()


REFUSED = [
    pytest.param(b"x" * (MAX_BODY + 1), 413, None, id="body-over-the-limit"),
    pytest.param(b"[" * 100_000, 400, None, id="deeply-nested-arrays"),
    pytest.param(b'{"a":' * 100_000, 400, None, id="deeply-nested-objects"),
    pytest.param(
        raw('{"title": "W", "description": ' + "[" * 500 + "]" * 500 + "}"),
        422,
        {"description"},
        id="nested-just-under-the-decoder-limit",
    ),
    pytest.param(b'{"title": "W\xff", "description": "d"}', 400, None, id="invalid-utf8-byte"),
    pytest.param(b'{"title": "W\xc0\xaf", "description": "d"}', 400, None, id="overlong-utf8"),
    pytest.param(b'{"title": "W\xe2\x82", "description": "d"}', 400, None, id="truncated-utf8"),
    pytest.param(
        b'{"title": "W\xed\xa0\x80", "description": "d"}', 400, None, id="utf8-encoded-surrogate"
    ),
    pytest.param(raw('{"title": "W\\ud800", "description": "d"}'), 400, None, id="lone-high"),
    pytest.param(raw('{"title": "W", "description": "\\udc00x"}'), 400, None, id="lone-low"),
    pytest.param(
        raw('{"title": "W", "description": "\\udc00\\ud800"}'), 400, None, id="reversed-pair"
    ),
    pytest.param(b'{"title": "W\x00", "description": "d"}', 400, None, id="raw-nul-byte"),
    pytest.param(b'{"title": "W\x1b[31m", "description": "d"}', 400, None, id="raw-escape-byte"),
    pytest.param(
        raw('{"title": "A", "title": "B", "description": "d"}'), 400, None, id="duplicate-keys"
    ),
    pytest.param(
        raw('{"postings": [{"title": "A", "description": "d", "description": "e"}]}'),
        400,
        None,
        id="duplicate-keys-in-a-batch-posting",
    ),
    pytest.param(
        raw('{"title": 42, "description": 3.5, "id": 7}'),
        422,
        {"title", "description", "id"},
        id="numbers-where-strings-belong",
    ),
    pytest.param(
        raw('{"title": true, "description": null, "id": []}'),
        422,
        {"title", "description", "id"},
        id="booleans-null-and-lists-where-strings-belong",
    ),
    pytest.param(
        raw('{"title": 1e999, "description": NaN}'), 422, {"title", "description"}, id="inf-nan"
    ),
    pytest.param(raw('{"title": ' + "9" * 5000 + "}"), 400, None, id="5000-digit-number"),
    pytest.param(
        json.dumps({"title": "W", "description": "a" * 1_000_000}).encode(),
        422,
        {"description"},
        id="one-word-of-1-mb-in-the-description",
    ),
    pytest.param(
        json.dumps({"title": "a" * 1_000_000, "description": "d"}).encode(),
        422,
        {"title"},
        id="one-word-of-1-mb-in-the-title",
    ),
    pytest.param(
        json.dumps({"postings": [POSTING] * 101}).encode(), 422, {"postings"}, id="101-postings"
    ),
    pytest.param(b"", 400, None, id="empty-body"),
    pytest.param(b"\xef\xbb\xbf", 400, None, id="only-a-byte-order-mark"),
]


@pytest.fixture(scope="module")
def hostile_client(tiny_model_dir, tmp_path_factory):
    """Return a client of the app with every extension, its limits at their defaults."""
    from api import create_app, keys, observability, quotas

    database = tmp_path_factory.mktemp("hostile") / "exposure.sqlite3"
    app = create_app(
        {
            "TESTING": True,
            "MODEL_DIR": str(tiny_model_dir),
            "DATABASE_URL": f"sqlite:///{database}",
            "DEFAULT_QUOTA": "100000/minute",
        }
    )
    observability.init_app(app)
    keys.init_app(app)
    quotas.init_app(app)
    return app.test_client()


@pytest.mark.parametrize(("body", "status", "fields"), REFUSED)
def test_invalid_input_is_refused_with_a_problem(hostile_client, body, status, fields):
    path = "/v1/score/batch" if body.startswith(b'{"postings"') else "/v1/score"
    response = hostile_client.post(path, data=body, content_type="application/json")
    problem = assert_problem(response.status_code, response.content_type, response.data, status)
    if fields is not None:
        assert set(problem["errors"]) == fields


SCORED = [
    pytest.param("Write articles\x00 and proofread them", id="nul-character"),
    pytest.param("\u202eWrite articles\u202c and \u2067edit\u2069 drafts", id="bidi-controls"),
    pytest.param("\u200fWrite articles\u200e about \u061c coffee", id="bidi-marks"),
    pytest.param("Write\u200b arti\u200dcles\u2060 and\ufeff edit", id="zero-width-characters"),
    pytest.param("\u200b\u200c\u200d\ufeff", id="only-zero-width-characters"),
    pytest.param("نوشتن مقاله\u200cها برای وبلاگ\n- ترجمه\u200cی متن‌ها", id="persian-with-zwnj"),
    pytest.param("Write 🙂 articles 👩🏽‍💻 for \U0001d54f readers", id="astral-characters"),
    pytest.param("e\u0301te\u0301 " * 50, id="combining-marks"),
    pytest.param("a" * MAX_DESCRIPTION, id="one-word-at-the-description-limit"),
    pytest.param("<div>" * 4000, id="4000-unclosed-html-tags"),
    pytest.param("\n" * 5000 + "Write articles" + "\r\n" * 5000, id="10000-line-breaks"),
]


@pytest.mark.parametrize("description", SCORED)
def test_odd_but_valid_text_is_scored(hostile_client, description):
    posting = {"title": "Writer\u200b", "description": description}
    response = hostile_client.post("/v1/score", json=posting)
    assert response.status_code == 200, response.data[:300]
    result = response.get_json()
    for duty in result["duties"]:
        # Offsets index the text as sent, whatever it holds: the duty's characters are there.
        remaining = iter(description[duty["start"] : duty["end"]])
        assert all(c in remaining for c in duty["text"].replace(" ", ""))
    assert 0.0 <= result["exposure"]["score"] <= 1.0


def test_surrogate_pairs_written_as_escapes_are_text(hostile_client):
    body = raw('{"title": "Writer \\ud83d\\ude42", "description": "Write \\ud83d\\ude42 posts"}')
    response = hostile_client.post("/v1/score", data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.get_json()["duties"][0]["text"] == "Write 🙂 posts"


def test_odd_headers_are_harmless(hostile_client):
    response = hostile_client.post(
        "/v1/score",
        json=POSTING,
        headers={"X-Request-ID": "x" * 8000, "X-API-Key": "", "Authorization": "Bearer " + "y"},
    )
    assert response.status_code == 401
    assert len(response.headers["X-Request-ID"]) == 32


def test_a_batch_of_100_maximal_postings_is_refused_by_the_batch_limit(hostile_client):
    postings = [maximal_posting(i) for i in range(100)]
    body = json.dumps({"postings": postings}).encode()
    assert len(body) < MAX_BODY
    response = hostile_client.post("/v1/score/batch", data=body, content_type="application/json")
    problem = assert_problem(response.status_code, response.content_type, response.data, 422)
    assert "at most 500000 in one batch" in problem["errors"]["postings"][0]


def test_a_batch_too_costly_to_score_is_refused_before_scoring(
    tiny_model_dir, tmp_path, monkeypatch
):
    from api import create_app

    app = create_app(
        {
            "TESTING": True,
            "MODEL_DIR": str(tiny_model_dir),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        }
    )

    def never(postings):
        raise AssertionError("a batch over the limit must not reach the scorer")

    monkeypatch.setattr(app.extensions["scorer"], "score_many", never)
    lines = ("- a\n" * (MAX_DESCRIPTION // 4))[:MAX_DESCRIPTION]
    # 60 postings: under the body limit, far over the characters a batch may hold.
    postings = [{"title": "T", "description": lines} for _ in range(60)]
    response = app.test_client().post("/v1/score/batch", json={"postings": postings})
    assert response.status_code == 422
    assert "postings" in response.get_json()["errors"]


# --- Through gunicorn -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory) -> Iterator[tuple[str, int]]:
    """Run gunicorn.conf.py with every extension on a free loopback port; return its address."""
    directory = tmp_path_factory.mktemp("hostile-gunicorn")
    env = {
        "EXPOSURE_MODEL_DIR": str(tiny_model_dir),
        "EXPOSURE_DATABASE_URL": f"sqlite:///{directory / 'exposure.sqlite3'}",
        "EXPOSURE_BODY_TIMEOUT": str(BODY_TIMEOUT),
        "EXPOSURE_DEFAULT_QUOTA": "100000/minute",
        "PROMETHEUS_MULTIPROC_DIR": str(directory / "metrics"),
    }
    app = "tests.api.wsgi:create_app()"
    with GunicornServer(app, directory / "gunicorn.log", env=env) as gunicorn:
        yield gunicorn.address


def exchange(address, head: bytes, parts=(), pause: float = 0.0) -> tuple[int, str, bytes, float]:
    """Send a request head and body parts over a raw socket, pausing between parts; return
    the status, content type, body and seconds until the answer, then the connection's end."""
    started = time.monotonic()
    with socket.create_connection(address, timeout=REQUEST_TIMEOUT) as sock:
        sock.sendall(head)
        for part in parts:
            try:
                sock.sendall(part)
            except OSError:
                break  # the server answered and closed while the body was still coming
            time.sleep(pause)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    elapsed = time.monotonic() - started
    response = b"".join(chunks)
    head_text, _, body = response.partition(b"\r\n\r\n")
    lines = head_text.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers.get("Content-Type", ""), body, elapsed


def request_head(length: int | None, path: str = "/v1/score") -> bytes:
    """Return a POST head with a Content-Length, or chunked when length is None."""
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"{framing}\r\nConnection: close\r\n\r\n"
    ).encode()


def chunk(data: bytes) -> bytes:
    """Frame data as one HTTP chunk."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("head", "parts"),
    [
        pytest.param(request_head(3 * MAX_BODY), [b"x" * 65536] * 8, id="content-length"),
        pytest.param(request_head(10**12), [], id="content-length-of-a-terabyte-none-sent"),
        pytest.param(request_head(None), [chunk(b"x" * 65536)] * 48, id="chunked"),
    ],
)
def test_body_far_over_the_limit_is_413(server, head, parts):
    status, content_type, body, _ = exchange(server, head, parts)
    assert "2097152 bytes" in assert_problem(status, content_type, body, 413)["detail"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("head", "parts", "pause"),
    [
        pytest.param(request_head(100), [b'{"title": "W'], 0.0, id="body-stops-coming"),
        pytest.param(request_head(100), [b" "] * 40, 0.1, id="body-trickles-in"),
        pytest.param(request_head(None), [chunk(b'{"title": ')], 0.0, id="chunked-body-stops"),
        pytest.param(request_head(None), [chunk(b" ")] * 40, 0.1, id="chunks-trickle-in"),
    ],
)
def test_slow_body_is_408_by_the_deadline(server, head, parts, pause):
    status, content_type, body, elapsed = exchange(server, head, parts, pause)
    assert "did not arrive" in assert_problem(status, content_type, body, 408)["detail"]
    # A bound, not a timing: the answer comes at the deadline, not when the client gives up.
    assert elapsed < BODY_TIMEOUT + 3


@pytest.mark.slow
def test_idle_connections_do_not_hold_up_others(server):
    # More idle connections than a sync server has workers (each would wait on one for good),
    # fewer than gthread has threads (which hand them back to the poller after 5 s anyway).
    idle = []
    try:
        for _ in range(6):
            idle.append(socket.create_connection(server, timeout=REQUEST_TIMEOUT))
        connection = http.client.HTTPConnection(*server, timeout=REQUEST_TIMEOUT)
        try:
            connection.request("POST", "/v1/score", json.dumps(POSTING), JSON_HEADERS)
            assert connection.getresponse().status == 200
        finally:
            connection.close()
    finally:
        for sock in idle:
            sock.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/score", b"[" * 100_000, 400),
        ("/v1/score", b'{"title": "W\xff", "description": "d"}', 400),
        ("/v1/score", json.dumps({"title": "W", "description": "a" * 1_000_000}).encode(), 422),
        ("/v1/score", b'{"title": "A", "title": "B", "description": "d"}', 400),
    ],
    ids=["deep-nesting", "invalid-utf8", "one-word-of-1-mb", "duplicate-keys"],
)
def test_invalid_bodies_are_refused_by_the_real_server(server, path, body, status):
    connection = http.client.HTTPConnection(*server, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("POST", path, body, JSON_HEADERS)
        response = connection.getresponse()
        assert_problem(response.status, response.getheader("Content-Type"), response.read(), status)
        assert response.getheader("X-Request-ID")
    finally:
        connection.close()


@pytest.mark.slow
def test_a_batch_of_100_maximal_postings_is_refused_by_the_real_server(server):
    body = json.dumps({"postings": [maximal_posting(i) for i in range(100)]}).encode()
    connection = http.client.HTTPConnection(*server, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("POST", "/v1/score/batch", body, JSON_HEADERS)
        response = connection.getresponse()
        assert_problem(response.status, response.getheader("Content-Type"), response.read(), 422)
    finally:
        connection.close()


@pytest.mark.slow
def test_metrics_add_up_every_worker(server):
    def scrape() -> float:
        with urllib.request.urlopen(f"http://{server[0]}:{server[1]}/metrics") as response:
            text = response.read().decode()
        wanted = {"route": "/healthz", "method": "GET", "status": "200"}
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "exposure_http_requests_total" and sample.labels == wanted
        )

    before = scrape()
    # New connections, so that both workers answer some of them.
    for _ in range(20):
        with urllib.request.urlopen(f"http://{server[0]}:{server[1]}/healthz") as response:
            assert response.status == 200
    assert [scrape() for _ in range(4)] == [before + 20] * 4
