"""Score files of job postings with Spark: the file command's inputs, outputs and rejects.

    python -m models.spark_job INPUT OUTPUT [--model DIR] [--format jsonl|csv|parquet]
        [--rejects DIR] [--master URL] [--batch-size N] [--overwrite]
        [--id-column NAME] [--title-column NAME] [--description-column NAME]
        [--language-column NAME]

INPUT is a file, a directory or a glob of files in one format. OUTPUT and the rejects (default
OUTPUT.rejects.jsonl) are written the Spark way, as directories of part files: concatenated in
name order, the parts hold the rows in input order. Rows, columns, rejects and their reasons and
row numbers are those of `python -m models.score_file` (which see); a reject also names its
file when INPUT has more than one.

The model is read on the driver, checked (sha256 and scikit-learn version), and broadcast once;
each executor's Python worker loads it once, from the broadcast, and keeps it across tasks.
Postings reach the model as Arrow batches through mapInArrow: the vectorised path of pandas
UDFs, without the trip through pandas, which would turn a nullable integer column into floats.
Without --master, `python -m` runs Spark in local mode on every core; under spark-submit the
master comes from spark-submit. See the README for submitting to a cluster.
"""

import argparse
import atexit
import contextlib
import csv
import functools
import io
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.broadcast import Broadcast
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType
from threadpoolctl import threadpool_limits

import models
from models import artifact, registry
from models.artifact import CARD_FILE, ArtifactError
from models.score_file import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_COLUMNS,
    FLAT_COLUMNS,
    FORMATS,
    Broken,
    Columns,
    ScoreFileError,
    add_column_arguments,
    as_bytes,
    columns_of,
    detect_format,
    score_batch,
    score_json_lines,
)
from models.scorer import Scorer

# PySpark 4.3 warns about pandas 3 whenever its Arrow paths start; the job never converts to
# or from pandas (mapInArrow), so the warning does not apply to it.
PANDAS_WARNING = "PySpark does not yet fully support pandas"

# Columns the job adds to every input row before scoring: the row's file, the start of its
# split, and an id that is consecutive within a split (see _number_rows).
FILE, BLOCK, SEQUENCE = "_exposure_file", "_exposure_block", "_exposure_sequence"
HELPERS = (FILE, BLOCK, SEQUENCE)
CORRUPT = "_exposure_corrupt"
REJECT = "_exposure_reject"
SPARK_TYPES = {pa.float64(): DoubleType(), pa.string(): StringType()}


@dataclass
class JobSummary:
    """What a job did."""

    rows: int
    scored: int
    rejected: int
    seconds: float
    output: str
    rejects: str


# --- Executors ---------------------------------------------------------------------------------

# Each Python worker's loaded models, by card: loaded on the worker's first task, kept after
# (Spark reuses Python workers, and a broadcast's value is read once per worker).
_loaded: dict[bytes, Scorer] = {}


