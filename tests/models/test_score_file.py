"""The file command: formats, order, rejects, resuming after SIGKILL, and the API's scores."""

import contextlib
import csv
import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import api
from api import create_app
from models import score_file
from models.score_file import FLAT_COLUMNS, main
from models.scorer import Scorer

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("jsonl", "csv", "parquet")
# Postings of every shape the scorer distinguishes: duties, prose, HTML, boilerplate only, a
# one-line gig, non-Latin text, no id, an empty id.
POSTINGS = [
    {
        "id": "writer-1",
        "title": "Content writer",
        "description": "Responsibilities:\n- Write articles for our blog\n"
        "- Translate user manuals into Spanish\n- Proofread and edit articles",
        "source": "board-a",
    },
    {
        "id": "warehouse-2",
        "title": "Warehouse associate",
        "description": "Duties:\n- Lift heavy boxes and load trucks\n- Operate forklifts\n"
        "- Clean the warehouse floors\n\nBenefits:\n- Health insurance\n- Paid time off",
        "source": "board-b",
    },
    {
        "id": "html-3",
        "title": "Data entry clerk",
        "description": "<p>We need help with records.</p><ul><li>Enter customer records into the "
        "database</li><li>Update spreadsheets</li></ul><p>Equal opportunity employer.</p>",
        "source": "board-a",
    },
    {
        "id": "gig-4",
        "title": "Translate my 20-page manual",
        "description": "Need a translator for a 20-page espresso machine manual. $300, by Friday.",
        "source": "gigs",
    },
    {
        "id": "boilerplate-5",
        "title": "Cook",
        "description": "About us: a family restaurant since 1980.\n\nRequirements:\n"
        "- 3+ years of experience\n\nSend your CV to jobs@example.com.",
        "source": "gigs",
    },
    {
        "id": "unicode-6",
        "title": "翻訳者 (Japanese → English)",
        "description": "Translate documents and manuals — 50 páginas, «urgent», ünïcödé ✓.",
        "source": "board-b",
    },
    {
        "title": "Delivery driver",
        "description": "Drive delivery trucks and unload boxes at stores. Wash the trucks.",
        "source": "board-a",
    },
    {
        "id": "",
        "title": "Office assistant",
        "description": "- Schedule appointments and update calendars\n- Answer emails",
        "source": "board-b",
    },
]
# Bad postings and the fields the API names in its 422 errors for them.
BAD_POSTINGS = [
    ({"description": "Write articles"}, {"title"}),
    ({"title": "Writer"}, {"description"}),
    ({"title": None, "description": "Write articles"}, {"title"}),
    ({"title": 42, "description": "Write articles"}, {"title"}),
    ({"title": "Writer", "description": ["Write articles"]}, {"description"}),
    ({"title": "", "description": "Write articles"}, {"title"}),
    ({"title": " \t\n", "description": "Write articles"}, {"title"}),
    ({"title": "Writer", "description": "   "}, {"description"}),
    ({"title": "W" * 301, "description": "Write articles"}, {"title"}),
    ({"title": " " * 301, "description": "Write articles"}, {"title"}),
    ({"title": "Writer", "description": "x" * 20_001}, {"description"}),
    ({"title": "Writer", "description": "Write", "id": 7}, {"id"}),
    ({"title": "Writer", "description": "Write", "id": "i" * 129}, {"id"}),
    ({"title": "", "description": ""}, {"title", "description"}),
]
# Rejected in JSON Lines; flat files carry no language column in these tests.
BAD_LANGUAGES = [
    ({"title": "Writer", "description": "Write", "language": 3}, {"language"}),
    ({"title": "Writer", "description": "Write", "language": "Japanese!"}, {"language"}),
    ({"title": "Writer", "description": "Write", "language": ""}, {"language"}),
    ({"title": "Writer", "description": "Write", "language": "ja-" + "x" * 40}, {"language"}),
]


