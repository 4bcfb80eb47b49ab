"""GET /openapi.json and the offline Swagger UI page at /docs."""

import re
from html.parser import HTMLParser

import pytest

from api import create_app

ALWAYS_ADDED = {"HEAD", "OPTIONS"}


def openapi_path(rule: str) -> str:
    """Write a Flask rule as an OpenAPI path: /docs/assets/<filename> -> /docs/assets/{filename}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


@pytest.fixture
def document(client) -> dict:
    """Return the served OpenAPI 3.1 document."""
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.mark.parametrize("path", ["/openapi.json", "/docs/openapi-3.0.json"])
def test_openapi_documents_are_valid(client, path):
    from openapi_spec_validator import validate

    document = client.get(path).get_json()
    validate(document)


def test_openapi_is_3_1(document, client):
    assert document["openapi"] == "3.1.0"
    assert client.get("/docs/openapi-3.0.json").get_json()["openapi"] == "3.0.3"


def test_openapi_lists_every_route(app, document):
    routes = {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods - ALWAYS_ADDED
    }
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert routes == documented


def test_openapi_describes_bodies_and_errors(document):
    score = document["paths"]["/v1/score"]["post"]
    assert score["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Posting"
    }
    assert {"200", "400", "413", "415", "422", "500"} <= set(score["responses"])
    problem = document["components"]["responses"]["UnprocessableContent"]["content"]
    assert problem["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert {"type", "title", "status", "detail", "errors"} <= set(
        document["components"]["schemas"]["Problem"]["properties"]
    )
    result = document["components"]["schemas"]["Result"]["properties"]
    assert {"id", "exposure", "duties", "model"} <= set(result)


def test_openapi_states_the_limits_in_force(tiny_model_dir):
    app = create_app(
        {
            "TESTING": True,
            "MODEL_DIR": str(tiny_model_dir),
            "MAX_TITLE_CHARS": 80,
            "MAX_DESCRIPTION_CHARS": 5000,
            "MAX_ID_CHARS": 36,
            "MAX_BATCH": 7,
            "MAX_CONTENT_LENGTH": 65536,
        }
    )
    document = app.test_client().get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    posting = schemas["Posting"]["properties"]
    assert posting["title"]["maxLength"] == 80
    assert posting["description"]["maxLength"] == 5000
    assert posting["id"]["maxLength"] == 36
    assert schemas["Batch"]["properties"]["postings"]["maxItems"] == 7
    assert "65536 bytes" in document["paths"]["/v1/score"]["post"]["requestBody"]["description"]
    assert "65536 bytes" in document["info"]["description"]


class _Links(HTMLParser):
    """Collect every src and href of a page."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in {"src", "href"} and value]


def test_docs_page_uses_only_local_assets(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "SwaggerUIBundle" in page
    assert "://" not in page
    assert "swagger.io" not in page
    links = _Links()
    links.feed(page)
    assert any(url.endswith("swagger-ui-bundle.js") for url in links.urls)
    assert any(url.endswith("swagger-ui.css") for url in links.urls)
    for url in links.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        # Closed: a file response holds its file open until then.
        with client.get(url) as asset:
            assert asset.status_code == 200, url
            assert asset.data


def test_docs_page_loads_the_local_document(client):
    page = client.get("/docs").get_data(as_text=True)
    assert '"/docs/openapi-3.0.json"' in page
    assert "validatorUrl: null" in page


@pytest.mark.parametrize(
    ("filename", "mimetype"),
    [("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css")],
)
def test_swagger_ui_assets_come_from_the_package(client, filename, mimetype):
    import swagger_ui_bundle

    with client.get(f"/docs/assets/{filename}") as response:
        assert response.status_code == 200
        assert response.mimetype == mimetype
        with open(f"{swagger_ui_bundle.swagger_ui_path}/{filename}", "rb") as stream:
            assert response.data == stream.read()


@pytest.mark.parametrize("filename", ["index.html", "swagger-initializer.js", "..%2F__init__.py"])
def test_other_files_are_not_served(client, filename):
    response = client.get(f"/docs/assets/{filename}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
