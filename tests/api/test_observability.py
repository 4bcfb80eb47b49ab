"""Request ids, the JSON access log and the Prometheus metrics."""

import json
import logging
import re
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from api import observability

POSTING = {"title": "Content writer", "description": "Write articles about espresso machines"}
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def access_log() -> list[dict]:
    """Collect the access log's lines, decoded, as the app writes them."""
    lines: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(record.getMessage()))

    logger = logging.getLogger(observability.ACCESS_LOGGER)
    handler = Collect()
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def sample(name: str, **labels) -> float:
    """Return a sample of the process' metrics, 0 when it has not been recorded yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- Request id -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/score", POSTING, 200),
        ("POST", "/v1/score", {"title": ""}, 422),
        ("POST", "/v1/score", b"{", 400),
        ("GET", "/nope", None, 404),
        ("DELETE", "/healthz", None, 405),
        ("GET", "/metrics", None, 200),
    ],
    ids=["scored", "invalid", "malformed", "unknown-route", "wrong-method", "metrics"],
)
def test_every_response_has_a_request_id(make_app, method, path, body, status):
    client = make_app().test_client()
    kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, bytes) else {}
    response = client.open(path, method=method, json=None if kwargs else body, **kwargs)
    assert response.status_code == status
    assert GENERATED_ID.match(response.headers["X-Request-ID"])


def test_request_ids_differ(make_app):
    client = make_app().test_client()
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize(
    "sent", ["abc-123", "0f8e7d6c5b4a", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f"]
)
def test_a_sane_request_id_is_echoed(make_app, sent):
    response = make_app().test_client().get("/healthz", headers={"X-Request-ID": sent})
    assert response.headers["X-Request-ID"] == sent


@pytest.mark.parametrize(
    "sent",
    ["", "has space", "x" * 129, "naïve", "tab\there", "\x7f"],
    ids=["empty", "space", "too-long", "non-ascii", "control", "delete"],
)
def test_an_odd_request_id_is_replaced(make_app, sent):
    client = make_app().test_client()
    response = client.get("/healthz", headers={"X-Request-ID": sent.encode().decode("latin-1")})
    assert GENERATED_ID.match(response.headers["X-Request-ID"])


def test_refusals_by_auth_and_quota_have_request_ids(make_app):
    client = make_app(AUTH="on").test_client()
    response = client.post("/v1/score", json=POSTING, headers={"X-Request-ID": "req-401"})
    assert (response.status_code, response.headers["X-Request-ID"]) == (401, "req-401")
    client = make_app(DEFAULT_QUOTA="1/minute").test_client()
    client.post("/v1/score", json=POSTING)
    response = client.post("/v1/score", json=POSTING, headers={"X-Request-ID": "req-429"})
    assert (response.status_code, response.headers["X-Request-ID"]) == (429, "req-429")


def test_unhandled_error_has_a_request_id(make_app, monkeypatch):
    app = make_app()

    def fail(postings):
        raise RuntimeError("boom")

    monkeypatch.setattr(app.extensions["scorer"], "score_many", fail)
    response = app.test_client().post("/v1/score", json=POSTING, headers={"X-Request-ID": "r-5"})
    assert (response.status_code, response.headers["X-Request-ID"]) == (500, "r-5")


# --- Access log -------------------------------------------------------------------------------


def test_access_log_is_one_json_line_per_request(make_app, access_log):
    app = make_app()
    client = app.test_client()
    response = client.post("/v1/score", json=POSTING, headers={"X-Request-ID": "req-1"})
    client.post("/v1/score/batch", json={"postings": [POSTING] * 3})
    client.get("/nope?secret=1")
    assert len(access_log) == 3
    first, batch, missing = access_log
    assert set(first) == {
        "time",
        "request_id",
        "method",
        "path",
        "route",
        "status",
        "duration_ms",
        "key",
        "model",
        "postings",
    }
    assert first["request_id"] == "req-1" == response.headers["X-Request-ID"]
    assert (first["method"], first["path"], first["route"]) == ("POST", "/v1/score", "/v1/score")
    assert (first["status"], first["postings"], first["key"]) == (200, 1, None)
    assert first["model"] == app.extensions["scorer"].version == "tiny-test"
    assert 0 < first["duration_ms"] < 60_000
    assert first["time"].endswith("+00:00")
    assert (batch["route"], batch["postings"]) == ("/v1/score/batch", 3)
    assert (missing["route"], missing["status"], missing["path"]) == ("unmatched", 404, "/nope")


def test_access_log_never_holds_the_posting(make_app, access_log):
    client = make_app().test_client()
    posting = {"title": "Secret title zq9", "description": "Confidential duty xk7", "id": "id-q3"}
    client.post("/v1/score", json=posting)
    client.post("/v1/score", json={**posting, "title": ""})
    client.post("/v1/score/batch", json={"postings": [posting]})
    text = json.dumps(access_log)
    assert len(access_log) == 3
    for secret in ("zq9", "xk7", "id-q3", "Confidential"):
        assert secret not in text


def test_access_log_names_the_key(make_app, access_log):
    app = make_app(AUTH="on")
    _, token = app.extensions["keys"].create("acme")
    client = app.test_client()
    client.post("/v1/score", json=POSTING, headers={"X-API-Key": token})
    client.post("/v1/score", json=POSTING)
    assert [(line["key"], line["status"]) for line in access_log] == [("acme", 200), (None, 401)]
    assert token not in json.dumps(access_log)


def test_access_log_bounds_what_a_caller_controls(make_app, access_log):
    client = make_app().test_client()
    client.get("/" + "a" * 5000)
    client.open("/v1/score", method="BREW")
    long_path, odd_method = access_log
    assert len(long_path["path"]) == observability.MAX_LOGGED_PATH
    assert odd_method["status"] == 405


def test_access_log_goes_to_stdout_as_json(make_app, capsys):
    make_app().test_client().get("/healthz")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert json.loads(lines[-1])["route"] == "/healthz"


# --- Metrics ----------------------------------------------------------------------------------


def test_metrics_count_requests_by_route_and_status(make_app):
    client = make_app().test_client()
    labels = {"route": "/v1/score", "method": "POST"}
    before_200 = sample("exposure_http_requests_total", status="200", **labels)
    before_422 = sample("exposure_http_requests_total", status="422", **labels)
    before_timed = sample("exposure_http_request_duration_seconds_count", **labels)
    client.post("/v1/score", json=POSTING)
    client.post("/v1/score", json=POSTING)
    client.post("/v1/score", json={"title": ""})
    assert sample("exposure_http_requests_total", status="200", **labels) == before_200 + 2
    assert sample("exposure_http_requests_total", status="422", **labels) == before_422 + 1
    assert sample("exposure_http_request_duration_seconds_count", **labels) == before_timed + 3


def test_metrics_count_postings_scored(make_app):
    client = make_app().test_client()
    before = sample("exposure_postings_scored_total")
    client.post("/v1/score", json=POSTING)
    client.post("/v1/score/batch", json={"postings": [POSTING] * 7})
    client.post("/v1/score/batch", json={"postings": [POSTING, {"title": ""}]})
    assert sample("exposure_postings_scored_total") == before + 8


def test_unknown_paths_share_one_label(make_app):
    client = make_app().test_client()
    before = sample("exposure_http_requests_total", route="unmatched", method="GET", status="404")
    for i in range(5):
        client.get(f"/random-{i}")
    after = sample("exposure_http_requests_total", route="unmatched", method="GET", status="404")
    assert after == before + 5
    exposition = client.get("/metrics").get_data(as_text=True)
    assert "random-" not in exposition


def test_metrics_endpoint_serves_the_prometheus_format(make_app):
    app = make_app()
    client = app.test_client()
    client.post("/v1/score", json=POSTING)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    families = {
        family.name: family
        for family in text_string_to_metric_families(response.get_data(as_text=True))
    }
    assert {
        "exposure_http_requests",
        "exposure_http_request_duration_seconds",
        "exposure_postings_scored",
        "exposure_model_info",
    } <= set(families)
    assert families["exposure_http_request_duration_seconds"].type == "histogram"
    (model,) = [
        s for s in families["exposure_model_info"].samples if s.labels["version"] == "tiny-test"
    ]
    assert model.value == 1.0
    assert model.labels["sha256"] == app.extensions["scorer"].sha256


def test_init_app_twice_changes_nothing(make_app):
    app = make_app()
    hooks = len(app.before_request_funcs[None]), len(app.after_request_funcs[None])
    observability.init_app(app)
    assert (len(app.before_request_funcs[None]), len(app.after_request_funcs[None])) == hooks
    logger = logging.getLogger(observability.ACCESS_LOGGER)
    assert sum(isinstance(h, observability.StdoutHandler) for h in logger.handlers) == 1


def test_openapi_documents_metrics(make_app):
    document = make_app().test_client().get("/openapi.json").get_json()
    assert "text/plain" in document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


def test_model_info_follows_a_swapped_model(make_app, monkeypatch):
    app = make_app()
    client = app.test_client()
    scorer = app.extensions["scorer"]
    client.get("/healthz")
    served = {"version": scorer.version, "sha256": scorer.sha256}
    assert sample("exposure_model_info", **served) == 1
    # api/versions.py swaps the scorer of a running app when models/DEFAULT changes.
    monkeypatch.setitem(app.extensions, "scorer", SimpleNamespace(version="v2", sha256="f00"))
    client.get("/healthz")
    assert sample("exposure_model_info", version="v2", sha256="f00") == 1
    assert sample("exposure_model_info", **served) == 0
