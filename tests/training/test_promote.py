"""Promotion: both models on the same held-out data, refused when worse, and the README's walk."""

import json
from pathlib import Path

import pandas as pd
import pytest

from models import artifact, registry
from tests.api import retraining_app
from tests.conftest import TINY_CARD, TINY_EXAMPLES
from training import data, estimator, promote, train

EXAMPLE = Path(__file__).resolve().parents[2] / "training" / "examples" / "labelled.csv"
# Held out: written for these tests, in the style of the tiny model's examples.
HOLDOUT = [
    {"text": "Write product descriptions for the online shop", "label": "E1"},
    {"text": "Translate the user guide into French", "label": "E1"},
    {"text": "Edit articles for grammar and style", "label": "E1"},
    {"text": "Update customer records in the database software", "label": "E2"},
    {"text": "Prepare invoices in the accounting software", "label": "E2"},
    {"text": "Load trucks and lift heavy boxes", "label": "E0"},
    {"text": "Clean kitchen floors and wash dishes", "label": "E0"},
    {"text": "Repair pipes and install fixtures", "label": "E0"},
    {
        "title": "Copywriter",
        "description": "Responsibilities:\n- Write blog posts and articles\n- Edit marketing copy",
        "beta": 0.9,
    },
    {
        "title": "Warehouse worker",
        "description": "Duties:\n- Lift boxes and load trucks\n- Operate forklifts",
        "beta": 0.0,
    },
    {
        "title": "Office clerk",
        "description": "Duties:\n- Enter records into the database\n- Draft emails",
        "beta": 0.6,
    },
]


def save_model(directory: Path, version: str, flip: bool = False) -> None:
    """Fit the tiny model, or one taught the wrong labels, and save it as a version."""
    wrong = {"E0": "E1", "E1": "E0", "E2": "E2"}
    texts, labels = zip(*TINY_EXAMPLES, strict=True)
    if flip:
        labels = [wrong[label] for label in labels]
    model = estimator.fit(pd.DataFrame({"text": texts, "label": labels}))
    artifact.save({"exposure": model}, {**TINY_CARD, "version": version}, directory / version)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("saved")
    save_model(directory, "good")
    save_model(directory, "bad", flip=True)
    return directory


@pytest.fixture
def models_dir(trained, tmp_path) -> Path:
    directory = tmp_path / "models"
    for version in ("good", "bad"):
        (directory / version).mkdir(parents=True)
        for path in (trained / version).iterdir():
            (directory / version / path.name).write_bytes(path.read_bytes())
    registry.set_default("good", directory)
    return directory


@pytest.fixture
def holdout(tmp_path) -> Path:
    path = tmp_path / "holdout.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in HOLDOUT))
    return path


def promote_main(models_dir: Path, holdout: Path, *extra: str) -> int:
    """Run the promotion CLI on the held-out file only."""
    return promote.main(
        ["--models-dir", str(models_dir), "--postings", "", "--holdout", str(holdout), *extra]
    )


def test_a_worse_candidate_is_refused_with_both_sets_of_figures(models_dir, holdout, capsys):
    assert promote_main(models_dir, holdout, "bad") == 1
    out = capsys.readouterr().out
    assert registry.default_version(models_dir) == "good"
    header, *rows = [line for line in out.splitlines() if line.startswith(("figure", "holdout"))]
    assert "default good" in header and "candidate bad" in header
    kappa = next(row for row in rows if row.startswith("holdout duties: Cohen's kappa"))
    assert kappa.endswith("WORSE")
    assert "refused: bad is worse than good by more than 0.02" in out


def test_force_promotes_a_worse_candidate(models_dir, holdout, capsys):
    assert promote_main(models_dir, holdout, "bad", "--force") == 0
    assert registry.default_version(models_dir) == "bad"
    assert "forced: promoting bad" in capsys.readouterr().out


def test_a_better_candidate_is_promoted(models_dir, holdout, capsys):
    registry.set_default("bad", models_dir)
    assert promote_main(models_dir, holdout, "good") == 0
    out = capsys.readouterr().out
    assert registry.default_version(models_dir) == "good"
    assert "WORSE" not in out and "default model is now good (was bad)" in out


def test_a_loss_within_the_tolerance_is_accepted(models_dir, holdout):
    assert promote_main(models_dir, holdout, "bad", "--tolerance", "2") == 0
    assert registry.default_version(models_dir) == "bad"


def test_the_default_is_not_promoted_again(models_dir, holdout, capsys):
    assert promote_main(models_dir, holdout, "good") == 0
    assert "already the default" in capsys.readouterr().out


def test_a_holdout_file_the_candidate_trained_on_is_refused(models_dir, holdout, capsys):
    card_path = models_dir / "bad" / "card.json"
    card = json.loads(card_path.read_text())
    card["data"] = {"user": {"files": {"holdout.jsonl": artifact.sha256(holdout)}}}
    card_path.write_text(json.dumps(card))
    assert promote_main(models_dir, holdout, "bad") == 2
    assert "was used to train bad" in capsys.readouterr().err
    assert registry.default_version(models_dir) == "good"


@pytest.mark.parametrize(
    ("version", "message"), [("missing", "no model card"), ("../x", "must be 1-64")]
)
def test_an_unknown_version_is_an_error(models_dir, holdout, capsys, version, message):
    assert promote_main(models_dir, holdout, version) == 2
    assert message in capsys.readouterr().err


def test_nothing_to_compare_on_is_an_error(models_dir, capsys):
    assert promote.main(["--models-dir", str(models_dir), "--postings", "", "bad"]) == 2
    assert "no held-out data" in capsys.readouterr().err


@pytest.mark.slow
def test_the_readme_walk_from_a_csv_to_the_served_model(models_dir, holdout, tmp_path):
    """Train on a CSV, read its report, promote it, and see the running app serve it."""
    try:
        public = data.data_dir()
    except data.DataError as error:
        pytest.skip(f"public data not available: {error}")
    app = retraining_app.create_app(
        {
            "TESTING": True,
            "MODEL_DIR": str(models_dir / "good"),
            "MODELS_DIR": str(models_dir),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'walk.sqlite3'}",
        }
    )
    client = app.test_client()
    posting = {"title": "Roofer", "description": "Install shingles and repair roofs."}
    assert client.post("/v1/score", json=posting).get_json()["model"]["version"] == "good"
    argv = ["--data-dir", str(public), "--models-dir", str(models_dir), "--version", "mine"]
    argv += ["--data", str(EXAMPLE), "--occupations", "15", "--folds", "2", "--postings", ""]
    assert train.main(argv) == 0
    assert "<img" in (models_dir / "mine" / "report.html").read_text()
    listing = client.get("/v1/models").get_json()
    assert [v["version"] for v in listing["versions"]] == ["bad", "good", "mine"]
    assert promote_main(models_dir, holdout, "mine", "--tolerance", "1") == 0
    result = client.post("/v1/score", json=posting).get_json()
    card = json.loads((models_dir / "mine" / "card.json").read_text())
    assert result["model"] == {"version": "mine", "sha256": card["artifact"]["sha256"][:12]}
