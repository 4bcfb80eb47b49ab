"""Request and response bodies, as marshmallow schemas; the OpenAPI document is built from them.

Response schemas are nested (result -> exposure, duties, model) so that later fields such as
skills, occupations or language are one new field or one new nested schema away.
"""

from flask import current_app
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates

from api.occupations import (
    AutomationSchema,
    BlendSchema,
    DutyModeSchema,
    LensSchema,
    NeedsReviewSchema,
    OccupationMatchSchema,
)
from api.skills import AiPolicySchema, SkillSchema
from models.language import LANGUAGE_TAG, MAX_TAG_CHARS, is_code

BANDS = ("low", "moderate", "high")
LABELS = ("E0", "E1", "E2")


class Limit(validate.Validator):
    """Reject a string or list longer than the app setting `setting` allows."""

    def __init__(self, setting: str, error: str = "Longer than maximum length {maximum}."):
        self.setting = setting
        self.error = error

    def _repr_args(self) -> str:
        return f"setting={self.setting!r}"

    @property
    def maximum(self) -> int:
        """Return the limit in force in the current app."""
        # Read at request time: limits are settings, and a schema class is built only once.
        return current_app.config[self.setting]

    def __call__(self, value):
        maximum = self.maximum
        if len(value) > maximum:
            raise ValidationError(self.error.format(maximum=maximum))
        return value


def not_blank(value: str) -> None:
    """Reject a string that is empty or only whitespace."""
    if not value.strip():
        raise ValidationError("Must not be empty or only whitespace.")


def language_tag(value: str) -> None:
    """Reject a string that is not a BCP 47 language tag."""
    if not is_code(value):
        raise ValidationError("Not a language tag such as 'en', 'ja' or 'fa-IR'.")


# A string with at least one non-whitespace character, for the OpenAPI document.
NOT_BLANK = {"minLength": 1, "pattern": r"\S"}


class PostingSchema(Schema):
    """A job posting to score."""

    title = fields.String(
        required=True,
        validate=[not_blank, Limit("MAX_TITLE_CHARS")],
        metadata={**NOT_BLANK, "description": "Job title.", "example": "Content writer"},
    )
    description = fields.String(
        required=True,
        validate=[not_blank, Limit("MAX_DESCRIPTION_CHARS")],
        metadata={
            **NOT_BLANK,
            "description": "Posting text: plain text, Markdown or HTML. Duty offsets in the "
            "result index into this string as sent.",
            "example": "Responsibilities:\n- Write articles for our blog\n- Translate manuals",
        },
    )
    id = fields.String(
        load_default=None,
        allow_none=True,
        validate=Limit("MAX_ID_CHARS"),
        metadata={"description": "Caller's identifier, echoed in the result."},
    )
    language = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=MAX_TAG_CHARS), language_tag],
        metadata={
            "pattern": LANGUAGE_TAG,
            "description": "The posting's language as a BCP 47 tag (`en`, `ja`, `fa-IR`); "
            "detected from the text when absent.",
            "example": "ja",
        },
    )


class BatchSchema(Schema):
    """Postings to score together."""

    postings = fields.List(
        fields.Nested(PostingSchema),
        required=True,
        validate=[
            validate.Length(min=1),
            Limit("MAX_BATCH", error="More than the maximum of {maximum} postings."),
        ],
        metadata={"description": "Postings to score; results come back in the same order."},
    )

    @validates("postings")
    def total_characters(self, postings: list[dict], **kwargs) -> None:
        """Refuse a batch whose titles and descriptions are too long to score together."""
        maximum = current_app.config["MAX_BATCH_CHARS"]
        # Postings that failed their own validation may be partial; they are reported anyway.
        total = sum(
            len(value)
            for posting in postings
            if isinstance(posting, dict)
            for value in (posting.get("title"), posting.get("description"))
            if isinstance(value, str)
        )
        if total > maximum:
            raise ValidationError(
                f"The postings hold {total} characters; at most {maximum} in one batch."
            )


class ProbabilitiesSchema(Schema):
    """Probabilities of each exposure label for one duty."""

    E0 = fields.Float(required=True, metadata={"description": "No exposure."})
    E1 = fields.Float(
        required=True, metadata={"description": "Direct exposure: a language model alone."}
    )
    E2 = fields.Float(
        required=True,
        metadata={"description": "Exposure with software built on a language model."},
    )


