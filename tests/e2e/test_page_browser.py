"""The try-it page in a real browser: headless Chromium drives the page served by gunicorn.

gunicorn serves the default model (models/DEFAULT) on a loopback port. Every built-in example is
scored through the page, and its highlighted duties are compared with the offsets that the API
returns for the same posting. Screenshots are saved under build/artefacts/page/; with
UPDATE_DOCS_SCREENSHOT=1 the corporate ad's also replaces the README's docs/page.png.

Needs Debian's `chromium` and `chromium-driver` (.ci/install-browser installs them). Without
them the tests skip, except under CI (CI=true), where a missing browser is a failure.
"""

import base64
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from api.page import STATIC_DIR
from tests.server import GunicornServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "build" / "artefacts" / "page"
DOCS_SCREENSHOT = ROOT / "docs" / "page.png"
EXAMPLES = json.loads((STATIC_DIR / "examples.json").read_text(encoding="utf-8"))
# A bound, not a timing: a posting scores in milliseconds.
WAIT = 20
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,900",
    "--lang=en-US",
)
DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}


# --- the browser and the server -------------------------------------------------------------


def browser_paths() -> tuple[str, str]:
    """Return the paths of chromium and chromedriver, or skip (fail under CI) without them."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if chromium and chromedriver:
        return chromium, chromedriver
    missing = " and ".join(
        name for name, path in (("chromium", chromium), ("chromedriver", chromedriver)) if not path
    )
    reason = (
        f"no {missing} on PATH: install Debian's chromium and chromium-driver "
        "(.ci/install-browser) to run the browser tests"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must install them before the tests")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """Run gunicorn with the default model on a free loopback port; return its base URL."""
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    # The default model, whatever the caller's environment says.
    env = {"EXPOSURE_MODEL_DIR": None}
    with GunicornServer("tests.e2e.app:create_app()", log_path, env=env) as gunicorn:
        yield gunicorn.url


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    """Start headless Chromium, with a fresh profile, through Debian's chromedriver."""
    chromium, chromedriver = browser_paths()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager, which would download one, never runs.
    browser = webdriver.Chrome(options=options, service=Service(chromedriver))
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(driver, server) -> webdriver.Chrome:
    """Open the page at desktop width, with its examples and model card loaded."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)
    driver.get_log("browser")  # start each test with an empty console
    open_page(driver, server)
    return driver


# --- helpers ----------------------------------------------------------------------------------


def open_page(driver: webdriver.Chrome, base_url: str) -> None:
    """Load the page and wait until its examples and the model's version are shown."""
    driver.get(f"{base_url}/")
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "button[data-example]")) == 4)
    # "Model <version>" once the card is read ("Model: loading…" before, "Model: unknown" on error).
    wait(driver, lambda d: d.find_element(By.ID, "model-version").text.startswith("Model "))


def wait(driver: webdriver.Chrome, condition, message: str = "") -> None:
    """Wait for a condition, failing with the page's status and error text."""
    try:
        WebDriverWait(driver, WAIT).until(condition)
    except TimeoutException:
        status = driver.find_element(By.ID, "status").text
        error = driver.find_element(By.ID, "error").text
        pytest.fail(f"timed out waiting {message}; status: {status!r}; error: {error!r}")


def renders(driver: webdriver.Chrome) -> int:
    """Return how many results the page has drawn."""
    return int(driver.find_element(By.ID, "result").get_attribute("data-renders"))


def press_score(driver: webdriver.Chrome) -> None:
    """Click Score and wait for the result to be drawn."""
    before = renders(driver)
    driver.find_element(By.ID, "score").click()
    wait(driver, lambda d: renders(d) > before, "for the result")


