"""The occupations component on a tiny hand-built table: coding, lenses, blend, review, modes."""

import copy
import pickle

import numpy as np
import pytest

from models.occupations import (
    FEATURES,
    LENSES,
    Blend,
    OccupationCoder,
    OccupationModel,
    OccupationTable,
    Publication,
    Review,
    clean_title,
    occupation_beta,
    service_phrases,
    title_head,
    vectorize,
)
from models.scorer import Scorer
from training.occupations import build_automation_pipeline

# code, title, description, human and GPT-4 alpha/beta/gamma, job titles, tasks (text, human
# label, GPT-4 label, GPT-4 automation level).
OCCUPATIONS = [
    (
        "27-3091.00",
        "Interpreters and Translators",
        "Interpret spoken language or translate written text from one language into another.",
        (0.70, 0.80, 0.90, 0.75, 0.85, 0.95),
        ["Translator", "Interpreter", "Document Translator", "Spanish Translator"],
        [
            ("Translate documents and manuals into another language", "E1", "E1", 3),
            ("Proofread translated documents for grammar and meaning", "E1", "E1", 3),
            ("Interpret spoken conversations between two languages", "E2", "E1", 2),
            ("Translate website text and product documents", "E1", "E1", 4),
        ],
    ),
    (
        "47-2152.00",
        "Plumbers, Pipefitters, and Steamfitters",
        "Assemble, install and repair pipes, fittings and fixtures of water and drainage systems.",
        (0.00, 0.05, 0.10, 0.05, 0.10, 0.20),
        ["Plumber", "Pipefitter", "Plumbing Technician", "Journeyman Plumber"],
        [
            ("Repair leaking pipes and install plumbing fixtures", "E0", "E0", 0),
            ("Install water pipes and drainage pipes in buildings", "E0", "E0", 0),
            ("Cut and bend pipes to install fixtures", "E0", "E0", 0),
            ("Estimate the cost of plumbing repairs for customers", "E2", "E2", 1),
        ],
    ),
    (
        "43-9021.00",
        "Data Entry Keyers",
        "Enter data from source documents into a computer database or spreadsheet.",
        (0.30, 0.60, 0.90, 0.35, 0.65, 0.95),
        ["Data Entry Clerk", "Data Entry Operator", "Data Keyer", "Data Entry Specialist"],
        [
            ("Enter customer records into the database", "E2", "E2", 3),
            ("Compare entered data with source documents and correct errors", "E2", "E1", 3),
            ("Update spreadsheets with customer data", "E2", "E2", 2),
            ("Scan source documents into the database", "E2", "E2", 2),
        ],
    ),
    (
        "53-7062.00",
        "Laborers and Freight, Stock, and Material Movers, Hand",
        "Move freight, stock and other materials by hand to and from trucks and warehouses.",
        (0.00, 0.00, 0.00, 0.00, 0.05, 0.10),
        ["Warehouse Worker", "Material Handler", "Warehouse Laborer", "Freight Handler"],
        [
            ("Load and unload trucks in the warehouse", "E0", "E0", 0),
            ("Move boxes and freight in the warehouse by hand", "E0", "E0", 0),
            ("Stack freight on pallets for shipping", "E0", "E0", 0),
            ("Record freight counts on shipping forms", "E2", "E2", 1),
        ],
    ),
]
AUTOMATION_EXAMPLES = [
    ("Translate documents into another language", True),
    ("Translate website text into another language", True),
    ("Enter customer records into the database", True),
    ("Enter data records into the spreadsheet", True),
    ("Advise customers on plumbing repairs and costs", False),
    ("Advise managers on warehouse shipping plans", False),
    ("Interpret conversations for customers", False),
    ("Interpret meetings for managers", False),
]
BANDS = {"moderate": 0.3, "high": 0.5}
# What clients call each occupation's work when they do not name the job.
SERVICES = {
    "27-3091.00": ["document translation", "subtitles", "localization"],
    "47-2152.00": ["leak repair", "drain unclogging", "water heater install"],
    "43-9021.00": ["data entry", "spreadsheet entry", "records digitizing"],
    "53-7062.00": ["moving help", "furniture moving", "truck unloading"],
}


