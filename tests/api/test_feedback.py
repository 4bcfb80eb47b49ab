"""POST /v1/feedback, its storage on SQLite and PostgreSQL, the migrations, and the export.

PostgreSQL tests run when EXPOSURE_TEST_POSTGRES_URL names a server where the user may create
databases (`.ci/postgres start` prints one); each test module gets a database of its own.
"""

import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, make_url, select, text

from api import database
from api.feedback import feedback
from tests.api import retraining_app
from tests.server import GunicornServer
from training import export_feedback, userdata

POSTGRES_VARIABLE = "EXPOSURE_TEST_POSTGRES_URL"
ROOT = Path(__file__).resolve().parents[2]
POSTING = {
    "id": "gig-42",
    "title": "Translator",
    "description": "Responsibilities:\n- Translate manuals into Spanish\n- Write articles",
}


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """Create a scratch PostgreSQL database for the module and return its URL."""
    base = os.environ.get(POSTGRES_VARIABLE)
    if not base:
        pytest.skip(f"{POSTGRES_VARIABLE} is not set; `.ci/postgres start` prints a URL for it")
    name = f"exposure_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """Return an empty database: a SQLite file, or a PostgreSQL database emptied first."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
        return
    url = request.getfixturevalue("postgres_server")
    _drop_everything(url)
    yield url


