"""Measure batch scoring on this machine: the file command on one core and on all, Spark in local
mode, and memory over a generated file of a million postings.

    python -m training.bench_batch [--model DIR] [--rows N] [--repeat N] [--memory-rows N]
        [--memory-seconds S] [--seconds S] [--no-spark] [--json FILE]

Throughput is measured on --rows realistic postings (training/eval/postings.jsonl, cycled, with
new ids); the reference is Scorer.score_many in this process on one thread, in batches of the
command's size, measured before and after the command's runs (the faster counts). The
command's rate is the one it reports itself (model load and fork included, interpreter start
not); its wall-clock rate and CPU time, workers included, are shown beside it.
Each figure is the best of several runs (--repeat) or slices of --seconds: other work on a shared
machine only ever slows a run down. Rates depend on that other work, CPU time per posting much
less, so the scaling and per-core ratios are also given as a CPU-bound command would reach them
on free cores.
Memory is sampled every half second over the whole process tree while the command scores
--memory-rows short postings (a title and the first 240 characters of a realistic description);
a run longer than --memory-seconds is interrupted and reported as far as it got.
"""

import os

# One BLAS/OpenMP thread, set before numpy loads, as in training.bench: the reference figure is
# per core, and the command's workers each use one core.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import contextlib
import csv
import json
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from models import registry
from models.artifact import ArtifactError
from models.score_file import DEFAULT_BATCH_SIZE, usable_cores
from models.scorer import Scorer
from training.bench import child_pids, format_number, limit_threads, read_cpu_model, read_memory

ROOT = Path(__file__).resolve().parents[1]
EVAL_POSTINGS = ROOT / "training" / "eval" / "postings.jsonl"
DEFAULT_ROWS = 10_000
DEFAULT_MEMORY_ROWS = 1_000_000
# Long enough for the whole million on two cores here (about 11 minutes); a bound, not a target.
DEFAULT_MEMORY_SECONDS = 1200.0
DEFAULT_SECONDS = 10.0
DEFAULT_REPEAT = 2
SHORT_CHARS = 240
SAMPLE_SECONDS = 0.5
SUMMARY = re.compile(r"of ([\d,]+) rows in ([\d.]+) s")
TARGET_SCALING = 1.8
TARGET_PER_CORE = 0.9


class BenchError(RuntimeError):
    """A run that failed."""


def log(message: str) -> None:
    """Print progress to stderr, keeping stdout for the report."""
    print(message, file=sys.stderr, flush=True)


# --- Data -------------------------------------------------------------------------------------


def load_postings() -> list[dict]:
    """Return the realistic evaluation postings: title and description."""
    with open(EVAL_POSTINGS, encoding="utf-8") as stream:
        rows = [json.loads(line) for line in stream if line.strip()]
    return [{"title": row["title"], "description": row["description"]} for row in rows]


def generate(postings: Sequence[dict], rows: int, prefix: str, chars: int | None = None):
    """Yield `rows` postings cycled from `postings`, each with a new id, cut to `chars`."""
    for index in range(rows):
        posting = postings[index % len(postings)]
        description = posting["description"][:chars] if chars else posting["description"]
        yield {"id": f"{prefix}-{index}", "title": posting["title"], "description": description}