def build_tiny_occupation_model() -> OccupationModel:
    """Build the occupations component from the hand-written table above."""
    tasks = [(row, *task) for row, occupation in enumerate(OCCUPATIONS) for task in occupation[5]]
    labels = ("E0", "E1", "E2")
    table = OccupationTable(
        codes=np.array([o[0] for o in OCCUPATIONS]),
        titles=[o[1] for o in OCCUPATIONS],
        descriptions=[o[2] for o in OCCUPATIONS],
        measures=np.array([o[3] for o in OCCUPATIONS], dtype=np.float32),
        task_owners=np.array([t[0] for t in tasks], dtype=np.int16),
        task_ids=np.arange(100, 100 + len(tasks), dtype=np.int32),
        task_texts=[t[1] for t in tasks],
        task_labels=np.array([labels.index(t[2]) for t in tasks], dtype=np.int8),
        task_gpt4_labels=np.array([labels.index(t[3]) for t in tasks], dtype=np.int8),
        task_automation=np.array([t[4] for t in tasks], dtype=np.int8),
    )
    titles = [(row, title) for row, o in enumerate(OCCUPATIONS) for title in (o[1], *o[4])]
    documents = table.task_texts + table.descriptions
    owners = np.r_[table.task_owners, np.arange(len(OCCUPATIONS))]
    phrases = [(row, phrase) for row, o in enumerate(OCCUPATIONS) for phrase in SERVICES[o[0]]]
    services = service_phrases(
        [p for _, p in phrases], np.array([r for r, _ in phrases]), len(OCCUPATIONS)
    )
    coder = OccupationCoder(weights=(8.0, 8.0, 20.0, 6.0, 3.0, 4.0, 4.0)).fit(
        [t for _, t in titles],
        np.array([r for r, _ in titles]),
        documents,
        owners,
        len(OCCUPATIONS),
        services,
    )
    texts, targets = zip(*AUTOMATION_EXAMPLES, strict=True)
    automation = build_automation_pipeline().fit(list(texts), list(targets))
    return OccupationModel(
        table=table,
        coder=coder,
        automation=automation,
        blend=Blend(duty_floor=0.1, occupation_floor=0.1),
        review=Review(min_probability=0.5, margin=0.3),
        publication=Publication("Test citation", "occ_level.csv", "occ_level.csv sha256 test"),
        bands=BANDS,
        taxonomy="O*NET test table",
    )


@pytest.fixture(scope="module")
def occupation_model() -> OccupationModel:
    return build_tiny_occupation_model()


@pytest.fixture(scope="module")
def scorer(tiny_model_dir, occupation_model) -> Scorer:
    base = Scorer.load(tiny_model_dir)
    return Scorer({**base.components, "occupations": occupation_model}, base.card)


TRANSLATION = {
    "title": "Spanish translator needed",
    "description": "Responsibilities:\n- Translate our user manuals into Spanish\n"
    "- Proofread the translated documents\n\nBenefits:\n- Remote work",
}


def test_a_posting_gets_five_occupations_sorted_by_probability(scorer):
    result = scorer.score(**TRANSLATION)
    occupations = result["occupations"]
    assert len(occupations) == min(5, len(OCCUPATIONS))
    assert occupations[0]["code"] == "27-3091.00"
    assert occupations[0]["title"] == "Interpreters and Translators"
    probabilities = [o["probability"] for o in occupations]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0.99 <= sum(probabilities) <= 1.01


@pytest.mark.parametrize(
    ("title", "description", "code"),
    [
        ("Plumber", "Fix a leaking pipe under the kitchen sink.", "47-2152.00"),
        ("Warehouse help", "- Load and unload trucks\n- Stack boxes on pallets", "53-7062.00"),
        ("Need help with spreadsheets", "- Enter customer records into our database", "43-9021.00"),
    ],
)
def test_the_description_codes_a_vague_title(scorer, title, description, code):
    assert scorer.score(title, description)["occupations"][0]["code"] == code


def test_lenses_are_the_top_occupations_published_betas_with_source_and_version(scorer):
    lenses = scorer.score(**TRANSLATION)["lenses"]
    assert [(lens["rater"], lens["name"]) for lens in lenses] == [
        (rater, f"eloundou_{rater}_{measure}") for rater, measure in LENSES
    ]
    assert [lens["value"] for lens in lenses] == [0.8, 0.85]
    for lens in lenses:
        assert lens["occupation"] == "27-3091.00"
        assert lens["version"] == "occ_level.csv sha256 test"
    assert lenses[0]["source"].endswith("column human_rating_beta")
    assert lenses[1]["source"].endswith("column dv_rating_beta")