def input_rows(postings: list[dict], fmt: str) -> list[dict]:
    """Return postings as a flat file's rows: every column in every row, missing as empty."""
    if fmt == "jsonl":
        return postings
    names = ["id", "title", "description", "source"]
    empty = "" if fmt == "csv" else None
    return [{name: posting.get(name, empty) for name in names} for posting in postings]


def write_postings(path: Path, postings: list[dict], fmt: str, row_group_size: int = 1000) -> Path:
    """Write postings in a format, as a user's file would hold them."""
    rows = input_rows(postings, fmt)
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    elif fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


def read_rows(path: Path, fmt: str) -> list[dict]:
    """Read an output file, or a directory of Spark part files, back as rows."""
    paths = sorted(path.glob("part-*")) if path.is_dir() else [path]
    rows = []
    for part in paths:
        if fmt == "jsonl":
            rows += [json.loads(line) for line in part.read_text(encoding="utf-8").splitlines()]
        elif fmt == "csv":
            with open(part, newline="", encoding="utf-8") as stream:
                rows += list(csv.DictReader(stream))
        else:
            rows += pq.read_table(part).to_pylist()
    return rows


def read_results(path: Path, fmt: str) -> list[dict]:
    """Return the result objects of an output, in order."""
    rows = read_rows(path, fmt)
    if fmt == "jsonl":
        return [row["result"] for row in rows]
    return [json.loads(row["result"]) for row in rows]


def read_rejects(path: Path) -> list[dict]:
    """Read a rejects file, or a directory of Spark part files, back as objects."""
    paths = sorted(path.glob("part-*")) if path.is_dir() else [path]
    return [json.loads(line) for part in paths for line in part.read_text().splitlines()]


def expected_results(model_dir: Path, postings: list[dict], fmt: str) -> list[dict]:
    """Return the Scorer's own results; CSV has no null, so an empty id there is no id."""
    scorer = Scorer.load(model_dir)
    results = []
    for posting in postings:
        posting_id = posting.get("id")
        if fmt == "csv" and posting_id == "":
            posting_id = None
        results.append(scorer.score(posting["title"], posting["description"], posting_id))
    return results


@pytest.fixture
def api_client(tiny_model_dir):
    return create_app({"TESTING": True, "MODEL_DIR": str(tiny_model_dir)}).test_client()


def run(tiny_model_dir: Path, source: Path, output: Path, *args: str) -> int:
    return main([str(source), str(output), "--model", str(tiny_model_dir), "--quiet", *args])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_each_format_keeps_every_column_and_the_input_order(tiny_model_dir, tmp_path, fmt, workers):
    # Three copies in small chunks, so that the workers return chunks out of order.
    postings = [{**p, "id": f"{p.get('id', 'none')}-{n}"} for n in range(3) for p in POSTINGS]
    source = write_postings(tmp_path / f"in.{fmt}", postings, fmt, row_group_size=5)
    output = tmp_path / f"out.{fmt}"
    assert run(tiny_model_dir, source, output, "--workers", workers, "--batch-size", "4") == 0

    rows = read_rows(output, fmt)
    assert [row["id"] for row in rows] == [posting["id"] for posting in postings]
    results = read_results(output, fmt)
    assert results == expected_results(tiny_model_dir, postings, fmt)
    for row, posting, result in zip(rows, input_rows(postings, fmt), results, strict=True):
        if fmt == "jsonl":
            assert set(row) == {*posting, "result"}
        else:
            assert list(row) == [*posting, *dict(FLAT_COLUMNS)]
            score = result["exposure"]["score"]
            assert row["exposure_score"] == (str(score) if fmt == "csv" else score)
            assert row["model_version"] == "tiny-test"
        assert {key: row[key] for key in posting} == posting
    assert (tmp_path / f"out.{fmt}.rejects.jsonl").read_text() == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [f"in.{fmt}", f"out.{fmt}", f"out.{fmt}.rejects.jsonl"]
    )


