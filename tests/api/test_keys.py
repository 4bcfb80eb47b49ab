"""API keys: the store, the `python -m api.keys` command, and 401/403 on requests."""

import hashlib
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from api import ConfigurationError, database, keys
from api.keys import KeyStore, KeyStoreError
from api.keys.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
PROBLEM_JSON = "application/problem+json"
POSTING = {"title": "Writer", "description": "Write articles"}
PROTECTED = [
    ("POST", "/v1/score", POSTING),
    ("POST", "/v1/score/batch", {"postings": [POSTING]}),
    ("GET", "/v1/model", None),
]
PUBLIC = ["/healthz", "/readyz", "/openapi.json", "/docs", "/metrics", "/"]


@pytest.fixture
def store(tmp_path) -> KeyStore:
    """Return a key store on a fresh database."""
    return KeyStore(database.connect(f"sqlite:///{tmp_path / 'keys.sqlite3'}"))


def assert_problem(response, status: int) -> dict:
    """Check a problem details response and return its body."""
    assert response.status_code == status
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["status"] == status
    assert problem["detail"]
    return problem


# --- Store ------------------------------------------------------------------------------------


def test_token_is_stored_only_as_its_sha256(store):
    key, token = store.create("acme", "600/minute")
    assert token.startswith(keys.TOKEN_PREFIX)
    # 32 random bytes, base64url: 43 characters after the prefix.
    assert len(token) == len(keys.TOKEN_PREFIX) + 43
    with store.engine.connect() as connection:
        (row,) = connection.execute(select(database.api_keys)).mappings().all()
    assert row["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for value in row.values())
    assert token.startswith(row["prefix"]) and len(row["prefix"]) < len(token) // 3
    assert (key.name, key.quota, key.revoked) == ("acme", "600/minute", False)


def test_tokens_differ_and_find_their_key(store):
    _, first = store.create("acme")
    _, second = store.create("globex", "10/second")
    assert first != second
    assert store.find(first).name == "acme"
    assert store.find(second).quota == "10/second"
    assert store.find(first + "x") is None
    assert store.find("") is None


def test_revoked_key_is_found_as_revoked(store):
    _, token = store.create("acme")
    revoked = store.revoke("acme")
    assert revoked.revoked
    assert store.find(token).revoked
    # Revoking twice keeps the first time.
    assert store.revoke("acme").revoked_at == revoked.revoked_at


def test_list_all_shows_every_key_by_name(store):
    store.create("zeta")
    store.create("acme", "5/second")
    store.revoke("zeta")
    listed = store.list_all()
    assert [(key.name, key.quota, key.revoked) for key in listed] == [
        ("acme", "5/second", False),
        ("zeta", None, True),
    ]


@pytest.mark.parametrize(
    ("name", "quota", "message"),
    [
        ("", None, "key name"),
        ("-acme", None, "key name"),
        ("acme corp", None, "key name"),
        ("a" * 65, None, "key name"),
        ("acme", "lots", "quota"),
        ("acme", "600/fortnight", "quota"),
        ("acme", "", "quota"),
    ],
    ids=["empty", "leading-dash", "space", "too-long", "quota-word", "quota-unit", "quota-empty"],
)
def test_create_refuses_bad_names_and_quotas(store, name, quota, message):
    with pytest.raises(KeyStoreError, match=message):
        store.create(name, quota)
    assert store.list_all() == []


def test_create_refuses_a_name_in_use(store):
    store.create("acme")
    with pytest.raises(KeyStoreError, match="already exists"):
        store.create("acme")


def test_revoke_of_unknown_name_raises(store):
    with pytest.raises(KeyStoreError, match="no key named"):
        store.revoke("nobody")


# --- Command line -----------------------------------------------------------------------------


def test_command_creates_lists_and_revokes(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    assert main(["--database", url, "create", "--name", "acme", "--quota", "600/minute"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith(keys.TOKEN_PREFIX) and "\n" not in token
    assert "shown only once" in err
    store = KeyStore(create_engine(url))
    assert store.find(token).name == "acme"

    assert main(["--database", url, "list"]) == 0
    out, _ = capsys.readouterr()
    assert "acme" in out and "600/minute" in out and "active" in out
    assert token not in out

    assert main(["--database", url, "revoke", "--name", "acme"]) == 0
    assert main(["--database", url, "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert store.find(token).revoked


@pytest.mark.parametrize(
    "argv",
    [["create", "--name", "bad name"], ["create", "--name", "x", "--quota", "1/eon"]],
    ids=["bad-name", "bad-quota"],
)
def test_command_reports_refusals(tmp_path, capsys, argv):
    assert main(["--database", f"sqlite:///{tmp_path / 'cli.sqlite3'}", *argv]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ")


def test_command_uses_the_server_database_setting(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'from-env.sqlite3'}"
    monkeypatch.setenv("EXPOSURE_DATABASE_URL", url)
    assert main(["create", "--name", "acme"]) == 0
    token = capsys.readouterr().out.strip()
    assert KeyStore(create_engine(url)).find(token).name == "acme"


@pytest.mark.slow
def test_python_m_api_keys_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'module.sqlite3'}"
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-m", "api.keys", "--database", url, "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("name")
    assert "Warning" not in completed.stderr


# --- Requests ---------------------------------------------------------------------------------


def test_auth_off_serves_requests_without_a_key(make_app):
    client = make_app(AUTH="off").test_client()
    for method, path, body in PROTECTED:
        assert client.open(path, method=method, json=body).status_code == 200


def test_auth_off_is_announced_loudly(make_app, caplog):
    with caplog.at_level(logging.WARNING):
        make_app(AUTH="off")
    (record,) = [r for r in caplog.records if "AUTHENTICATION IS OFF" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "EXPOSURE_AUTH=on" in record.getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        make_app(AUTH="on")
    assert "AUTHENTICATION IS OFF" not in caplog.text


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_auth_on_refuses_requests_without_a_key(make_app, method, path, body):
    client = make_app(AUTH="on").test_client()
    response = client.open(path, method=method, json=body)
    problem = assert_problem(response, 401)
    assert "API key is required" in problem["detail"]
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(
    "headers",
    [
        lambda token: {"Authorization": f"Bearer {token}"},
        lambda token: {"Authorization": f"bearer  {token}"},
        lambda token: {"X-API-Key": token},
    ],
    ids=["bearer", "bearer-lowercase", "x-api-key"],
)
@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_auth_on_serves_a_valid_key(make_app, headers, method, path, body):
    app = make_app(AUTH="on")
    _, token = app.extensions["keys"].create("acme")
    response = app.test_client().open(path, method=method, json=body, headers=headers(token))
    assert response.status_code == 200


@pytest.mark.parametrize("auth", ["off", "on"])
@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"Authorization": "Bearer exp_not-a-key"}, "not valid"),
        ({"X-API-Key": "exp_not-a-key"}, "not valid"),
        ({"Authorization": "Basic YWNtZTpzZWNyZXQ="}, "must be 'Bearer"),
        ({"Authorization": "Bearer"}, "must be 'Bearer"),
        ({"Authorization": "Bearer " + "x" * 8000}, "not valid"),
    ],
    ids=["unknown-bearer", "unknown-x-api-key", "basic-scheme", "bearer-without-token", "8-kb"],
)
def test_invalid_key_is_401_whether_or_not_auth_is_on(make_app, auth, headers, detail):
    response = make_app(AUTH=auth).test_client().post("/v1/score", json=POSTING, headers=headers)
    assert detail in assert_problem(response, 401)["detail"]
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize("auth", ["off", "on"])
def test_revoked_key_is_403(make_app, auth):
    app = make_app(AUTH=auth)
    _, token = app.extensions["keys"].create("acme")
    client = app.test_client()
    headers = {"X-API-Key": token}
    assert client.post("/v1/score", json=POSTING, headers=headers).status_code == 200
    app.extensions["keys"].revoke("acme")
    response = client.post("/v1/score", json=POSTING, headers=headers)
    assert "revoked" in assert_problem(response, 403)["detail"]


@pytest.mark.parametrize("path", PUBLIC)
def test_public_endpoints_need_no_key(make_app, path):
    with make_app(AUTH="on").test_client().get(path) as response:
        assert response.status_code == 200


def test_public_endpoints_ignore_a_bad_key(make_app):
    client = make_app(AUTH="on").test_client()
    assert client.get("/healthz", headers={"X-API-Key": "wrong"}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nope", 404), ("GET", "/v1/score", 405), ("DELETE", "/v1/model", 405)],
)
def test_unknown_routes_and_methods_keep_their_status(make_app, method, path, status):
    assert_problem(make_app(AUTH="on").test_client().open(path, method=method), status)


@pytest.mark.parametrize("value", ["maybe", "", "1", "true"])
def test_invalid_auth_setting_refuses_to_start(tiny_model_dir, monkeypatch, make_app, value):
    monkeypatch.setenv("EXPOSURE_AUTH", value)
    with pytest.raises(ConfigurationError, match="EXPOSURE_AUTH"):
        make_app()


@pytest.mark.parametrize("value", ["on", "ON", "off"])
def test_auth_setting_comes_from_the_environment(monkeypatch, make_app, value):
    monkeypatch.setenv("EXPOSURE_AUTH", value)
    client = make_app().test_client()
    status = client.post("/v1/score", json=POSTING).status_code
    assert status == (401 if value.lower() == "on" else 200)


@pytest.mark.parametrize(
    "url",
    ["not a url", "nosuchdialect://x/y", "sqlite:////proc/no/such/dir/keys.sqlite3", "sqlite://"],
    ids=["not-a-url", "unknown-dialect", "folder-not-creatable", "in-memory"],
)
def test_unusable_database_refuses_to_start(make_app, url):
    with pytest.raises(ConfigurationError, match="EXPOSURE_DATABASE_URL"):
        make_app(DATABASE_URL=url)


def test_default_database_is_a_file_in_the_instance_folder(make_app, monkeypatch, tmp_path):
    monkeypatch.delenv("EXPOSURE_DATABASE_URL")
    connected = []
    real_connect = database.connect

    def connect(url):
        connected.append(url)
        return real_connect(f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}")

    # The instance folder is in the working tree: record the URL instead of creating the file.
    monkeypatch.setattr(database, "connect", connect)
    app = make_app(DATABASE_URL=None)
    expected = f"sqlite:///{Path(app.instance_path) / database.DATABASE_FILE}"
    assert connected == [expected] == [app.config["DATABASE_URL"]]
    assert Path(app.instance_path) == ROOT / "instance"


def test_init_app_twice_changes_nothing(make_app):
    app = make_app()
    before = (app.extensions["keys"], len(app.before_request_funcs[None]))
    keys.init_app(app)
    assert (app.extensions["keys"], len(app.before_request_funcs[None])) == before


def test_openapi_documents_the_key_schemes(make_app):
    for auth, optional in (("on", False), ("off", True)):
        document = make_app(AUTH=auth).test_client().get("/openapi.json").get_json()
        schemes = document["components"]["securitySchemes"]
        assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
        assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        score = document["paths"]["/v1/score"]["post"]
        assert ({} in score["security"]) is optional
        assert {"401", "403", "429"} <= set(score["responses"])
        assert "security" not in document["paths"]["/healthz"]["get"]


def test_a_key_revoked_elsewhere_is_refused_once_the_cache_expires(make_app):
    app = make_app(KEY_CACHE_SECONDS=0.2)
    _, token = app.extensions["keys"].create("acme")
    client = app.test_client()
    headers = {"X-API-Key": token}
    assert client.post("/v1/score", json=POSTING, headers=headers).status_code == 200
    # The command line revokes through its own store, as another process would.
    KeyStore(create_engine(app.config["DATABASE_URL"])).revoke("acme")
    assert client.post("/v1/score", json=POSTING, headers=headers).status_code == 200
    time.sleep(0.3)
    assert client.post("/v1/score", json=POSTING, headers=headers).status_code == 403


@pytest.mark.parametrize("value", ["soon", True, None])
def test_invalid_key_cache_setting_refuses_to_start(make_app, value):
    with pytest.raises(ConfigurationError, match="EXPOSURE_KEY_CACHE_SECONDS"):
        make_app(KEY_CACHE_SECONDS=value)
