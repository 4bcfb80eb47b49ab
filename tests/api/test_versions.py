"""GET /v1/models, each version's report, and following models/DEFAULT in one process."""

import json
from pathlib import Path

import pytest

from models import artifact, registry
from tests.api import retraining_app


def save(tiny_model_dir: Path, models_dir: Path, name: str, **card) -> Path:
    """Save the tiny model as a version with extra card fields."""
    components, tiny_card = artifact.load(tiny_model_dir)
    artifact.save(components, {**tiny_card, **card, "version": name}, models_dir / name)
    return models_dir / name


@pytest.fixture
def models_dir(tiny_model_dir, tmp_path) -> Path:
    """Return a registry with versions a (default) and b, b with figures and a report."""
    directory = tmp_path / "models"
    save(tiny_model_dir, directory, "a")
    held_out = {"model": {"tasks": {"kappa": 0.5}, "occupations": {"beta": {"spearman": 0.9}}}}
    save(
        tiny_model_dir,
        directory,
        "b",
        evaluation={"held_out": held_out, "postings": {"spearman_per_posting": 0.8}},
    )
    (directory / "b" / registry.REPORT_FILE).write_text("<!doctype html><title>b</title>")
    registry.set_default("a", directory)
    return directory


def make_app(models_dir: Path, served: str = "a", **settings):
    """Return an app serving one version of the registry."""
    return retraining_app.create_app(
        {
            "TESTING": True,
            "MODEL_DIR": str(models_dir / served),
            "MODELS_DIR": str(models_dir),
            **settings,
        }
    )


def score(client) -> dict:
    """Score a posting and return the result."""
    response = client.post("/v1/score", json={"title": "Writer", "description": "Write posts."})
    assert response.status_code == 200
    return response.get_json()


def test_lists_the_versions_with_their_figures(models_dir):
    response = make_app(models_dir).test_client().get("/v1/models")
    assert response.status_code == 200
    listing = response.get_json()
    assert listing["default"] == "a"
    a, b = listing["versions"]
    assert (a["version"], a["default"], a["served"], a["report"]) == ("a", True, True, None)
    assert (b["version"], b["default"], b["served"]) == ("b", False, False)
    assert b["figures"] == {
        "held_out_kappa": 0.5,
        "held_out_beta_spearman": 0.9,
        "postings_spearman_per_posting": 0.8,
    }
    assert b["report"] == "/v1/models/b/report"
    card = json.loads((models_dir / "b" / "card.json").read_text())
    assert b["sha256"] == card["artifact"]["sha256"][:12]


def test_a_version_with_an_unreadable_card_is_listed_with_the_reason(models_dir):
    (models_dir / "broken").mkdir()
    (models_dir / "broken" / "card.json").write_text("{")
    listing = make_app(models_dir).test_client().get("/v1/models").get_json()
    broken = [v for v in listing["versions"] if v["version"] == "broken"]
    assert broken and "not valid JSON" in broken[0]["error"]


def test_serves_a_report_offline(models_dir):
    client = make_app(models_dir).test_client()
    with client.get("/v1/models/b/report") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/html"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.get_data(as_text=True).startswith("<!doctype html>")


@pytest.mark.parametrize("version", ["a", "nope", "..", "b%2F..%2Fa"])
def test_a_missing_report_is_404_problem(models_dir, version):
    response = make_app(models_dir).test_client().get(f"/v1/models/{version}/report")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


def test_follows_models_default_between_requests(models_dir):
    client = make_app(models_dir).test_client()
    assert score(client)["model"]["version"] == "a"
    registry.set_default("b", models_dir)
    result = score(client)
    assert result["model"]["version"] == "b"
    card = json.loads((models_dir / "b" / "card.json").read_text())
    assert result["model"]["sha256"] == card["artifact"]["sha256"][:12]
    assert client.get("/readyz").get_json()["model"] == "b"
    assert client.get("/v1/model").get_json()["version"] == "b"


def test_keeps_serving_when_the_new_default_cannot_be_loaded(models_dir, caplog):
    client = make_app(models_dir).test_client()
    assert score(client)["model"]["version"] == "a"
    (models_dir / "b" / "model.joblib").write_bytes(b"tampered")
    registry.set_default("b", models_dir)
    assert score(client)["model"]["version"] == "a"
    assert "cannot be loaded" in caplog.text and "still serving a" in caplog.text


@pytest.mark.parametrize(
    ("served", "settings"),
    [("b", {}), ("a", {"FOLLOW_DEFAULT": False})],
    ids=["pinned-to-another-version", "following-off"],
)
def test_does_not_follow_when_pinned(models_dir, served, settings):
    client = make_app(models_dir, served, **settings).test_client()
    assert score(client)["model"]["version"] == served
    registry.set_default("b" if served == "a" else "a", models_dir)
    assert score(client)["model"]["version"] == served


def test_set_default_replaces_the_pointer_atomically(models_dir):
    before = (models_dir / registry.DEFAULT_FILE).stat().st_ino
    registry.set_default("b", models_dir)
    assert (models_dir / registry.DEFAULT_FILE).read_text() == "b\n"
    assert (models_dir / registry.DEFAULT_FILE).stat().st_ino != before
    assert [p.name for p in models_dir.iterdir() if p.name.startswith(".")] == []
