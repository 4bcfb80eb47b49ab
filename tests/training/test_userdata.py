"""Users' labelled data: the format, row-numbered errors, training rows, training on it."""

import json
from pathlib import Path

import numpy as np
import pytest

from models import registry
from models.scorer import Scorer
from training import train, userdata

EXAMPLE = Path(__file__).resolve().parents[2] / "training" / "examples" / "labelled.csv"
BANDS = {"moderate": 0.16, "high": 0.41}
BAND_BETAS = {"low": 0.05, "moderate": 0.3, "high": 0.55}


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write a file for a test and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(*rows) -> str:
    """Return rows as JSON Lines (strings are written as they are)."""
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


POSTING = {"title": "Translator", "description": "Translate manuals into Spanish.", "beta": 0.7}


def test_reads_postings_and_duties_from_json_lines(tmp_path):
    path = write(
        tmp_path,
        "data.jsonl",
        jsonl(
            {**POSTING, "id": "p1", "soc_code": "27-3091.00", "skills": ["ai_assisted_writing"]},
            "",
            {"text": "Lift boxes", "label": "E0", "id": "p1"},
            {
                "title": "Writer",
                "description": "Write posts.",
                "duties": [{"text": "Write posts", "label": "E1"}],
            },
        ),
    )
    labelled = userdata.read(path)
    first, second = labelled.postings
    assert (first.line, first.id, first.soc_code, first.beta) == (1, "p1", "27-3091.00", 0.7)
    assert first.skills == ("ai_assisted_writing",)
    assert second.duties == (("Write posts", "E1"),) and second.line == 4
    [duty] = labelled.duties
    assert (duty.line, duty.text, duty.label, duty.id) == (3, "Lift boxes", "E0", "p1")
    assert labelled.files == {str(path): userdata.artifact.sha256(path)}


def test_reads_the_example_csv_with_quoted_multi_line_descriptions():
    labelled = userdata.read(EXAMPLE)
    assert len(labelled.postings) == 12 and len(labelled.duties) == 12
    translator = labelled.postings[0]
    assert translator.line == 2 and "\n- Post-edit machine translation" in translator.description
    assert translator.skills == ("machine_translation_post_editing",)
    # The second posting starts after the first one's nine physical lines.
    assert labelled.postings[1].line == 11


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (jsonl({"title": "T", "description": "D"}), ["2: A posting needs a label"]),
        (jsonl({**POSTING, "band": "huge"}), ["2: band: Must be one of"]),
        (jsonl({**POSTING, "beta": 1.2}), ["2: beta: Must be greater"]),
        (jsonl({**POSTING, "beta": "high"}), ["2: beta: Not a valid number"]),
        (jsonl({**POSTING, "title": " "}), ["2: title: Must not be empty"]),
        (jsonl({**POSTING, "soc_code": "27-3091"}), ["2: soc_code: Not an O*NET-SOC code"]),
        (jsonl({**POSTING, "skills": ["juggling"]}), ["2: skills: Unknown skill ids ['juggling']"]),
        (jsonl({**POSTING, "lable": "E1"}), ["2: lable: Unknown field."]),
        (jsonl({**POSTING, "duties": [{"text": "x", "label": "E4"}]}), ["2: duties.0.label"]),
        (jsonl({"text": "Lift boxes", "label": "E3"}), ["2: label: Must be one of"]),
        (jsonl({"text": "Lift boxes"}), ["2: label: Missing data for required field."]),
        (jsonl({**POSTING, "text": "x", "label": "E1"}), ["2: A row is either a posting"]),
        (jsonl({"soc_code": "27-3091.00"}), ["2: A row is a posting"]),
        (jsonl('{"title": "T",'), ["2: not valid JSON"]),
        (jsonl("[1, 2]"), ["2: a row must be a JSON object"]),
    ],
)
def test_each_bad_json_lines_row_is_reported_with_its_line(tmp_path, text, expected):
    # A good row first, so that the bad one is on line 2 and the good one is not reported.
    path = write(tmp_path, "data.jsonl", jsonl(POSTING) + text)
    with pytest.raises(userdata.UserDataError) as raised:
        userdata.read(path)
    assert len(raised.value.errors) == len(expected)
    for message, start in zip(raised.value.errors, expected, strict=True):
        assert message.startswith(f"{path}:{start}")


