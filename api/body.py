"""Reading request bodies: every way a body can be unreadable is a 400, 408, 413 or 415."""

import contextlib
import heapq
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, RequestTimeout

# Seconds a client has to send the whole body once its headers arrived (setting BODY_TIMEOUT).
# A client that trickles a body in holds a worker; past this it gets a 408 instead.
BODY_TIMEOUT = 10.0
_TIMEOUT_DETAIL = "The request body did not arrive within the time allowed."
# Once a body is overdue, each further wait for data ends after this many seconds.
_CUT_TIMEOUT = 0.01
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing what I-JSON (RFC 7493) forbids: duplicate names, lone surrogates.

    A body nested too deeply to decode is invalid JSON too. Duplicate names are refused because
    parsers disagree on which value wins; lone surrogates (a "\\ud800" escape, or its UTF-8
    bytes) because they are not Unicode text and cannot be encoded as UTF-8.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Decode JSON; raise ValueError for duplicate names, lone surrogates or deep nesting."""
        kwargs.setdefault("object_pairs_hook", _unique_names)
        try:
            value = super().loads(s, **kwargs)
        except RecursionError as error:
            # Flask turns a ValueError into a 400; a RecursionError would be a 500.
            raise ValueError("the JSON is nested too deeply") from error
        _check_text(value)
        return value


def _unique_names(pairs: list[tuple[str, Any]]) -> dict:
    value = dict(pairs)
    if len(value) < len(pairs):
        seen = set()
        for name, _ in pairs:
            if name in seen:
                raise ValueError(f"the name {name[:40]!r} appears more than once in an object")
            seen.add(name)
    return value


def _check_text(value: Any) -> None:
    # Iterative: the value may be nested as deeply as the decoder allows.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                raise ValueError("a string holds a lone surrogate, which is not Unicode text")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


@dataclass(order=True)
class _Watch:
    """A socket whose body must have arrived by `deadline` (time.monotonic)."""

    deadline: float
    sock: socket.socket = field(compare=False)
    timeout: float | None = field(compare=False)  # the socket's own, restored afterwards
    done: bool = field(default=False, compare=False)
    fired: bool = field(default=False, compare=False)


class _Watchdog:
    """One thread per process that ends the body reads still going on at their deadline.

    A socket timeout bounds each wait for data, not the whole read: a client trickling a byte
    a second would never time out. At the deadline this shuts the socket's read side, which
    ends a read waiting for data, and gives the socket a tiny timeout, which ends a read that
    data keeps trickling into; the request then gets a 408.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._heap: list[_Watch] = []
        self._pid: int | None = None

    def watch(self, sock: socket.socket, seconds: float) -> _Watch:
        """Start watching a socket whose body is about to be read."""
        watch = _Watch(time.monotonic() + seconds, sock, sock.gettimeout())
        with self._condition:
            # Started on first use in each process: gunicorn forks workers, threads do not fork.
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._heap.clear()
                threading.Thread(target=self._run, name="body-watchdog", daemon=True).start()
            heapq.heappush(self._heap, watch)
            self._condition.notify()
        return watch

    def stop(self, watch: _Watch | None) -> bool:
        """Stop watching (if watching); return whether the deadline passed and ended the read."""
        if watch is None:
            return False
        with self._condition:
            watch.done = True
        if watch.fired:
            with contextlib.suppress(OSError):
                watch.sock.settimeout(watch.timeout)
        return watch.fired

    def _run(self) -> None:
        with self._condition:
            while True:
                while self._heap and self._heap[0].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                delay = self._heap[0].deadline - time.monotonic()
                if delay > 0:
                    self._condition.wait(delay)
                    continue
                watch = heapq.heappop(self._heap)
                watch.fired = True
                with contextlib.suppress(OSError):
                    watch.sock.settimeout(_CUT_TIMEOUT)
                    watch.sock.shutdown(socket.SHUT_RD)


_WATCHDOG = _Watchdog()


class Request(flask.Request):
    """A request that refuses streamed bodies over the limit and names JSON decoding errors."""

    def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> bytes | str:
        """Read the body, raising 413 for a body without Content-Length over the limit.

        For a streamed (chunked) body, werkzeug stops reading at MAX_CONTENT_LENGTH and returns
        what it read, so a longer body would arrive truncated instead of being refused.
        """
        # Only gunicorn hands over its socket; werkzeug's test client reads from memory.
        sock = self.environ.get("gunicorn.socket")
        watch = None
        if sock is not None and getattr(self, "_cached_data", None) is None:
            seconds = float(flask.current_app.config.get("BODY_TIMEOUT", BODY_TIMEOUT))
            watch = _WATCHDOG.watch(sock, seconds)
        try:
            data = self._read_body(cache, parse_form_data)
        except (OSError, ValueError, BadRequest) as error:
            if _WATCHDOG.stop(watch):
                raise RequestTimeout(_TIMEOUT_DETAIL) from error
            raise
        finally:
            # Always: on a kept-alive connection a watch left behind would cut the next request.
            _WATCHDOG.stop(watch)
        if watch is not None and watch.fired:
            # A chunked body cut short by the deadline can look complete to werkzeug.
            raise RequestTimeout(_TIMEOUT_DETAIL)
        return data.decode(errors="replace") if as_text else data

    def _read_body(self, cache: bool, parse_form_data: bool) -> bytes:
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
        return data

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        """Raise 400 naming the decoding error (Flask names it only in debug mode), or 415."""
        if e is None:
            # No JSON content type: werkzeug raises 415.
            return super().on_json_loading_failed(e)
        raise BadRequest(f"The body is not valid JSON: {e}") from e
