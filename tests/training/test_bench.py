"""The bench's summary statistics, and one short run of the whole bench on the tiny model."""

import json

import pytest

from training import bench


def test_summarize_gives_interpolated_percentiles():
    summary = bench.summarize([float(value) for value in range(100, 0, -1)])
    assert summary["count"] == 100
    assert summary["mean"] == pytest.approx(50.5)
    assert summary["p50"] == pytest.approx(50.5)
    assert summary["p99"] == pytest.approx(99.01)
    assert summary["max"] == 100.0


def test_each_in_process_row_is_taken_from_the_faster_run():
    def row(rate):
        return {"postings_per_second": rate, "latency_ms": {"p50": 1000 / rate}}

    before = {"typical_single": row(200.0), "typical_batch": row(300.0), "typical_words": 426}
    after = {"typical_single": row(250.0), "typical_batch": row(280.0), "typical_words": 426}
    best = bench.faster_rows([before, after])
    assert best["typical_single"] is after["typical_single"]
    assert best["typical_batch"] is before["typical_batch"]
    assert best["typical_words"] == 426 and before["typical_single"]["postings_per_second"] == 200


def test_summarize_of_no_samples_has_no_figures():
    assert bench.summarize([]) == {"count": 0, "mean": None, "p50": None, "p99": None, "max": None}


@pytest.mark.parametrize("text", ["", "0", "1,-8", "one", "1,,x"])
def test_bad_concurrency_is_refused(text):
    with pytest.raises(SystemExit):
        bench.main(["--concurrency", text])


@pytest.mark.slow
def test_a_short_run_reports_every_section(tiny_model_dir, tmp_path, capsys):
    report_path = tmp_path / "bench.json"
    code = bench.main(
        [
            "--model", str(tiny_model_dir),
            "--seconds", "0.2",
            "--concurrency", "1",
            "--json", str(report_path),
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads(report_path.read_text())
    assert set(report) == {
        "seconds", "machine", "in_process", "in_process_runs", "server", "http", "ratios"
    }  # fmt: skip

    assert report["machine"]["model"]["version"] == "tiny-test"
    assert report["machine"]["usable_cores"] >= 1
    for row in ("typical_single", "typical_batch", "gig_single", "gig_batch", "typical_paced"):
        assert report["in_process"][row]["postings_per_second"] > 0
        assert report["in_process"][row]["latency_ms"]["count"] >= 1
        runs = [run[row]["postings_per_second"] for run in report["in_process_runs"]]
        assert len(runs) == 2 and report["in_process"][row]["postings_per_second"] == max(runs)

    cells = {(cell["endpoint"], cell["concurrency"]): cell for cell in report["http"]}
    assert set(cells) == {("/v1/score", 1), ("/v1/score/batch", 1)}
    for cell in cells.values():
        assert cell["postings_per_second"] > 0
        assert cell["requests"] >= 1
        assert cell["errors"] == 0

    server = report["server"]
    assert server["cold_start_seconds"] > 0
    assert server["memory"]["master"]["rss_mib"] > 0
    assert len(server["memory"]["workers"]) == server["workers"]
    assert all(worker["rss_mib"] > 0 for worker in server["memory"]["workers"])
    ratios = report["ratios"]
    assert ratios["http_single_over_in_process"] > 0
    assert ratios["http_batch_over_in_process"] > 0
    assert ratios["http_p99_over_in_process_p50"] > 0
    assert ratios["http_p99_over_paced_p50"] > 0
    if server["workers"] > 1 and report["machine"]["usable_cores"] > 1:
        parallel = report["in_process"]["typical_parallel"]
        assert parallel["processes"] == min(server["workers"], report["machine"]["usable_cores"])
        assert parallel["postings_per_second"] > 0 and parallel["latency_ms"]["count"] >= 2
        assert ratios["http_single_over_parallel"] > 0
    assert report["in_process"]["typical_paced"]["pause_ms"] == bench.PAUSE_SECONDS * 1000
    assert "/v1/score/batch" in capsys.readouterr().out