def test_parquet_keeps_column_types(tiny_model_dir, tmp_path):
    table = pa.table(
        {
            "ad_id": pa.array([1, None], pa.int64()),
            "title": ["Writer", "Cook"],
            "description": ["Write articles", "Cook meals"],
            "posted": pa.array([19000, 19001], pa.date32()),
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")
    assert run(tiny_model_dir, tmp_path / "in.parquet", tmp_path / "out.parquet") == 0
    output = pq.read_table(tmp_path / "out.parquet")
    assert output.schema.field("ad_id").type == pa.int64()
    assert output.column("ad_id").to_pylist() == [1, None]
    assert output.schema.field("posted").type == pa.date32()
    assert output.schema.field("exposure_confidence").type == pa.float64()


def test_results_are_the_http_apis_and_the_scorers(tiny_model_dir, tmp_path, api_client):
    postings = [p for p in POSTINGS if p.get("id")]
    source = write_postings(tmp_path / "in.jsonl", postings, "jsonl")
    assert run(tiny_model_dir, source, tmp_path / "out.jsonl", "--workers", "2") == 0
    from_file = read_results(tmp_path / "out.jsonl", "jsonl")

    scorer = Scorer.load(tiny_model_dir)
    api_postings = [{key: p[key] for key in ("id", "title", "description")} for p in postings]
    from_api = [api_client.post("/v1/score", json=p).get_json() for p in api_postings]
    batch = api_client.post("/v1/score/batch", json={"postings": api_postings}).get_json()
    from_scorer = [scorer.score(p["title"], p["description"], p["id"]) for p in postings]
    assert from_file == from_api == batch["results"] == from_scorer


def test_a_stated_language_is_the_apis_and_an_empty_csv_cell_means_detect_it(
    tiny_model_dir, tmp_path, api_client
):
    stated = {**POSTINGS[0], "language": "fa-IR"}
    source = write_postings(tmp_path / "in.jsonl", [stated], "jsonl")
    assert run(tiny_model_dir, source, tmp_path / "out.jsonl") == 0
    [from_file] = read_results(tmp_path / "out.jsonl", "jsonl")
    fields = ("id", "title", "description", "language")
    from_api = api_client.post("/v1/score", json={k: stated[k] for k in fields}).get_json()
    assert from_file == from_api
    assert (from_file["language"], from_file["language_supported"]) == ("fa", True)

    rows = [{**POSTINGS[0], "language": "ja"}, {**POSTINGS[1], "language": ""}]
    names = ["id", "title", "description", "language"]
    with open(tmp_path / "in.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    assert run(tiny_model_dir, tmp_path / "in.csv", tmp_path / "out.csv") == 0
    assert [r["language"] for r in read_results(tmp_path / "out.csv", "csv")] == ["ja", "en"]


def test_results_of_the_shipped_model_are_the_http_apis(tmp_path):
    # The shipped model has the components that add fields (occupations, skills, ...), which
    # the tiny one lacks: every field must come through the file as the API returns it.
    postings = [p for p in POSTINGS if p.get("id")][:3]
    source = write_postings(tmp_path / "in.jsonl", postings, "jsonl")
    assert main([str(source), str(tmp_path / "out.jsonl"), "--quiet", "--workers", "1"]) == 0
    client = create_app({"TESTING": True}).test_client()
    fields = ("id", "title", "description")
    from_api = [
        client.post("/v1/score", json={k: p[k] for k in fields}).get_json() for p in postings
    ]
    assert read_results(tmp_path / "out.jsonl", "jsonl") == from_api


def test_limits_are_the_http_apis():
    assert score_file.MAX_TITLE_CHARS == api.DEFAULTS["MAX_TITLE_CHARS"]
    assert score_file.MAX_DESCRIPTION_CHARS == api.DEFAULTS["MAX_DESCRIPTION_CHARS"]
    assert score_file.MAX_ID_CHARS == api.DEFAULTS["MAX_ID_CHARS"]


@pytest.mark.parametrize(("posting", "fields"), BAD_POSTINGS + BAD_LANGUAGES)
def test_a_row_the_api_refuses_is_rejected_with_the_apis_errors(
    tiny_model_dir, tmp_path, api_client, posting, fields
):
    response = api_client.post("/v1/score", json=posting)
    assert response.status_code == 422
    api_errors = response.get_json()["errors"]
    assert set(api_errors) == fields

    good = POSTINGS[0]
    source = write_postings(tmp_path / "in.jsonl", [good, posting, good], "jsonl")
    assert run(tiny_model_dir, source, tmp_path / "out.jsonl") == 0
    assert [row["id"] for row in read_rows(tmp_path / "out.jsonl", "jsonl")] == ["writer-1"] * 2
    [rejected] = read_rejects(tmp_path / "out.jsonl.rejects.jsonl")
    assert rejected["row"] == 2
    assert rejected["errors"] == api_errors
    assert rejected["record"] == posting
    assert rejected["reason"] == "; ".join(
        f"{field}: {' '.join(messages)}" for field, messages in rejected["errors"].items()
    )


def test_unreadable_json_lines_are_rejected_and_blank_lines_skipped(tiny_model_dir, tmp_path):
    good = json.dumps(POSTINGS[0]).encode()
    lines = [
        good,
        b"{not json",
        b"",
        b"   ",
        b'["a", "list"]',
        b'"a string"',
        good[:-1] + b', "result": 1}',
        b'{"title": "Caf\xe9", "description": "Serve coffee"}',
        good,
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    assert run(tiny_model_dir, source, tmp_path / "out.jsonl", "--batch-size", "2") == 0

    assert len(read_rows(tmp_path / "out.jsonl", "jsonl")) == 2
    rejects = read_rejects(tmp_path / "out.jsonl.rejects.jsonl")
    assert [(line["row"], line["reason"].split(":")[0]) for line in rejects] == [
        (2, "invalid JSON"),
        (5, "not a JSON object but list"),
        (6, "not a JSON object but str"),
        (7, "already has a 'result' field"),
        (8, "invalid UTF-8"),
    ]
    assert rejects[0]["record"] == "{not json"
    assert rejects[4]["record"] == '{"title": "Caf\ufffd", "description": "Serve coffee"}'


def test_unreadable_csv_records_are_rejected(tiny_model_dir, tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(
        b"\xef\xbb\xbfid,title,description\n"
        b"a,Writer,Write articles\n"
        b"b,Writer\n"
        b'c,Writer,"Write articles\nand translate manuals",extra\n'
        b"\n"
        b"d,Caf\xe9 worker,Serve coffee\n"
        b'e,Cook,"Cook meals, wash dishes\r\nand clean"\r\n'
    )
    assert run(tiny_model_dir, source, tmp_path / "out.csv") == 0
    rows = read_rows(tmp_path / "out.csv", "csv")
    assert [row["id"] for row in rows] == ["a", "e"]
    assert rows[1]["description"] == "Cook meals, wash dishes\r\nand clean"
    rejects = read_rejects(tmp_path / "out.csv.rejects.jsonl")
    assert [(line["row"], line["reason"]) for line in rejects] == [
        (2, "expected 3 fields, got 2"),
        (3, "expected 3 fields, got 4"),
        (4, "invalid UTF-8"),
    ]
    assert rejects[2]["record"] == {
        "id": "d",
        "title": "Caf\ufffd worker",
        "description": "Serve coffee",
    }


def test_parquet_nulls_are_rejected(tiny_model_dir, tmp_path):
    rows = [
        {"id": "a", "title": "Writer", "description": "Write articles"},
        {"id": "b", "title": None, "description": "Write articles"},
        {"id": None, "title": "Cook", "description": "Cook meals"},
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    assert run(tiny_model_dir, tmp_path / "in.parquet", tmp_path / "out.parquet") == 0
    assert read_results(tmp_path / "out.parquet", "parquet")[1]["id"] is None
    [rejected] = read_rejects(tmp_path / "out.parquet.rejects.jsonl")
    assert rejected == {
        "row": 2,
        "reason": "title: Field may not be null.",
        "errors": {"title": ["Field may not be null."]},
        "record": rows[1],
    }


def test_parquet_strings_that_are_not_utf8_are_rejected(tiny_model_dir, tmp_path):
    # Spark and some writers store such bytes in string columns; pyarrow reads them unchecked.
    raw = pa.array([b"Writer", b"Caf\xe9 worker"], pa.binary())
    titles = pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())
    table = pa.table({"title": titles, "description": ["Write articles", "Serve coffee"]})
    pq.write_table(table, tmp_path / "in.parquet")
    assert run(tiny_model_dir, tmp_path / "in.parquet", tmp_path / "out.parquet") == 0
    assert len(read_results(tmp_path / "out.parquet", "parquet")) == 1
    [rejected] = read_rejects(tmp_path / "out.parquet.rejects.jsonl")
    assert rejected == {
        "row": 2,
        "reason": "invalid UTF-8",
        "record": {"title": "Caf\ufffd worker", "description": "Serve coffee"},
    }


def test_a_posting_the_model_fails_on_is_rejected_alone(tiny_model_dir, tmp_path, monkeypatch):
    score_many = Scorer.score_many

    def failing(self, postings):
        if any(posting["title"] == "Boom" for posting in postings):
            raise ValueError("the model failed")
        return score_many(self, postings)

    monkeypatch.setattr(Scorer, "score_many", failing)
    postings = [POSTINGS[0], {"id": "x", "title": "Boom", "description": "Explode"}, POSTINGS[1]]
    source = write_postings(tmp_path / "in.jsonl", postings, "jsonl")
    assert run(tiny_model_dir, source, tmp_path / "out.jsonl", "--workers", "1") == 0
    assert [row["id"] for row in read_rows(tmp_path / "out.jsonl", "jsonl")] == [
        "writer-1",
        "warehouse-2",
    ]
    [rejected] = read_rejects(tmp_path / "out.jsonl.rejects.jsonl")
    assert rejected["row"] == 2
    assert rejected["reason"] == "scoring failed: ValueError: the model failed"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_postings_are_scored_with_the_model_frozen_and_the_collector_is_given_back(
    tiny_model_dir, tmp_path, monkeypatch, workers
):
    # Forked workers inherit the patch; they report what they saw through a file.
    seen = tmp_path / "freeze-counts"
    score_many = Scorer.score_many

    def recording(self, postings):
        with open(seen, "a") as stream:
            stream.write(f"{gc.get_freeze_count()}\n")
        return score_many(self, postings)

    monkeypatch.setattr(Scorer, "score_many", recording)
    source = write_postings(tmp_path / "in.jsonl", POSTINGS, "jsonl")
    before = gc.get_freeze_count()
    assert run(tiny_model_dir, source, tmp_path / "out.jsonl", "--workers", workers) == 0
    assert gc.get_freeze_count() == before
    counts = [int(line) for line in seen.read_text().split()]
    assert counts and all(count > 0 for count in counts)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_flat_file_without_a_posting_column_is_refused(tiny_model_dir, tmp_path, capsys, fmt):
    rows = [{"id": "a", "headline": "Writer", "description": "Write"}]
    if fmt == "csv":
        (tmp_path / "in.csv").write_text("id,headline,description\na,Writer,Write\n")
    else:
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    source = tmp_path / f"in.{fmt}"
    assert run(tiny_model_dir, source, tmp_path / f"out.{fmt}") == 2
    assert "no column 'title'" in capsys.readouterr().err
    assert not (tmp_path / f"out.{fmt}").exists()

    assert run(tiny_model_dir, source, tmp_path / f"out.{fmt}", "--title-column", "headline") == 0
    assert read_results(tmp_path / f"out.{fmt}", fmt)[0]["id"] == "a"


def test_a_flat_file_with_a_result_column_is_refused(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "in.csv").write_text("title,description,result\nWriter,Write,x\n")
    assert run(tiny_model_dir, tmp_path / "in.csv", tmp_path / "out.csv") == 2
    assert "already has the result column(s) 'result'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["in.txt", "in"])
def test_an_unknown_extension_needs_format(tiny_model_dir, tmp_path, capsys, name):
    source = write_postings(tmp_path / name, POSTINGS[:1], "jsonl")
    assert run(tiny_model_dir, source, tmp_path / "out") == 2
    assert "--format" in capsys.readouterr().err
    assert run(tiny_model_dir, source, tmp_path / "out", "--format", "jsonl") == 0


def test_existing_output_is_kept_unless_overwrite(tiny_model_dir, tmp_path, capsys):
    source = write_postings(tmp_path / "in.jsonl", POSTINGS[:2], "jsonl")
    output = tmp_path / "out.jsonl"
    output.write_text("precious\n")
    assert run(tiny_model_dir, source, output) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert output.read_text() == "precious\n"
    assert run(tiny_model_dir, source, output, "--resume") == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert run(tiny_model_dir, source, output, "--overwrite") == 0
    assert len(read_rows(output, "jsonl")) == 2


def test_resume_with_nothing_to_resume_starts_afresh(tiny_model_dir, tmp_path):
    source = write_postings(tmp_path / "in.jsonl", POSTINGS[:2], "jsonl")
    assert run(tiny_model_dir, source, tmp_path / "out.jsonl", "--resume") == 0
    assert len(read_rows(tmp_path / "out.jsonl", "jsonl")) == 2


def test_summary_goes_to_stderr_unless_quiet(tiny_model_dir, tmp_path, capsys):
    source = write_postings(tmp_path / "in.jsonl", [*POSTINGS[:2], {"title": ""}], "jsonl")
    arguments = [str(source), str(tmp_path / "out.jsonl"), "--model", str(tiny_model_dir)]
    assert main(arguments) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    # stderr is not a terminal here, so there is no bar: only the summary.
    assert captured.err.startswith("scored 2 and rejected 1 of 3 rows in ")
    assert main([*arguments, "--overwrite", "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


# --- Resuming after SIGKILL -------------------------------------------------------------------

RESUME_ROWS = 6_000
KILL_AFTER = 600
# The killed run commits every 10 rows, which keeps it slow enough to be caught midway; the
# resumed run uses other chunks, so the output must not depend on them either.
SLOW = ("--batch-size", "10", "--commit-seconds", "0")


def many_postings(count: int) -> list[dict]:
    """Return `count` short postings with distinct ids, some of them rejects."""
    postings = []
    for index in range(count):
        posting = dict(POSTINGS[index % len(POSTINGS)])
        posting["id"] = f"p{index}"
        if index % 997 == 0:
            posting["title"] = " "
        postings.append(posting)
    return postings


def start_command(tiny_model_dir: Path, source: Path, output: Path, *args: str):
    command = [sys.executable, "-m", "models.score_file", str(source), str(output)]
    command += ["--model", str(tiny_model_dir), "--workers", "2", *args]
    # A session of its own: the kill takes the workers too, as a crash or OOM kill would.
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_for_commits(process: subprocess.Popen, progress: Path, rows: int) -> int:
    """Wait until the run has committed at least `rows` rows; return how many it committed."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            committed = json.loads(progress.read_text())["rows"]
        except (FileNotFoundError, ValueError, KeyError):
            committed = 0
        if committed >= rows:
            return committed
        time.sleep(0.01)
    raise AssertionError(f"the run committed fewer than {rows} rows in 120 s")


def children(pid: int) -> list[int]:
    """Return the ids of a process's children."""
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for task in tasks.iterdir() for c in (task / "children").read_text().split()]


def wait_until_gone(pids: list[int], seconds: float = 30) -> bool:
    """Wait for processes to end; return whether they all did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists() and not zombie(pid)]
        if not alive:
            return True
        time.sleep(0.05)
    return False


def zombie(pid: int) -> bool:
    """Return whether a process has ended and waits to be reaped."""
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] == "Z"
    return True


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_killed_run_resumes_without_losing_or_repeating_rows(tiny_model_dir, tmp_path, fmt):
    source = write_postings(tmp_path / f"in.{fmt}", many_postings(RESUME_ROWS), fmt)
    # A reference run in one go, in-process.
    assert run(tiny_model_dir, source, tmp_path / f"whole.{fmt}", "--workers", "1") == 0

    output = tmp_path / f"out.{fmt}"
    progress = tmp_path / f"out.{fmt}.progress.json"
    process = start_command(tiny_model_dir, source, output, *SLOW)
    try:
        committed = wait_for_commits(process, progress, KILL_AFTER)
        workers = children(process.pid)
        # The parent alone, as the OOM killer would: its workers must not live on without it.
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        assert len(workers) == 2
        assert wait_until_gone(workers), "workers outlived their killed parent"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert KILL_AFTER <= committed < RESUME_ROWS
    assert not output.exists()
    # What a kill leaves after the last commit is written again, never twice.
    if fmt == "parquet":
        (tmp_path / f"out.{fmt}.parts" / "part-999999.parquet").write_bytes(b"torn")
    else:
        with open(tmp_path / f"out.{fmt}.partial", "ab") as stream:
            stream.write(b'{"torn": ')
    with open(tmp_path / f"out.{fmt}.rejects.jsonl", "ab") as stream:
        stream.write(b'{"torn": ')

    process = start_command(tiny_model_dir, source, output, "--resume", "--batch-size", "128")
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr.decode()
    assert "resumed after row" in stderr.decode()

    if fmt == "parquet":
        assert pq.read_table(output).equals(pq.read_table(tmp_path / f"whole.{fmt}"))
    else:
        assert output.read_bytes() == (tmp_path / f"whole.{fmt}").read_bytes()
    rejects = (tmp_path / f"out.{fmt}.rejects.jsonl").read_text()
    assert rejects == (tmp_path / f"whole.{fmt}.rejects.jsonl").read_text()
    assert len(rejects.splitlines()) == len(range(0, RESUME_ROWS, 997))
    assert not progress.exists()
    assert not (tmp_path / f"out.{fmt}.partial").exists()
    assert not (tmp_path / f"out.{fmt}.parts").exists()


def test_sigterm_stops_a_run_that_then_refuses_a_changed_input(tiny_model_dir, tmp_path, capsys):
    source = write_postings(tmp_path / "in.jsonl", many_postings(RESUME_ROWS), "jsonl")
    process = start_command(tiny_model_dir, source, tmp_path / "out.jsonl", *SLOW)
    try:
        wait_for_commits(process, tmp_path / "out.jsonl.progress.json", 100)
        os.killpg(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr.decode()
    assert "interrupted: run again with --resume" in stderr.decode()
    write_postings(source, many_postings(2_999), "jsonl")
    assert run(tiny_model_dir, source, tmp_path / "out.jsonl", "--resume") == 2
    assert "cannot resume: input differs" in capsys.readouterr().err
    assert run(tiny_model_dir, source, tmp_path / "out.jsonl") == 2
    assert "pass --resume to continue it or --overwrite" in capsys.readouterr().err
    assert run(tiny_model_dir, source, tmp_path / "out.jsonl", "--overwrite") == 0
    assert len(read_rows(tmp_path / "out.jsonl", "jsonl")) == 2_999 - 4