def api_score(base_url: str, posting: dict) -> tuple[int, dict]:
    """POST a posting to the public API directly; return the status and the JSON body."""
    request = urllib.request.Request(
        f"{base_url}/v1/score",
        data=json.dumps(posting).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def rendered_duties(driver: webdriver.Chrome) -> list[dict]:
    """Return each highlighted duty's offsets, label, badge and text as the page shows them."""
    return driver.execute_script(
        """
        return Array.from(document.querySelectorAll('#posting .duty')).map((duty) => ({
          start: Number(duty.dataset.start), end: Number(duty.dataset.end),
          label: duty.dataset.label,
          badge: duty.querySelector('.duty-badge').textContent,
          text: duty.querySelector('.duty-text').textContent,
        }));
        """
    )


def rendered_text(driver: webdriver.Chrome) -> str:
    """Return the posting's text as shown, without the duty labels."""
    return driver.execute_script(
        """
        const copy = document.getElementById('posting').cloneNode(true);
        copy.querySelectorAll('.duty-badge').forEach((badge) => badge.remove());
        return copy.textContent;
        """
    )


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """Return the console's errors since the last call (CSP violations are errors)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver: webdriver.Chrome, name: str, element_id: str | None = None) -> Path:
    """Save a screenshot of the whole page, or of one element, under build/artefacts/page/."""
    if element_id is None:
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
    else:
        # With a margin of the page's background around the element.
        clip = driver.execute_script(
            "const box = document.getElementById(arguments[0]).getBoundingClientRect();"
            "return {x: box.left + scrollX - 12, y: box.top + scrollY - 12,"
            " width: box.width + 24, height: box.height + 12};",
            element_id,
        )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": {**clip, "scale": 1}},
    )
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def example(example_id: str) -> dict:
    """Return a built-in example by id."""
    return next(item for item in EXAMPLES if item["id"] == example_id)


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("example_id", [item["id"] for item in EXAMPLES])
def test_example_is_scored_and_its_duties_highlighted(page, server, example_id):
    posting = example(example_id)
    page.find_element(By.CSS_SELECTOR, f'button[data-example="{example_id}"]').click()
    sent = page.execute_script(
        "return [document.getElementById('title').value,"
        " document.getElementById('description').value];"
    )
    assert sent == [posting["title"], posting["description"]]
    press_score(page)

    status, result = api_score(
        server, {"title": posting["title"], "description": posting["description"]}
    )
    assert status == 200
    description = posting["description"]
    duties = rendered_duties(page)
    assert [(d["start"], d["end"], d["label"]) for d in duties] == [
        (d["start"], d["end"], d["label"]) for d in result["duties"]
    ]
    assert duties, "every example has duties"
    for duty in duties:
        assert duty["text"] == description[duty["start"] : duty["end"]]
        assert duty["badge"] == duty["label"]
    # Nothing is lost or added around the duties: the rest is there, dimmed.
    assert rendered_text(page) == description
    if "skills" in result:
        assert rendered_evidence(page) == expected_evidence(result, description)

    exposure = result["exposure"]
    assert page.find_element(By.ID, "score-value").text == f"{exposure['score']:.2f}"
    band = page.find_element(By.ID, "band")
    assert band.get_attribute("data-band") == exposure["band"]
    assert band.text.lower() == f"{exposure['band']} exposure"
    for name in ("alpha", "beta", "gamma"):
        assert page.find_element(By.ID, name).text == f"{exposure[name]:.2f}"
    assert "Scored" in page.find_element(By.ID, "status").text

    direction = page.execute_script(
        "return getComputedStyle(document.getElementById('posting')).direction;"
    )
    assert direction == ("rtl" if posting["language"] == "fa" else "ltr")
    assert page.find_element(By.ID, "posting").get_attribute("lang") == posting["language"]
    assert console_errors(page) == []
    screenshot(page, f"desktop-{example_id}")


def test_boilerplate_is_dimmed(page):
    page.find_element(By.CSS_SELECTOR, 'button[data-example="corporate-ad"]').click()
    press_score(page)
    colours = page.execute_script(
        """
        const dimmed = Array.from(document.querySelectorAll('#posting .nonduty'))
          .find((run) => run.textContent.includes('equal opportunity employer'));
        const duty = document.querySelector('#posting .duty-text');
        return [getComputedStyle(dimmed).color, getComputedStyle(duty).color];
        """
    )
    assert colours[0] != colours[1]
    path = screenshot(page, "desktop-readme", element_id="result")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOT)


def test_loads_nothing_from_elsewhere(page, server):
    page.find_element(By.CSS_SELECTOR, 'button[data-example="gig-ja"]').click()
    press_score(page)
    resources = page.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name);"
    )
    assert resources, "the page loads its script, style sheet and examples"
    assert [url for url in resources if not url.startswith(f"{server}/")] == []
    assert console_errors(page) == []


def test_persian_is_right_to_left_even_when_pasted(page):
    posting = example("gig-fa")
    page.find_element(By.CSS_SELECTOR, 'button[data-example="gig-fa"]').click()
    # Edited, it is no longer the example: its direction comes from the text itself.
    page.find_element(By.ID, "description").send_keys(Keys.END, " ")
    press_score(page)
    direction = page.execute_script(
        "return getComputedStyle(document.getElementById('posting')).direction;"
    )
    assert direction == "rtl"
    assert rendered_text(page) == posting["description"] + " "


def test_keyboard_alone_picks_an_example_and_scores_it(page):
    actions = ActionChains(page)

    def tab_to(selector: str) -> None:
        for _ in range(30):
            if page.execute_script(f"return document.activeElement.matches({selector!r});"):
                return
            actions.send_keys(Keys.TAB).perform()
        pytest.fail(f"Tab never reached {selector}")

    tab_to('button[data-example="gig-en"]')
    actions.send_keys(Keys.ENTER).perform()
    assert page.find_element(By.ID, "title").get_attribute("value") == example("gig-en")["title"]
    tab_to("#score")
    outline = page.execute_script(
        "const style = getComputedStyle(document.activeElement);"
        "return [style.outlineStyle, style.outlineWidth];"
    )
    assert outline[0] != "none" and outline[1] != "0px", "focus is visible"
    before = renders(page)
    actions.send_keys(Keys.ENTER).perform()
    wait(page, lambda d: renders(d) > before, "for the result")
    assert page.execute_script("return document.activeElement.id;") == "score"
    assert page.find_element(By.ID, "status").get_attribute("role") == "status"
    assert rendered_duties(page)


def test_phone_width_has_no_horizontal_scroll(driver, server):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        open_page(driver, server)
        for example_id in ("corporate-ad", "gig-ja"):
            driver.find_element(By.CSS_SELECTOR, f'button[data-example="{example_id}"]').click()
            press_score(driver)
            widths = driver.execute_script(
                "const root = document.documentElement;"
                "return [root.scrollWidth, root.clientWidth, window.innerWidth];"
            )
            assert widths[1] == PHONE["width"]
            assert widths[0] <= widths[1], f"{example_id}: page is wider than the screen"
            screenshot(driver, f"phone-{example_id}")
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_api_errors_are_shown_as_messages(page, server):
    page.find_element(By.CSS_SELECTOR, 'button[data-example="gig-en"]').click()
    page.execute_script("document.getElementById('title').value = '   ';")
    page.find_element(By.ID, "score").click()
    error = page.find_element(By.ID, "error")
    wait(page, lambda d: error.is_displayed(), "for the error")
    status, problem = api_score(server, {"title": "   ", "description": "Write articles."})
    assert status == 422
    assert error.get_attribute("role") == "alert"
    assert "422" in error.text
    for message in problem["errors"]["title"]:
        assert f"Job title: {message}" in error.text
        assert message in page.find_element(By.ID, "title-error").text
    assert page.find_element(By.ID, "title").get_attribute("aria-invalid") == "true"
    assert page.find_element(By.ID, "result").get_attribute("hidden") is not None


def test_language_is_offered_and_sent_when_the_api_takes_one(page, server):
    with urllib.request.urlopen(f"{server}/openapi.json", timeout=30) as response:
        spec = json.load(response)
    takes_language = "language" in spec["components"]["schemas"]["Posting"]["properties"]
    field = page.find_element(By.ID, "language-field")
    if takes_language:  # the page reads the API's schema and offers the field
        wait(page, lambda d: field.is_displayed(), "for the language field")
    else:  # offered once the API describes it
        assert not field.is_displayed()
        page.execute_script(
            "window.exposurePage.offerLanguages({type: 'string', enum: ['en', 'ja', 'fa']});"
        )
    posting = example("gig-ja")
    page.find_element(By.CSS_SELECTOR, 'button[data-example="gig-ja"]').click()
    select = page.find_element(By.ID, "language")
    assert select.is_displayed()
    select.send_keys("J")  # by keyboard: the first option starting with J
    assert select.get_attribute("value") == "ja"
    before = renders(page)
    page.find_element(By.ID, "score").click()
    status, answer = api_score(
        server, {"title": posting["title"], "description": posting["description"], "language": "ja"}
    )
    if status == 200:
        wait(page, lambda d: renders(d) > before, "for the result")
        assert page.find_element(By.ID, "posting").get_attribute("lang") == "ja"
    else:  # this API does not take a language yet: the page says so, in words
        error = page.find_element(By.ID, "error")
        wait(page, lambda d: error.is_displayed(), "for the error")
        for message in answer["errors"]["language"]:
            assert f"Language: {message}" in error.text
        assert page.find_element(By.ID, "language").get_attribute("aria-invalid") == "true"


def test_description_is_shown_as_text_never_as_html(page):
    description = (
        '<p>We need a writer.</p><img src="missing.png" onerror="window.injected = true">\n'
        "<ul><li>Write articles for our blog</li><li>Translate manuals into German</li></ul>"
    )
    page.execute_script(
        "document.getElementById('title').value = 'Writer';"
        "document.getElementById('description').value = arguments[0];",
        description,
    )
    press_score(page)
    assert page.find_elements(By.CSS_SELECTOR, "#posting img, #posting p, #posting li") == []
    assert page.execute_script("return window.injected === undefined;")
    assert rendered_text(page) == description
    for duty in rendered_duties(page):
        assert duty["text"] == description[duty["start"] : duty["end"]]


def rendered_evidence(driver: webdriver.Chrome) -> dict[str, str]:
    """Return the text of each piece of evidence shown, by key ("<skill>.<n>", "policy.<n>")."""
    return driver.execute_script(
        """
        const pieces = {};
        for (const piece of document.querySelectorAll('#posting .evidence')) {
          for (const key of piece.dataset.evidence.split(' ')) {
            pieces[key] = (pieces[key] || '') + piece.textContent;
          }
        }
        return pieces;
        """
    )


def lit_evidence(driver: webdriver.Chrome) -> set[str]:
    """Return the keys of the evidence highlighted now."""
    return set(
        driver.execute_script(
            "return Array.from(document.querySelectorAll('#posting .evidence.lit'))"
            ".flatMap((piece) => piece.dataset.evidence.split(' '));"
        )
    )


def expected_evidence(result: dict, description: str) -> dict[str, str]:
    """Return the text each piece of evidence in an API result should show, by key."""
    groups = [
        (str(index), skill.get("evidence", [])) for index, skill in enumerate(result["skills"])
    ]
    if "ai_policy" in result:
        groups.append(("policy", result["ai_policy"]["evidence"]))
    return {
        f"{key}.{index}": description[item["start"] : item["end"]]
        for key, evidence in groups
        for index, item in enumerate(evidence)
        if item["end"] > item["start"]
    }


def test_skills_occupations_automation_and_policy_are_drawn(page, server):
    """The fields the enrichers add, in the shapes of models/skills.py and models/occupations.py,
    drawn into the page whether or not the served model and schema return them yet."""
    posting = example("gig-en")
    description = posting["description"]
    _, result = api_score(server, {"title": posting["title"], "description": description})

    def span(text: str) -> dict:
        start = description.index(text)  # code points, as the API counts; the 👋 comes first
        return {"text": text, "start": start, "end": start + len(text)}

    duty = result["duties"][0]
    crossing = {  # from the end of the first duty into the dimmed text after it
        "text": description[duty["end"] - 6 : duty["end"] + 3],
        "start": duty["end"] - 6,
        "end": duty["end"] + 3,
    }
    for duty in result["duties"]:
        duty["mode"] = {"label": "augmentation", "automation": 0.3, "augmentation": 0.7}
    result["exposure"] |= {
        "score": 0.66,
        "duty_score": result["exposure"]["score"],
        "blend": {
            "duties": {"score": result["exposure"]["score"], "weight": 0.6},
            "occupation": {"score": 0.7, "weight": 0.4},
        },
    }
    result |= {
        "skills": [
            {
                "id": "ai_assisted_writing",
                "name": "AI-assisted writing",
                "score": 0.91,
                "source": "inferred",
                "evidence": [span("product descriptions"), span("Rewrite the About page")],
            },
            {
                "id": "ai_marketing_seo",
                "name": "AI for marketing and SEO",
                "score": 0.74,
                "source": "mentioned",
                "evidence": [span("SEO titles"), crossing],
            },
            {
                "id": "prompt_engineering",
                "name": "Prompt engineering",
                "score": 0.4,
                "source": "inferred",
                "evidence": [],
            },
        ],
        "ai_policy": {"prohibited": True, "evidence": [span("Please mention your favourite mug")]},
        "occupations": [
            {"code": "27-3043.00", "title": "Writers and Authors", "probability": 0.62},
            {"code": "41-9011.00", "title": "Product Promoters", "probability": 0.1},
        ],
        "lenses": [
            {
                "occupation": "27-3043.00",
                "name": "eloundou_human_beta",
                "rater": "human",
                "value": 0.82,
                "source": "Eloundou et al. (2023); occ_level.csv, column human_rating_beta",
                "version": "2023-03",
            },
        ],
        "needs_review": {
            "flag": True,
            "reasons": [
                {"code": "occupation_uncertain", "detail": "The top occupation is unsure."}
            ],
        },
        "automation": {"automation_share": 0.25, "augmentation_share": 0.5},
        "language": "en",
        "language_supported": True,
    }
    page.execute_script(
        "window.exposurePage.render(arguments[0], arguments[1]);",
        result,
        {"title": posting["title"], "description": description},
    )

    assert rendered_text(page) == description
    assert [(d["start"], d["end"]) for d in rendered_duties(page)] == [
        (d["start"], d["end"]) for d in result["duties"]
    ]
    assert rendered_evidence(page) == expected_evidence(result, description)

    buttons = page.find_elements(By.CSS_SELECTOR, "#skills button")
    assert [button.get_attribute("data-highlight") for button in buttons] == ["0", "1"]
    assert page.find_element(By.CSS_SELECTOR, "#skills span.skill").text.startswith("Prompt")
    away = page.find_element(By.ID, "score-value")
    ActionChains(page).move_to_element(buttons[0]).perform()
    assert lit_evidence(page) == {"0.0", "0.1"}
    ActionChains(page).move_to_element(away).perform()
    assert lit_evidence(page) == set()
    page.execute_script("arguments[0].focus();", buttons[1])
    # Focusing may scroll a skill under the pointer: move the pointer away again.
    ActionChains(page).move_to_element(away).perform()
    assert lit_evidence(page) == {"1.0", "1.1"}
    buttons[1].send_keys(Keys.ENTER)  # pinned: stays lit without focus
    assert buttons[1].get_attribute("aria-pressed") == "true"
    page.execute_script("document.activeElement.blur();")
    assert lit_evidence(page) == {"1.0", "1.1"}
    page.find_element(By.CSS_SELECTOR, '#policy-section button[data-highlight="policy"]').click()
    assert lit_evidence(page) == {"1.0", "1.1", "policy.0"}

    assert page.find_element(By.ID, "score-value").text == "0.66"
    blend = page.find_element(By.ID, "blend").text
    assert f"the duties' score {result['exposure']['duty_score']:.2f} (weight 0.60)" in blend
    assert "the occupation's published beta 0.70 (weight 0.40)" in blend
    occupations = page.find_elements(By.CSS_SELECTOR, "#occupations li")
    assert occupations[0].text.startswith("62%") and "Writers and Authors" in occupations[0].text
    lenses = page.find_element(By.ID, "lenses-table").text
    assert "beta, rated by people 0.82 Eloundou et al. (2023)" in lenses
    assert "version 2023-03" in lenses
    assert "Writers and Authors" in page.find_element(By.ID, "lenses-heading").text
    assert page.find_element(By.ID, "review-section").is_displayed()
    assert page.find_element(By.ID, "review-reasons").text == "The top occupation is unsure."
    assert page.find_element(By.ID, "policy-section").is_displayed()
    automation = page.find_element(By.ID, "automation").text
    assert "automation (AI would do the work): 25%" in automation
    assert "augmentation (AI would help a person): 50%" in automation
    assert "not exposed: 25%" in automation
    assert "mode: augmentation 70%" in page.find_element(
        By.CSS_SELECTOR, "#posting .duty"
    ).get_attribute("title")
    assert page.find_element(By.ID, "language-note").text == "Language: English."
    assert console_errors(page) == []
    screenshot(page, "desktop-enriched")