def test_every_bad_row_is_reported_not_only_the_first(tmp_path):
    path = write(
        tmp_path,
        "data.jsonl",
        jsonl({"text": "a", "label": "E9"}, POSTING, "nope", {"title": "T", "description": "D"}),
    )
    with pytest.raises(userdata.UserDataError) as raised:
        userdata.read(path)
    assert [m.split(":")[1] for m in raised.value.errors] == ["1", "3", "4"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title,description,beta,colour\nT,D,0.5,red\n", "1: unknown columns ['colour']"),
        ("title,description,duties\nT,D,x\n", "1: a CSV file has no 'duties' column"),
        ("title,description,beta\nT,D,0.5,extra\n", "2: has 4 cells, the header 3"),
        ('title,description,beta\nT,"D\n\nmore",0.5\nT,D,2\n', "5: beta: Must be greater"),
        ("text,label\nLift boxes,E0\nWrite posts,\n", "3: label: Missing data"),
        ("title,description,skills\nT,D,prompt_engineering;juggling\n", "2: skills: Unknown"),
    ],
)
def test_each_bad_csv_row_is_reported_with_its_line(tmp_path, text, expected):
    path = write(tmp_path, "data.csv", text)
    with pytest.raises(userdata.UserDataError) as raised:
        userdata.read(path)
    assert [m for m in raised.value.errors if m.startswith(f"{path}:{expected}")], raised.value


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("data.txt", b"{}", "name the file .jsonl"),
        ("data.jsonl", b"", "no rows"),
        ("data.csv", b"title,description,beta\n", "no rows"),
        ("data.jsonl", json.dumps(POSTING).encode() + b"\n\xff\n", ":2: not UTF-8"),
    ],
)
def test_unusable_files_are_refused(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(userdata.UserDataError, match=expected):
        userdata.read(path)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(userdata.UserDataError, match="cannot read"):
        userdata.read(tmp_path / "nowhere.csv")


@pytest.mark.parametrize("beta", [0.0, 0.1, 1 / 3, 0.5, 0.8, 0.99, 1.0])
def test_soft_labels_have_the_posting_beta(beta):
    p0, p1, p2 = userdata.soft_label(beta)
    assert p0 + p1 + p2 == pytest.approx(1.0)
    assert min(p0, p1, p2) >= 0
    assert p1 + p2 / 2 == pytest.approx(beta)


def test_soft_labels_are_the_most_even_with_that_beta():
    assert userdata.soft_label(0.5) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    # Any other distribution with the same beta has less entropy.
    p = np.array(userdata.soft_label(0.7))
    other = np.array([p[0] + 0.05, p[1] + 0.05, p[2] - 0.1])
    assert other[1] + other[2] / 2 == pytest.approx(0.7)

    def entropy(q):
        return -(q * np.log(q)).sum()

    assert entropy(p) > entropy(other)


def test_band_betas_are_the_median_human_beta_in_each_band():
    betas = userdata.band_betas(
        np.array([0.0, 0.1, 0.12, 0.2, 0.3, 0.5, 0.6, 0.9]), {"moderate": 0.15, "high": 0.45}
    )
    assert betas == {"low": 0.1, "moderate": 0.25, "high": 0.6}


def test_a_posting_beta_becomes_soft_rows_for_each_scored_unit():
    labelled = userdata.UserData(
        postings=(
            userdata.Posting(
                source="f",
                line=2,
                title="Translator",
                description="Responsibilities:\n- Translate manuals\n- Proofread articles\n\n"
                "Benefits:\n- Free lunch",
                beta=0.8,
            ),
        )
    )
    rows = userdata.training_rows(labelled, BAND_BETAS)
    assert sorted(set(rows["text"])) == ["Proofread articles", "Translate manuals", "Translator"]
    for _, unit in rows.groupby("text"):
        shares = dict(zip(unit["label"], unit["weight"], strict=True))
        assert sum(shares.values()) == pytest.approx(1.0)
        assert shares["E1"] + shares.get("E2", 0) / 2 == pytest.approx(0.8)
    assert set(rows["group"]) == {"row:f:2"}


def test_duty_labels_train_as_they_are_and_the_title_on_their_shares():
    labelled = userdata.UserData(
        postings=(
            userdata.Posting(
                source="f",
                line=1,
                title="Clerk",
                description="...",
                id="p",
                band="high",
                duties=(("File papers", "E0"), ("Write letters", "E1")),
            ),
        ),
        duties=(userdata.Duty(source="f", line=2, text="Lift boxes", label="E0", soc_code="x"),),
    )
    rows = userdata.training_rows(labelled, BAND_BETAS, weight=2.0)
    table = {(t, lab): w for t, lab, w in rows[["text", "label", "weight"]].itertuples(index=False)}
    assert table == {
        ("Lift boxes", "E0"): 2.0,
        ("File papers", "E0"): 2.0,
        ("Write letters", "E1"): 2.0,
        ("Clerk", "E0"): 1.0,
        ("Clerk", "E1"): 1.0,
    }
    assert list(rows["group"]) == ["soc:x", "id:p", "id:p", "id:p", "id:p"]


def test_a_band_stands_for_its_beta_and_skills_alone_train_nothing():
    labelled = userdata.UserData(
        postings=(
            userdata.Posting(source="f", line=1, title="Roofer", description="x", band="low"),
            userdata.Posting(
                source="f", line=2, title="Writer", description="y", skills=("ai_assisted_writing",)
            ),
        )
    )
    rows = userdata.training_rows(labelled, BAND_BETAS)
    # "x" is the description's one sentence, scored like the title when there are no duties.
    assert set(rows["text"]) == {"Roofer", "x"}
    shares = dict(zip(rows["label"], rows["weight"], strict=True))
    assert shares["E1"] + shares["E2"] / 2 == pytest.approx(BAND_BETAS["low"])


def test_the_cli_reports_every_bad_row_before_loading_anything(tmp_path, capsys):
    bad = write(tmp_path, "bad.csv", "text,label\nLift boxes,E7\nWrite posts,E1\n,E1\n")
    code = train.main(["--data", str(bad), "--data-dir", str(tmp_path / "no-public-data")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{bad}:2: label: Must be one of" in err
    assert f"{bad}:4: text: Missing data" in err
    assert "2 problem(s) in --data; nothing trained" in err
    assert "does not exist" not in err  # the data directory was never looked at


def test_user_only_needs_data(capsys):
    with pytest.raises(SystemExit):
        train.main(["--user-only"])
    assert "--user-only needs --data" in capsys.readouterr().err


# --- Training on real data -------------------------------------------------------------------


def run(public_data: Path, models_dir: Path, version: str, *extra: str) -> dict:
    """Train on a slice of the public data with the example file; return the card."""
    code = train.main(
        [
            "--data-dir",
            str(public_data),
            "--models-dir",
            str(models_dir),
            "--version",
            version,
            "--occupations",
            "20",
            "--folds",
            "2",
            "--postings",
            "",
            "--data",
            str(EXAMPLE),
            *extra,
        ]
    )
    assert code == 0
    return json.loads((models_dir / version / "card.json").read_text())


@pytest.mark.slow
def test_trains_on_public_and_user_data(root, tmp_path):
    card = run(root, tmp_path, "mixed")
    user = card["data"]["user"]
    assert user["files"] == {str(EXAMPLE): userdata.artifact.sha256(EXAMPLE)}
    assert (user["postings"], user["labelled_duties"], user["only"]) == (12, 12, False)
    assert user["training_rows"] > 24
    held_out = card["evaluation"]["user"]
    assert held_out["folds"] == 2 and held_out["duties"]["count"] == 12
    assert held_out["postings"]["beta"]["count"] == 7
    assert held_out["postings"]["band"]["count"] == 12
    assert (tmp_path / "mixed" / "report.html").is_file()
    scorer = Scorer.load(tmp_path / "mixed")
    assert scorer.version == "mixed"


@pytest.mark.slow
def test_trains_on_user_data_alone(root, tmp_path):
    card = run(root, tmp_path, "mine", "--user-only", "--set-default")
    assert card["data"]["user"]["only"] is True
    # The public tasks only evaluated it: the model's vocabulary is the user's.
    scorer = Scorer.load(registry.default_dir(tmp_path))
    vocabulary = scorer.model.vocabulary
    assert "shingl" in vocabulary  # stemmed, from the example file
    assert len(vocabulary) < 1000
    assert card["evaluation"]["held_out"]["tasks"] > 0
    assert "user" in card["evaluation"]
