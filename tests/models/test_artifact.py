import json
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest

from models import artifact, registry
from models.scorer import Scorer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    return shutil.copytree(tiny_model_dir, tmp_path / "copy")


def test_card_names_the_artifact_by_sha256(tiny_model_dir):
    card = artifact.read_card(tiny_model_dir)
    assert card["artifact"]["sha256"] == artifact.sha256(tiny_model_dir / "model.joblib")


def test_load_refuses_a_changed_file(model_copy):
    with open(model_copy / "model.joblib", "ab") as stream:
        stream.write(b"tampered")
    with pytest.raises(artifact.ArtifactError, match="sha256"):
        Scorer.load(model_copy)


def test_load_refuses_another_scikit_learn_version(model_copy):
    card = json.loads((model_copy / "card.json").read_text())
    card["libraries"]["scikit-learn"] = "0.24.2"
    (model_copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(artifact.ArtifactError, match="scikit-learn 0.24.2"):
        Scorer.load(model_copy)


@pytest.mark.parametrize(
    ("content", "message"), [(None, "no model card"), ("{not json", "not valid JSON")]
)
def test_load_explains_a_missing_or_broken_card(model_copy, content, message):
    card = model_copy / "card.json"
    card.unlink()
    if content is not None:
        card.write_text(content)
    with pytest.raises(artifact.ArtifactError, match=message):
        artifact.load(model_copy)


def test_registry_points_default_at_a_saved_version(tiny_model_dir, tmp_path):
    shutil.copytree(tiny_model_dir, tmp_path / "v1")
    with pytest.raises(registry.RegistryError, match="train one"):
        registry.default_dir(tmp_path)
    registry.set_default("v1", tmp_path)
    assert registry.default_dir(tmp_path) == tmp_path / "v1"
    assert registry.versions(tmp_path) == ["v1"]


@pytest.mark.parametrize("version", ["../etc", "", "a/b", ".hidden"])
def test_registry_rejects_unsafe_version_names(version, tmp_path):
    with pytest.raises(registry.RegistryError):
        registry.set_default(version, tmp_path)


def test_the_shipped_default_model_loads():
    scorer = Scorer.load(registry.default_dir())
    result = scorer.score("Translator", "Translate our user manual from English to Spanish.")
    assert result["model"]["version"] == registry.default_version()


def _same_scores(left: Scorer, right: Scorer, posting: dict) -> bool:
    first, second = left.score_many([posting])[0], right.score_many([posting])[0]
    return first["exposure"] == second["exposure"] and first["duties"] == second["duties"]


def test_a_saved_model_loads_with_writable_arrays_and_the_same_scores(tiny_model_dir, tmp_path):
    components, card = artifact.load(tiny_model_dir)
    saved = artifact.save(components, card, tmp_path / "again")
    assert saved["artifact"]["sha256"] == artifact.sha256(tmp_path / "again" / "model.joblib")
    stored = joblib.load(tmp_path / "again" / "model.joblib")
    assert isinstance(stored, artifact.Pickled) and stored.buffers
    loaded, _ = artifact.load(tmp_path / "again")
    arrays = list(vars(loaded["exposure"]).values())
    assert any(isinstance(array, np.ndarray) and array.flags.writeable for array in arrays)
    posting = {"title": "Translator", "description": "- Translate manuals\n- Proofread text"}
    assert _same_scores(Scorer.load(tiny_model_dir), Scorer.load(tmp_path / "again"), posting)


def test_a_file_holding_the_model_itself_still_loads(tiny_model_dir, tmp_path):
    components, card = artifact.load(tiny_model_dir)
    folder = tmp_path / "plain"
    saved = artifact.save(components, card, folder)
    joblib.dump(components, folder / "model.joblib", compress=3)
    saved["artifact"]["sha256"] = artifact.sha256(folder / "model.joblib")
    (folder / "card.json").write_text(json.dumps(saved))
    posting = {"title": "Support agent", "description": "Answer customer emails and chats."}
    assert _same_scores(Scorer.load(tiny_model_dir), Scorer.load(folder), posting)


def test_an_estimator_pickled_by_another_scikit_learn_version_is_refused(model_copy):
    from sklearn.linear_model import LogisticRegression

    components, card = artifact.load(model_copy)
    estimator = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    pickled = artifact.Pickled.of({**components, "extra": estimator})
    installed = artifact.scikit_learn_version().encode()
    other = b"0" * len(installed)  # a version string of the same length keeps the pickle valid
    assert pickled.stream.count(installed) == 1
    stream = pickled.stream.replace(installed, other)
    joblib.dump(artifact.Pickled(stream, pickled.buffers), model_copy / "model.joblib")
    card["artifact"]["sha256"] = artifact.sha256(model_copy / "model.joblib")
    (model_copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(artifact.ArtifactError, match="Trying to unpickle estimator"):
        artifact.load(model_copy)


def test_the_shipped_default_model_serves_without_importing_scikit_learn():
    # A fresh interpreter: this one has imported scikit-learn for the tests' tiny model.
    program = (
        "import sys\n"
        "from models import registry\n"
        "from models.scorer import Scorer\n"
        "scorer = Scorer.load(registry.default_dir())\n"
        "result = scorer.score('Translator', 'Post-edit the DeepL translation of our manual.')\n"
        "assert result['skills'] and result['occupations']\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in "
        "('sklearn', 'pandas')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
