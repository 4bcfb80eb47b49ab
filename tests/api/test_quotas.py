"""Quotas: requests counted per key (or address), RateLimit-* headers, 429 with Retry-After."""

import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from api import ConfigurationError, quotas

PROBLEM_JSON = "application/problem+json"
POSTING = {"title": "Writer", "description": "Write articles"}
HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")
# Bounds, not timings.
REDIS_START_TIMEOUT = 10


def score(client, headers=None, **kwargs):
    """POST one posting and return the response."""
    return client.post("/v1/score", json=POSTING, headers=headers or {}, **kwargs)


def test_every_response_reports_the_quota(make_app):
    client = make_app(DEFAULT_QUOTA="5/minute").test_client()
    remaining = []
    for _ in range(3):
        response = score(client)
        assert response.status_code == 200
        assert response.headers["RateLimit-Limit"] == "5"
        assert response.headers["RateLimit-Policy"] == "5;w=60"
        assert 0 <= int(response.headers["RateLimit-Reset"]) <= 60
        remaining.append(int(response.headers["RateLimit-Remaining"]))
    assert remaining == [4, 3, 2]
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/score", {"title": ""}, 422),
        ("POST", "/v1/score/batch", {"postings": []}, 422),
        ("GET", "/v1/model", None, 200),
    ],
    ids=["invalid-posting", "empty-batch", "model-card"],
)
def test_errors_and_other_endpoints_count_and_report_too(make_app, method, path, body, status):
    client = make_app(DEFAULT_QUOTA="5/minute").test_client()
    response = client.open(path, method=method, json=body)
    assert response.status_code == status
    assert response.headers["RateLimit-Remaining"] == "4"
    assert score(client).headers["RateLimit-Remaining"] == "3"


def test_quota_exceeded_is_429_problem_with_retry_after(make_app):
    client = make_app(DEFAULT_QUOTA="2/minute").test_client()
    assert [score(client).status_code for _ in range(2)] == [200, 200]
    response = score(client)
    assert response.status_code == 429
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["status"] == 429 and problem["title"] == "Too Many Requests"
    assert "2/minute" in problem["detail"] and "Retry-After" in problem["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["RateLimit-Remaining"] == "0"
    # Refused requests are not scored, and further ones stay refused.
    assert score(client).status_code == 429


def test_each_key_has_its_own_quota(make_app):
    app = make_app(DEFAULT_QUOTA="2/minute")
    store = app.extensions["keys"]
    _, acme = store.create("acme", "3/minute")
    _, globex = store.create("globex")
    client = app.test_client()
    statuses = [score(client, {"X-API-Key": acme}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = score(client, {"Authorization": f"Bearer {globex}"})
    assert response.status_code == 200
    assert response.headers["RateLimit-Limit"] == "2"
    assert response.headers["RateLimit-Remaining"] == "1"
    # Requests without a key are counted by address, apart from both keys.
    assert score(client).headers["RateLimit-Remaining"] == "1"


def test_quota_is_shared_by_all_endpoints_and_a_batch_counts_once(make_app):
    app = make_app(DEFAULT_QUOTA="3/minute")
    client = app.test_client()
    assert client.post("/v1/score/batch", json={"postings": [POSTING] * 50}).status_code == 200
    assert client.get("/v1/model").status_code == 200
    assert score(client).status_code == 200
    assert score(client).status_code == 429


def test_callers_without_a_key_are_counted_by_address(make_app):
    client = make_app(DEFAULT_QUOTA="1/minute").test_client()
    first = {"REMOTE_ADDR": "192.0.2.1"}
    second = {"REMOTE_ADDR": "192.0.2.2"}
    assert score(client, environ_base=first).status_code == 200
    assert score(client, environ_base=first).status_code == 429
    assert score(client, environ_base=second).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/metrics", "/nope"])
def test_public_endpoints_and_unknown_routes_are_not_counted(make_app, path):
    client = make_app(DEFAULT_QUOTA="1/minute").test_client()
    for _ in range(3):
        response = client.get(path)
        assert response.status_code in (200, 404)
        assert not any(header in response.headers for header in HEADERS)
    assert score(client).status_code == 200


def test_key_refused_by_auth_is_not_counted(make_app):
    app = make_app(AUTH="on", DEFAULT_QUOTA="1/minute")
    _, token = app.extensions["keys"].create("acme")
    client = app.test_client()
    for _ in range(3):
        response = score(client, {"X-API-Key": "exp_wrong"})
        assert response.status_code == 401
        assert "RateLimit-Limit" not in response.headers
    assert score(client, {"X-API-Key": token}).status_code == 200


@pytest.mark.parametrize("value", ["lots", "", "5/fortnight", 5])
def test_invalid_default_quota_refuses_to_start(make_app, value):
    with pytest.raises(ConfigurationError, match="EXPOSURE_DEFAULT_QUOTA"):
        make_app(DEFAULT_QUOTA=value)


@pytest.mark.parametrize("url", ["ftp://example.invalid/", "nonsense"])
def test_invalid_storage_refuses_to_start(make_app, url):
    with pytest.raises(ConfigurationError, match="EXPOSURE_RATELIMIT_STORAGE_URL"):
        make_app(RATELIMIT_STORAGE_URL=url)


def test_quota_settings_come_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("EXPOSURE_DEFAULT_QUOTA", "7/hour")
    response = score(make_app().test_client())
    assert response.headers["RateLimit-Policy"] == "7;w=3600"


def test_init_app_twice_changes_nothing(make_app):
    app = make_app()
    limiter = app.extensions["quotas"]
    quotas.init_app(app)
    assert app.extensions["quotas"] is limiter


def test_apps_never_share_counters(make_app):
    first = make_app(DEFAULT_QUOTA="1/minute").test_client()
    second = make_app(DEFAULT_QUOTA="1/minute").test_client()
    assert score(first).status_code == 200
    assert score(second).status_code == 200


# --- Redis ------------------------------------------------------------------------------------


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """Run a throwaway redis-server on loopback and return its URL."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {port}")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
def test_redis_storage_counts_across_workers(make_app, redis_url):
    # Two apps stand for two gunicorn workers: with Redis they draw on one quota.
    settings = {"RATELIMIT_STORAGE_URL": redis_url, "DEFAULT_QUOTA": "3/minute"}
    app = make_app(**settings)
    _, token = app.extensions["keys"].create("shared")
    workers = [app.test_client(), make_app(**settings).test_client()]
    headers = {"X-API-Key": token}
    statuses = [score(workers[i % 2], headers).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = score(workers[1], headers)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1


@pytest.mark.slow
def test_unreachable_redis_serves_requests_and_logs(make_app, caplog):
    # Nothing listens there: the storage fails fast, and requests are served without a quota.
    app = make_app(RATELIMIT_STORAGE_URL=f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.ERROR):
        started = time.monotonic()
        response = score(app.test_client())
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert "RateLimit-Limit" not in response.headers
    assert "rate limit" in caplog.text.lower() or "quota" in caplog.text.lower()
    # A bound, not a timing: each storage call gives up after STORAGE_TIMEOUT.
    assert elapsed < 10 * quotas.STORAGE_TIMEOUT + 5


def test_memory_counters_start_no_thread_per_request(make_app, monkeypatch):
    client = make_app().test_client()
    assert score(client).status_code == 200
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
    for _ in range(5):
        # limits' own MemoryStorage starts a timer thread when its last one (10 ms) has ended.
        time.sleep(0.02)
        assert score(client).status_code == 200
    assert started == []