def load_broadcast_model(model: Broadcast) -> Scorer:
    """Return the model in a broadcast, loaded once per Python worker with the usual checks."""
    key = model.value[CARD_FILE]
    if key not in _loaded:
        # One BLAS/OpenMP thread: Spark runs one task per core already.
        threadpool_limits(limits=1)
        directory = Path(tempfile.mkdtemp(prefix="exposure-model-"))
        try:
            for name, data in model.value.items():
                (directory / name).parent.mkdir(parents=True, exist_ok=True)
                (directory / name).write_bytes(data)
            _loaded[key] = Scorer.load(directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    return _loaded[key]


def _row_numbers(batch: pa.RecordBatch, blocks: dict) -> list[int]:
    files = batch.column(FILE).to_pylist()
    starts = batch.column(BLOCK).to_pylist()
    sequence = batch.column(SEQUENCE).to_pylist()
    numbers = []
    for name, start, position in zip(files, starts, sequence, strict=True):
        offset, first = blocks[(name, start)]
        numbers.append(offset + position - first + 1)
    return numbers


def _name_files(rejects: list[str], files: list[str], rows: Sequence[int]) -> list[str]:
    # Reject lines are in row order; only a job over several files needs to say which.
    named = []
    by_row = dict(zip(rows, files, strict=True))
    for line in rejects:
        record = json.loads(line)
        named.append(json.dumps({"file": by_row[record["row"]], **record}, ensure_ascii=False))
    return named


def _csv_broken(batch: pa.RecordBatch, width: int) -> list[Broken | None]:
    broken = []
    for raw in batch.column(CORRUPT).to_pylist():
        if raw is None:
            broken.append(None)
            continue
        fields = next(csv.reader(io.StringIO(raw)), [])
        broken.append(Broken(f"expected {width} fields, got {len(fields)}", fields))
    return broken


def score_partition(
    batches: Iterator[pa.RecordBatch],
    *,
    fmt: str,
    columns: Columns,
    model: Broadcast,
    blocks: Broadcast,
    width: int,
    many_files: bool,
) -> Iterator[pa.RecordBatch]:
    """Score one partition's Arrow batches; yield scored rows, then reject rows, per batch."""
    scorer = load_broadcast_model(model)
    for batch in batches:
        rows = _row_numbers(batch, blocks.value)
        if fmt == "jsonl":
            # As bytes: Spark's text reader does not check UTF-8, and the file command rejects
            # a line that is not.
            lines = zip(rows, as_bytes(batch.column("value")).to_pylist(), strict=True)
            output, rejects = score_json_lines(scorer, list(lines), columns)
            output = [line for line in output if line is not None]
            data = {"value": pa.array(output, pa.string())}
        else:
            broken = _csv_broken(batch, width) if fmt == "csv" else None
            names = [n for n in batch.schema.names if n not in (*HELPERS, CORRUPT)]
            data_batch = batch.select(names)
            scored, rejects = score_batch(
                scorer, data_batch, rows, columns, csv_cells=fmt == "csv", broken=broken
            )
            data = dict(zip(scored.schema.names, scored.columns, strict=True))
            output = range(scored.num_rows)
        if many_files:
            rejects = _name_files(rejects, batch.column(FILE).to_pylist(), rows)
        data[REJECT] = pa.nulls(len(output), pa.string())
        yield pa.RecordBatch.from_pydict(data)
        if rejects:
            nulls = {name: pa.nulls(len(rejects), array.type) for name, array in data.items()}
            nulls[REJECT] = pa.array(rejects, pa.string())
            yield pa.RecordBatch.from_pydict(nulls)


# --- Driver -----------------------------------------------------------------------------------


def read_model_files(directory: Path) -> dict[str, bytes]:
    """Return a model's card and artifact by file name, for broadcasting: the whole contract
    between training and serving (a report or other files beside them stay behind)."""
    card = artifact.read_card(directory)
    names = (artifact.CARD_FILE, card["artifact"]["file"])
    return {name: (directory / name).read_bytes() for name in names}


# The Spark applications that have this process's models package already.
_shipped: set[str] = set()


def ship_code(spark: SparkSession) -> None:
    """Send the models package to the executors, unless it came from a --py-files archive."""
    package = Path(models.__file__).parent
    application = spark.sparkContext.applicationId
    if not package.is_dir() or application in _shipped:
        return
    _shipped.add(application)
    folder = tempfile.mkdtemp(prefix="exposure-code-")
    # Spark serves the file from here for as long as the application runs.
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    archive = Path(folder) / "models.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(package.rglob("*.py")):
            bundle.write(path, Path("models") / path.relative_to(package))
    spark.sparkContext.addPyFile(str(archive))


def read_input(spark: SparkSession, path: str, fmt: str, columns: Columns) -> DataFrame:
    """Read postings: raw lines for JSON Lines, string columns for CSV, as they are for Parquet."""
    if fmt == "jsonl":
        # "\n" only, as in the file command: a "\r" before it is JSON whitespace.
        return spark.read.option("lineSep", "\n").text(path)
    if fmt == "csv":
        options = {"header": True, "multiLine": True, "escape": '"', "mode": "PERMISSIVE"}
        header = spark.read.options(**options).csv(path).columns
        _check_columns(header, columns, path)
        schema = StructType([StructField(name, StringType()) for name in header])
        schema = schema.add(CORRUPT, StringType())
        return (
            spark.read.options(**options, columnNameOfCorruptRecord=CORRUPT)
            .schema(schema)
            .csv(path)
        )
    if fmt == "parquet":
        frame = spark.read.parquet(path)
        _check_columns(frame.columns, columns, path)
        return frame
    raise ScoreFileError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _check_columns(names: Sequence[str], columns: Columns, path: str) -> None:
    missing = [name for name in (columns.title, columns.description) if name not in names]
    if missing:
        raise ScoreFileError(f"{path} has no column {', '.join(map(repr, missing))}")
    clashes = [name for name, _ in FLAT_COLUMNS if name in names]
    if clashes:
        raise ScoreFileError(f"{path} already has the result column(s) {', '.join(clashes)}")


def _number_rows(frame: DataFrame) -> tuple[DataFrame, dict, int]:
    """Add each row's file and split, and return where each split's rows start in their file.

    Row numbers are the file command's: a split's rows are consecutive in the file and in the
    monotonically increasing id, so a row's number is the rows of the file's earlier splits plus
    its place in its own split. One extra pass counts the rows of each split.
    """
    frame = frame.select(
        "*",
        F.col("_metadata.file_path").alias(FILE),
        F.col("_metadata.file_block_start").alias(BLOCK),
        F.monotonically_increasing_id().alias(SEQUENCE),
    )
    counts = (
        frame.groupBy(FILE, BLOCK)
        .agg(F.count(F.lit(1)).alias("rows"), F.min(SEQUENCE).alias("first"))
        .collect()
    )
    blocks, offsets = {}, {}
    for row in sorted(counts, key=lambda row: (row[FILE], row[BLOCK])):
        offset = offsets.get(row[FILE], 0)
        blocks[(row[FILE], row[BLOCK])] = (offset, row["first"])
        offsets[row[FILE]] = offset + row["rows"]
    return frame, blocks, sum(offsets.values())


def _exists(spark: SparkSession, path: str) -> bool:
    """Return whether a path exists on its file system (local, HDFS, S3, ...)."""
    hadoop = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(path)
    return hadoop.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(hadoop)


def _spread(frame: DataFrame, cores: int) -> DataFrame:
    """Split input read by fewer tasks than there are cores, keeping the rows in input order.

    A CSV file (read whole, since a quoted field may hold newlines) or a small file is one task;
    scoring is the costly part, so its rows are shared out by ranges of their ids first.
    """
    if frame.rdd.getNumPartitions() >= cores:
        return frame
    return frame.repartitionByRange(cores, SEQUENCE).sortWithinPartitions(SEQUENCE)


def _output_schema(frame: DataFrame, fmt: str) -> StructType:
    if fmt == "jsonl":
        fields = [StructField("value", StringType())]
    else:
        fields = [f for f in frame.schema.fields if f.name not in (*HELPERS, CORRUPT)]
        fields += [StructField(name, SPARK_TYPES[kind]) for name, kind in FLAT_COLUMNS]
    return StructType([*fields, StructField(REJECT, StringType())])


def _write(frame: DataFrame, path: str, fmt: str, mode: str) -> None:
    writer = frame.write.mode(mode)
    if fmt == "jsonl":
        writer.text(path)
    elif fmt == "csv":
        writer.options(header=True, escape='"').csv(path)
    else:
        writer.parquet(path)


def run(
    spark: SparkSession,
    input: str,
    output: str,
    *,
    model_dir: str | Path | None = None,
    fmt: str | None = None,
    rejects: str | None = None,
    columns: Columns = DEFAULT_COLUMNS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    overwrite: bool = False,
) -> JobSummary:
    """Score INPUT into OUTPUT and the rejects directory with an existing Spark session."""
    with quiet_pandas_warning():
        return _run(spark, input, output, model_dir, fmt, rejects, columns, batch_size, overwrite)


@contextlib.contextmanager
def quiet_pandas_warning() -> Iterator[None]:
    """Hide PySpark's warning about pandas 3 (see PANDAS_WARNING), and no other."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)
        yield


def _run(
    spark: SparkSession,
    input: str,
    output: str,
    model_dir: str | Path | None,
    fmt: str | None,
    rejects: str | None,
    columns: Columns,
    batch_size: int,
    overwrite: bool,
) -> JobSummary:
    started = time.perf_counter()
    fmt = fmt or detect_format(Path(input.rstrip("/")))
    rejects = rejects or f"{output.rstrip('/')}.rejects.jsonl"
    model_dir = Path(model_dir) if model_dir else registry.default_dir()
    # Checked here so that a bad model fails the job before any executor starts on it.
    Scorer.load(model_dir)
    if not overwrite:
        # Checked before scoring, which may take hours, rather than when writing.
        for path in (output, rejects):
            if _exists(spark, path):
                raise ScoreFileError(f"{path} exists; pass --overwrite to replace it")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_size))
    ship_code(spark)
    model = spark.sparkContext.broadcast(read_model_files(model_dir))

    frame, blocks, rows = _number_rows(read_input(spark, input, fmt, columns))
    files = {name for name, _ in blocks}
    frame = _spread(frame, spark.sparkContext.defaultParallelism)
    starts = spark.sparkContext.broadcast(blocks)
    score = functools.partial(
        score_partition,
        fmt=fmt,
        columns=columns,
        model=model,
        blocks=starts,
        width=len([name for name in frame.columns if name not in (*HELPERS, CORRUPT)]),
        many_files=len(files) > 1,
    )
    scored = frame.mapInArrow(score, _output_schema(frame, fmt))
    # Scored once, written twice: the rows to OUTPUT, the rejects to their own directory.
    scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
    mode = "overwrite" if overwrite else "errorifexists"
    try:
        _write(scored.filter(F.col(REJECT).isNull()).drop(REJECT), output, fmt, mode)
        scored.filter(F.col(REJECT).isNotNull()).select(REJECT).write.mode(mode).text(rejects)
        counts = dict(scored.groupBy(F.col(REJECT).isNull().alias("scored")).count().collect())
    finally:
        scored.unpersist()
        model.destroy()
        starts.destroy()
    return JobSummary(
        rows=rows,
        scored=counts.get(True, 0),
        rejected=counts.get(False, 0),
        seconds=time.perf_counter() - started,
        output=output,
        rejects=rejects,
    )


def build_session(master: str | None, app_name: str = "exposure-score") -> SparkSession:
    """Return a Spark session; in local mode, on loopback, with this Python as the workers'."""
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    # spark-submit starts the driver with a gateway and its own master; plain python is local.
    local = master.startswith("local") if master else "PYSPARK_GATEWAY_PORT" not in os.environ
    if local:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def build_parser() -> argparse.ArgumentParser:
    """Return the job's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m models.spark_job",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", help="file, directory or glob of .jsonl, .csv or .parquet")
    parser.add_argument("output", help="directory to write, in the input's format")
    parser.add_argument("--model", help="model directory on the driver (default: the default)")
    parser.add_argument("--format", choices=FORMATS, help="input and output format")
    parser.add_argument("--rejects", help="rejects directory (default: OUTPUT.rejects.jsonl)")
    parser.add_argument("--master", help="Spark master (default: spark-submit's, else local[*])")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"rows per Arrow batch and per model call (default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing output")
    add_column_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the job and print a summary to stderr."""
    args = build_parser().parse_args(argv)
    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return 2
    with quiet_pandas_warning():
        spark = build_session(args.master)
    try:
        summary = run(
            spark,
            args.input,
            args.output,
            model_dir=args.model,
            fmt=args.format,
            rejects=args.rejects,
            columns=columns_of(args),
            batch_size=args.batch_size,
            overwrite=args.overwrite,
        )
    except (ScoreFileError, ArtifactError, registry.RegistryError, PySparkException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        spark.stop()
    print(
        f"scored {summary.scored:,} and rejected {summary.rejected:,} of {summary.rows:,} rows "
        f"in {summary.seconds:.1f} s\noutput  {summary.output}\nrejects {summary.rejects}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    # Run the importable module rather than __main__: Spark pickles functions of __main__ by
    # value, which would give every task a fresh model cache instead of one per worker.
    from models import spark_job

    sys.exit(spark_job.main())
