"""Score a file of job postings (JSON Lines, CSV or Parquet) into the same format.

    python -m models.score_file INPUT OUTPUT [--model DIR] [--format jsonl|csv|parquet]
        [--workers N] [--rejects FILE] [--resume | --overwrite] [--batch-size N]
        [--id-column NAME] [--title-column NAME] [--description-column NAME]
        [--language-column NAME] [--quiet]

Every input row comes out either in OUTPUT, in input order, with its result added, or in the
rejects file (JSON Lines, default OUTPUT.rejects.jsonl) with its row number and the reason. JSON
Lines output keeps each object and adds the whole result under "result"; CSV and Parquet output
keep every input column and add exposure_score, exposure_band, exposure_alpha, exposure_beta,
exposure_gamma, exposure_confidence, exposure_basis, model_version, and `result`, the whole
result as JSON. A row is rejected for the HTTP API's reasons (missing, null, non-string, blank or
too long title or description; non-string or too long id), with the API's messages, and for the
file's own (invalid JSON or UTF-8, a JSON line that is not an object, a CSV record with the wrong
number of fields). Row numbers count from 1: lines for JSON Lines (blank lines are skipped but
counted), records after the header for CSV (blank lines are not records), rows for Parquet.

The file is read and written in chunks, so memory stays flat however large it is. Chunks are
scored by worker processes, each holding one copy of the model, and written in input order.
Output goes to OUTPUT.partial (Parquet: OUTPUT.parts/) and is committed about once a second with
a small OUTPUT.progress.json; a run that was stopped, even by SIGKILL, continues from the last
commit with --resume, and OUTPUT appears only when every row is done.
"""

import argparse
import contextlib
import csv
import ctypes
import ctypes.util
import gc
import hashlib
import io
import json
import multiprocessing
import os
import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from models import registry
from models.artifact import ArtifactError
from models.language import MAX_TAG_CHARS, is_code
from models.scorer import Scorer

FORMATS = ("jsonl", "csv", "parquet")
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}

# The HTTP API's limits (api.DEFAULTS); a test keeps them equal. models/ cannot import api/.
MAX_TITLE_CHARS = 300
MAX_DESCRIPTION_CHARS = 20_000
MAX_ID_CHARS = 128
# marshmallow's messages, so that a reject's `errors` read like the API's 422 `errors`.
MISSING = "Missing data for required field."
NULL = "Field may not be null."
NOT_STRING = "Not a valid string."
BLANK = "Must not be empty or only whitespace."
TOO_LONG = "Longer than maximum length {maximum}."
NOT_LANGUAGE = "Not a language tag such as 'en', 'ja' or 'fa-IR'."

# Columns added to CSV and Parquet rows; JSON Lines objects get the whole result as "result".
FLAT_COLUMNS = (
    ("exposure_score", pa.float64()),
    ("exposure_band", pa.string()),
    ("exposure_alpha", pa.float64()),
    ("exposure_beta", pa.float64()),
    ("exposure_gamma", pa.float64()),
    ("exposure_confidence", pa.float64()),
    ("exposure_basis", pa.string()),
    ("model_version", pa.string()),
    ("result", pa.string()),
)
RESULT_FIELD = "result"

DEFAULT_BATCH_SIZE = 500
DEFAULT_COMMIT_SECONDS = 1.0
# Bounds that keep memory flat whatever the file holds: a longer line or CSV field is rejected,
# and a chunk is cut early when its rows add up to more bytes.
MAX_RECORD_BYTES = 8 << 20
MAX_CHUNK_BYTES = 64 << 20
# Bytes of the input hashed into its identity, so that --resume refuses a replaced file.
HEAD_BYTES = 1 << 16
PROGRESS_VERSION = 1
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


class ScoreFileError(RuntimeError):
    """An input, output or option that the command cannot work with."""


@dataclass(frozen=True, slots=True)
class Columns:
    """The names of the columns (or JSON keys) that hold each posting field."""

    id: str = "id"
    title: str = "title"
    description: str = "description"
    language: str = "language"  # optional: the posting's language, as a caller states it


DEFAULT_COLUMNS = Columns()


@dataclass(frozen=True, slots=True)
class Broken:
    """A row the reader could not parse, and why."""

    reason: str
    record: Any = None


# --- Checking and scoring rows -----------------------------------------------------------------


def _check_string(value: Any, maximum: int, blank_allowed: bool) -> list[str]:
    if value is None:
        return [NULL]
    if not isinstance(value, str):
        return [NOT_STRING]
    # Like the API's schema, every validator runs: a blank 301-character title gets both.
    messages = []
    if not blank_allowed and not value.strip():
        messages.append(BLANK)
    if len(value) > maximum:
        messages.append(TOO_LONG.format(maximum=maximum))
    return messages