def test_the_blend_keeps_the_duty_score_and_its_parts(tiny_model_dir, scorer):
    plain = Scorer.load(tiny_model_dir).score(**TRANSLATION)["exposure"]
    exposure = scorer.score(**TRANSLATION)["exposure"]
    assert exposure["duty_score"] == plain["score"]
    assert exposure["beta"] == plain["beta"]
    parts = exposure["blend"]
    assert parts["duties"]["score"] == plain["score"]
    assert parts["duties"]["weight"] + parts["occupation"]["weight"] == pytest.approx(1, abs=2e-4)
    expected = (
        parts["duties"]["weight"] * parts["duties"]["score"]
        + parts["occupation"]["weight"] * parts["occupation"]["score"]
    )
    assert exposure["score"] == pytest.approx(expected, abs=1e-3)
    assert exposure["band"] == ("high" if exposure["score"] >= 0.5 else "moderate")


def test_the_occupation_weighs_more_when_the_duties_say_little(scorer):
    one_line = scorer.score("Spanish translator", "Translate a manual.")["exposure"]["blend"]
    many = scorer.score(
        "Spanish translator",
        "Duties:\n" + "\n".join(f"- Translate user manual chapter {n}" for n in range(12)),
    )["exposure"]["blend"]
    assert one_line["occupation"]["weight"] > many["occupation"]["weight"]


def test_blend_weights_follow_each_parts_variance():
    blend = Blend(duty_floor=0.1, occupation_floor=0.1)
    duty, occupation = blend.weights(np.array([0.0, 0.3]), np.array([0.0, 0.0]))
    assert duty[0] == pytest.approx(0.5)
    assert duty[1] == pytest.approx(0.01 / (0.1 + 0.01))
    np.testing.assert_allclose(duty + occupation, 1.0)


def test_occupation_beta_is_the_expectation_and_its_spread():
    mean, spread = occupation_beta(np.array([0.5, 0.5]), np.array([0.2, 0.6]))
    assert mean == pytest.approx(0.4)
    assert spread == pytest.approx(0.2)


def test_a_clear_english_posting_needs_no_review(scorer):
    review = scorer.score(**TRANSLATION)["needs_review"]
    assert review == {"flag": False, "reasons": []}


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"probability": 0.3, "duty_score": 0.5, "published": 0.5, "language": "en"},
         "occupation_uncertain"),
        ({"probability": 0.9, "duty_score": 0.9, "published": 0.1, "language": "en"},
         "score_disagrees_with_occupation"),
        ({"probability": 0.9, "duty_score": 0.5, "published": 0.5, "language": "ja"},
         "language_not_english"),
        ({"probability": 0.9, "duty_score": 0.5, "published": 0.5, "language": "und"}, None),
    ],
)  # fmt: skip
def test_each_review_reason_is_raised_alone(kwargs, code):
    reasons = Review(min_probability=0.5, margin=0.3).reasons(**kwargs)
    assert [reason["code"] for reason in reasons] == ([code] if code else [])
    assert all(reason["detail"] for reason in reasons)


def test_a_japanese_title_degrades_to_low_probabilities(scorer):
    result = scorer.score("倉庫スタッフ", "倉庫での荷物の積み下ろし作業です。")
    assert result["occupations"][0]["probability"] < 0.5
    codes = [reason["code"] for reason in result["needs_review"]["reasons"]]
    assert "occupation_uncertain" in codes


def test_each_duty_gets_a_mode_and_the_shares_split_gamma(scorer):
    result = scorer.score(**TRANSLATION)
    assert result["duties"]
    for duty in result["duties"]:
        mode = duty["mode"]
        assert mode["automation"] + mode["augmentation"] == pytest.approx(1, abs=2e-4)
        expected = "automation" if mode["automation"] >= 0.5 else "augmentation"
        assert mode["label"] == expected
    shares = result["automation"]
    total = shares["automation_share"] + shares["augmentation_share"]
    assert total == pytest.approx(result["exposure"]["gamma"], abs=2e-4)


def test_a_posting_without_duties_still_gets_shares(scorer):
    result = scorer.score("Translator", "Translate my letter.")
    assert set(result["automation"]) == {"automation_share", "augmentation_share"}
    assert all(0 <= value <= 1 for value in result["automation"].values())


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("Subtitles for my cooking videos", "27-3091.00"),
        ("Unclog my kitchen drain", "47-2152.00"),
        ("Moving help this Saturday", "53-7062.00"),
    ],
)
def test_a_gig_that_names_the_work_not_the_job_is_coded_by_its_service(
    occupation_model, title, code
):
    features = occupation_model.coder.features([title], [""])[0]
    services = features[FEATURES.index("title_services")]
    assert occupation_model.table.codes[services.argmax()] == code
    assert services.max() > 0.5
    probabilities = occupation_model.coder.predict_proba([title], [""])[0]
    assert occupation_model.table.codes[probabilities.argmax()] == code


