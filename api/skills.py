"""The AI-augmented skills taxonomy of the served model, and the schemas of skills in results."""

from flask import Blueprint, abort, current_app
from marshmallow import Schema, fields, validate

from models.skills import SOURCES

bp = Blueprint("skills", __name__, url_prefix="/v1/skills")


class EvidenceSchema(Schema):
    """A span of the description that supports a skill or a prohibition."""

    text = fields.String(required=True)
    start = fields.Integer(required=True, metadata={"description": "Offset in `description`."})
    end = fields.Integer(required=True, metadata={"description": "End offset, exclusive."})


class SkillSchema(Schema):
    """An AI-augmented skill the posting needs."""

    id = fields.String(required=True, metadata={"description": "A taxonomy id (GET /v1/skills)."})
    name = fields.String(required=True)
    score = fields.Float(
        required=True,
        metadata={
            "description": "0 to 1. Mentioned: 0.9 for a skill term, 0.75 for a generic AI term "
            "given to the skill by the words around it, 0.6 for one given to the fallback "
            "skill, raised by the English text model. Inferred: the highest duty probability."
        },
    )
    source = fields.String(
        required=True,
        validate=validate.OneOf(SOURCES),
        metadata={
            "description": "`mentioned`: the posting asks for it; the evidence is the terms. "
            "`inferred`: its duties are work the skill augments; the evidence is those duties."
        },
    )
    evidence = fields.List(fields.Nested(EvidenceSchema), required=True)


class AiPolicySchema(Schema):
    """Whether the posting forbids AI use ("no AI-generated content", "AI使用不可")."""

    prohibited = fields.Boolean(required=True)
    evidence = fields.List(fields.Nested(EvidenceSchema), required=True)


class NamesSchema(Schema):
    """A name in English, Japanese and Persian."""

    en = fields.String(required=True)
    ja = fields.String(required=True)
    fa = fields.String(required=True)


class TermsSchema(Schema):
    """Terms and tools that name a skill, per language."""

    en = fields.List(fields.String(), required=True)
    ja = fields.List(fields.String(), required=True)
    fa = fields.List(fields.String(), required=True)


class ActivitySchema(Schema):
    """An O*NET Intermediate Work Activity."""

    id = fields.String(required=True, metadata={"example": "4.A.4.a.1.I03"})
    title = fields.String(allow_none=True)


class ThresholdsSchema(Schema):
    """The score a skill needs to be in a result."""

    mentioned = fields.Float(required=True)
    inferred = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "Null when the skill is only found when a posting names it."},
    )


class TaxonomySkillSchema(Schema):
    """One skill of the taxonomy."""

    id = fields.String(required=True)
    name = fields.Nested(NamesSchema, required=True)
    description = fields.String(required=True)
    inferred = fields.Boolean(
        required=True, metadata={"description": "Whether the skill is also inferred from duties."}
    )
    iwas = fields.List(
        fields.Nested(ActivitySchema),
        required=True,
        metadata={"description": "O*NET work activities whose work the skill augments."},
    )
    terms = fields.Nested(TermsSchema, required=True)
    thresholds = fields.Nested(ThresholdsSchema, required=True)


class TaxonomySchema(Schema):
    """The AI-augmented skills a result can name."""

    version = fields.Integer(required=True)
    skills = fields.List(fields.Nested(TaxonomySkillSchema), required=True)


taxonomy_schema = TaxonomySchema()


@bp.get("")
def taxonomy() -> dict:
    """Return the skills taxonomy of the served model."""
    skills = current_app.extensions["scorer"].components.get("skills")
    if skills is None:
        abort(404, description="The served model has no skills component.")
    return taxonomy_schema.dump(skills.describe())