def check_posting(record: Mapping, columns: Columns) -> tuple[dict | None, dict[str, list[str]]]:
    """Return the posting in a record, or None and the API's error messages per field."""
    errors = {}
    posting = {"id": None}
    for field, column, maximum in (
        ("title", columns.title, MAX_TITLE_CHARS),
        ("description", columns.description, MAX_DESCRIPTION_CHARS),
    ):
        if column not in record:
            errors[field] = [MISSING]
            continue
        messages = _check_string(record[column], maximum, blank_allowed=False)
        if messages:
            errors[field] = messages
        posting[field] = record[column]
    if record.get(columns.id) is not None:
        messages = _check_string(record[columns.id], MAX_ID_CHARS, blank_allowed=True)
        if messages:
            errors["id"] = messages
        posting["id"] = record[columns.id]
    # A stated language, checked as the API checks it; absent or null means detect it.
    language = record.get(columns.language)
    if language is not None:
        if not isinstance(language, str):
            errors["language"] = [NOT_STRING]
        else:
            messages = []
            if len(language) > MAX_TAG_CHARS:
                messages.append(TOO_LONG.format(maximum=MAX_TAG_CHARS))
            if not is_code(language):
                messages.append(NOT_LANGUAGE)
            if messages:
                errors["language"] = messages
            posting["language"] = language
    return (None, errors) if errors else (posting, {})


def describe_errors(errors: Mapping[str, Sequence[str]]) -> str:
    """Return field errors as one line: 'title: Must not be ...; description: ...'."""
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())


def _jsonable(value: Any) -> Any:
    # Components may add numpy values to a result; everything else must already be JSON.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dump_json(value: Any) -> str:
    """Serialise a result or row as compact UTF-8 JSON, whatever fields it has."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_jsonable)


def _jsonable_cell(value: Any) -> Any:
    # For rejected Parquet rows only: dates, decimals and bytes are kept readable as text.
    try:
        return _jsonable(value)
    except TypeError:
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return str(value)


def reject(row: int, reason: str, errors: Mapping | None = None, **raw: Any) -> str:
    """Return one line of the rejects file."""
    line = {"row": row, "reason": reason}
    if errors:
        line["errors"] = errors
    line.update((key, value) for key, value in raw.items() if value is not None)
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=_jsonable_cell)


def _score_postings(scorer: Scorer, postings: list[dict]) -> list[dict | Exception]:
    if not postings:
        return []
    try:
        return scorer.score_many(postings)
    except Exception:
        # One unscorable posting must not lose its chunk: score one at a time to find it, and
        # report its exception as the row's reject reason.
        outcomes = []
        for posting in postings:
            try:
                outcomes.append(scorer.score_many([posting])[0])
            except Exception as error:
                outcomes.append(error)
        return outcomes


def score_records(
    scorer: Scorer,
    records: Sequence[tuple[int, Mapping | Broken]],
    columns: Columns,
    csv_cells: bool = False,
) -> list[tuple[dict | None, str | None]]:
    """Check and score records; return (result, None) or (None, reject line) for each, in order.

    A record is scored exactly as the HTTP API scores the same posting: one score_many call
    for the chunk, each result independent of the others in it. `csv_cells` reads the cells
    as CSV ones (see csv_record); a reject holds the record as it was read.
    """
    outcomes: list[tuple[dict | None, str | None]] = []
    postings, slots = [], []
    for row, record in records:
        if isinstance(record, Broken):
            outcomes.append((None, reject(row, record.reason, record=record.record)))
            continue
        posting, errors = check_posting(
            csv_record(record, columns) if csv_cells else record, columns
        )
        if posting is None:
            outcomes.append((None, reject(row, describe_errors(errors), errors, record=record)))
            continue
        slots.append((len(outcomes), row, record))
        postings.append(posting)
        outcomes.append((None, None))
    for (index, row, record), result in zip(slots, _score_postings(scorer, postings), strict=True):
        if isinstance(result, Exception):
            reason = f"scoring failed: {type(result).__name__}: {result}"
            outcomes[index] = (None, reject(row, reason, record=record))
        else:
            outcomes[index] = (result, None)
    return outcomes


def flat_values(result: dict) -> tuple:
    """Return the values of FLAT_COLUMNS for one result."""
    exposure, model = result["exposure"], result["model"]
    return (
        exposure["score"],
        exposure["band"],
        exposure["alpha"],
        exposure["beta"],
        exposure["gamma"],
        exposure["confidence"],
        exposure["basis"],
        model["version"],
        dump_json(result),
    )


# --- Formats: what a worker does with one chunk ------------------------------------------------


@dataclass
class Scored:
    """A scored chunk: its output, its reject lines, and how many rows went to each."""

    output: Any  # bytes for JSON Lines and CSV, a RecordBatch for Parquet
    rejects: list[str]
    scored: int

    @property
    def rejected(self) -> int:
        """Return the number of rejected rows."""
        return len(self.rejects)


def parse_json_line(line: bytes | str) -> dict | Broken | None:
    """Return a JSON line's object, a Broken row, or None for a blank line."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as error:
            readable = line.decode("utf-8", "replace").rstrip("\r\n")
            return Broken(f"invalid UTF-8: {error}", readable)
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as error:
        return Broken(f"invalid JSON: {error}", line.rstrip("\r\n"))
    if not isinstance(record, dict):
        return Broken(f"not a JSON object but {type(record).__name__}", line.rstrip("\r\n"))
    if RESULT_FIELD in record:
        return Broken(f"already has a '{RESULT_FIELD}' field", record)
    return record


