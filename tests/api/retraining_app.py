"""The app with feedback and model versions, and a real gunicorn serving it, for the tests.

    gunicorn --config gunicorn.conf.py 'tests.api.retraining_app:create_app()'

Once create_app registers the feedback and versions blueprints itself, registering them here is
skipped, and these tests exercise create_app's own wiring.
"""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from flask import Flask

from api import create_app as create_api
from api import feedback, versions

ROOT = Path(__file__).resolve().parents[2]
# Bounds, not timings: a healthy server is ready in a few seconds.
START_TIMEOUT = 60
STOP_TIMEOUT = 30
LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


def with_retraining(app: Flask) -> Flask:
    """Register the feedback and versions blueprints on an app that lacks them."""
    for blueprint in (feedback.bp, versions.bp):
        if blueprint.name not in app.blueprints:
            app.register_blueprint(blueprint)
    return app


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app as the Procfile does, with feedback and model versions."""
    return with_retraining(create_api(test_config))


def start(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start gunicorn with gunicorn.conf.py on a free loopback port, in its own session."""
    environment = {**os.environ, "WEB_CONCURRENCY": "2", **env}
    environment.pop("GUNICORN_CMD_ARGS", None)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "gunicorn.conf.py",
        "--bind",
        "127.0.0.1:0",
        "tests.api.retraining_app:create_app()",
    ]
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_ready(process: subprocess.Popen, log_path: Path, since: int = 0) -> str:
    """Return the base URL once /readyz answers 200; raise after START_TIMEOUT.

    `since` is the log's length before this start, so that a restart reads its own address.
    """
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        log = log_path.read_text(errors="replace")[since:]
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}:\n{log}")
        match = LISTENING.search(log)
        if match:
            try:
                with urllib.request.urlopen(f"{match[1]}/readyz", timeout=5) as response:
                    if response.status == 200:
                        return match[1]
            except (urllib.error.URLError, ConnectionError):
                pass
        time.sleep(0.1)
    raise AssertionError(
        f"gunicorn was not ready within {START_TIMEOUT} s:\n{log_path.read_text()}"
    )


def stop(process: subprocess.Popen) -> None:
    """Stop gunicorn gracefully, or kill its process group if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            kill(process)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL gunicorn's whole process group, master and workers, and reap the master."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=STOP_TIMEOUT)