def write_file(path: Path, rows) -> Path:
    """Write postings in the format named by the file's extension, streaming when it can."""
    if path.suffix == ".jsonl":
        with open(path, "w", encoding="utf-8") as stream:
            for row in rows:
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, ["id", "title", "description"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        pq.write_table(pa.Table.from_pylist(list(rows)), path)
    return path


# --- In-process reference ---------------------------------------------------------------------


def bench_in_process(
    scorer: Scorer, postings: list[dict], batch_size: int, seconds: float, slices: int
) -> dict:
    """Score the postings in batches on one thread; return the best of `slices` slices.

    The best slice, not the mean: on a shared machine other work only ever slows a slice down.
    """
    batches = [postings[i : i + batch_size] for i in range(0, len(postings), batch_size)]
    scorer.score_many(batches[0])
    best = None
    with limit_threads():
        for index in range(slices):
            count, start, cpu = 0, time.perf_counter(), time.process_time()
            while time.perf_counter() - start < seconds / slices:
                batch = batches[(index + count // batch_size) % len(batches)]
                scorer.score_many(batch)
                count += len(batch)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            cell = {
                "postings": count,
                "seconds": elapsed,
                "postings_per_second": count / elapsed,
                "cpu_ms_per_posting": cpu * 1000 / count,
            }
            if best is None or cell["postings_per_second"] > best["postings_per_second"]:
                best = cell
    return {**best, "slices": slices}


# --- The file command -------------------------------------------------------------------------


def command(model_dir: Path, source: Path, output: Path, workers: int, batch_size: int) -> list:
    """Return the file command's argument list."""
    return [
        sys.executable, "-m", "models.score_file", str(source), str(output),
        "--model", str(model_dir), "--workers", str(workers),
        "--batch-size", str(batch_size), "--overwrite",
    ]  # fmt: skip


def children_cpu() -> float:
    """Return the CPU seconds used by this process's finished children and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_command(arguments: list, rows: int) -> dict:
    """Run the file command to the end; return its own rate, the wall-clock rate and CPU time."""
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run(arguments, cwd=ROOT, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    match = SUMMARY.search(done.stderr)
    if done.returncode != 0 or not match:
        raise BenchError(f"the file command failed ({done.returncode}):\n{done.stderr[-2000:]}")
    # The command reports milliseconds; a tiny run (as in the tests) may still round to zero.
    counted, seconds = int(match[1].replace(",", "")), max(float(match[2]), 1e-3)
    if counted != rows:
        raise BenchError(f"the file command read {counted} rows, not {rows}")
    return {
        "seconds": seconds,
        "postings_per_second": rows / seconds,
        "wall_seconds": wall,
        "wall_postings_per_second": rows / wall,
        "cpu_ms_per_posting": cpu * 1000 / rows,
    }


def bench_file_command(
    model_dir: Path,
    files: dict[str, Path],
    rows: int,
    cores: int,
    batch_size: int,
    folder: Path,
    repeat: int,
) -> tuple[list[dict], dict]:
    """Run the command on one worker and on every core (JSON Lines), and on each other format.

    The JSON Lines runs, which the targets are about, are repeated in turn and the fastest of
    each kept. Each run's CPU time, less that of a run on one posting with as many workers
    (start, imports, model load, fork), gives its CPU per posting.
    """
    one = write_file(folder / "one.jsonl", generate(load_postings(), 1, "s"))
    plan = [("jsonl", 1), ("jsonl", cores)] * repeat if cores > 1 else [("jsonl", 1)] * repeat
    plan += [("csv", cores), ("parquet", cores)]
    startup, best = {}, {}
    for fmt, workers in plan:
        if workers not in startup:
            log(f"file command: start-up with {workers} worker(s)")
            arguments = command(model_dir, one, folder / "one-out.jsonl", workers, batch_size)
            startup[workers] = run_command(arguments, 1)
        log(f"file command: {fmt}, {workers} worker(s), {rows:,} postings")
        output = folder / f"out-{workers}.{fmt}"
        result = run_command(command(model_dir, files[fmt], output, workers, batch_size), rows)
        output.unlink()
        result["steady_cpu_ms"] = (
            result["cpu_ms_per_posting"] - startup[workers]["cpu_ms_per_posting"] / rows
        )
        key = (fmt, workers)
        if key not in best or result["postings_per_second"] > best[key]["postings_per_second"]:
            best[key] = {"format": fmt, "workers": workers, "runs": plan.count(key), **result}
    return list(best.values()), {
        workers: {
            "wall_seconds": run["wall_seconds"],
            "cpu_seconds": run["cpu_ms_per_posting"] / 1000,
        }
        for workers, run in startup.items()
    }


# --- Spark ------------------------------------------------------------------------------------


def bench_spark(model_dir: Path, source: Path, rows: int, cores: int, batch_size: int) -> dict:
    """Run the Spark job in local mode on every core; return its rate and the JVM's start."""
    if shutil.which("java") is None:
        return {"skipped": "Java is not installed"}
    try:
        from models import spark_job
    except ImportError as error:
        return {"skipped": f"pyspark is not installed: {error}"}
    log(f"spark: local[{cores}], starting the JVM")
    start = time.perf_counter()
    with spark_job.quiet_pandas_warning():
        spark = spark_job.build_session(f"local[{cores}]", app_name="exposure-bench")
    started = time.perf_counter() - start
    try:
        with tempfile.TemporaryDirectory(prefix="bench-spark-") as folder:
            # A first small job starts the Python workers and loads the model in each.
            warm = write_file(Path(folder) / "warm.jsonl", generate(load_postings(), 100, "w"))
            spark_job.run(spark, str(warm), f"{folder}/warm-out", model_dir=model_dir)
            log(f"spark: local[{cores}], {rows:,} postings")
            summary = spark_job.run(
                spark, str(source), f"{folder}/out", model_dir=model_dir, batch_size=batch_size
            )
    finally:
        spark.stop()
    if summary.scored != rows:
        raise BenchError(f"the Spark job scored {summary.scored} rows, not {rows}")
    return {
        "cores": cores,
        "jvm_start_seconds": started,
        "seconds": summary.seconds,
        "postings_per_second": rows / summary.seconds,
        "pyspark": metadata.version("pyspark"),
    }


# --- Memory -----------------------------------------------------------------------------------


def sample_tree(pid: int) -> dict:
    """Return the summed RSS and PSS of a process and its children, and the parent's RSS."""
    parent = read_memory(pid)
    memories = [parent] + [read_memory(child) for child in child_pids(pid)]
    return {
        "rss_mib": sum(memory["rss_mib"] or 0 for memory in memories),
        "pss_mib": sum(memory["pss_mib"] or 0 for memory in memories),
        "parent_rss_mib": parent["rss_mib"] or 0,
        "processes": len(memories),
    }


def committed_rows(progress: Path) -> int:
    """Return the rows the command has committed so far, from its progress file."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        return json.loads(progress.read_text())["rows"]
    return 0


def bench_memory(
    model_dir: Path, folder: Path, rows: int, seconds: float, workers: int, batch_size: int
) -> dict:
    """Score a generated file of `rows` short postings and sample the memory of every process."""
    log(f"memory: writing {rows:,} short postings")
    source = write_file(
        folder / "million.jsonl", generate(load_postings(), rows, "m", chars=SHORT_CHARS)
    )
    output = folder / "million-out.jsonl"
    progress = output.with_name(output.name + ".progress.json")
    log(f"memory: scoring them with {workers} workers (at most {seconds:g} s)")
    arguments = command(model_dir, source, output, workers, batch_size)
    samples, start = [], time.perf_counter()
    with subprocess.Popen(
        arguments,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        errors: list[str] = []
        reader = threading.Thread(target=lambda: errors.append(process.stderr.read()))
        reader.start()
        interrupted = False
        while process.poll() is None:
            elapsed = time.perf_counter() - start
            with contextlib.suppress(OSError):
                sample = sample_tree(process.pid)
                samples.append({"seconds": elapsed, "rows": committed_rows(progress), **sample})
            if elapsed > seconds and not interrupted:
                process.send_signal(signal.SIGINT)
                interrupted = True
            time.sleep(SAMPLE_SECONDS)
        reader.join()
    wall = time.perf_counter() - start
    if process.returncode not in (0, 130) or not samples:
        raise BenchError(
            f"the memory run failed ({process.returncode}):\n{''.join(errors)[-2000:]}"
        )
    match = SUMMARY.search("".join(errors))
    done = int(match[1].replace(",", "")) if match else samples[-1]["rows"]
    return {
        "rows": rows,
        "rows_done": done,
        "interrupted": interrupted,
        "input_mib": source.stat().st_size / 2**20,
        "workers": workers,
        "wall_seconds": wall,
        "postings_per_second": done / wall,
        "peak_rss_mib": max(sample["rss_mib"] for sample in samples),
        "peak_pss_mib": max(sample["pss_mib"] for sample in samples),
        "peak_parent_rss_mib": max(sample["parent_rss_mib"] for sample in samples),
        "by_progress": by_progress(samples, rows),
    }


def by_progress(samples: Sequence[dict], rows: int) -> list[dict]:
    """Return the highest memory seen in each tenth of the file, to show whether it grows."""
    tenths = []
    for tenth in range(10):
        low, high = rows * tenth / 10, rows * (tenth + 1) / 10
        inside = [sample for sample in samples if low < sample["rows"] <= high]
        if inside:
            tenths.append(
                {
                    "up_to_rows": int(high),
                    "rss_mib": max(sample["rss_mib"] for sample in inside),
                    "pss_mib": max(sample["pss_mib"] for sample in inside),
                }
            )
    return tenths


# --- Report -----------------------------------------------------------------------------------


def describe_machine(scorer: Scorer, model_dir: Path) -> dict:
    """Return the CPU, cores, libraries and model that the figures belong to."""
    return {
        "cpu": read_cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cores": usable_cores(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "scikit_learn": metadata.version("scikit-learn"),
        "model": {"version": scorer.version, "sha256": scorer.sha256, "dir": str(model_dir)},
    }


def compare(report: dict) -> dict:
    """Return the issue's two ratios: scaling from 1 to all cores, and per core vs in-process."""
    cells = report["file_command"]
    one = next(c for c in cells if c["format"] == "jsonl" and c["workers"] == 1)
    every = max((c for c in cells if c["format"] == "jsonl"), key=lambda cell: cell["workers"])
    in_process = report["in_process"]["postings_per_second"]
    in_process_cpu = report["in_process"]["cpu_ms_per_posting"]
    return {
        "cores": every["workers"],
        "scaling": every["postings_per_second"] / one["postings_per_second"],
        "per_core_over_in_process": every["postings_per_second"] / every["workers"] / in_process,
        "one_worker_over_in_process": one["postings_per_second"] / in_process,
        # What the same runs imply for a machine whose cores are all free: the command and its
        # workers are CPU-bound, so postings/s = cores / CPU per posting.
        "cpu_scaling": every["workers"] * one["steady_cpu_ms"] / every["steady_cpu_ms"],
        "cpu_per_core_over_in_process": in_process_cpu / every["steady_cpu_ms"],
    }


def format_report(report: dict) -> str:
    """Return the report as a readable table."""
    machine, data = report["machine"], report["data"]
    in_process = report["in_process"]
    lines = [
        f"CPU     {machine['cpu']}: {machine['cpu_count']} CPUs, {machine['usable_cores']} usable,"
        f" load average {' '.join(map(str, machine['load_average']))} at the start, "
        f"{' '.join(map(str, report['load_average_after']))} at the end",
        f"Python  {machine['python']}, scikit-learn {machine['scikit_learn']}",
        f"Model   {machine['model']['version']} (sha256 {machine['model']['sha256'][:12]})",
        f"Data    {data['rows']:,} realistic postings (mean {data['mean_chars']:,.0f} characters "
        f"of description), batches of {data['batch_size']}",
        "",
        f"  {'':<40}{'postings/s':>12}{'per core':>10}{'wall p/s':>10}{'CPU ms/p':>10}"
        f"{'less start':>12}",
        f"  {'Scorer.score_many in-process, 1 thread':<40}"
        f"{format_number(in_process['postings_per_second']):>12}"
        f"{format_number(in_process['postings_per_second']):>10}{'':>10}"
        f"{format_number(in_process['cpu_ms_per_posting'], 3):>10}"
        f"{format_number(in_process['cpu_ms_per_posting'], 3):>12}",
    ]
    for cell in report["file_command"]:
        name = f"file command, {cell['format']}, {cell['workers']} worker(s)"
        lines.append(
            f"  {name:<40}{format_number(cell['postings_per_second']):>12}"
            f"{format_number(cell['postings_per_second'] / cell['workers']):>10}"
            f"{format_number(cell['wall_postings_per_second']):>10}"
            f"{format_number(cell['cpu_ms_per_posting'], 3):>10}"
            f"{format_number(cell['steady_cpu_ms'], 3):>12}"
        )
    spark = report["spark"]
    if "skipped" in spark:
        lines.append(f"  {'Spark local mode':<40}skipped: {spark['skipped']}")
    else:
        name = f"Spark local[{spark['cores']}], jsonl, mapInArrow"
        lines.append(
            f"  {name:<40}{format_number(spark['postings_per_second']):>12}"
            f"{format_number(spark['postings_per_second'] / spark['cores']):>10}"
        )
        lines.append(f"  (JVM start {spark['jvm_start_seconds']:.1f} s, not counted)")
    ratios = report["ratios"]
    startup = ", ".join(
        f"{workers} worker(s) {run['wall_seconds']:.1f} s and {run['cpu_seconds']:.1f} CPU s"
        for workers, run in report["startup"].items()
    )
    rows = [
        (
            f"scaling from 1 to {ratios['cores']} workers",
            f"{ratios['scaling']:.2f}x",
            f"{ratios['cpu_scaling']:.2f}x",
            f">= {TARGET_SCALING}x",
        ),
        (
            "file command per core / in-process",
            f"{ratios['per_core_over_in_process']:.2f}",
            f"{ratios['cpu_per_core_over_in_process']:.2f}",
            f">= {TARGET_PER_CORE}",
        ),
    ]
    lines += [
        f"  (start-up: {startup})",
        "",
        f"  {'':<40}{'measured':>10}{'from CPU time':>15}{'target':>10}",
        *(f"  {name:<40}{wall:>10}{cpu:>15}{target:>10}" for name, wall, cpu, target in rows),
    ]
    memory = report.get("memory")
    if memory:
        stopped = " (stopped at the time limit)" if memory["interrupted"] else ""
        lines += [
            "",
            f"Memory  {memory['rows_done']:,} of {memory['rows']:,} short postings "
            f"({memory['input_mib']:,.0f} MiB of JSON Lines), {memory['workers']} workers, "
            f"{memory['wall_seconds']:.0f} s, {memory['postings_per_second']:,.0f} postings/s"
            f"{stopped}",
            f"  peak over the process tree: RSS {memory['peak_rss_mib']:,.0f} MiB, "
            f"PSS {memory['peak_pss_mib']:,.0f} MiB; "
            f"parent RSS {memory['peak_parent_rss_mib']:,.0f} MiB",
            f"  {'rows done up to':>18}{'RSS MiB':>10}{'PSS MiB':>10}",
        ]
        for tenth in memory["by_progress"]:
            lines.append(
                f"  {tenth['up_to_rows']:>18,}{tenth['rss_mib']:>10,.0f}{tenth['pss_mib']:>10,.0f}"
            )
    return "\n".join(lines)


# --- Command line -----------------------------------------------------------------------------


def run(
    model_dir: Path,
    rows: int,
    memory_rows: int,
    memory_seconds: float,
    seconds: float,
    spark: bool,
    repeat: int = DEFAULT_REPEAT,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict:
    """Measure everything and return the report."""
    scorer = Scorer.load(model_dir)
    cores = usable_cores()
    postings = load_postings()
    sample = list(generate(postings, rows, "t"))
    report = {
        "machine": describe_machine(scorer, model_dir),
        "data": {
            "rows": rows,
            "batch_size": batch_size,
            "mean_chars": sum(len(p["description"]) for p in sample) / rows,
        },
    }
    log(f"in-process: Scorer.score_many, batches of {batch_size}, {seconds:g} s")
    before = bench_in_process(scorer, sample, batch_size, seconds, 5)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as directory:
        folder = Path(directory)
        files = {
            fmt: write_file(folder / f"postings.{fmt}", sample)
            for fmt in ("jsonl", "csv", "parquet")
        }
        report["file_command"], report["startup"] = bench_file_command(
            model_dir, files, rows, cores, batch_size, folder, repeat
        )
        # Again after the command's runs, and the faster of the two is the reference: this
        # machine's cores drift in speed within minutes, and a slow spell during the reference
        # alone would flatter the command.
        log(f"in-process: Scorer.score_many again, {seconds:g} s")
        after = bench_in_process(scorer, sample, batch_size, seconds, 5)
        report["in_process_runs"] = [before, after]
        report["in_process"] = max(before, after, key=lambda run: run["postings_per_second"])
        report["spark"] = (
            bench_spark(model_dir, files["jsonl"], rows, cores, batch_size)
            if spark
            else {"skipped": "--no-spark"}
        )
        if memory_rows:
            report["memory"] = bench_memory(
                model_dir, folder, memory_rows, memory_seconds, cores, batch_size
            )
    report["ratios"] = compare(report)
    report["load_average_after"] = [round(load, 2) for load in os.getloadavg()]
    return report


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the benchmark and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m training.bench_batch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", help="model directory (default: the default model)")
    parser.add_argument("--rows", type=_positive, default=DEFAULT_ROWS, help="throughput file rows")
    parser.add_argument(
        "--memory-rows",
        type=_positive,
        default=DEFAULT_MEMORY_ROWS,
        help="rows of the memory run's file (0: no memory run)",
    )
    parser.add_argument(
        "--memory-seconds",
        type=float,
        default=DEFAULT_MEMORY_SECONDS,
        help="stop the memory run after this long (default %(default)s)",
    )
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help="in-process measurement time"
    )
    parser.add_argument(
        "--repeat",
        type=_positive,
        default=DEFAULT_REPEAT,
        help="runs of each JSON Lines measurement, the fastest kept (default %(default)s)",
    )
    parser.add_argument("--no-spark", action="store_true", help="leave out Spark")
    parser.add_argument("--json", help="also write the report as JSON to this file")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    try:
        model_dir = Path(args.model) if args.model else registry.default_dir()
        report = run(
            model_dir,
            args.rows,
            args.memory_rows,
            args.memory_seconds,
            args.seconds,
            not args.no_spark,
            max(args.repeat, 1),
        )
    except (ArtifactError, registry.RegistryError, BenchError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
