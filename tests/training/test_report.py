"""The HTML evaluation report: every plot present, readable, and nothing fetched from outside."""

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from training import report, userdata

SECTIONS = {
    "reliability-of-the-e-probabilities",
    "confusion-matrix-against-human-labels",
    "predicted-versus-human-beta-per-occupation",
    "skills--precision-and-recall-per-skill",
    "figures-of-the-model-card",
}


class Page(HTMLParser):
    """Collect the sections, images and every attribute that could load something."""

    def __init__(self):
        super().__init__()
        self.section = None
        self.images: dict[str, list[str]] = {}
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.section = attrs["id"]
            self.images[self.section] = []
        if tag == "img":
            self.images[self.section].append(attrs["src"])
        for name in ("src", "href", "action", "data"):
            if name in attrs:
                self.urls.append(attrs[name])


def parse(html: str) -> Page:
    """Parse a report."""
    page = Page()
    page.feed(html)
    return page


def png(source: str) -> Image.Image:
    """Decode a data: URL as a PNG image."""
    assert source.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(source.removeprefix("data:image/png;base64,"))))
    image.load()
    assert image.format == "PNG"
    return image


@pytest.fixture(scope="module")
def evidence() -> report.Evidence:
    rng = np.random.default_rng(0)
    truth = rng.choice(["E0", "E1", "E2"], size=300)
    probabilities = rng.dirichlet([1, 1, 1], size=300)
    occupations = pd.DataFrame(
        {"predicted": rng.uniform(0, 1, 40), "human": rng.uniform(0, 1, 40)},
        index=[f"11-{i:04d}.00" for i in range(40)],
    )
    postings = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "soc_code": ["27-3091.00", None, "47-2181.00", None],
            "gold_beta": [0.8, 0.5, 0.1, None],
            "gold_band": ["high", "moderate", "low", "high"],
            "beta": [0.6, 0.4, 0.2, 0.5],
            "band": ["high", "moderate", "moderate", "high"],
            "gold_skills": [("ai_assisted_writing",), (), None, ("prompt_engineering",)],
            "skills": [("ai_assisted_writing", "prompt_engineering"), (), (), ()],
        }
    )
    user = userdata.Outcome(
        duty_truth=np.array(["E0", "E1", "E2", "E1"], dtype=object),
        duty_probabilities=rng.dirichlet([1, 1, 1], size=4),
        postings=postings,
    )
    return report.Evidence(truth, probabilities, occupations, user)


CARD = {
    "version": "v-test",
    "created_at": "2026-11-23T00:00:00+00:00",
    "artifact": {"sha256": "ab" * 32},
    "evaluation": {
        "held_out": {
            "tasks": 300,
            "folds": 5,
            "model": {"tasks": {"kappa": 0.49, "accuracy": 0.7}},
            "gpt4": {"tasks": {"kappa": 0.43}},
        },
        "postings": {
            "spearman_per_posting": 0.78,
            "by_style": {"gig": {"spearman": 0.7, "postings": 9}},
        },
    },
    "skills": {
        "inferred": {
            "held_out": {
                "per_skill": {
                    "ai_assisted_writing": {"precision": 0.8, "recall": 0.6, "support": 12}
                }
            }
        }
    },
    "targets": {"values": {"held_out_kappa": 0.55}, "met": {"held_out_kappa": False}},
}


@pytest.fixture(scope="module")
def written(evidence, tmp_path_factory) -> tuple:
    """Write the report once for the module; return its directory and text."""
    directory = tmp_path_factory.mktemp("model")
    path = report.write(directory, CARD, evidence)
    return directory, path, path.read_text(encoding="utf-8")


def test_every_plot_is_in_the_report_as_an_inline_png(written):
    directory, path, html = written
    assert path == directory / "report.html"
    page = parse(html)
    assert set(page.images) == SECTIONS
    # Reliability: one figure per set of labelled duties (public and the user's).
    assert len(page.images["reliability-of-the-e-probabilities"]) == 2
    assert len(page.images["confusion-matrix-against-human-labels"]) == 1
    assert len(page.images["predicted-versus-human-beta-per-occupation"]) == 1
    # Skills: the card's held-out table, and the user's labelled postings.
    assert len(page.images["skills--precision-and-recall-per-skill"]) == 2
    for sources in page.images.values():
        for source in sources:
            width, height = png(source).size
            assert width > 200 and height > 100


def test_the_report_opens_offline(written):
    html = written[2]
    page = parse(html)
    assert page.urls and all(url.startswith("data:image/png;base64,") for url in page.urls)
    assert not page.tags & {"script", "link", "iframe", "object", "embed"}
    assert not re.search(
        r"url\(|@import|https?://", re.sub(r"<pre>.*?</pre>", "", html, flags=re.S)
    )


def test_the_card_figures_are_tabulated(written):
    html = written[2]
    assert "Held-out occupations (300 tasks, 5 folds)" in html
    assert "<td>task Cohen&#x27;s kappa</td><td>0.49</td><td>0.43</td>" in html
    assert "<td>Spearman, gig</td><td>0.7 (9)</td>" in html
    assert "<td>held_out_kappa</td><td>0.55</td><td>no</td>" in html


def test_user_skill_figures_count_only_labelled_postings(evidence):
    figures = userdata.skill_metrics(evidence.user.postings)
    assert figures["postings"] == 3
    assert figures["per_skill"]["ai_assisted_writing"] == {
        "precision": 1.0,
        "recall": 1.0,
        "support": 1,
        "predicted": 1,
    }
    assert figures["per_skill"]["prompt_engineering"]["precision"] == 0.0
    assert figures["per_skill"]["prompt_engineering"]["recall"] == 0.0


def test_a_report_without_evidence_says_what_is_missing():
    page_html = report.render({"version": "bare"}, report.Evidence())
    page = parse(page_html)
    assert set(page.images) == SECTIONS and not any(page.images.values())
    assert "No labelled duties were held out" in page_html
    assert "No per-skill figures" in page_html
