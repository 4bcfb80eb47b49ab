"""Feedback: a user's corrections of a scored posting, stored for retraining (POST /v1/feedback).

A feedback names the posting by the `id` the caller gave when scoring it, or sends its `title`
and `description` again (or both), and corrects what it can: the band, beta, the label of each
duty, the skills added or removed, and a free comment. When the text is sent, it is scored again
by the served model, and what the model said is stored beside the corrections: it tells which
version was corrected, and turns "skills added or removed" into a posting's full list of skills
when the feedback is exported for training (`python -m training.export_feedback`).

The posting text is stored only here, with the feedback its sender chose to give; the scoring
endpoints keep none. A 201 is answered only after the row is committed: PostgreSQL syncs its
write-ahead log at commit, and a SQLite database is put in WAL mode with synchronous=FULL, so an
accepted feedback survives the server being killed.
"""

from datetime import UTC, datetime
from functools import cache

from flask import Blueprint, Flask, current_app, g, request
from flask.blueprints import BlueprintSetupState
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    String,
    Table,
    Text,
    event,
    insert,
)

from api import database
from api.schemas import BANDS, LABELS, NOT_BLANK, Limit, not_blank
from api.scoring import score_many
from models.skills import load_taxonomy

MAX_DUTIES = 200
MAX_SKILLS = 50
MAX_COMMENT_CHARS = 4000
SOC_CODE = r"^\d{2}-\d{4}\.\d{2}$"
CORRECTIONS = ("band", "beta", "duties", "skills_added", "skills_removed", "comment")

feedback = Table(
    "feedback",
    database.metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The posting: the caller's id, its text, or both.
    Column("posting_id", String(128), nullable=True),
    Column("title", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("soc_code", String(10), nullable=True),
    # The corrections.
    Column("band", String(8), nullable=True),
    Column("beta", Float, nullable=True),
    Column("duties", JSON(none_as_null=True), nullable=True),  # [{"text", "label"}]
    Column("skills_added", JSON(none_as_null=True), nullable=True),  # [skill id]
    Column("skills_removed", JSON(none_as_null=True), nullable=True),
    Column("comment", Text, nullable=True),
    # The served model, and what it said of the posting when the text was sent.
    Column("model_version", String(64), nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column(
        "predicted", JSON(none_as_null=True), nullable=True
    ),  # {"beta", "band", "duties", "skills"}
    # The API key it came with, if any (api/keys).
    Column("api_key", String(64), nullable=True),
)


@cache
def skill_ids() -> frozenset[str]:
    """Return the ids of the skills taxonomy."""
    return frozenset(load_taxonomy().ids)


class DutyLabelSchema(Schema):
    """A duty of the posting and its correct label."""

    text = fields.String(
        required=True,
        validate=[not_blank, Limit("MAX_DESCRIPTION_CHARS")],
        metadata={**NOT_BLANK, "description": "The duty, as the score response gave it."},
    )
    label = fields.String(required=True, validate=validate.OneOf(LABELS))


def _skill_list(description: str) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(sorted(skill_ids()))),
        validate=validate.Length(max=MAX_SKILLS),
        metadata={"description": description},
    )


class FeedbackSchema(Schema):
    """Corrections of a scored posting, named by its id or sent again as text."""

    id = fields.String(
        validate=[not_blank, Limit("MAX_ID_CHARS")],
        metadata={**NOT_BLANK, "description": "The id the posting was scored with."},
    )
    title = fields.String(validate=[not_blank, Limit("MAX_TITLE_CHARS")], metadata=NOT_BLANK)
    description = fields.String(
        validate=[not_blank, Limit("MAX_DESCRIPTION_CHARS")], metadata=NOT_BLANK
    )
    soc_code = fields.String(
        validate=validate.Regexp(SOC_CODE, error="Not an O*NET-SOC code like 27-3091.00."),
        metadata={"description": "The posting's O*NET-SOC occupation, if known."},
    )
    band = fields.String(validate=validate.OneOf(BANDS), metadata={"description": "Correct band."})
    beta = fields.Float(
        allow_nan=False,
        validate=validate.Range(min=0.0, max=1.0),
        metadata={"description": "Correct exposure score (beta), 0 to 1."},
    )
    duties = fields.List(
        fields.Nested(DutyLabelSchema),
        validate=validate.Length(min=1, max=MAX_DUTIES),
        metadata={"description": "Correct labels of duties."},
    )
    skills_added = _skill_list("Skills the posting asks for that the result lacked.")
    skills_removed = _skill_list(
        "Skills in the result that the posting does not ask for; a skill in both lists counts "
        "as removed."
    )
    comment = fields.String(
        validate=[not_blank, validate.Length(max=MAX_COMMENT_CHARS)], metadata=NOT_BLANK
    )

    @validates_schema
    def _complete(self, data: dict, **kwargs) -> None:
        errors: dict[str, list[str]] = {}
        if "title" in data and "description" not in data:
            errors["description"] = ["Send the description with the title."]
        elif "description" in data and "title" not in data:
            errors["title"] = ["Send the title with the description."]
        elif "id" not in data and "description" not in data:
            errors["id"] = ["Name the scored posting by its id, or send its title and description."]
        if not any(name in data for name in CORRECTIONS):
            errors["_schema"] = [f"Give at least one of: {', '.join(CORRECTIONS)}."]
        if errors:
            raise ValidationError(errors)


