"""A real training run on a small slice of the public data (the data directory setting)."""

import json

import pytest

from models import registry
from models.scorer import Scorer
from training import data, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(root, tmp_path_factory):
    models_dir = tmp_path_factory.mktemp("models")
    code = train.main(
        [
            "--data-dir",
            str(root),
            "--models-dir",
            str(models_dir),
            "--version",
            "slice",
            "--occupations",
            "60",
            "--folds",
            "3",
            "--set-default",
        ]
    )
    assert code == 0
    return models_dir


def test_a_slice_trains_a_model_the_scorer_loads(trained):
    scorer = Scorer.load(registry.default_dir(trained))
    writing = scorer.score("Technical writer", "Write and edit user manuals and documentation.")
    assert writing["model"]["version"] == "slice"
    assert 0 <= writing["exposure"]["score"] <= 1


def test_the_card_holds_every_figure(trained):
    card = json.loads((trained / "slice" / "card.json").read_text())
    held_out = card["evaluation"]["held_out"]
    for rater in ("model", "gpt4"):
        assert set(held_out[rater]["tasks"]) == {"accuracy", "macro_f1", "kappa"}
        for share in ("alpha", "beta", "gamma"):
            assert set(held_out[rater]["occupations"][share]) == {"spearman", "pearson"}
    assert held_out["folds"] == 3
    postings = card["evaluation"]["postings"]
    assert postings["postings"] >= 80 and postings["occupations"] >= 40
    assert {"spearman_per_posting", "spearman_per_occupation"} <= set(postings)
    assert set(card["targets"]["met"]) >= {"held_out_kappa", "held_out_beta_spearman"}
    assert card["bands"]["moderate"] < card["bands"]["high"]
    assert card["git_commit"] is None or len(card["git_commit"]) == 40
    assert all(len(digest) == 64 for digest in card["data"]["files"].values())
    assert card["training_seconds"] > 0


def test_a_slice_model_beats_chance_on_held_out_occupations(trained):
    card = json.loads((trained / "slice" / "card.json").read_text())
    assert card["evaluation"]["held_out"]["model"]["tasks"]["kappa"] > 0.2


def test_folds_never_split_an_occupation_group(root):
    table = data.slice_occupations(data.load_tasks(root), 80)
    from sklearn.model_selection import GroupKFold

    frame = table.frame
    for train_rows, test_rows in GroupKFold(3).split(frame, groups=frame["group"]):
        train_texts = set(frame["text"].iloc[train_rows].str.lower())
        test_texts = set(frame["text"].iloc[test_rows].str.lower())
        assert not train_texts & test_texts
        assert not set(frame["soc_code"].iloc[train_rows]) & set(frame["soc_code"].iloc[test_rows])


def test_a_missing_data_directory_is_a_clear_error(tmp_path, capsys):
    assert train.main(["--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_an_unsafe_version_name_is_refused(capsys):
    assert train.main(["--version", "../escape"]) == 2
    assert "version" in capsys.readouterr().err