def test_service_phrases_in_the_text_count_too(occupation_model):
    text = "I have a spreadsheet of 500 rows; data entry from scanned forms."
    features = occupation_model.coder.features(["Quick gig"], [text])[0]
    shares = features[FEATURES.index("text_services")]
    assert occupation_model.table.codes[shares.argmax()] == "43-9021.00"
    assert shares.max() == pytest.approx(1.0)
    assert not features[FEATURES.index("title_services")].any()


def test_a_coder_saved_before_service_phrases_loads_and_codes_as_before(occupation_model):
    coder = copy.deepcopy(occupation_model.coder)
    coder.services = None
    coder.weights = coder.weights[:3]
    state = coder.__getstate__()
    del state["services"]  # as saved by a version without service phrases
    old = OccupationCoder.__new__(OccupationCoder)
    old.__setstate__(state)
    assert old.services is None and list(old.weights) == [8.0, 8.0, 20.0, 0.0, 0.0, 0.0, 0.0]
    titles, texts = ["Plumber wanted", "Moving help"], ["Repair pipes", ""]
    three = old.features(titles, texts)[:, :3]
    expected = np.tensordot(three, np.array([8.0, 8.0, 20.0], np.float32), axes=([1], [0]))
    np.testing.assert_allclose(old.logits(old.features(titles, texts)), expected, rtol=1e-6)


def test_the_component_pickles_and_rebuilds_its_title_index(occupation_model):
    restored = pickle.loads(pickle.dumps(occupation_model))
    assert "_title_matrix" not in occupation_model.coder.__getstate__()
    titles, texts = ["Plumber wanted", "Data keyer"], ["Repair pipes", ""]
    np.testing.assert_array_equal(
        restored.coder.predict_proba(titles, texts),
        occupation_model.coder.predict_proba(titles, texts),
    )
    assert restored.page("47-2152.00") == occupation_model.page("47-2152.00")


def test_a_page_has_the_occupation_its_tasks_and_measures(occupation_model):
    page = occupation_model.page("43-9021.00")
    assert page["title"] == "Data Entry Keyers"
    assert page["description"].startswith("Enter data")
    assert page["source"] == "O*NET test table"
    assert [task["text"] for task in page["tasks"]] == [t[0] for t in OCCUPATIONS[2][5]]
    assert [task["label"] for task in page["tasks"]] == ["E2"] * 4
    assert page["tasks"][0]["automation_level"] == "T3"
    names = {measure["name"]: measure["value"] for measure in page["measures"]}
    assert names["eloundou_human_beta"] == 0.6
    assert names["eloundou_gpt4_gamma"] == 0.95
    assert len(names) == 6


@pytest.mark.parametrize("code", ["99-9999.00", "43-9021", "", "43-9021.00 "])
def test_an_unknown_code_has_no_page(occupation_model, code):
    assert occupation_model.page(code) is None


@pytest.mark.parametrize(
    ("title", "cleaned"),
    [
        ("Stocker - Grocery ($18.75/hr + Night Premium)", "Stocker - Grocery + Night Premium"),
        ("CNA - $500 Sign-On Bonus", "CNA - Sign-On Bonus"),
        ("Programmer Analyst II", "Programmer Analyst II"),
    ],
)  # fmt: skip
def test_clean_title_drops_pay_and_numbers(title, cleaned):
    assert clean_title(title) == cleaned


def test_vectorize_equals_the_vectorizers_own_transform(occupation_model):
    coder = occupation_model.coder
    texts = ["Spanish translator", "Repair pipes; repair pipes!", "", "倉庫スタッフ"]
    for vectorizer in (
        coder.title_words,
        coder.title_characters,
        coder.description_words,
        occupation_model.automation.features,
    ):
        np.testing.assert_allclose(
            vectorize(vectorizer, texts).toarray(), vectorizer.transform(texts).toarray(), atol=1e-6
        )


def test_the_automation_probability_is_the_pipelines(occupation_model):
    examples, targets = zip(*AUTOMATION_EXAMPLES, strict=True)
    pipeline = build_automation_pipeline().fit(list(examples), list(targets))
    texts = ["Translate a manual", "Advise customers", "Load trucks"]
    expected = pipeline.predict_proba(texts)[:, 1]
    np.testing.assert_allclose(occupation_model._automation_probability(texts), expected)


