"""A real gunicorn for the tests: started on a free loopback port, waited for, and stopped.

`with GunicornServer("tests.api.wsgi:create_app()", log_path, env=env) as server:` serves the app
at `server.url` (`server.address` as a host and port) until the block ends.
"""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Bounds, not timings: a healthy server is ready in a few seconds and stops in less.
START_TIMEOUT = 60
STOP_TIMEOUT = 30
READY_PATH = "/readyz"
# Port 0: the kernel picks a free port, which gunicorn logs; no other process can take it first.
BIND = "127.0.0.1:0"
LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


class GunicornServer:
    """gunicorn serving an app on a free loopback port, in its own session, its output in a log.

    The environment is this process's, with two workers and without GUNICORN_CMD_ARGS, updated
    by `env`, where None removes a variable. Used as a context manager, it starts the server,
    waits until it is ready and stops it on the way out; each start appends to the log.
    """

    def __init__(
        self,
        app: str,
        log_path: Path,
        *,
        env: Mapping[str, str | None] | None = None,
        args: Sequence[str] = ("--config", "gunicorn.conf.py"),
    ):
        self.app = app
        self.log_path = log_path
        self.env = dict(env or {})
        self.args = list(args)
        self.process: subprocess.Popen | None = None
        self.url: str | None = None
        self._log_start = 0

    def __enter__(self) -> "GunicornServer":
        self.start()
        try:
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        """Return the host and port the server listens on."""
        parts = urlsplit(self.url)
        return parts.hostname, parts.port

    @property
    def output(self) -> str:
        """Return what gunicorn and the app wrote since the last start."""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_start)
            return log.read().decode(errors="replace")

    def start(self) -> subprocess.Popen:
        """Start gunicorn without waiting for it to be ready, and return its process."""
        environment = {**os.environ, "WEB_CONCURRENCY": "2", **self.env}
        environment.pop("GUNICORN_CMD_ARGS", None)
        environment = {name: value for name, value in environment.items() if value is not None}
        command = [sys.executable, "-m", "gunicorn", *self.args, "--bind", BIND, self.app]
        self.url = None
        with open(self.log_path, "ab") as log:
            self._log_start = log.tell()
            # Its own session, so that kill() reaches the workers even if the master hangs.
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.process

    def wait_until_ready(self) -> str:
        """Return the base URL once the readiness path answers 200; fail after START_TIMEOUT."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            output = self.output
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn {self.app} exited with {self.process.returncode}:\n{output}")
            match = LISTENING.search(output)
            if match:
                try:
                    with urllib.request.urlopen(f"{match[1]}{READY_PATH}", timeout=5) as response:
                        if response.status == 200:
                            self.url = match[1]
                            return self.url
                except OSError:
                    pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn {self.app} was not ready within {START_TIMEOUT} s:\n{self.output}")

    def stop(self) -> None:
        """Stop gunicorn gracefully, or kill its process group if it does not stop in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL gunicorn's whole process group, master and workers, and reap the master."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=STOP_TIMEOUT)
