"""GET /v1/skills, and the schemas of skills in results."""

import re

import numpy as np
import pytest
from flask import Flask

from api import create_app, skills
from models import artifact
from models.skills import REQUIRED_IDS, LinearModel, SkillModel, load_taxonomy
from training.skills import build_inferred_pipeline

PROBLEM_JSON = "application/problem+json"
TRANSLATION = "machine_translation_post_editing"
# Hand-written duties: translating ones carry the translation skill, the others nothing.
DUTIES = [
    ("Translate manuals and documents into Spanish", 1),
    ("Translate website text from English into German", 1),
    ("Translate product descriptions and user guides", 1),
    ("Lift boxes and load trucks in the warehouse", 0),
    ("Clean floors and restrooms in the building", 0),
    ("Answer customer questions by email", 0),
]


@pytest.fixture(scope="module")
def skills_model_dir(tiny_model_dir, tmp_path_factory):
    """Save the tiny exposure model with a skills component, with the real save function."""
    taxonomy = load_taxonomy()
    texts, labels = zip(*DUTIES, strict=True)
    pipeline = build_inferred_pipeline(taxonomy.glossary).fit(
        list(texts), np.array(labels)[:, None]
    )
    component = SkillModel(
        taxonomy,
        inferred=LinearModel(pipeline),
        inferred_ids=[TRANSLATION],
        thresholds={TRANSLATION: 0.5},
    )
    components, card = artifact.load(tiny_model_dir)
    directory = tmp_path_factory.mktemp("models") / "tiny-skills"
    artifact.save(
        {**components, "skills": component}, {**card, "version": "tiny-skills"}, directory
    )
    return directory


def _app(model_dir) -> Flask:
    app = create_app({"TESTING": True, "MODEL_DIR": str(model_dir)})
    if "skills" not in app.blueprints:
        app.register_blueprint(skills.bp)
    return app


@pytest.fixture
def skills_app(skills_model_dir) -> Flask:
    return _app(skills_model_dir)


def test_the_taxonomy_is_served(skills_app):
    response = skills_app.test_client().get("/v1/skills")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    served = {skill["id"]: skill for skill in body["skills"]}
    assert set(REQUIRED_IDS) <= set(served)
    for skill in served.values():
        assert all(skill["name"][language] for language in ("en", "ja", "fa"))
        assert all(re.match(r"^4\.A\.", iwa["id"]) for iwa in skill["iwas"])
        assert skill["thresholds"]["mentioned"] == 0.5
    assert served[TRANSLATION]["inferred"] is True
    assert served[TRANSLATION]["thresholds"]["inferred"] == 0.5
    assert served["prompt_engineering"]["thresholds"]["inferred"] is None
    assert "DeepL" in served[TRANSLATION]["terms"]["en"]


def test_a_model_without_skills_serves_no_taxonomy(tiny_model_dir):
    response = _app(tiny_model_dir).test_client().get("/v1/skills")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["detail"] == "The served model has no skills component."


def test_the_taxonomy_is_read_only(skills_app):
    response = skills_app.test_client().post("/v1/skills", json={})
    assert response.status_code == 405
    assert response.mimetype == PROBLEM_JSON
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_every_skill_a_result_names_is_in_the_served_taxonomy(skills_app):
    served = {s["id"] for s in skills_app.test_client().get("/v1/skills").get_json()["skills"]}
    scorer = skills_app.extensions["scorer"]
    results = scorer.score_many(
        [
            {"title": "Translator", "description": "- Translate manuals into Spanish with DeepL"},
            {"title": "Writer", "description": "生成AIを活用して記事を執筆。AI画像は不可。"},
            {"title": "نویسنده", "description": "آشنایی با چت‌جی‌پی‌تی برای تولید محتوا"},
        ]
    )
    named = [skill["id"] for result in results for skill in result["skills"]]
    assert len(set(named)) >= 2 and set(named) <= served


def test_the_result_schemas_dump_what_the_component_gives(skills_app):
    description = "- Translate manuals and documents into Spanish\n- No AI-generated text, please."
    result = skills_app.extensions["scorer"].score("Translator", description)
    entries = skills.SkillSchema(many=True).dump(result["skills"])
    assert entries == result["skills"] and entries[0]["source"] == "inferred"
    assert skills.SkillSchema(many=True).validate(entries) == {}
    policy = skills.AiPolicySchema().dump(result["ai_policy"])
    assert policy["prohibited"] is True and policy == result["ai_policy"]


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"id": "x", "name": "X", "score": 0.5, "source": "guessed", "evidence": []}, "source"),
        ({"id": "x", "name": "X", "score": 0.5, "source": "mentioned"}, "evidence"),
        ({"id": "x", "name": "X", "source": "inferred", "evidence": []}, "score"),
    ],
)
def test_the_skill_schema_rejects_a_malformed_entry(entry, field):
    assert set(skills.SkillSchema().validate(entry)) == {field}
