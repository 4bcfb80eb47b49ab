"""Shared fixtures: a tiny model fitted once per session and saved with the real save function
(the Flask `app` and `client` that serve it are in tests/api/conftest.py)."""

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from models import artifact
from models.scorer import LinearText
from training.estimator import fit

# Hand-written duties in the style of O*NET task statements, labelled by the Eloundou rubric.
TINY_EXAMPLES = [
    ("Write articles and blog posts for the company website", "E1"),
    ("Write and edit marketing copy for product pages", "E1"),
    ("Translate documents and manuals from English into Spanish", "E1"),
    ("Translate website text and user manuals into German", "E1"),
    ("Proofread and edit articles for grammar and style", "E1"),
    ("Summarize reports and write meeting notes", "E1"),
    ("Answer customer questions by email and chat", "E1"),
    ("Draft letters, emails and reports for managers", "E1"),
    ("Analyze sales data and prepare reports with charts", "E2"),
    ("Enter customer records into the database and update spreadsheets", "E2"),
    ("Label images and categorize data for the database", "E2"),
    ("Schedule appointments and update calendars in the software", "E2"),
    ("Prepare invoices and update accounting records in the software", "E2"),
    ("Search the database to retrieve customer records", "E2"),
    ("Lift heavy boxes and load trucks in the warehouse", "E0"),
    ("Install roofing shingles and repair roofs", "E0"),
    ("Repair leaking pipes and install plumbing fixtures", "E0"),
    ("Clean floors, restrooms and windows in the building", "E0"),
    ("Drive delivery trucks and unload boxes at stores", "E0"),
    ("Operate forklifts to move pallets in the warehouse", "E0"),
    ("Cook meals and clean kitchen equipment", "E0"),
    ("Wash dishes and clean the kitchen floors", "E0"),
]
TINY_CARD = {
    "version": "tiny-test",
    "created_at": "2026-01-01T00:00:00+00:00",
    "git_commit": None,
    "labels": {"schema": ["E0", "E1", "E2"]},
    "bands": {"moderate": 0.3, "high": 0.5},
    "libraries": {},
}


@pytest.fixture(scope="session", autouse=True)
def database_url(tmp_path_factory) -> Iterator[str]:
    """Point every app and server the tests start at a scratch database, not instance/."""
    url = f"sqlite:///{tmp_path_factory.mktemp('database') / 'exposure.sqlite3'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXPOSURE_DATABASE_URL", url)
        yield url


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Fit the tiny model once and save it with the real save function."""
    texts, labels = zip(*TINY_EXAMPLES, strict=True)
    model = fit(pd.DataFrame({"text": texts, "label": labels}))
    directory = tmp_path_factory.mktemp("models") / TINY_CARD["version"]
    artifact.save({"exposure": LinearText.of(model)}, TINY_CARD, directory)
    return directory
