"""GET /v1/model, /healthz and /readyz."""

import json

PROBLEM_JSON = "application/problem+json"


def test_model_returns_the_card(tiny_model_dir, client):
    response = client.get("/v1/model")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    card = json.loads((tiny_model_dir / "card.json").read_text())
    assert response.get_json() == card
    assert response.get_json()["version"] == "tiny-test"


def test_healthz_is_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_names_the_model(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "model": "tiny-test"}


def test_readyz_without_a_model_is_503(app, client):
    del app.extensions["scorer"]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["status"] == 503
    assert client.get("/healthz").status_code == 200
