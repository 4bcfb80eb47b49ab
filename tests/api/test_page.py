"""The try-it page at `/`: served with its files, offline, safe, and its examples valid.

What the page does in a browser is tested in tests/e2e/test_page_browser.py.
"""

import hashlib
import json
import re
import unicodedata
from html.parser import HTMLParser

import pytest

from api import page
from api.schemas import PostingSchema

STATIC_FILES = sorted(path.name for path in page.STATIC_DIR.iterdir())
EXAMPLES = json.loads((page.STATIC_DIR / "examples.json").read_text(encoding="utf-8"))
# A scheme or a protocol-relative host: anything the browser could fetch from elsewhere.
EXTERNAL_URL = re.compile(r"(?i)\b(?:https?|ftp|wss?):|(?<![:\w])//[\w-]+\.[\w.-]+|@import")
# Ways to turn text into HTML; the page writes everything with textContent instead.
HTML_WRITERS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(")


@pytest.fixture
def app(app):
    """The app with the page's blueprint, whether or not create_app registers it yet."""
    if page.bp.name not in app.blueprints:
        app.register_blueprint(page.bp)
    return app


class Tags(HTMLParser):
    """Collect every start tag of a document with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attributes: str) -> list[dict]:
        """Return the attributes of each `tag` whose attributes include `attributes`."""
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(k) == v for k, v in attributes.items())
        ]


def parse(html: str) -> Tags:
    """Parse an HTML document into its tags."""
    tags = Tags()
    tags.feed(html)
    return tags


@pytest.fixture
def index(client) -> Tags:
    """Return the tags of the page."""
    response = client.get("/")
    assert response.status_code == 200
    return parse(response.get_data(as_text=True))


def test_page_is_html_that_may_load_only_from_the_app(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    for directive in ("script-src", "style-src", "connect-src"):
        assert f"{directive} 'self';" in policy + ";"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_page_links_its_assets_and_they_are_served(client, index):
    scripts = [attrs["src"] for attrs in index.find("script")]
    styles = [attrs["href"] for attrs in index.find("link", rel="stylesheet")]
    body = index.find("body")[0]
    assets = {
        "page.js": "text/javascript",
        "page.css": "text/css",
        "examples.json": "application/json",
    }
    urls = [*scripts, *styles, body["data-examples-url"]]
    assert len(urls) == len(assets)
    for url, (filename, mimetype) in zip(urls, assets.items(), strict=True):
        digest = hashlib.sha256((page.STATIC_DIR / filename).read_bytes()).hexdigest()[:12]
        assert url == f"/page/{filename}?v={digest}"
        with client.get(url) as response:
            assert response.status_code == 200
            assert response.mimetype == mimetype
            assert response.cache_control.max_age == page.ASSET_MAX_AGE
            assert response.data == (page.STATIC_DIR / filename).read_bytes()


def test_page_calls_only_the_public_api(index):
    body = index.find("body")[0]
    assert body["data-score-url"] == "/v1/score"
    assert body["data-model-url"] == "/v1/model"


def test_page_urls_follow_the_mount_point(client):
    response = client.get("/", base_url="http://localhost/exposure/")
    body = parse(response.get_data(as_text=True)).find("body")[0]
    assert body["data-score-url"] == "/exposure/v1/score"
    assert body["data-examples-url"].startswith("/exposure/page/examples.json?v=")


def test_every_file_of_the_page_is_served():
    assert set(STATIC_FILES) == page.ASSETS


@pytest.mark.parametrize(
    "path", ["/page/nothing.js", "/page/..%2fpage.py", "/page/", "/page/%2e%2e/__init__.py"]
)
def test_other_files_are_not_served(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("filename", ["page.html (rendered)", *STATIC_FILES])
def test_nothing_is_loaded_from_elsewhere(client, filename):
    if filename.endswith("(rendered)"):
        text = client.get("/").get_data(as_text=True)
    else:
        text = (page.STATIC_DIR / filename).read_text(encoding="utf-8")
    assert EXTERNAL_URL.findall(text) == []
    assert "@font-face" not in text


def test_script_writes_text_never_html():
    script = (page.STATIC_DIR / "page.js").read_text(encoding="utf-8")
    assert [writer for writer in HTML_WRITERS if writer in script] == []
    assert "new Function" not in script


def test_page_is_labelled_for_assistive_technology(index):
    assert index.find("html")[0]["lang"] == "en"
    assert index.find("meta", name="viewport")
    labels = {attrs["for"] for attrs in index.find("label")}
    fields = [attrs["id"] for tag, attrs in index.tags if tag in ("input", "textarea", "select")]
    assert fields and set(fields) <= labels
    assert index.find("div", id="error")[0]["role"] == "alert"
    assert index.find("p", id="status")[0]["aria-live"] == "polite"
    assert index.find("button", id="score")[0]["type"] == "submit"


def test_examples_are_the_four_promised(app):
    assert [(e["id"], e["language"]) for e in EXAMPLES] == [
        ("corporate-ad", "en"),
        ("gig-en", "en"),
        ("gig-ja", "ja"),
        ("gig-fa", "fa"),
    ]
    assert all(set(e) == {"id", "label", "language", "title", "description"} for e in EXAMPLES)
    with app.app_context():
        for example in EXAMPLES:
            PostingSchema().load({"title": example["title"], "description": example["description"]})


def script_share(text: str, script: str) -> float:
    """Return the share of the letters of `text` whose Unicode name starts with `script`."""
    letters = [c for c in text if c.isalpha()]
    return sum(unicodedata.name(c, "").startswith(script) for c in letters) / len(letters)


def test_examples_are_written_in_their_language():
    by_id = {example["id"]: example for example in EXAMPLES}
    assert script_share(by_id["corporate-ad"]["description"], "LATIN") > 0.99
    assert script_share(by_id["gig-en"]["description"], "LATIN") > 0.99
    japanese = by_id["gig-ja"]["description"]
    assert script_share(japanese, "CJK") + script_share(japanese, "HIRAGANA") > 0.6
    assert "【募集内容】" in japanese
    assert script_share(by_id["gig-fa"]["description"], "ARABIC") > 0.95


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["id"] for e in EXAMPLES])
def test_examples_have_duties_to_highlight(client, example):
    response = client.post(
        "/v1/score", json={"title": example["title"], "description": example["description"]}
    )
    assert response.status_code == 200
    result = response.get_json()
    assert result["exposure"]["basis"] == "duties"
    assert len(result["duties"]) >= 2
    # Each example also has text that is not a duty, for the page to dim.
    duty_chars = sum(duty["end"] - duty["start"] for duty in result["duties"])
    assert duty_chars < 0.8 * len(example["description"])


def test_corporate_ad_is_mostly_boilerplate(client):
    ad = EXAMPLES[0]
    result = client.post(
        "/v1/score", json={"title": ad["title"], "description": ad["description"]}
    ).get_json()
    duty_chars = sum(duty["end"] - duty["start"] for duty in result["duties"])
    assert len(ad["description"]) > 1500
    assert duty_chars < 0.5 * len(ad["description"])
