"""Every error as RFC 9457 problem details (`application/problem+json`)."""

from http import HTTPStatus

from flask import Flask, Response, current_app, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from api.schemas import ProblemSchema

PROBLEM_JSON = "application/problem+json"

problem_schema = ProblemSchema()


def problem(
    status: int,
    detail: str,
    errors: dict | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    """Return a problem details response; `type` stays about:blank, so `title` is the status."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = _string_keys(errors)
    response = current_app.json.response(problem_schema.dump(body))
    response.status_code = status
    response.headers.extend(headers or [])
    response.mimetype = PROBLEM_JSON
    return response


def handle_http_exception(error: HTTPException) -> Response:
    """Turn a werkzeug HTTP error into problem details, keeping its headers (e.g. Allow)."""
    status = error.code or HTTPStatus.INTERNAL_SERVER_ERROR
    detail = error.description or HTTPStatus(status).description
    if isinstance(error, RequestEntityTooLarge):
        detail = (
            f"The request body is larger than the limit of "
            f"{current_app.config['MAX_CONTENT_LENGTH']} bytes."
        )
    headers = [
        (name, value)
        for name, value in error.get_headers(request.environ)
        if name.lower() != "content-type"
    ]
    return problem(status, detail, headers=headers)


def handle_validation_error(error: ValidationError) -> Response:
    """Turn marshmallow's field messages into a 422."""
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return problem(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "The request body is not valid; `errors` has a message per field.",
        errors=messages,
    )


def handle_exception(error: Exception) -> Response:
    """Log an unexpected error and answer 500 without any of its details."""
    current_app.logger.error(
        "unhandled error on %s %s", request.method, request.path, exc_info=error
    )
    return problem(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "The server failed to handle the request; the error has been logged.",
    )


def register(app: Flask) -> None:
    """Install the error handlers on an app."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ValidationError, handle_validation_error)
    app.register_error_handler(Exception, handle_exception)


def _string_keys(messages: dict) -> dict:
    # marshmallow keys list items by int; JSON needs strings, and Flask sorts keys, which
    # fails on a mix of int and str.
    return {
        str(key): _string_keys(value) if isinstance(value, dict) else value
        for key, value in messages.items()
    }
