"""The hot switch under load: a real gunicorn keeps answering while models/DEFAULT changes."""

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from models import artifact, registry
from tests.api import retraining_app
from tests.server import GunicornServer

pytestmark = pytest.mark.slow

CLIENTS = 4
# Bounds, not timings: each is far above what a healthy run needs.
MAX_REQUESTS_PER_CLIENT = 3000
SWITCH_TIMEOUT = 60
BEFORE_SWITCH = 20  # responses from the old version before the switch
SETTLED = 30  # consecutive responses from the new version that show every worker switched
POSTING = json.dumps(
    {"title": "Translator", "description": "Responsibilities:\n- Translate manuals into Spanish"}
).encode()


def save_versions(tiny_model_dir: Path, models_dir: Path, names: list[str]) -> None:
    """Save the tiny model under several version names, as training would."""
    components, card = artifact.load(tiny_model_dir)
    for name in names:
        artifact.save(components, {**card, "version": name}, models_dir / name)


class Load:
    """Clients that score postings in a loop, recording every answer, until told to stop."""

    def __init__(self, base: str):
        self.base = base
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.versions: list[str] = []
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _run(self) -> None:
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if self.stop.is_set():
                return
            request = urllib.request.Request(
                f"{self.base}/v1/score",
                data=POSTING,
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    version = json.load(response)["model"]["version"]
                    failure = None if response.status == 200 else f"status {response.status}"
            except (urllib.error.URLError, ConnectionError, OSError, ValueError) as error:
                version, failure = None, repr(error)
            with self.lock:
                if failure:
                    self.failures.append(failure)
                else:
                    self.versions.append(version)

    def count(self) -> int:
        """Return how many requests succeeded so far."""
        with self.lock:
            return len(self.versions)

    def wait(self, until, timeout: float) -> bool:
        """Wait until `until(versions)` holds; False after the timeout or on a failure."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.failures:
                    return False
                if until(list(self.versions)):
                    return True
            if not any(thread.is_alive() for thread in self.threads):
                return False
            time.sleep(0.05)
        return False


def test_promoting_a_version_switches_the_running_server_without_failures(tiny_model_dir, tmp_path):
    models_dir = tmp_path / "models"
    save_versions(tiny_model_dir, models_dir, ["v1", "v2"])
    registry.set_default("v1", models_dir)
    env = {"EXPOSURE_MODEL_DIR": str(models_dir / "v1"), "EXPOSURE_MODELS_DIR": str(models_dir)}
    with GunicornServer(retraining_app.TARGET, tmp_path / "gunicorn.log", env=env) as gunicorn:
        with Load(gunicorn.url) as load:
            assert load.wait(lambda seen: len(seen) >= BEFORE_SWITCH, SWITCH_TIMEOUT), (
                load.failures or gunicorn.output
            )
            switched_at = load.count()
            registry.set_default("v2", models_dir)
            settled = load.wait(
                lambda seen: (
                    len(seen) >= switched_at + SETTLED and seen[-SETTLED:] == ["v2"] * SETTLED
                ),
                SWITCH_TIMEOUT,
            )
        versions, failures = load.versions, load.failures
        assert failures == []
        assert settled, f"still answering {versions[-SETTLED:]}\n{gunicorn.output}"
        assert set(versions) == {"v1", "v2"}
        assert versions[:BEFORE_SWITCH] == ["v1"] * BEFORE_SWITCH
        # Answered while the switch happened, not only before and after it.
        assert len(versions) > switched_at + SETTLED
        with urllib.request.urlopen(f"{gunicorn.url}/v1/models", timeout=30) as response:
            listing = json.load(response)
        assert listing["default"] == "v2"
    assert gunicorn.process.returncode == 0
