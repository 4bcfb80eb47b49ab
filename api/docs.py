"""API docs: the OpenAPI document, built from the schemas, and Swagger UI served offline."""

import swagger_ui_bundle
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, abort, current_app, render_template, send_from_directory
from marshmallow import fields

from api import feedback, occupations, schemas, skills, versions
from api.errors import PROBLEM_JSON
from api.page import ASSETS as PAGE_ASSETS

API_TITLE = "Job posting AI exposure API"
API_VERSION = "1.0.0"
OPENAPI_VERSION = "3.1.0"
# swagger_ui_bundle ships Swagger UI 4, which renders OpenAPI 3.0 documents only; the docs page
# is given the same document rendered as 3.0 (they differ in how nullable fields are written).
SWAGGER_UI_OPENAPI_VERSION = "3.0.3"
# The Swagger UI files the docs page uses; nothing else in the bundle is served.
ASSETS = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"}
)
ASSET_MAX_AGE = 24 * 60 * 60

bp = Blueprint("docs", __name__, template_folder="templates")

ERRORS = {
    400: (
        "BadRequest",
        "The body is not JSON (malformed, not UTF-8, nested too deeply, a name repeated in an "
        "object, or a lone surrogate).",
    ),
    401: ("Unauthorized", "No API key, or one that is not valid (`WWW-Authenticate` says how)."),
    403: ("Forbidden", "The API key was revoked."),
    408: ("RequestTimeout", "The body did not arrive within BODY_TIMEOUT seconds."),
    404: ("NotFound", "No such resource."),
    413: ("ContentTooLarge", "The body is larger than MAX_CONTENT_LENGTH bytes."),
    415: ("UnsupportedMediaType", "The body is not sent as `application/json`."),
    422: (
        "UnprocessableContent",
        "A field is missing, unknown, empty, of the wrong type or over its limit; `errors` "
        "has a message per field.",
    ),
    429: (
        "TooManyRequests",
        "The caller's quota is used up; `Retry-After` says in how many seconds to retry.",
    ),
    500: ("InternalServerError", "An unexpected error; it is logged on the server."),
    503: ("ServiceUnavailable", "No model is loaded."),
}


@bp.get("/openapi.json")
def openapi() -> dict:
    """Return the OpenAPI 3.1 document of this API."""
    return build_spec(OPENAPI_VERSION).to_dict()


@bp.get("/docs/openapi-3.0.json")
def openapi_30() -> dict:
    """Return the OpenAPI document as 3.0, the version the bundled Swagger UI renders."""
    return build_spec(SWAGGER_UI_OPENAPI_VERSION).to_dict()


@bp.get("/docs")
def page() -> str:
    """Return the Swagger UI page for the OpenAPI document."""
    return render_template("docs.html", title=API_TITLE)


@bp.get("/docs/assets/<filename>")
def asset(filename: str) -> Response:
    """Return one of Swagger UI's files from the installed swagger_ui_bundle package."""
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=ASSET_MAX_AGE)