def score_json_lines(
    scorer: Scorer, lines: Sequence[tuple[int, bytes | str | Broken]], columns: Columns
) -> tuple[list[str | None], list[str]]:
    """Score JSON lines; return an output line (or None) per input line, and the reject lines."""
    records, kept = [], []
    for row, line in lines:
        record = line if isinstance(line, Broken) else parse_json_line(line)
        if record is not None:
            kept.append(len(records))
            records.append((row, record))
        else:
            kept.append(None)
    outcomes = score_records(scorer, records, columns)
    output, rejects = [], []
    for index in kept:
        if index is None:
            output.append(None)
            continue
        result, rejected = outcomes[index]
        if rejected is not None:
            output.append(None)
            rejects.append(rejected)
            continue
        try:
            output.append(dump_json({**records[index][1], RESULT_FIELD: result}))
        except (TypeError, ValueError) as error:
            output.append(None)
            rejects.append(reject(records[index][0], f"output not serialisable: {error}"))
    return output, rejects


@dataclass(frozen=True)
class JsonLinesCodec:
    """JSON Lines: one object per line in, the same object plus "result" out."""

    columns: Columns

    def score(self, scorer: Scorer, chunk: list[tuple[int, bytes | Broken]]) -> Scored:
        """Score one chunk of lines."""
        output, rejects = score_json_lines(scorer, chunk, self.columns)
        lines = [line for line in output if line is not None]
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        return Scored(data, rejects, len(lines))


@dataclass(frozen=True)
class CsvCodec:
    """CSV with a header row: every input field kept, FLAT_COLUMNS appended."""

    columns: Columns
    header: tuple[str, ...]

    def score(self, scorer: Scorer, chunk: list[tuple[int, list[str] | Broken]]) -> Scored:
        """Score one chunk of records."""
        records = []
        for row, fields in chunk:
            records.append((row, fields if isinstance(fields, Broken) else self._record(fields)))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        rejects, scored = [], 0
        outcomes = score_records(scorer, records, self.columns, csv_cells=True)
        for (_, fields), (result, rejected) in zip(chunk, outcomes, strict=True):
            if rejected is not None:
                rejects.append(rejected)
            else:
                writer.writerow([*fields, *flat_values(result)])
                scored += 1
        return Scored(buffer.getvalue().encode("utf-8"), rejects, scored)

    def _record(self, fields: list[str]) -> dict | Broken:
        if len(fields) != len(self.header):
            return Broken(f"expected {len(self.header)} fields, got {len(fields)}", fields)
        # The reader decodes with surrogateescape so that one bad row cannot stop the file.
        if any(_has_surrogates(field) for field in fields):
            readable = [_replace_surrogates(field) for field in fields]
            return Broken("invalid UTF-8", dict(zip(self.header, readable, strict=True)))
        return dict(zip(self.header, fields, strict=True))


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _replace_surrogates(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def csv_cells_as_read(record: Mapping) -> dict:
    """Return a CSV row with "" for every null: Spark's CSV reader gives null for an empty cell,
    this command's reader gives ""."""
    return {key: "" if value is None else value for key, value in record.items()}


def csv_record(record: Mapping, columns: Columns) -> dict:
    """Return a CSV row as the API would read it: CSV has no null, so an empty id means no id."""
    record = csv_cells_as_read(record)
    for column in (columns.id, columns.language):
        if record.get(column) == "":
            record[column] = None
    return record


# A string cell that is not UTF-8: Spark and some Parquet writers pass such bytes through, and
# pyarrow refuses them only when they are read as str.
INVALID_UTF8 = object()


def as_bytes(array: pa.Array) -> pa.Array:
    """Return a string column as the bytes it holds, valid UTF-8 or not."""
    return array.cast(pa.large_binary() if pa.types.is_large_string(array.type) else pa.binary())


def _decode(raw: bytes | None) -> str | None | object:
    try:
        return raw if raw is None else raw.decode("utf-8")
    except UnicodeDecodeError:
        return INVALID_UTF8


def python_values(array: pa.Array) -> list:
    """Return a column as Python values, with INVALID_UTF8 for a string that is not UTF-8."""
    try:
        return array.to_pylist()
    except UnicodeDecodeError:
        return [_decode(raw) for raw in as_bytes(array).to_pylist()]


def python_row(batch: pa.RecordBatch, index: int) -> dict:
    """Return one row as a dict, with U+FFFD for bytes that are not UTF-8."""
    row = {}
    for name, array in zip(batch.schema.names, batch.columns, strict=True):
        cell = array.slice(index, 1)
        try:
            row[name] = cell.to_pylist()[0]
        except UnicodeDecodeError:
            row[name] = as_bytes(cell).to_pylist()[0].decode("utf-8", "replace")
    return row


def result_schema(schema: pa.Schema) -> pa.Schema:
    """Return an input schema with FLAT_COLUMNS appended."""
    for name, kind in FLAT_COLUMNS:
        schema = schema.append(pa.field(name, kind))
    return schema


def score_batch(
    scorer: Scorer,
    batch: pa.RecordBatch,
    rows: Sequence[int],
    columns: Columns,
    *,
    csv_cells: bool = False,
    broken: Sequence[Broken | None] | None = None,
) -> tuple[pa.RecordBatch, list[str]]:
    """Score an Arrow batch; return its scored rows with FLAT_COLUMNS appended, and the rejects.

    `csv_cells` reads string cells as CSV ones (see csv_record); `broken` marks rows the reader
    could not parse.
    """
    names = batch.schema.names
    wanted = [
        name
        for name in (columns.id, columns.title, columns.description, columns.language)
        if name in names
    ]
    values = {name: python_values(batch.column(name)) for name in wanted}
    records = []
    for index, row in enumerate(rows):
        record = {name: values[name][index] for name in wanted}
        if broken is not None and broken[index] is not None:
            records.append((row, broken[index]))
        elif any(value is INVALID_UTF8 for value in record.values()):
            records.append((row, Broken("invalid UTF-8", python_row(batch, index))))
        else:
            records.append((row, record))
    taken, results, rejects = [], [], []
    outcomes = score_records(scorer, records, columns, csv_cells=csv_cells)
    for index, (result, rejected) in enumerate(outcomes):
        if rejected is None:
            taken.append(index)
            results.append(flat_values(result))
            continue
        # The reject holds the whole row, not just the posting fields, so nothing is lost.
        line = json.loads(rejected)
        if not isinstance(records[index][1], Broken):
            record = python_row(batch, index)
            line["record"] = csv_cells_as_read(record) if csv_cells else record
        rejects.append(
            json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=_jsonable_cell)
        )
    kept = batch.take(pa.array(taken, pa.int64()))
    arrays = list(kept.columns)
    for position, (_, kind) in enumerate(FLAT_COLUMNS):
        arrays.append(pa.array([values[position] for values in results], kind))
    return pa.RecordBatch.from_arrays(arrays, schema=result_schema(batch.schema)), rejects