class DutySchema(Schema):
    """One duty found in the description and its exposure label."""

    text = fields.String(required=True)
    start = fields.Integer(required=True, metadata={"description": "Offset in `description`."})
    end = fields.Integer(required=True, metadata={"description": "End offset, exclusive."})
    label = fields.String(required=True, validate=validate.OneOf(LABELS))
    probabilities = fields.Nested(ProbabilitiesSchema, required=True)
    mode = fields.Nested(DutyModeSchema)


class ExposureSchema(Schema):
    """The posting's exposure: Eloundou et al. (2023) shares over its scored units."""

    score = fields.Float(
        required=True,
        metadata={
            "description": "The headline score, 0 to 1: the duties' beta blended with the "
            "published beta of the posting's likely occupations (see `blend`); the duties' "
            "beta alone when the model has no occupations component."
        },
    )
    duty_score = fields.Float(
        metadata={"description": "The duties' (and title's) beta alone, before the blend."}
    )
    blend = fields.Nested(BlendSchema)
    band = fields.String(required=True, validate=validate.OneOf(BANDS))
    alpha = fields.Float(required=True, metadata={"description": "Expected share of E1."})
    beta = fields.Float(required=True, metadata={"description": "Expected share of E1 + E2/2."})
    gamma = fields.Float(required=True, metadata={"description": "Expected share of E1 + E2."})
    confidence = fields.Float(
        required=True, metadata={"description": "0 to 1; grows with evidence and certainty."}
    )
    basis = fields.String(
        required=True,
        validate=validate.OneOf(("duties", "text", "title")),
        metadata={
            "description": "What the description contributed: `duties`; `text` when it has "
            "no duties (its other and requirement sentences were scored); `title` when it "
            "had nothing to score. The title is always scored as one more unit.",
        },
    )


class ModelRefSchema(Schema):
    """The model that produced a result."""

    version = fields.String(required=True)
    sha256 = fields.String(
        required=True, metadata={"description": "Prefix of the artifact's sha256."}
    )


class ResultSchema(Schema):
    """The exposure of one posting, explained duty by duty."""

    id = fields.String(required=True, allow_none=True)
    exposure = fields.Nested(ExposureSchema, required=True)
    duties = fields.List(fields.Nested(DutySchema), required=True)
    language = fields.String(
        required=True,
        metadata={
            "description": "ISO 639-1 code of the posting's language, as stated or detected; "
            "`und` when the text has no letters.",
            "example": "ja",
        },
    )
    language_supported = fields.Boolean(
        required=True,
        metadata={
            "description": "True for English, Japanese and Persian. Other languages are scored "
            "all the same, with the confidence halved."
        },
    )
    occupations = fields.List(fields.Nested(OccupationMatchSchema))
    lenses = fields.List(fields.Nested(LensSchema))
    needs_review = fields.Nested(NeedsReviewSchema)
    automation = fields.Nested(AutomationSchema)
    skills = fields.List(
        fields.Nested(SkillSchema),
        metadata={
            "description": "AI-augmented skills the posting needs, highest score first; absent "
            "when the model has no skills component."
        },
    )
    ai_policy = fields.Nested(
        AiPolicySchema,
        metadata={
            "description": "Whether the posting forbids AI use, with the sentences that say so."
        },
    )
    model = fields.Nested(ModelRefSchema, required=True)


class BatchResultSchema(Schema):
    """Results of a batch, in the order of its postings."""

    results = fields.List(fields.Nested(ResultSchema), required=True)


class ModelCardSchema(Schema):
    """The served model's card (documented here; served as written by training)."""

    class Meta:
        # Documents the keys serving relies on; training may add any others.
        unknown = INCLUDE

    version = fields.String(required=True)
    created_at = fields.String()
    labels = fields.Dict()
    bands = fields.Dict(keys=fields.String(), values=fields.Float())
    artifact = fields.Dict(required=True)
    libraries = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class HealthSchema(Schema):
    """Liveness: the process answers."""

    status = fields.String(required=True, metadata={"example": "ok"})


class ReadySchema(Schema):
    """Readiness: the model is loaded."""

    status = fields.String(required=True, metadata={"example": "ready"})
    model = fields.String(required=True, metadata={"description": "Version of the model."})


class ProblemSchema(Schema):
    """An error, as RFC 9457 problem details."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(
        metadata={
            "description": "Field-level messages: a list of messages per field, nested for "
            "nested fields, keyed by index for list items (e.g. postings.3.title)."
        }
    )