# The rules FeedbackSchema._complete checks, as JSON Schema for the OpenAPI document: the text
# (title and description), or the id alone; and at least one correction.
DOCUMENTED_RULES = [
    {
        "anyOf": [
            {"required": ["title", "description"]},
            {
                "required": ["id"],
                "not": {"anyOf": [{"required": ["title"]}, {"required": ["description"]}]},
            },
        ]
    },
    {"anyOf": [{"required": [name]} for name in CORRECTIONS]},
]


class FeedbackCreatedSchema(Schema):
    """A stored feedback."""

    id = fields.Integer(required=True, metadata={"description": "The feedback's id."})


feedback_schema = FeedbackSchema()
created_schema = FeedbackCreatedSchema()

bp = Blueprint("feedback", __name__, url_prefix="/v1/feedback")


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    init_app(state.app)


def init_app(app: Flask) -> None:
    """Connect the app to its database, with SQLite made durable."""
    database.init_app(app)
    durable(app.extensions["database"])


def durable(engine: Engine) -> None:
    """Make each SQLite connection of an engine use WAL with a sync at every commit."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
        event.listen(engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    # WAL lets the workers read while one writes; FULL syncs the log at each commit, so a
    # committed row survives a crash of the process and of the machine.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


@bp.post("")
def create() -> tuple[dict, int]:
    """Store corrections of a scored posting."""
    item = feedback_schema.load(request.get_json())
    scorer = current_app.extensions["scorer"]
    predicted = None
    if "description" in item:
        posting = {"id": item.get("id"), "title": item["title"], "description": item["description"]}
        predicted = summarize(score_many([posting])[0])
    feedback_id = store(
        current_app.extensions["database"],
        item,
        scorer.version,
        scorer.sha256,
        predicted,
        getattr(g.get("api_key"), "name", None),
    )
    return created_schema.dump({"id": feedback_id}), 201


def summarize(result: dict) -> dict:
    """Keep what a score result says that feedback can correct."""
    return {
        "beta": result["exposure"]["beta"],
        "band": result["exposure"]["band"],
        "duties": [{"text": d["text"], "label": d["label"]} for d in result["duties"]],
        "skills": [s["id"] for s in result["skills"]] if "skills" in result else None,
    }


def store(
    engine: Engine,
    item: dict,
    model_version: str,
    model_sha256: str,
    predicted: dict | None,
    api_key: str | None = None,
) -> int:
    """Insert one feedback and commit it; return its id."""
    values = {
        "created_at": datetime.now(UTC),
        "posting_id": item.get("id"),
        "title": item.get("title"),
        "description": item.get("description"),
        "soc_code": item.get("soc_code"),
        "band": item.get("band"),
        "beta": item.get("beta"),
        "duties": item.get("duties"),
        "skills_added": item.get("skills_added"),
        "skills_removed": item.get("skills_removed"),
        "comment": item.get("comment"),
        "model_version": model_version,
        "model_sha256": model_sha256,
        "predicted": predicted,
        "api_key": api_key,
    }
    with engine.begin() as connection:
        result = connection.execute(insert(feedback).values(**values))
        return int(result.inserted_primary_key[0])