@dataclass(frozen=True)
class ParquetCodec:
    """Parquet: every input column kept with its type, FLAT_COLUMNS appended."""

    columns: Columns

    def score(self, scorer: Scorer, chunk: tuple[int, pa.RecordBatch]) -> Scored:
        """Score one batch of rows, the first of them numbered `chunk[0]`."""
        first, batch = chunk
        rows = range(first, first + batch.num_rows)
        output, rejects = score_batch(scorer, batch, rows, self.columns)
        return Scored(output, rejects, output.num_rows)


# --- Reading: chunks of rows and where they end ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """How far into the input a run has got: rows consumed, and bytes for text formats."""

    rows: int = 0
    offset: int = 0


class LineReader:
    """Iterate over a binary stream's lines as text, counting the bytes consumed.

    csv.reader asks for lines only as it needs them, so after each record `offset` is where the
    next record starts: a resumed run can seek there.
    """

    def __init__(self, stream, offset: int):
        self.stream = stream
        self.offset = offset

    def __iter__(self) -> "LineReader":
        return self

    def __next__(self) -> str:
        line = self.stream.readline(MAX_RECORD_BYTES)
        if not line:
            raise StopIteration
        self.offset += len(line)
        return line.decode("utf-8", "surrogateescape")


def read_json_lines(
    path: Path, start: Position, batch_size: int
) -> Iterator[tuple[list, Position]]:
    """Yield chunks of (row, line) from a JSON Lines file, with the position after each chunk."""
    with open(path, "rb") as stream:
        stream.seek(start.offset)
        row, offset, size, chunk = start.rows, start.offset, 0, []
        while line := stream.readline(MAX_RECORD_BYTES + 1):
            row += 1
            offset += len(line)
            if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
                length = len(line)
                while (more := stream.readline(1 << 20)) and not more.endswith(b"\n"):
                    length += len(more)
                offset += len(more)
                length += len(more)
                line = Broken(f"line longer than {MAX_RECORD_BYTES} bytes ({length} bytes)")
            else:
                size += len(line)
            chunk.append((row, line))
            if len(chunk) >= batch_size or size >= MAX_CHUNK_BYTES:
                yield chunk, Position(row, offset)
                size, chunk = 0, []
        if chunk:
            yield chunk, Position(row, offset)


def _csv_reader(lines: LineReader):
    return csv.reader(lines, strict=False)


def read_csv_header(path: Path) -> tuple[tuple[str, ...], int]:
    """Return a CSV file's header and the offset of its first record."""
    with open(path, "rb") as stream:
        offset = 3 if stream.read(3) == b"\xef\xbb\xbf" else 0
        stream.seek(offset)
        lines = LineReader(stream, offset)
        try:
            header = next(_csv_reader(lines))
        except StopIteration:
            raise ScoreFileError(f"{path} is empty: a CSV file needs a header row") from None
        except csv.Error as error:
            raise ScoreFileError(f"{path}: cannot read the CSV header: {error}") from error
    if any(_has_surrogates(name) for name in header):
        raise ScoreFileError(f"{path}: the CSV header is not valid UTF-8")
    return tuple(header), lines.offset