def test_a_model_saved_with_the_automation_pipeline_still_loads(occupation_model):
    examples, targets = zip(*AUTOMATION_EXAMPLES, strict=True)
    pipeline = build_automation_pipeline().fit(list(examples), list(targets))
    old = pickle.loads(pickle.dumps(occupation_model))
    old.automation = pipeline
    loaded = pickle.loads(pickle.dumps(old))
    texts = ["Translate a manual", "Load trucks"]
    np.testing.assert_array_equal(
        loaded._automation_probability(texts), occupation_model._automation_probability(texts)
    )


@pytest.mark.parametrize(
    ("title", "head"),
    [
        ("Warehouse Associate - 2nd shift $19/hr", "Warehouse Associate"),
        ("Growth Rep \u2013 Commercial Cleaning", "Growth Rep"),
        ("GM | Craft Brewery & Taproom", "GM"),
        ("Senior Financial Analyst, FP&A", "Senior Financial Analyst"),
        ("Translator (Japanese to English)", "Translator"),
        ("Lawyer to review SaaS contract", "Lawyer"),
        ("Hairstylist for wedding party", "Hairstylist"),
        ("Support Engineer: Tier 2", "Support Engineer"),
        # No qualifier, or nothing before it: the whole title, cleaned.
        ("SBA Loan Associate", "SBA Loan Associate"),
        ("(Remote) Data Analyst", "Remote Data Analyst"),
        ("Plumber/Pipefitter", "Plumber/Pipefitter"),
        ("\u5009\u5eab\u30b9\u30bf\u30c3\u30d5", "\u5009\u5eab\u30b9\u30bf\u30c3\u30d5"),
    ],
)
def test_a_titles_head_is_the_role_before_its_first_qualifier(title, head):
    assert title_head(title) == head


def test_head_features_read_the_role_apart_from_what_qualifies_it(occupation_model):
    coder = occupation_model.coder
    qualified = "Plumber - Translation Agency Office"
    features = coder.features([qualified, "Plumber"], ["", ""])
    head = [FEATURES.index("head_centroid"), FEATURES.index("head_nearest")]
    title = [FEATURES.index("title_centroid"), FEATURES.index("title_nearest")]
    # The qualified title's head features are those of its head alone...
    np.testing.assert_allclose(features[0, head], features[1, title], rtol=1e-6)
    # ...while its title features also read the qualifier, and a bare title repeats its own.
    assert not np.allclose(features[0, title], features[1, title])
    np.testing.assert_array_equal(features[1, head], features[1, title])
    codes = occupation_model.table.codes
    assert codes[features[0, head[0]].argmax()] == "47-2152.00"


def test_english_duties_enter_the_blend_through_its_line(tiny_model_dir, occupation_model):
    base = Scorer.load(tiny_model_dir)
    lined = copy.deepcopy(occupation_model)
    lined.blend = Blend(duty_floor=0.1, occupation_floor=0.1, duty_intercept=0.1, duty_slope=0.5)
    scorer = Scorer({**base.components, "occupations": lined}, base.card)
    exposure = scorer.score(**TRANSLATION)["exposure"]
    parts = exposure["blend"]
    assert parts["duties"]["score"] == pytest.approx(0.1 + 0.5 * exposure["duty_score"], abs=1e-4)
    assert parts["duties"]["score"] != exposure["duty_score"]
    expected = (
        parts["duties"]["weight"] * parts["duties"]["score"]
        + parts["occupation"]["weight"] * parts["occupation"]["score"]
    )
    assert exposure["score"] == pytest.approx(expected, abs=1e-3)
    # Duties in another language are scored by other heads, and enter as they are.
    other = scorer.score_many([{**TRANSLATION, "id": None, "language": "es"}])[0]["exposure"]
    assert other["blend"]["duties"]["score"] == other["duty_score"]


def test_the_blend_line_clips_to_the_unit_range_and_defaults_to_the_score_itself():
    np.testing.assert_allclose(Blend(0.1, 0.1).duty_estimate([0.0, 0.4, 1.0]), [0.0, 0.4, 1.0])
    lined = Blend(0.1, 0.1, duty_intercept=-0.1, duty_slope=1.5)
    np.testing.assert_allclose(lined.duty_estimate([0.0, 0.4, 0.9]), [0.0, 0.5, 1.0])


def test_a_blend_saved_without_a_line_loads_with_the_score_itself():
    state = {"duty_floor": 0.2, "occupation_floor": 0.01}  # as pickled before the line
    old = Blend.__new__(Blend)
    old.__dict__.update(state)
    assert (old.duty_intercept, old.duty_slope) == (0.0, 1.0)
    restored = pickle.loads(pickle.dumps(old))
    assert restored == Blend(0.2, 0.01)
