"""create_app: settings from code, environment and tests, and refusing a model it cannot load."""

import shutil

import pytest

from api import ConfigurationError, create_app

WRITER = {"title": "Writer", "description": "Write articles"}


def test_defaults(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024
    assert app.config["MAX_TITLE_CHARS"] == 300
    assert app.config["MAX_DESCRIPTION_CHARS"] == 20_000
    assert app.config["MAX_BATCH"] == 100
    assert app.config["MAX_ID_CHARS"] == 128


def test_settings_come_from_the_environment(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("EXPOSURE_MODEL_DIR", str(tiny_model_dir))
    monkeypatch.setenv("EXPOSURE_MAX_BATCH", "2")
    monkeypatch.setenv("EXPOSURE_MAX_TITLE_CHARS", "10")
    monkeypatch.setenv("EXPOSURE_MAX_CONTENT_LENGTH", "4096")
    app = create_app({"TESTING": True})
    assert app.config["MAX_BATCH"] == 2
    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    client = app.test_client()
    assert client.post("/v1/score/batch", json={"postings": [WRITER] * 2}).status_code == 200
    response = client.post("/v1/score/batch", json={"postings": [WRITER] * 3})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"postings": ["More than the maximum of 2 postings."]}
    response = client.post("/v1/score", json={**WRITER, "title": "Senior content writer"})
    assert response.status_code == 422
    assert "10" in response.get_json()["errors"]["title"][0]
    big = {**WRITER, "description": "Write articles. " * 300}
    assert client.post("/v1/score", json=big).status_code == 413


def test_test_config_overrides_the_environment(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("EXPOSURE_MAX_BATCH", "2")
    app = create_app({"TESTING": True, "MODEL_DIR": str(tiny_model_dir), "MAX_BATCH": 5})
    assert app.config["MAX_BATCH"] == 5


@pytest.mark.parametrize("value", ["ten", "0", "-1", "1.5", "true", "null"])
def test_invalid_limit_refuses_to_start(tiny_model_dir, monkeypatch, value):
    monkeypatch.setenv("EXPOSURE_MAX_BATCH", value)
    with pytest.raises(ConfigurationError, match="EXPOSURE_MAX_BATCH"):
        create_app({"TESTING": True, "MODEL_DIR": str(tiny_model_dir)})


def test_missing_model_refuses_to_start(tmp_path):
    with pytest.raises(ConfigurationError, match="no model card at") as raised:
        create_app({"TESTING": True, "MODEL_DIR": str(tmp_path / "absent")})
    assert "EXPOSURE_MODEL_DIR" in str(raised.value)


def test_changed_model_file_refuses_to_start(tiny_model_dir, tmp_path):
    copy = tmp_path / "tampered"
    shutil.copytree(tiny_model_dir, copy)
    with open(copy / "model.joblib", "ab") as stream:
        stream.write(b"\0")
    with pytest.raises(ConfigurationError, match="sha256"):
        create_app({"TESTING": True, "MODEL_DIR": str(copy)})


def test_corrupt_card_refuses_to_start(tiny_model_dir, tmp_path):
    copy = tmp_path / "corrupt"
    shutil.copytree(tiny_model_dir, copy)
    (copy / "card.json").write_text("{not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        create_app({"TESTING": True, "MODEL_DIR": str(copy)})


def test_model_from_another_scikit_learn_refuses_to_start(tiny_model_dir, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(tiny_model_dir, copy)
    card = (copy / "card.json").read_text()
    (copy / "card.json").write_text(card.replace('"scikit-learn": "', '"scikit-learn": "0.0.'))
    with pytest.raises(ConfigurationError, match="scikit-learn"):
        create_app({"TESTING": True, "MODEL_DIR": str(copy)})


def test_scorer_is_loaded_once(app, client):
    scorer = app.extensions["scorer"]
    client.post("/v1/score", json=WRITER)
    client.get("/readyz")
    assert app.extensions["scorer"] is scorer
