"""GET /v1/occupations/<code>, and the result schemas of the occupation fields."""

import pytest
from flask import Flask
from marshmallow import fields

from api import create_app
from api.occupations import (
    AutomationSchema,
    BlendSchema,
    DutyModeSchema,
    LensSchema,
    NeedsReviewSchema,
    OccupationMatchSchema,
)
from api.schemas import DutySchema, ExposureSchema, ResultSchema
from models.scorer import Scorer
from tests.models.test_occupations import TRANSLATION, build_tiny_occupation_model

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def app(tiny_model_dir) -> Flask:
    """The app around the tiny model, with the tiny occupations component."""
    app = create_app({"TESTING": True, "MODEL_DIR": str(tiny_model_dir)})
    scorer = app.extensions["scorer"]
    app.extensions["scorer"] = Scorer(
        {**scorer.components, "occupations": build_tiny_occupation_model()}, scorer.card
    )
    return app


def test_a_page_lists_the_occupation_tasks_and_measures(client):
    response = client.get("/v1/occupations/27-3091.00")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    page = response.get_json()
    assert page["code"] == "27-3091.00"
    assert page["title"] == "Interpreters and Translators"
    assert page["description"].startswith("Interpret")
    assert page["source"]
    assert len(page["tasks"]) == 4
    assert set(page["tasks"][0]) == {"id", "text", "label", "gpt4_label", "automation_level"}
    assert {task["label"] for task in page["tasks"]} <= {"E0", "E1", "E2"}
    measures = {measure["name"]: measure for measure in page["measures"]}
    assert measures["eloundou_human_beta"]["value"] == 0.8
    assert measures["eloundou_gpt4_beta"]["value"] == 0.85
    assert all(measure["source"] and measure["version"] for measure in page["measures"])


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        ("99-9999.00", "not among"),
        ("15-1299.00", "not among"),
        ("27-3091", "is not an O*NET-SOC 2019 occupation code"),
        ("translator", "is not an O*NET-SOC 2019 occupation code"),
        ("27-3091.00x", "is not an O*NET-SOC 2019 occupation code"),
    ],
)
def test_an_unknown_or_malformed_code_is_a_404_problem(client, code, detail):
    response = client.get(f"/v1/occupations/{code}")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert detail in body["detail"]


def test_a_model_without_occupations_answers_404(app, client):
    scorer = app.extensions["scorer"]
    components = {k: v for k, v in scorer.components.items() if k != "occupations"}
    app.extensions["scorer"] = Scorer(components, scorer.card)
    response = client.get("/v1/occupations/27-3091.00")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON
    assert "no occupation table" in response.get_json()["detail"]


def test_only_get_is_allowed(client):
    response = client.post("/v1/occupations/27-3091.00", json={})
    assert response.status_code == 405
    assert response.mimetype == PROBLEM_JSON
    assert "GET" in response.headers["Allow"]


class _Exposure(ExposureSchema):
    duty_score = fields.Float(required=True)
    blend = fields.Nested(BlendSchema, required=True)


class _Duty(DutySchema):
    mode = fields.Nested(DutyModeSchema, required=True)


class _Result(ResultSchema):
    """The result schema as the lead will extend it (see api/occupations.py)."""

    exposure = fields.Nested(_Exposure, required=True)
    duties = fields.List(fields.Nested(_Duty), required=True)
    occupations = fields.List(fields.Nested(OccupationMatchSchema), required=True)
    lenses = fields.List(fields.Nested(LensSchema), required=True)
    needs_review = fields.Nested(NeedsReviewSchema, required=True)
    automation = fields.Nested(AutomationSchema, required=True)


def test_the_result_schemas_dump_every_occupation_field(app):
    result = app.extensions["scorer"].score(**TRANSLATION)
    dumped = _Result().dump(result)
    assert dumped == result
    assert _Result().validate(dumped) == {}
