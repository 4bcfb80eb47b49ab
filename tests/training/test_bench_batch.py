"""The batch bench's memory profile and ratios, and one short run on the tiny model."""

import json

import pytest

from training import bench_batch


def test_memory_is_reported_per_tenth_of_the_file():
    samples = [
        {"rows": 0, "rss_mib": 90.0, "pss_mib": 50.0},
        {"rows": 10, "rss_mib": 100.0, "pss_mib": 60.0},
        {"rows": 10, "rss_mib": 110.0, "pss_mib": 55.0},
        {"rows": 95, "rss_mib": 105.0, "pss_mib": 58.0},
        {"rows": 100, "rss_mib": 101.0, "pss_mib": 57.0},
    ]
    assert bench_batch.by_progress(samples, 100) == [
        {"up_to_rows": 10, "rss_mib": 110.0, "pss_mib": 60.0},
        {"up_to_rows": 100, "rss_mib": 105.0, "pss_mib": 58.0},
    ]


def test_ratios_compare_one_worker_all_workers_and_in_process():
    cell = {"format": "jsonl", "workers": 1, "postings_per_second": 95.0, "steady_cpu_ms": 1.05}
    report = {
        "in_process": {"postings_per_second": 100.0, "cpu_ms_per_posting": 1.0},
        "file_command": [
            cell,
            {**cell, "workers": 2, "postings_per_second": 180.0, "steady_cpu_ms": 1.1},
            {**cell, "format": "csv", "workers": 2, "postings_per_second": 500.0},
        ],
    }
    assert bench_batch.compare(report) == {
        "cores": 2,
        "scaling": pytest.approx(180 / 95),
        "per_core_over_in_process": pytest.approx(0.9),
        "one_worker_over_in_process": pytest.approx(0.95),
        "cpu_scaling": pytest.approx(2 * 1.05 / 1.1),
        "cpu_per_core_over_in_process": pytest.approx(1 / 1.1),
    }


@pytest.mark.slow
def test_a_short_run_reports_every_section(tiny_model_dir, tmp_path, capsys):
    report_path = tmp_path / "bench.json"
    arguments = ["--model", str(tiny_model_dir), "--rows", "40", "--memory-rows", "400"]
    arguments += ["--seconds", "0.2", "--no-spark", "--json", str(report_path)]
    assert bench_batch.main(arguments) == 0
    report = json.loads(report_path.read_text())
    assert report["machine"]["model"]["version"] == "tiny-test"
    assert report["in_process"]["postings_per_second"] > 0
    runs = [run["postings_per_second"] for run in report["in_process_runs"]]
    assert len(runs) == 2 and report["in_process"]["postings_per_second"] == max(runs)
    cores = report["machine"]["usable_cores"]
    cells = {(cell["format"], cell["workers"]) for cell in report["file_command"]}
    assert ("jsonl", 1) in cells and ("parquet", cores) in cells and ("csv", cores) in cells
    assert all(cell["postings_per_second"] > 0 for cell in report["file_command"])
    assert report["spark"] == {"skipped": "--no-spark"}
    memory = report["memory"]
    assert memory["rows_done"] == 400 and not memory["interrupted"]
    assert memory["peak_rss_mib"] >= memory["peak_parent_rss_mib"] > 0
    assert report["ratios"]["scaling"] > 0
    assert set(report["startup"]) == {"1", str(cores)}
    assert "scaling from 1 to" in capsys.readouterr().out