def build_spec(openapi_version: str = OPENAPI_VERSION) -> APISpec:
    """Build the current app's OpenAPI document from the schemas, with its limits."""
    config = current_app.config
    marshmallow_plugin = MarshmallowPlugin()
    spec = APISpec(
        title=API_TITLE,
        version=API_VERSION,
        openapi_version=openapi_version,
        plugins=[marshmallow_plugin],
        info={"description": _description()},
    )
    marshmallow_plugin.converter.add_attribute_function(configured_limits)
    spec.components.schema("Problem", schema=schemas.ProblemSchema)
    for name, description in ERRORS.values():
        spec.components.response(
            name, {"description": description, "content": {PROBLEM_JSON: {"schema": "Problem"}}}
        )
    if "keys" in current_app.extensions:
        spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
        spec.components.security_scheme(
            "apiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        )

    body_limit = f"At most {config['MAX_CONTENT_LENGTH']} bytes (else 413)."
    spec.path(
        path="/v1/score",
        operations={
            "post": _scoring_operation(
                summary="Score one posting",
                request=schemas.PostingSchema,
                response=schemas.ResultSchema,
                body_limit=body_limit,
            )
        },
    )
    spec.path(
        path="/v1/score/batch",
        operations={
            "post": _scoring_operation(
                summary="Score a batch of postings, results in the same order",
                request=schemas.BatchSchema,
                response=schemas.BatchResultSchema,
                body_limit=f"1 to {config['MAX_BATCH']} postings. {body_limit}",
            )
        },
    )
    spec.path(
        path="/v1/model",
        operations={
            "get": _protected(_get("Return the served model's card", schemas.ModelCardSchema))
        },
    )
    spec.path(
        path="/healthz",
        operations={"get": _get("Answer that the process is alive", schemas.HealthSchema)},
    )
    spec.path(
        path="/readyz",
        operations={
            "get": _get("Answer whether the model is loaded", schemas.ReadySchema, errors=(503,))
        },
    )
    document = {"type": "object", "description": "An OpenAPI document."}
    spec.path(
        path="/openapi.json",
        operations={"get": _get("Return this OpenAPI 3.1 document", document)},
    )
    spec.path(
        path="/docs/openapi-3.0.json",
        operations={"get": _get("Return this document as OpenAPI 3.0 (for Swagger UI)", document)},
    )
    spec.path(
        path="/docs",
        operations={"get": _get("Return the Swagger UI page", {"type": "string"}, "text/html")},
    )
    spec.path(
        path="/v1/skills",
        operations={
            "get": _get(
                "Return the AI-augmented skills taxonomy of the served model",
                skills.TaxonomySchema,
                errors=(404,),
            )
        },
    )
    spec.path(
        path="/v1/occupations/{code}",
        operations={
            "get": {
                **_get(
                    "Return an occupation's page: its tasks with their human labels and its "
                    "published exposure measures",
                    occupations.OccupationPageSchema,
                    errors=(404,),
                ),
                "parameters": [
                    {
                        "name": "code",
                        "in": "path",
                        "required": True,
                        "description": "O*NET-SOC 2019 code, e.g. 15-1252.00.",
                        "schema": {"type": "string", "pattern": r"^\d{2}-\d{4}\.\d{2}$"},
                    }
                ],
            }
        },
    )
    if "observability.metrics" in current_app.view_functions:
        spec.path(
            path="/metrics",
            operations={
                "get": _get(
                    "Return the metrics in Prometheus' text format",
                    {"type": "string"},
                    "text/plain",
                )
            },
        )
    spec.path(
        path="/docs/assets/{filename}",
        operations={
            "get": {
                **_get("Return a Swagger UI file", {"type": "string"}, "*/*", errors=(404,)),
                "parameters": [
                    {
                        "name": "filename",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": sorted(ASSETS)},
                    }
                ],
            }
        },
    )
    spec.path(
        path="/",
        operations={
            "get": _get("Return the page that scores a posting", {"type": "string"}, "text/html")
        },
    )
    spec.path(
        path="/page/{filename}",
        operations={
            "get": {
                # Any value: the files are JavaScript, CSS and a JSON array of examples.
                **_get("Return a file of the page", {}, "*/*", errors=(404,)),
                "parameters": [
                    {
                        "name": "filename",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": sorted(PAGE_ASSETS)},
                    }
                ],
            }
        },
    )
    spec.path(
        path="/v1/feedback",
        operations={
            "post": _protected(
                {
                    "summary": "Store corrections of a scored posting, for retraining",
                    "requestBody": {
                        "required": True,
                        "description": body_limit,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "allOf": [feedback.FeedbackSchema, *feedback.DOCUMENTED_RULES]
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Stored, and committed; its id.",
                            "content": {
                                "application/json": {"schema": feedback.FeedbackCreatedSchema}
                            },
                        },
                        **{str(s): ERRORS[s][0] for s in (400, 408, 413, 415, 422, 500)},
                    },
                }
            )
        },
    )
    spec.path(
        path="/v1/models",
        operations={
            "get": _protected(
                _get("List the saved model versions and their figures", versions.VersionsSchema)
            )
        },
    )
    spec.path(
        path="/v1/models/{version}/report",
        operations={
            "get": {
                **_protected(
                    _get(
                        "Return a version's evaluation report (HTML, works offline)",
                        {"type": "string"},
                        "text/html",
                        errors=(404,),
                    )
                ),
                "parameters": [
                    {
                        "name": "version",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
            }
        },
    )
    return spec


def configured_limits(self, field: fields.Field, **kwargs) -> dict:
    """Document the limits that come from the app's settings (an apispec attribute function)."""
    properties = {}
    for validator in field.validators:
        if isinstance(validator, schemas.Limit):
            key = "maxItems" if isinstance(field, fields.List) else "maxLength"
            properties[key] = validator.maximum
    return properties


def _scoring_operation(summary: str, request, response, body_limit: str) -> dict:
    return _protected(
        {
            "summary": summary,
            "requestBody": {
                "required": True,
                "description": body_limit,
                "content": {"application/json": {"schema": request}},
            },
            "responses": {
                "200": {
                    "description": "The exposure, with the model version and sha256 prefix.",
                    "content": {"application/json": {"schema": response}},
                },
                **{str(status): ERRORS[status][0] for status in (400, 408, 413, 415, 422, 500)},
            },
        }
    )


def _protected(operation: dict) -> dict:
    """Add the API key and quota answers to an operation, for the extensions the app has."""
    responses = operation["responses"]
    if "keys" in current_app.extensions:
        responses.update({"401": ERRORS[401][0], "403": ERRORS[403][0]})
        schemes = [{"bearer": []}, {"apiKey": []}]
        # With AUTH off a key is optional, which OpenAPI writes as an empty requirement.
        operation["security"] = schemes + ([{}] if current_app.config["AUTH"] == "off" else [])
    if "quotas" in current_app.extensions:
        responses["429"] = ERRORS[429][0]
    return operation


def _get(summary: str, schema, media_type: str = "application/json", errors=()) -> dict:
    return {
        "summary": summary,
        "responses": {
            "200": {"description": "OK", "content": {media_type: {"schema": schema}}},
            **{str(status): ERRORS[status][0] for status in (*errors, 500)},
        },
    }


def _description() -> str:
    config = current_app.config
    scorer = current_app.extensions["scorer"]
    return (
        "Scores how exposed the work in a job posting is to generative AI, duty by duty, "
        "with the rubric of Eloundou et al. (2023): each duty is E0 (no exposure), "
        "E1 (direct) or E2 (with LLM-powered software); the posting gets the expected shares "
        "alpha (E1), beta (E1 + E2/2, the headline score) and gamma (E1 + E2).\n\n"
        f"Serving model `{scorer.version}` (sha256 `{scorer.sha256[:12]}`).\n\n"
        "Limits (setting, environment variable `EXPOSURE_<SETTING>`): "
        f"request body {config['MAX_CONTENT_LENGTH']} bytes (MAX_CONTENT_LENGTH, 413); "
        f"title {config['MAX_TITLE_CHARS']} characters (MAX_TITLE_CHARS, 422); "
        f"description {config['MAX_DESCRIPTION_CHARS']} characters "
        "(MAX_DESCRIPTION_CHARS, 422); "
        f"id {config['MAX_ID_CHARS']} characters (MAX_ID_CHARS, 422); "
        f"{config['MAX_BATCH']} postings per batch (MAX_BATCH, 422).\n\n"
        "Errors are RFC 9457 problem details (`application/problem+json`)."
    )
