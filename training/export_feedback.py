"""Write the feedback stored by the API as labelled data, ready for `training.train --data`.

python -m training.export_feedback [--database-url URL] [--output FILE]

Each feedback that sent the posting's text becomes a labelled posting (JSON Lines, the format of
training/userdata.py) with its corrections: band, beta, labelled duties, and skills, the skills
the model reported then with the ones added and without the ones removed (only when the
feedback touched skills). A feedback that named its posting by id alone has no text to learn
from: its labelled duties still become labelled duty rows, with the posting's id, and what else
it corrected is counted on stderr, as is a feedback with nothing to train on (a comment alone).
The table is read by reflection, so that training never imports the API's code.
"""

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlalchemy import MetaData, Table, create_engine, select
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from training import data

DATABASE_URL_VARIABLE = "EXPOSURE_DATABASE_URL"
# The server's default (api/database.py): a SQLite file in the instance folder.
DEFAULT_DATABASE = data.PROJECT / "instance" / "exposure.sqlite3"


def database_url(override: str | None = None) -> str:
    """Return the URL of the feedback database: the argument, $EXPOSURE_DATABASE_URL, or the
    server's default SQLite file."""
    return override or os.environ.get(DATABASE_URL_VARIABLE) or f"sqlite:///{DEFAULT_DATABASE}"


def read(url: str) -> list[dict]:
    """Return every stored feedback, oldest first."""
    engine = create_engine(url)
    try:
        table = Table("feedback", MetaData(), autoload_with=engine)
        with engine.connect() as connection:
            rows = connection.execute(select(table).order_by(table.c.id)).mappings().all()
        return [dict(row) for row in rows]
    finally:
        engine.dispose()


def to_rows(feedback: Iterable[Mapping]) -> tuple[list[dict], Counter]:
    """Turn stored feedback into labelled-data rows; count what could not be turned."""
    rows, skipped = [], Counter()
    for item in feedback:
        duties = _json(item.get("duties")) or []
        added = _json(item.get("skills_added"))
        removed = _json(item.get("skills_removed"))
        posting_id = item.get("posting_id") or f"feedback-{item['id']}"
        extra = {"soc_code": item["soc_code"]} if item.get("soc_code") else {}
        if item.get("title") and item.get("description"):
            row = {"id": posting_id, "title": item["title"], "description": item["description"]}
            row.update(extra)
            if item.get("band") is not None:
                row["band"] = item["band"]
            if item.get("beta") is not None:
                row["beta"] = float(item["beta"])
            if duties:
                row["duties"] = [{"text": d["text"], "label": d["label"]} for d in duties]
            if added is not None or removed is not None:
                predicted = (_json(item.get("predicted")) or {}).get("skills") or []
                chosen = (set(predicted) | set(added or ())) - set(removed or ())
                row["skills"] = sorted(chosen)
            if len(row) > 3 + len(extra):
                rows.append(row)
            else:
                skipped["no correction to train on (a comment alone)"] += 1
            continue
        for duty in duties:
            rows.append({"id": posting_id, "text": duty["text"], "label": duty["label"], **extra})
        if any(item.get(name) is not None for name in ("band", "beta")) or added or removed:
            skipped["band, beta or skills of a posting named by id only (no text)"] += 1
        elif not duties:
            skipped["no correction to train on (a comment alone)"] += 1
    return rows, skipped


def _json(value):
    # Reflection may give a JSON column back as text (SQLite reports it as JSON, others may not).
    return json.loads(value) if isinstance(value, str) else value


def write(rows: list[dict], output: Path | None) -> None:
    """Write rows as JSON Lines to a file, or to stdout."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and export."""
    parser = argparse.ArgumentParser(prog="python -m training.export_feedback", description=__doc__)
    parser.add_argument(
        "--database-url",
        help=f"the API's database (default ${DATABASE_URL_VARIABLE}, else {DEFAULT_DATABASE})",
    )
    parser.add_argument("--output", help="a .jsonl file to write (default: stdout)")
    args = parser.parse_args(argv)
    output = Path(args.output) if args.output else None
    if output is not None and output.suffix.lower() != ".jsonl":
        parser.error("--output must name a .jsonl file")
    url = database_url(args.database_url)
    try:
        feedback = read(url)
    except NoSuchTableError:
        print("error: the database has no feedback table; has the API run on it?", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        print(f"error: cannot read the feedback: {error}", file=sys.stderr)
        return 2
    rows, skipped = to_rows(feedback)
    write(rows, output)
    print(
        f"exported {len(rows)} rows from {len(feedback)} feedback"
        + (f" to {output}" if output else ""),
        file=sys.stderr,
    )
    for reason, count in sorted(skipped.items()):
        print(f"not exported: {count} x {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
