"""The Spark job in local mode: the file command's rows and rejects, the API's scores."""

import json
import shutil

import pytest

from api import create_app
from models import spark_job
from models.score_file import ScoreFileError
from models.score_file import main as score_file_main
from tests.models.test_score_file import (
    BAD_POSTINGS,
    POSTINGS,
    expected_results,
    read_rejects,
    read_results,
    read_rows,
    write_postings,
)

pytestmark = [
    # Starts a JVM: about ten seconds before the first job.
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("java") is None,
        reason="Spark needs Java 17 or newer: apt-get install openjdk-17-jre-headless",
    ),
]
FORMATS = ("jsonl", "csv", "parquet")


@pytest.fixture(scope="module")
def spark():
    with spark_job.quiet_pandas_warning():
        session = spark_job.build_session("local[2]", app_name="exposure-tests")
    # Small splits, so that even a small file is read by several tasks and row numbers have to
    # be carried across them.
    session.conf.set("spark.sql.files.maxPartitionBytes", "2048")
    session.conf.set("spark.sql.files.openCostInBytes", "0")
    yield session
    session.stop()


@pytest.fixture
def api_client(tiny_model_dir):
    return create_app({"TESTING": True, "MODEL_DIR": str(tiny_model_dir)}).test_client()


def postings_with_rejects(fmt: str) -> tuple[list[dict], list[dict]]:
    """Return the sample postings three times with bad ones between them, and the good ones."""
    bad = [posting for posting, _ in BAD_POSTINGS if fmt == "jsonl" or _flat(posting)]
    postings, good = [], []
    for copy in range(3):
        copies = [{**p, "id": f"{p['id']}-{copy}"} if p.get("id") else p for p in POSTINGS]
        postings += copies + bad[copy::3]
        good += copies
    return postings, good


def _flat(posting: dict) -> bool:
    # A flat file holds strings, or nulls in Parquet; lists and numbers are JSON's alone.
    return all(isinstance(posting.get(key, ""), str) for key in ("id", "title", "description"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_spark_the_file_command_the_api_and_the_scorer_agree(tiny_model_dir, tmp_path, spark, fmt):
    postings, good = postings_with_rejects(fmt)
    source = write_postings(tmp_path / f"in.{fmt}", postings, fmt, row_group_size=4)
    if fmt == "jsonl":
        with open(source, "ab") as stream:
            stream.write(b'{"title": "Caf\xe9", "description": "Serve coffee"}\n\n{broken\n')
    spark_out, file_out = tmp_path / f"spark.{fmt}", tmp_path / f"file.{fmt}"

    summary = spark_job.run(spark, str(source), str(spark_out), model_dir=tiny_model_dir)
    model = ["--model", str(tiny_model_dir), "--quiet", "--workers", "2", "--batch-size", "5"]
    assert score_file_main([str(source), str(file_out), *model]) == 0

    # The same rows, in the same order, with the same results.
    assert same_values(read_rows(spark_out, fmt)) == same_values(read_rows(file_out, fmt))
    from_spark, from_file = read_results(spark_out, fmt), read_results(file_out, fmt)
    assert from_spark == from_file == expected_results(tiny_model_dir, good, fmt)
    # The same rejects, with the same row numbers and reasons.
    spark_rejects = read_rejects(tmp_path / f"spark.{fmt}.rejects.jsonl")
    assert spark_rejects == read_rejects(tmp_path / f"file.{fmt}.rejects.jsonl")
    unreadable = 2 if fmt == "jsonl" else 0
    assert len(spark_rejects) == len(postings) - len(good) + unreadable > 0
    assert (summary.scored, summary.rejected, summary.rows) == (
        len(good),
        len(postings) - len(good) + unreadable,
        len(postings) + 3 * (fmt == "jsonl"),
    )
    assert len(list(spark_out.glob("part-*"))) > 1, "the test file should span several tasks"


def same_values(rows: list[dict]) -> list[dict]:
    """Return rows with numbers as floats: Spark's CSV writer spells 0.0001 as 1.0E-4."""
    return [
        {
            key: float(value)
            if key.startswith("exposure_")
            and key != "exposure_band"
            and key != "exposure_basis"
            and isinstance(value, str)
            else value
            for key, value in row.items()
        }
        for row in rows
    ]


def test_spark_results_are_the_http_apis(tiny_model_dir, tmp_path, spark, api_client):
    postings = [p for p in POSTINGS if p.get("id")]
    source = write_postings(tmp_path / "in.jsonl", postings, "jsonl")
    spark_job.run(spark, str(source), str(tmp_path / "out.jsonl"), model_dir=tiny_model_dir)
    from_api = [
        api_client.post(
            "/v1/score", json={k: p[k] for k in ("id", "title", "description")}
        ).get_json()
        for p in postings
    ]
    assert read_results(tmp_path / "out.jsonl", "jsonl") == from_api


def test_rejects_name_their_file_when_there_are_several(tiny_model_dir, tmp_path, spark):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps(POSTINGS[0]) + "\n{broken\n")
    (folder / "b.jsonl").write_text("\n" + json.dumps({"title": "", "description": "x"}) + "\n")
    spark_job.run(spark, str(folder), str(tmp_path / "out"), model_dir=tiny_model_dir, fmt="jsonl")
    rejects = sorted(read_rejects(tmp_path / "out.rejects.jsonl"), key=lambda r: r["file"])
    assert [(r["file"].rsplit("/", 1)[-1], r["row"]) for r in rejects] == [
        ("a.jsonl", 2),
        ("b.jsonl", 2),
    ]
    assert read_results(tmp_path / "out", "jsonl")[0]["id"] == "writer-1"


def test_existing_output_is_kept_unless_overwrite(tiny_model_dir, tmp_path, spark):
    source = write_postings(tmp_path / "in.jsonl", POSTINGS[:2], "jsonl")
    output = tmp_path / "out.jsonl"
    spark_job.run(spark, str(source), str(output), model_dir=tiny_model_dir)
    with pytest.raises(ScoreFileError, match="out.jsonl exists; pass --overwrite"):
        spark_job.run(spark, str(source), str(output), model_dir=tiny_model_dir)
    shutil.rmtree(output)
    with pytest.raises(ScoreFileError, match="out.jsonl.rejects.jsonl exists"):
        spark_job.run(spark, str(source), str(output), model_dir=tiny_model_dir)
    summary = spark_job.run(
        spark, str(source), str(output), model_dir=tiny_model_dir, overwrite=True
    )
    assert summary.scored == 2


def test_the_command_scores_a_file(tiny_model_dir, tmp_path, spark, monkeypatch, capsys):
    # The module's session stands in for the command's own: a second JVM would cost 10 s.
    monkeypatch.setattr(spark_job, "build_session", lambda master: spark)
    monkeypatch.setattr(spark, "stop", lambda: None)
    source = write_postings(tmp_path / "in.csv", POSTINGS, "csv")
    output = tmp_path / "out.csv"
    assert spark_job.main([str(source), str(output), "--model", str(tiny_model_dir)]) == 0
    assert (
        f"scored {len(POSTINGS)} and rejected 0 of {len(POSTINGS)} rows" in capsys.readouterr().err
    )
    assert read_results(output, "csv") == expected_results(tiny_model_dir, POSTINGS, "csv")

    assert spark_job.main([str(source), str(output), "--model", str(tmp_path / "none")]) == 2
    assert "no model card" in capsys.readouterr().err
