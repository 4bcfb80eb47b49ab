"""Reading request bodies: every way a body can be unreadable is a 400, 413 or 415."""

from typing import Any

import flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested too deeply to decode is invalid JSON."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Decode JSON, turning the decoder's RecursionError into a ValueError."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError as error:
            # Flask turns a ValueError into a 400; a RecursionError would be a 500.
            raise ValueError("the JSON is nested too deeply") from error


class Request(flask.Request):
    """A request that refuses streamed bodies over the limit and names JSON decoding errors."""

    def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> bytes | str:
        """Read the body, raising 413 for a body without Content-Length over the limit.

        For a streamed (chunked) body, werkzeug stops reading at MAX_CONTENT_LENGTH and returns
        what it read, so a longer body would arrive truncated instead of being refused.
        """
        data = super().get_data(cache=cache, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if (
            limit is not None
            and self.content_length is None
            # Set by servers that decode chunked bodies; only then is reading past the limit
            # safe (it returns b"" at the end instead of waiting for more).
            and "wsgi.input_terminated" in self.environ
            and len(data) >= limit
            and self.environ["wsgi.input"].read(1)
        ):
            raise RequestEntityTooLarge()
        return data.decode(errors="replace") if as_text else data

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        """Raise 400 naming the decoding error (Flask names it only in debug mode), or 415."""
        if e is None:
            # No JSON content type: werkzeug raises 415.
            return super().on_json_loading_failed(e)
        raise BadRequest(f"The body is not valid JSON: {e}") from e