def _drop_everything(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        database.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@pytest.fixture
def app(tiny_model_dir, database_url):
    """Return the app serving the tiny model, storing feedback in the test's database."""
    app = retraining_app.create_app(
        {"TESTING": True, "MODEL_DIR": str(tiny_model_dir), "DATABASE_URL": database_url}
    )
    yield app
    app.extensions["database"].dispose()


@pytest.fixture
def client(app):
    """Return a test client."""
    return app.test_client()


def stored(url: str) -> list[dict]:
    """Return the feedback rows of a database, oldest first."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(feedback).order_by(feedback.c.id)).mappings()
            return [dict(row) for row in rows]
    finally:
        engine.dispose()


def test_feedback_with_the_text_is_stored_with_what_the_model_said(client, database_url):
    body = {
        **POSTING,
        "soc_code": "27-3091.00",
        "band": "high",
        "beta": 0.8,
        "duties": [{"text": "Write articles", "label": "E1"}],
        "skills_added": ["ai_assisted_writing"],
        "skills_removed": ["prompt_engineering"],
        "comment": "The second duty is plain writing.",
    }
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 201
    assert response.content_type == "application/json"
    assert set(response.get_json()) == {"id"}
    [row] = stored(database_url)
    assert row["id"] == response.get_json()["id"]
    assert (row["posting_id"], row["title"], row["description"]) == (
        "gig-42",
        POSTING["title"],
        POSTING["description"],
    )
    assert (row["band"], row["beta"], row["soc_code"]) == ("high", 0.8, "27-3091.00")
    assert row["duties"] == [{"text": "Write articles", "label": "E1"}]
    assert row["skills_added"] == ["ai_assisted_writing"]
    assert row["skills_removed"] == ["prompt_engineering"]
    assert row["comment"] == body["comment"]
    assert row["model_version"] == "tiny-test" and len(row["model_sha256"]) == 64
    assert [d["text"] for d in row["predicted"]["duties"]] == [
        "Translate manuals into Spanish",
        "Write articles",
    ]
    assert 0 <= row["predicted"]["beta"] <= 1
    assert row["created_at"] is not None


def test_feedback_by_id_alone_stores_no_text(client, database_url):
    response = client.post(
        "/v1/feedback", json={"id": "gig-42", "duties": [{"text": "Write articles", "label": "E2"}]}
    )
    assert response.status_code == 201
    [row] = stored(database_url)
    assert row["posting_id"] == "gig-42"
    assert row["title"] is None and row["description"] is None and row["predicted"] is None
    assert row["band"] is None and row["skills_added"] is None


def test_each_feedback_gets_its_own_id(client):
    first = client.post("/v1/feedback", json={"id": "a", "band": "low"}).get_json()["id"]
    second = client.post("/v1/feedback", json={"id": "a", "band": "high"}).get_json()["id"]
    assert second != first


@pytest.mark.parametrize(
    ("body", "keys"),
    [
        ({"band": "low"}, {"id"}),
        ({"id": "x"}, {"_schema"}),
        ({"title": "Writer", "band": "low"}, {"description"}),
        ({"description": "Write posts", "band": "low"}, {"title"}),
        ({"id": "x", "band": "extreme"}, {"band"}),
        ({"id": "x", "beta": 1.5}, {"beta"}),
        ({"id": "x", "beta": "high"}, {"beta"}),
        ({"id": "x", "duties": []}, {"duties"}),
        ({"id": "x", "duties": [{"text": "Write", "label": "E3"}]}, {"duties"}),
        ({"id": "x", "duties": [{"text": " ", "label": "E1"}]}, {"duties"}),
        ({"id": "x", "skills_added": ["juggling"]}, {"skills_added"}),
        ({"id": "x", "title": "Writer", "band": "low"}, {"description"}),
        ({"id": "x", "comment": ""}, {"comment"}),
        ({"id": "x", "band": "low", "soc_code": "writer"}, {"soc_code"}),
        ({"id": "x", "band": "low", "score": 0.3}, {"score"}),
        ({"id": "", "band": "low"}, {"id"}),
        ({"id": "x" * 129, "band": "low"}, {"id"}),
        ({**POSTING, "title": "T" * 301, "band": "low"}, {"title"}),
    ],
)
def test_bad_feedback_is_422_problem(client, database_url, body, keys):
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert set(response.get_json()["errors"]) == keys
    assert stored(database_url) == []


def test_feedback_needs_a_json_body(client):
    response = client.post("/v1/feedback", data="band=low")
    assert response.status_code == 415
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_feedback_database_is_in_wal_mode(client, tmp_path):
    assert client.post("/v1/feedback", json={"id": "x", "band": "low"}).status_code == 201
    engine = create_engine(f"sqlite:///{tmp_path / 'feedback.sqlite3'}")
    try:
        with engine.connect() as connection:
            # journal_mode=WAL is a property of the file, kept across connections.
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


# --- Migrations ------------------------------------------------------------------------------


def alembic_config() -> Config:
    """Return the project's Alembic configuration aimed at a database."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


def migrate(url: str, revision: str, downgrade: bool = False) -> None:
    """Run the migrations on a database, through a connection handed to env.py."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            (command.downgrade if downgrade else command.upgrade)(config, revision)
    finally:
        engine.dispose()


def test_migrations_create_every_table_of_the_metadata(database_url):
    migrate(database_url, "head")
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection), database.metadata
            )
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert differences == [], "a Table changed without a migration: alembic revision --autogenerate"
    assert {"api_keys", "feedback", "alembic_version"} <= tables
    migrate(database_url, "base", downgrade=True)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


# --- Export ----------------------------------------------------------------------------------


def test_exported_feedback_is_valid_labelled_data(client, database_url, tmp_path, capsys):
    posts = [
        {**POSTING, "beta": 0.7, "skills_added": ["machine_translation_post_editing"]},
        {**POSTING, "id": "job-2", "duties": [{"text": "Translate manuals", "label": "E1"}]},
        {"id": "job-3", "duties": [{"text": "Lift boxes", "label": "E0"}], "band": "low"},
        {"id": "job-4", "comment": "Looks right."},
        {**POSTING, "id": "job-5", "comment": "Looks right."},
    ]
    for body in posts:
        assert client.post("/v1/feedback", json=body).status_code == 201
    output = tmp_path / "feedback.jsonl"
    assert export_feedback.main(["--database-url", database_url, "--output", str(output)]) == 0
    err = capsys.readouterr().err
    assert "exported 3 rows from 5 feedback" in err
    assert "not exported: 2 x no correction to train on (a comment alone)" in err
    assert "not exported: 1 x band, beta or skills of a posting named by id only" in err
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert rows[0] == {
        "id": "gig-42",
        "title": POSTING["title"],
        "description": POSTING["description"],
        "beta": 0.7,
        "skills": ["machine_translation_post_editing"],
    }
    assert rows[1]["duties"] == [{"text": "Translate manuals", "label": "E1"}]
    assert rows[2] == {"id": "job-3", "text": "Lift boxes", "label": "E0"}
    labelled = userdata.read(output)
    assert (len(labelled.postings), len(labelled.duties)) == (2, 1)


def test_export_combines_the_model_skills_with_the_corrections():
    item = {
        "id": 7,
        "posting_id": None,
        "title": "Writer",
        "description": "Write posts",
        "skills_added": ["ai_assisted_writing"],
        "skills_removed": ["prompt_engineering"],
        "predicted": {"skills": ["prompt_engineering", "ai_research_synthesis"]},
    }
    rows, skipped = export_feedback.to_rows([item])
    assert rows == [
        {
            "id": "feedback-7",
            "title": "Writer",
            "description": "Write posts",
            "skills": ["ai_assisted_writing", "ai_research_synthesis"],
        }
    ]
    assert not skipped


def test_export_without_a_feedback_table_is_a_clear_error(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    assert export_feedback.main(["--database-url", url]) == 2
    assert "no feedback table" in capsys.readouterr().err


# --- Durability --------------------------------------------------------------------------------


def post(base: str, body: dict) -> tuple[int, dict]:
    """POST JSON to a running server; return the status and the decoded body."""
    request = urllib.request.Request(
        f"{base}/v1/feedback",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


@pytest.mark.slow
def test_accepted_feedback_survives_kill_9_of_the_server(tiny_model_dir, database_url, tmp_path):
    env = {"EXPOSURE_MODEL_DIR": str(tiny_model_dir), "EXPOSURE_DATABASE_URL": database_url}
    gunicorn = GunicornServer(retraining_app.TARGET, tmp_path / "gunicorn.log", env=env)
    with gunicorn:
        status, body = post(gunicorn.url, {**POSTING, "beta": 0.9, "comment": "before the crash"})
        assert status == 201
        # No graceful anything: SIGKILL the master and every worker the moment the 201 is read.
        gunicorn.kill()
        assert gunicorn.process.returncode == -9
    # Started again on the same database.
    with gunicorn:
        status, after = post(gunicorn.url, {"id": "after", "band": "low"})
        assert status == 201
    rows = stored(database_url)
    assert [row["id"] for row in rows] == [body["id"], after["id"]]
    assert rows[0]["comment"] == "before the crash" and rows[0]["beta"] == 0.9
    assert rows[0]["description"] == POSTING["description"]
