"""The Procfile's web command run for real: gunicorn and gunicorn.conf.py serving the tiny model."""

import http.client
import json
import shlex
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import START_TIMEOUT, GunicornServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BODY_LIMIT = 4096


def procfile_arguments() -> list[str]:
    """Return the arguments of the Procfile's web command to gunicorn, the app last."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            argv = shlex.split(line.removeprefix("web:"))
            assert argv[0] == "gunicorn"
            return argv[1:]
    raise AssertionError("the Procfile has no web process")


def procfile_server(model_dir: Path, log_path: Path) -> GunicornServer:
    """Return the Procfile's command, with gunicorn run by this interpreter, on a free port."""
    *options, app = procfile_arguments()
    env = {"EXPOSURE_MODEL_DIR": str(model_dir), "EXPOSURE_MAX_CONTENT_LENGTH": str(BODY_LIMIT)}
    return GunicornServer(app, log_path, env=env, args=options)


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory) -> Iterator[str]:
    """Run gunicorn for the module's tests and return its base URL."""
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with procfile_server(tiny_model_dir, log_path) as gunicorn:
        yield gunicorn.url


def post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, str, dict]:
    """POST a body and return the status, content type and decoded JSON, errors included."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], json.load(error)


def test_scores_a_posting(server):
    posting = {
        "id": "job-7",
        "title": "Translator",
        "description": "Responsibilities:\n- Translate documents into Spanish\n- Write articles",
    }
    status, content_type, result = post(f"{server}/v1/score", json.dumps(posting).encode())
    assert status == 200
    assert content_type == "application/json"
    assert result["id"] == "job-7"
    assert result["model"]["version"] == "tiny-test"
    assert len(result["model"]["sha256"]) == 12
    assert [duty["text"] for duty in result["duties"]] == [
        "Translate documents into Spanish",
        "Write articles",
    ]
    assert 0.0 <= result["exposure"]["score"] <= 1.0


def test_invalid_posting_is_422_problem(server):
    status, content_type, problem = post(f"{server}/v1/score", b'{"title": ""}')
    assert status == 422
    assert content_type == "application/problem+json"
    assert set(problem["errors"]) == {"title", "description"}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_limit_is_413(server, chunked):
    body = json.dumps({"title": "Writer", "description": "Write articles. " * 400}).encode()
    assert len(body) > BODY_LIMIT
    connection = http.client.HTTPConnection(server.removeprefix("http://"), timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        if chunked:
            # An iterable body without Content-Length is sent with Transfer-Encoding: chunked.
            connection.request(
                "POST",
                "/v1/score",
                body=iter([body[:1000], body[1000:]]),
                headers=headers,
                encode_chunked=True,
            )
        else:
            connection.request("POST", "/v1/score", body=body, headers=headers)
        response = connection.getresponse()
        assert response.status == 413
        assert response.getheader("Content-Type") == "application/problem+json"
        assert json.loads(response.read())["status"] == 413
    finally:
        connection.close()


def test_refuses_to_start_without_its_model(tmp_path):
    gunicorn = procfile_server(tmp_path / "no-such-model", tmp_path / "gunicorn.log")
    process = gunicorn.start()
    try:
        process.wait(timeout=START_TIMEOUT)
    finally:
        gunicorn.stop()
    assert process.returncode != 0
    log = gunicorn.output
    assert "cannot load the model" in log and "no model card at" in log
    assert "Listening at" not in log
