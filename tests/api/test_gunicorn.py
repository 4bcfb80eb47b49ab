"""The Procfile's web command run for real: gunicorn and gunicorn.conf.py serving the tiny model."""

import http.client
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Bounds, not timings: a healthy server is ready in about a second.
START_TIMEOUT = 60
STOP_TIMEOUT = 30
BODY_LIMIT = 4096
LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


def procfile_command() -> list[str]:
    """Return the Procfile's web command, with gunicorn run by this interpreter."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            argv = shlex.split(line.removeprefix("web:"))
            assert argv[0] == "gunicorn"
            return [sys.executable, "-m", "gunicorn", *argv[1:]]
    raise AssertionError("the Procfile has no web process")


def start(model_dir: Path, log_path: Path) -> subprocess.Popen:
    """Start the Procfile's command on a free loopback port chosen by the kernel."""
    env = {
        **os.environ,
        "EXPOSURE_MODEL_DIR": str(model_dir),
        "EXPOSURE_MAX_CONTENT_LENGTH": str(BODY_LIMIT),
        "WEB_CONCURRENCY": "2",
    }
    env.pop("GUNICORN_CMD_ARGS", None)
    with open(log_path, "wb") as log:
        # Its own session, so that stop() can reach the workers if the master hangs.
        return subprocess.Popen(
            [*procfile_command(), "--bind", "127.0.0.1:0"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen) -> None:
    """Stop gunicorn gracefully, or kill its process group if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)


def wait_until_ready(process: subprocess.Popen, log_path: Path) -> str:
    """Return the server's base URL once /readyz answers 200; fail after START_TIMEOUT."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        log = log_path.read_text(errors="replace")
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log}")
        match = LISTENING.search(log)
        if match:
            try:
                with urllib.request.urlopen(f"{match[1]}/readyz", timeout=5) as response:
                    if response.status == 200:
                        return match[1]
            except (urllib.error.URLError, ConnectionError):
                pass
        time.sleep(0.1)
    pytest.fail(f"gunicorn was not ready within {START_TIMEOUT} s:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory) -> Iterator[str]:
    """Run gunicorn for the module's tests and return its base URL."""
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    process = start(tiny_model_dir, log_path)
    try:
        yield wait_until_ready(process, log_path)
    finally:
        stop(process)


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
    log_path = tmp_path / "gunicorn.log"
    process = start(tmp_path / "no-such-model", log_path)
    try:
        process.wait(timeout=START_TIMEOUT)
    finally:
        stop(process)
    assert process.returncode != 0
    log = log_path.read_text()
    assert "cannot load the model" in log and "no model card at" in log
    assert "Listening at" not in log