def read_csv(path: Path, start: Position, batch_size: int) -> Iterator[tuple[list, Position]]:
    """Yield chunks of (row, fields) from a CSV file after its header, with their end position."""
    with open(path, "rb") as stream:
        stream.seek(start.offset)
        lines = LineReader(stream, start.offset)
        reader = _csv_reader(lines)
        row, size, chunk = start.rows, 0, []
        while True:
            before = lines.offset
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                fields = Broken(f"invalid CSV: {error}")
            if fields == []:
                continue  # a blank line is not a record, as in Spark's CSV reader
            row += 1
            size += lines.offset - before
            chunk.append((row, fields))
            if len(chunk) >= batch_size or size >= MAX_CHUNK_BYTES:
                yield chunk, Position(row, lines.offset)
                size, chunk = 0, []
        if chunk:
            yield chunk, Position(row, lines.offset)


def read_parquet(path: Path, start: Position, batch_size: int) -> Iterator[tuple[tuple, Position]]:
    """Yield (first row number, batch) chunks from a Parquet file, skipping rows already done."""
    parquet = pq.ParquetFile(path)
    group, skip = 0, start.rows
    while group < parquet.num_row_groups and skip >= parquet.metadata.row_group(group).num_rows:
        skip -= parquet.metadata.row_group(group).num_rows
        group += 1
    row = start.rows
    groups = range(group, parquet.num_row_groups)
    for batch in parquet.iter_batches(batch_size=batch_size, row_groups=groups):
        if skip:
            batch, skip = batch.slice(min(skip, batch.num_rows)), max(skip - batch.num_rows, 0)
            if not batch.num_rows:
                continue
        yield (row + 1, batch), Position(row + batch.num_rows)
        row += batch.num_rows


# --- Writing: committed chunks ----------------------------------------------------------------


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class TextSink:
    """An append-only file that can be cut back to its last commit."""

    def __init__(self, path: Path, committed: int | None, header: bytes = b""):
        self.path = path
        if committed is None:
            self.stream = open(path, "wb")
            self.stream.write(header)
        else:
            self.stream = open(path, "r+b")
            if self.stream.seek(0, os.SEEK_END) < committed:
                raise ScoreFileError(
                    f"{path} is shorter than its last commit; start again with --overwrite"
                )
            # Whatever was written after the last commit is written again.
            self.stream.truncate(committed)
            self.stream.seek(committed)

    def write(self, data: bytes) -> None:
        """Append bytes."""
        self.stream.write(data)

    def commit(self) -> int:
        """Make everything written so far durable and return its length."""
        self.stream.flush()
        os.fsync(self.stream.fileno())
        return self.stream.tell()

    def close(self) -> None:
        """Close the file."""
        self.stream.close()


class ParquetSink:
    """Parquet part files, one per commit, merged into one file at the end."""

    def __init__(self, directory: Path, schema: pa.Schema, committed: int | None):
        self.directory = directory
        self.schema = schema
        self.parts = committed or 0
        self.writer: pq.ParquetWriter | None = None
        if committed is None:
            shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        for path in directory.iterdir():
            # Parts from after the last commit are written again.
            if not path.name.endswith(".parquet") or int(path.stem.split("-")[1]) >= self.parts:
                path.unlink()

    def _part(self, index: int) -> Path:
        return self.directory / f"part-{index:06d}.parquet"

    def write(self, batch: pa.RecordBatch) -> None:
        """Add rows to the current part."""
        if batch.num_rows:
            if self.writer is None:
                self.writer = pq.ParquetWriter(
                    self._part(self.parts).with_suffix(".tmp"), self.schema
                )
            self.writer.write_batch(batch)

    def commit(self) -> int:
        """Close the current part and return the number of parts."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            temporary = self._part(self.parts).with_suffix(".tmp")
            with open(temporary, "rb") as stream:
                os.fsync(stream.fileno())
            os.replace(temporary, self._part(self.parts))
            _fsync_directory(self.directory)
            self.parts += 1
        return self.parts

    def merge(self, path: Path) -> None:
        """Write every part, in order, into one Parquet file."""
        with pq.ParquetWriter(path, self.schema) as writer:
            for index in range(self.parts):
                # One part at a time: a part holds about a second of scoring.
                writer.write_table(pq.read_table(self._part(index), schema=self.schema))
            if not self.parts:
                writer.write_table(self.schema.empty_table())

    def close(self) -> None:
        """Drop an uncommitted part."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


# --- The run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    """The files a run reads and writes."""

    input: Path
    output: Path
    rejects: Path

    @property
    def progress(self) -> Path:
        """Return the sidecar that records the last commit."""
        return self.output.with_name(self.output.name + ".progress.json")

    @property
    def partial(self) -> Path:
        """Return where JSON Lines and CSV output is written until the run is done."""
        return self.output.with_name(self.output.name + ".partial")

    @property
    def parts(self) -> Path:
        """Return where Parquet output is written until the run is done."""
        return self.output.with_name(self.output.name + ".parts")

    def working(self) -> list[Path]:
        """Return every file a run leaves behind while it is unfinished."""
        return [self.progress, self.partial, self.parts]


