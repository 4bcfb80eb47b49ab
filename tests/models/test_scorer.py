import numpy as np
import pytest

from models.scorer import Scorer, aggregate, band


@pytest.mark.parametrize(
    ("rows", "alpha", "beta", "gamma"),
    [
        ([[1, 0, 0]], 0.0, 0.0, 0.0),
        ([[0, 1, 0]], 1.0, 1.0, 1.0),
        ([[0, 0, 1]], 0.0, 0.5, 1.0),
        # One duty of each label: alpha 1/3, beta (1 + 0.5) / 3, gamma 2/3.
        ([[1, 0, 0], [0, 1, 0], [0, 0, 1]], 0.3333, 0.5, 0.6667),
        ([[0.5, 0.25, 0.25]], 0.25, 0.375, 0.5),
    ],
)
def test_aggregate_gives_the_eloundou_shares(rows, alpha, beta, gamma):
    exposure = aggregate(np.array(rows, dtype=float), np.ones(len(rows)))
    assert (exposure.alpha, exposure.beta, exposure.gamma) == (alpha, beta, gamma)


def test_aggregate_counts_units_by_weight():
    rows = np.array([[0, 1, 0], [1, 0, 0]], dtype=float)
    assert aggregate(rows, np.array([3.0, 1.0])).alpha == 0.75


def test_aggregate_of_nothing_is_zero_with_no_confidence():
    exposure = aggregate(np.zeros((0, 3)), np.zeros(0))
    assert exposure.beta == 0.0 and exposure.confidence == 0.0


def test_confidence_rises_with_evidence_and_certainty():
    unsure = np.array([[1 / 3, 1 / 3, 1 / 3]])
    surer = np.array([[0.1, 0.8, 0.1]])
    one = aggregate(unsure, np.ones(1)).confidence
    ten = aggregate(np.repeat(unsure, 10, axis=0), np.ones(10)).confidence
    assert 0 < one < ten < 1
    assert aggregate(surer, np.ones(1)).confidence > one
    # The prior is worth one unit of maximal uncertainty: one sure unit gives 1 - 2 * 0.5 / 2.
    assert aggregate(np.array([[0.0, 1.0, 0.0]]), np.ones(1)).confidence == 0.5
    assert aggregate(np.repeat([[0.0, 1.0, 0.0]], 9, axis=0), np.ones(9)).confidence == 0.9


@pytest.mark.parametrize(
    ("score", "expected"), [(0.0, "low"), (0.29, "low"), (0.3, "moderate"), (0.5, "high")]
)
def test_band_uses_the_card_thresholds(score, expected):
    assert band(score, {"moderate": 0.3, "high": 0.5}) == expected


@pytest.fixture(scope="module")
def scorer(tiny_model_dir):
    return Scorer.load(tiny_model_dir)


def test_scorer_ranks_writing_above_manual_work(scorer):
    writing = scorer.score("Content writer", "- Write blog posts\n- Edit articles for grammar")
    roofing = scorer.score("Roofer", "- Install roofing shingles\n- Lift heavy boxes")
    assert writing["exposure"]["score"] > roofing["exposure"]["score"]
    assert [d["label"] for d in roofing["duties"]] == ["E0", "E0"]


def test_duties_carry_offsets_into_the_description(scorer):
    description = "Responsibilities:\n- Translate manuals into German\n- Answer customer emails"
    result = scorer.score("Translator", description, id="p-1")
    assert result["id"] == "p-1"
    for duty in result["duties"]:
        assert description[duty["start"] : duty["end"]] == duty["text"]
        assert sum(duty["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert result["model"]["version"] == "tiny-test"
    assert len(result["model"]["sha256"]) == 12


def test_only_duties_drive_the_score(scorer):
    duties = "Responsibilities:\n- Wash dishes and clean the kitchen floors\n"
    boilerplate = (
        "Benefits:\n- We offer health insurance and paid time off\n"
        "We are an equal opportunity employer and welcome all applicants.\n"
    )
    alone = scorer.score("Dishwasher", duties)
    with_boilerplate = scorer.score("Dishwasher", duties + boilerplate)
    assert alone["exposure"] == with_boilerplate["exposure"]
    assert len(with_boilerplate["duties"]) == 1


def test_a_posting_without_duties_falls_back_to_title_and_text(scorer):
    result = scorer.score("Translate my manual into Spanish", "Budget $200.")
    assert result["duties"] == []
    assert result["exposure"]["basis"] in {"title", "text"}
    assert result["exposure"]["score"] > 0
    assert result["exposure"]["confidence"] < 0.5


def test_scoring_is_deterministic_and_batch_equals_single(scorer):
    postings = [
        {"id": "a", "title": "Writer", "description": "Write blog posts about gardening."},
        {"id": "b", "title": "Roofer", "description": "Install roofing shingles."},
    ]
    batch = scorer.score_many(postings)
    assert batch == scorer.score_many(postings)
    assert batch == [scorer.score(p["title"], p["description"], p["id"]) for p in postings]


class _CountDuties:
    """An enricher that reports what the scorer gave it."""

    def enrich(self, context, result):
        result["seen"] = {
            "duties": [unit.text for unit in context.duties],
            "rows": context.duty_probabilities.shape,
            "kinds": sorted({unit.kind for unit in context.units}),
        }


def test_enrichers_see_the_units_and_duty_probabilities(tiny_model_dir):
    from models import artifact

    components, card = artifact.load(tiny_model_dir)
    scorer = Scorer({**components, "count": _CountDuties()}, card)
    description = "Duties:\n- Write blog posts\n- Edit articles\nBenefits:\n- Health insurance"
    seen = scorer.score("Writer", description)["seen"]
    assert seen == {
        "duties": ["Write blog posts", "Edit articles"],
        "rows": (2, 3),
        "kinds": ["benefit", "duty"],
    }
