"""Occupation pages (`GET /v1/occupations/<code>`) and the schemas of the result's new fields.

The result schemas here (occupations, lenses, the blend, needs_review, duty modes, automation)
are imported by api/schemas.py into the scoring result.
"""

from flask import Blueprint, current_app
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import NotFound

from models.occupations import AUTOMATION_LEVELS, CODE, MODES, RATERS, OccupationModel

LABELS = ("E0", "E1", "E2")
REVIEW_REASONS = (
    "language_not_english",
    "occupation_uncertain",
    "score_disagrees_with_occupation",
)

bp = Blueprint("occupations", __name__, url_prefix="/v1/occupations")


class PublishedMeasureSchema(Schema):
    """A published exposure measure of an occupation, named with its source and version."""

    name = fields.String(
        required=True, metadata={"description": "Measure, e.g. eloundou_human_beta."}
    )
    rater = fields.String(
        required=True,
        validate=validate.OneOf(RATERS),
        metadata={"description": "Who rated the tasks: human annotators or GPT-4."},
    )
    value = fields.Float(required=True, metadata={"description": "0 to 1."})
    source = fields.String(required=True, metadata={"description": "Publication, file and column."})
    version = fields.String(
        required=True, metadata={"description": "Which release of the data (file sha256)."}
    )


class LensSchema(PublishedMeasureSchema):
    """A published measure of the posting's top occupation, shown beside our score."""

    occupation = fields.String(
        required=True, metadata={"description": "O*NET-SOC code the measure is for."}
    )


class OccupationMatchSchema(Schema):
    """One candidate occupation of a posting."""

    code = fields.String(required=True, metadata={"example": "15-1252.00"})
    title = fields.String(required=True, metadata={"example": "Software Developers"})
    probability = fields.Float(required=True)


class BlendPartSchema(Schema):
    """One part of the blended score."""

    score = fields.Float(required=True)
    weight = fields.Float(required=True, metadata={"description": "The parts' weights sum to 1."})


class BlendSchema(Schema):
    """How `exposure.score` was blended from the duties and the occupation."""

    duties = fields.Nested(
        BlendPartSchema,
        required=True,
        metadata={"description": "The duties' score (`exposure.duty_score`)."},
    )
    occupation = fields.Nested(
        BlendPartSchema,
        required=True,
        metadata={
            "description": "The published human beta expected under the occupation "
            "probabilities (all candidates, not only the top five)."
        },
    )


class ReviewReasonSchema(Schema):
    """Why a posting needs review."""

    code = fields.String(required=True, validate=validate.OneOf(REVIEW_REASONS))
    detail = fields.String(required=True)


class NeedsReviewSchema(Schema):
    """Whether a person should check the posting's occupation and score, and why."""

    flag = fields.Boolean(required=True)
    reasons = fields.List(fields.Nested(ReviewReasonSchema), required=True)


class DutyModeSchema(Schema):
    """If AI takes part in a duty, whether it would more likely do it or help a person do it."""

    label = fields.String(required=True, validate=validate.OneOf(MODES))
    automation = fields.Float(
        required=True, metadata={"description": "P(AI would do it | the duty is exposed)."}
    )
    augmentation = fields.Float(
        required=True, metadata={"description": "P(AI would help a person do it | exposed)."}
    )


class AutomationSchema(Schema):
    """The posting's exposed share (gamma) split into automation and augmentation."""

    automation_share = fields.Float(
        required=True, metadata={"description": "Expected share of the work AI would do."}
    )
    augmentation_share = fields.Float(
        required=True,
        metadata={"description": "Expected share of the work AI would help a person do."},
    )


class OccupationTaskSchema(Schema):
    """One O*NET task statement of an occupation with its Eloundou et al. labels."""

    id = fields.Integer(required=True, metadata={"description": "O*NET Task ID (-1 if none)."})
    text = fields.String(required=True)
    label = fields.String(
        required=True,
        validate=validate.OneOf(LABELS),
        metadata={"description": "The human raters' exposure label."},
    )
    gpt4_label = fields.String(
        required=True, allow_none=True, metadata={"description": "GPT-4's exposure label."}
    )
    automation_level = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(AUTOMATION_LEVELS),
        metadata={"description": "GPT-4's automation level, T0 (none) to T4 (full)."},
    )


class OccupationPageSchema(Schema):
    """An occupation: its O*NET title, description and tasks, and its published measures."""

    code = fields.String(required=True, metadata={"example": "27-3091.00"})
    title = fields.String(required=True)
    description = fields.String(required=True)
    source = fields.String(
        required=True, metadata={"description": "Where the occupation data is from."}
    )
    tasks = fields.List(fields.Nested(OccupationTaskSchema), required=True)
    measures = fields.List(
        fields.Nested(PublishedMeasureSchema),
        required=True,
        metadata={"description": "Human and GPT-4 alpha, beta and gamma."},
    )


page_schema = OccupationPageSchema()


@bp.get("/<code>")
def occupation(code: str) -> dict:
    """Return an occupation's page."""
    model = _occupations()
    if not CODE.fullmatch(code):
        raise NotFound(f"'{code}' is not an O*NET-SOC 2019 occupation code like 15-1252.00.")
    page = model.page(code)
    if page is None:
        raise NotFound(
            f"Occupation {code} is not among the {len(model.codes)} occupations with exposure "
            "labels (O*NET 'All Other' and military codes have none)."
        )
    return page_schema.dump(page)


def _occupations() -> OccupationModel:
    component = current_app.extensions["scorer"].components.get("occupations")
    if component is None:
        raise NotFound("The served model has no occupation table.")
    return component