@dataclass
class Summary:
    """What a run did."""

    rows: int
    scored: int
    rejected: int
    seconds: float
    workers: int
    resumed_from: int
    output: str
    rejects: str


def detect_format(path: Path) -> str:
    """Return the format named by a file's extension."""
    try:
        return EXTENSIONS[path.suffix.lower()]
    except KeyError:
        raise ScoreFileError(
            f"cannot tell the format of {path} from its extension; pass --format "
            + "|".join(FORMATS)
        ) from None


def identify(path: Path) -> dict:
    """Return what identifies an input file's content: path, size, mtime and a hash of its head."""
    stat = path.stat()
    with open(path, "rb") as stream:
        head = hashlib.sha256(stream.read(HEAD_BYTES)).hexdigest()
    return {
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "head_sha256": head,
    }


def _write_progress(path: Path, progress: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w") as stream:
        json.dump(progress, stream, indent=1)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


def _read_progress(path: Path) -> dict:
    try:
        progress = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ScoreFileError(
            f"cannot read {path}: {error}; start again with --overwrite"
        ) from error
    if progress.get("version") != PROGRESS_VERSION:
        raise ScoreFileError(f"{path} was written by another version of this command")
    return progress


def _check_resumable(progress: dict, expected: dict, paths: Paths) -> None:
    for key, value in expected.items():
        if progress.get(key) != value:
            raise ScoreFileError(
                f"cannot resume: {key} differs from the interrupted run's "
                f"({progress.get(key)!r} then, {value!r} now); start again with --overwrite"
            )
    if not (paths.partial.exists() or paths.parts.exists()) or not paths.rejects.exists():
        raise ScoreFileError(
            f"cannot resume: the interrupted run's output or rejects file is gone; "
            f"start again with --overwrite (progress file {paths.progress})"
        )


def _prepare(paths: Paths, resume: bool, overwrite: bool) -> dict | None:
    """Return the progress to resume from, or None to start afresh; refuse to lose work."""
    if paths.input.resolve() in {paths.output.resolve(), paths.rejects.resolve()}:
        raise ScoreFileError("the output and rejects files must differ from the input")
    if paths.output.resolve() == paths.rejects.resolve():
        raise ScoreFileError("the output and rejects files must differ")
    if overwrite:
        for path in [paths.output, paths.rejects, *paths.working()]:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        return None
    if paths.progress.exists():
        if resume and paths.output.exists() and not paths.partial.exists():
            # Stopped between moving the output into place and removing the progress file.
            paths.progress.unlink()
            raise ScoreFileError(f"nothing to resume: {paths.output} is complete")
        if resume:
            return _read_progress(paths.progress)
        raise ScoreFileError(
            f"an interrupted run left {paths.progress}: pass --resume to continue it "
            "or --overwrite to start again"
        )
    for path in (paths.output, paths.rejects):
        if path.exists():
            what = "nothing to resume: " if resume else ""
            raise ScoreFileError(f"{what}{path} exists; pass --overwrite to replace it")
    return None


def usable_cores() -> int:
    """Return the number of cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# The worker's model: set before the pool forks, or loaded by the initializer where it cannot.
_scorer: Scorer | None = None


def _die_with(parent: int) -> None:
    # A worker outlives a parent killed with SIGKILL (or by the OOM killer) and waits for work
    # forever, holding its copy of the model; on Linux the kernel can end it with the parent.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _start_worker(model_dir: str, parent: int) -> None:
    global _scorer
    _die_with(parent)
    # The parent handles Ctrl-C: it stops the pool and leaves the last commit. SIGTERM ends a
    # worker at once (the parent's handler came with the fork), as the pool expects.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # One BLAS/OpenMP thread per worker: the workers already use every core.
    threadpool_limits(limits=1)
    if _scorer is None:
        _scorer = Scorer.load(model_dir)


def _score_chunk(codec, chunk) -> Scored:
    return codec.score(_scorer, chunk)


class _Pipeline:
    """Score chunks in worker processes, a few at a time, and hand them back in input order."""

    def __init__(self, codec, workers: int, model_dir: Path):
        self.codec = codec
        self.window: deque[tuple[Future, Position, int]] = deque()
        self.executor = None
        self.limit = 2 * workers
        # The model and the imported modules live as long as the run. Frozen, they are left out
        # of every full collection, which would otherwise walk them again and again while
        # results pile up, and, in a forked worker, write to each of their pages and so copy
        # them (the gc.freeze documentation's advice for fork). Frozen in the workers too.
        self.froze = gc.get_freeze_count() == 0
        if self.froze:
            gc.freeze()
        if workers > 1:
            methods = multiprocessing.get_all_start_methods()
            # fork shares the loaded model's pages; elsewhere each worker loads its own copy.
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self.executor = ProcessPoolExecutor(
                workers,
                mp_context=context,
                initializer=_start_worker,
                initargs=(str(model_dir), os.getpid()),
            )

    def run(self, chunks: Iterator[tuple[Any, Position]]) -> Iterator[tuple[Scored, Position]]:
        """Yield each chunk's Scored and the position after it, in input order."""
        if self.executor is None:
            for chunk, position in chunks:
                yield self.codec.score(_scorer, chunk), position
            return
        for chunk, position in chunks:
            self.window.append((self.executor.submit(_score_chunk, self.codec, chunk), position))
            if len(self.window) >= self.limit:
                future, done = self.window.popleft()
                yield future.result(), done
        while self.window:
            future, done = self.window.popleft()
            yield future.result(), done

    def close(self) -> None:
        """Stop the workers, dropping chunks not yet handed back."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
        if self.froze:
            # A caller in the same process gets its collector back as it was.
            gc.unfreeze()
            self.froze = False


def _progress_bar(fmt: str, paths: Paths, start: Position, quiet: bool) -> tqdm:
    # Text formats are measured in bytes, the one total known without reading the file twice.
    if fmt == "parquet":
        total = pq.ParquetFile(paths.input).metadata.num_rows
        unit, scale, initial = "row", False, start.rows
    else:
        total = paths.input.stat().st_size
        unit, scale, initial = "B", True, start.offset
    return tqdm(
        total=total,
        initial=initial,
        unit=unit,
        unit_scale=scale,
        unit_divisor=1024,
        dynamic_ncols=True,
        smoothing=0.1,
        file=sys.stderr,
        # None: on only when stderr is a terminal.
        disable=True if quiet else None,
    )


def score_file(
    input: str | Path,
    output: str | Path,
    *,
    model_dir: str | Path | None = None,
    fmt: str | None = None,
    rejects: str | Path | None = None,
    workers: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    columns: Columns = DEFAULT_COLUMNS,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = True,
    commit_seconds: float = DEFAULT_COMMIT_SECONDS,
) -> Summary:
    """Score a file of postings into OUTPUT and the rejects file; return what was done."""
    global _scorer
    started = time.perf_counter()
    input, output = Path(input), Path(output)
    if not input.is_file():
        raise ScoreFileError(f"no input file {input}")
    fmt = fmt or detect_format(input)
    paths = Paths(input, output, Path(rejects or f"{output}.rejects.jsonl"))
    model_dir = Path(model_dir) if model_dir else registry.default_dir()
    workers = workers or usable_cores()
    progress = _prepare(paths, resume, overwrite)
    _scorer = scorer = Scorer.load(model_dir)

    expected = {
        "version": PROGRESS_VERSION,
        "input": identify(input),
        "format": fmt,
        "columns": asdict(columns),
        "model": {"version": scorer.version, "sha256": scorer.sha256},
        "rejects": str(paths.rejects.resolve()),
    }
    if progress is not None:
        _check_resumable(progress, expected, paths)
        state = progress
    else:
        state = {**expected, "rows": 0, "offset": 0, "scored": 0, "rejected": 0}
        state.update(output_state=None, rejects_bytes=None)
    resumed_from = state["rows"]

    codec, chunks, sink, start = _open(fmt, paths, columns, batch_size, state)
    rejects_sink = TextSink(paths.rejects, state["rejects_bytes"])
    pipeline = _Pipeline(codec, workers, model_dir)
    # The bar is made after the workers fork: tqdm may start a monitor thread.
    bar = _progress_bar(fmt, paths, start, quiet)

    def commit(position: Position) -> None:
        state["output_state"] = sink.commit()
        state["rejects_bytes"] = rejects_sink.commit()
        state["rows"], state["offset"] = position.rows, position.offset
        _write_progress(paths.progress, state)

    # On Ctrl-C or a dead worker nothing more is committed: the next run redoes at most the
    # last commit interval, where a commit now could record a half-written chunk.
    try:
        if progress is None:
            commit(start)
        last, last_commit = start, time.monotonic()
        for scored, position in pipeline.run(chunks):
            sink.write(scored.output)
            if scored.rejects:
                rejects_sink.write("".join(line + "\n" for line in scored.rejects).encode())
            state["scored"] += scored.scored
            state["rejected"] += scored.rejected
            if time.monotonic() - last_commit >= commit_seconds:
                commit(position)
                last_commit = time.monotonic()
            done = position.rows - resumed_from
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix(rows=position.rows, rejected=state["rejected"], rows_s=f"{rate:,.0f}")
            bar.update((position.rows if fmt == "parquet" else position.offset) - bar.n)
            last = position
        commit(last)
    finally:
        bar.close()
        pipeline.close()
        sink.close()
        rejects_sink.close()

    _finish(fmt, paths, sink)
    return Summary(
        rows=state["rows"],
        scored=state["scored"],
        rejected=state["rejected"],
        seconds=time.perf_counter() - started,
        workers=workers,
        resumed_from=resumed_from,
        output=str(paths.output),
        rejects=str(paths.rejects),
    )


def _open(fmt: str, paths: Paths, columns: Columns, batch_size: int, state: dict):
    """Return the codec, chunk iterator, output sink and starting position for a format."""
    committed = state["output_state"]
    start = Position(state["rows"], state["offset"])
    if fmt == "jsonl":
        chunks = read_json_lines(paths.input, start, batch_size)
        return JsonLinesCodec(columns), chunks, TextSink(paths.partial, committed), start
    if fmt == "csv":
        header, first = read_csv_header(paths.input)
        _check_columns(header, columns, paths.input)
        start = Position(start.rows, max(start.offset, first))
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow([*header, *dict(FLAT_COLUMNS)])
        sink = TextSink(paths.partial, committed, buffer.getvalue().encode("utf-8"))
        return CsvCodec(columns, header), read_csv(paths.input, start, batch_size), sink, start
    if fmt == "parquet":
        try:
            schema = pq.read_schema(paths.input)
        except (OSError, pa.ArrowException) as error:
            raise ScoreFileError(f"cannot read {paths.input} as Parquet: {error}") from error
        _check_columns(schema.names, columns, paths.input)
        sink = ParquetSink(paths.parts, result_schema(schema), committed)
        chunks = read_parquet(paths.input, start, batch_size)
        return ParquetCodec(columns), chunks, sink, start
    raise ScoreFileError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _check_columns(names: Sequence[str], columns: Columns, path: Path) -> None:
    # A missing column would reject every row: say so once instead.
    missing = [name for name in (columns.title, columns.description) if name not in names]
    if missing:
        raise ScoreFileError(
            f"{path} has no column {', '.join(map(repr, missing))} (it has "
            f"{', '.join(map(repr, names))}); name them with --title-column/--description-column"
        )
    clashes = [name for name, _ in FLAT_COLUMNS if name in names]
    if clashes:
        raise ScoreFileError(
            f"{path} already has the result column(s) {', '.join(map(repr, clashes))}; "
            "rename them first"
        )


def _finish(fmt: str, paths: Paths, sink) -> None:
    """Move the committed output into place and drop the progress file."""
    if fmt == "parquet":
        temporary = paths.partial
        sink.merge(temporary)
        os.replace(temporary, paths.output)
        shutil.rmtree(paths.parts)
    else:
        os.replace(paths.partial, paths.output)
    paths.progress.unlink()


# --- Command line -----------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be from 0 to 3600: {text!r}")
    return value


def add_column_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that name the posting columns (this command's and the Spark job's)."""
    parser.add_argument("--id-column", default="id", help="column of the id (default id)")
    parser.add_argument("--title-column", default="title", help="default title")
    parser.add_argument("--description-column", default="description", help="default description")
    parser.add_argument(
        "--language-column",
        default="language",
        help="optional column of the posting's language tag; absent or empty means detect it "
        "(default language)",
    )


def columns_of(args: argparse.Namespace) -> Columns:
    """Return the columns named by the options add_column_arguments added."""
    return Columns(args.id_column, args.title_column, args.description_column, args.language_column)


def build_parser() -> argparse.ArgumentParser:
    """Return the command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m models.score_file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", help="file of postings: .jsonl, .csv or .parquet")
    parser.add_argument("output", help="file to write, in the input's format")
    parser.add_argument("--model", help="model directory (default: the default model)")
    parser.add_argument("--format", choices=FORMATS, help="input and output format")
    parser.add_argument(
        "--workers", type=_positive, help="worker processes (default: one per usable core)"
    )
    parser.add_argument("--rejects", help="rejects file (default: OUTPUT.rejects.jsonl)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue an interrupted run")
    mode.add_argument("--overwrite", action="store_true", help="replace existing output")
    parser.add_argument(
        "--batch-size",
        type=_positive,
        default=DEFAULT_BATCH_SIZE,
        help=f"rows per chunk and per model call (default {DEFAULT_BATCH_SIZE})",
    )
    add_column_arguments(parser)
    parser.add_argument(
        "--commit-seconds",
        type=_seconds,
        default=DEFAULT_COMMIT_SECONDS,
        help="commit output at most this often (default %(default)s; 0 after every chunk)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    return parser


def _interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, score the file and print a summary to stderr."""
    args = build_parser().parse_args(argv)
    # SIGTERM (a scheduler's stop) ends the run like Ctrl-C: workers stopped, resumable.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    columns = columns_of(args)
    try:
        summary = score_file(
            args.input,
            args.output,
            model_dir=args.model,
            fmt=args.format,
            rejects=args.rejects,
            workers=args.workers,
            batch_size=args.batch_size,
            columns=columns,
            resume=args.resume,
            overwrite=args.overwrite,
            quiet=args.quiet,
            commit_seconds=args.commit_seconds,
        )
    except (ScoreFileError, ArtifactError, registry.RegistryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run again with --resume to continue", file=sys.stderr)
        return 130
    except BrokenProcessPool as error:
        print(f"error: a worker died ({error}); run again with --resume", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not args.quiet:
        done = summary.rows - summary.resumed_from
        resumed = f", resumed after row {summary.resumed_from:,}" if summary.resumed_from else ""
        print(
            f"scored {summary.scored:,} and rejected {summary.rejected:,} of {summary.rows:,} rows "
            f"in {summary.seconds:.3f} s ({done / max(summary.seconds, 1e-9):,.0f} rows/s, "
            f"{summary.workers} worker(s){resumed})\noutput  {summary.output}\n"
            f"rejects {summary.rejects}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
