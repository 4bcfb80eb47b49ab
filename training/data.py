"""Read the public data sets from the data directory and build the task table."""

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models import artifact

PROJECT = Path(__file__).resolve().parents[1]
DATA_DIR_VARIABLE = "EXPOSURE_DATA_DIR"
DEFAULT_DATA_DIR = PROJECT.parent / "shared" / "data"

TASK_LABELS = Path("eloundou_2023") / "full_labelset.tsv"
OCCUPATION_LABELS = Path("eloundou_2023") / "occ_level.csv"
TASK_STATEMENTS = Path("onet_29_3") / "Task Statements.txt"
LABELS = ("E0", "E1", "E2")


class DataError(RuntimeError):
    """A data directory that lacks a file or column the training needs."""


def data_dir(override: str | Path | None = None) -> Path:
    """Return the data directory: the argument, else $EXPOSURE_DATA_DIR, else ../shared/data."""
    chosen = override or os.environ.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR
    path = Path(chosen).expanduser().resolve()
    if not path.is_dir():
        raise DataError(
            f"data directory {path} does not exist; set {DATA_DIR_VARIABLE} or pass --data-dir"
        )
    return path


def _read(root: Path, relative: Path, **kwargs) -> pd.DataFrame:
    path = root / relative
    if not path.is_file():
        raise DataError(f"missing data file {path}")
    return pd.read_csv(path, **kwargs)


@dataclass(frozen=True)
class TaskTable:
    """Labelled O*NET tasks, one row per (occupation, task), with split groups."""

    frame: pd.DataFrame  # columns: soc_code, title, task_id, text, label, gpt4_label, group
    occupations: pd.DataFrame  # per soc_code: human and GPT-4 alpha/beta/gamma
    sources: dict[str, str]  # data file -> sha256


def load_tasks(root: Path) -> TaskTable:
    """Join Eloundou's task labels with O*NET task statements and group linked occupations."""
    labels = _read(root, TASK_LABELS, sep="\t", dtype={"O*NET-SOC Code": str})
    statements = _read(root, TASK_STATEMENTS, sep="\t", dtype={"O*NET-SOC Code": str})
    occupations = _read(root, OCCUPATION_LABELS, dtype={"O*NET-SOC Code": str})
    needed = {"O*NET-SOC Code", "Task ID", "Task", "Title", "human_exposure_agg", "gpt4_exposure"}
    missing = needed - set(labels.columns)
    if missing:
        raise DataError(f"{TASK_LABELS} lacks columns {sorted(missing)}")

    labels = labels[labels["human_exposure_agg"].isin(LABELS)].copy()
    labels["task_id"] = pd.to_numeric(labels["Task ID"], errors="coerce").astype("Int64")
    # O*NET's own statement is authoritative where the two differ in spelling or spacing.
    onet = statements[["Task ID", "Task"]].rename(columns={"Task ID": "task_id", "Task": "onet"})
    onet["task_id"] = onet["task_id"].astype("Int64")
    labels = labels.merge(onet.drop_duplicates("task_id"), on="task_id", how="left")
    text = labels["onet"].fillna(labels["Task"]).astype(str).str.strip()

    frame = pd.DataFrame(
        {
            "soc_code": labels["O*NET-SOC Code"].astype(str),
            "title": labels["Title"].astype(str),
            "task_id": labels["task_id"],
            "text": text,
            "label": labels["human_exposure_agg"].astype(str),
            "gpt4_label": labels["gpt4_exposure"].astype(str),
        }
    ).reset_index(drop=True)
    frame = frame[frame["text"].str.len() > 0].reset_index(drop=True)
    frame["group"] = _link_groups(frame)

    occupations = occupations.rename(columns={"O*NET-SOC Code": "soc_code"}).set_index("soc_code")
    sources = {
        str(relative): artifact.sha256(root / relative)
        for relative in (TASK_LABELS, OCCUPATION_LABELS, TASK_STATEMENTS)
    }
    return TaskTable(frame=frame, occupations=occupations, sources=sources)


def _link_groups(frame: pd.DataFrame) -> np.ndarray:
    """Give occupations that share an identical task text one group, so no split divides it."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    normalised = frame["text"].str.lower().str.split().str.join(" ")
    for _, codes in frame.groupby(normalised)["soc_code"]:
        first, *rest = sorted(set(codes))
        for code in rest:
            parent[find(code)] = find(first)
    return np.array([find(code) for code in frame["soc_code"]])


def slice_occupations(table: TaskTable, count: int, seed: int = 0) -> TaskTable:
    """Keep a reproducible random subset of `count` split groups (for quick runs and tests)."""
    groups = np.sort(table.frame["group"].unique())
    chosen = np.random.default_rng(seed).choice(groups, size=min(count, len(groups)), replace=False)
    frame = table.frame[table.frame["group"].isin(chosen)].reset_index(drop=True)
    return TaskTable(frame=frame, occupations=table.occupations, sources=table.sources)


OCCUPATION_DATA = Path("onet_29_3") / "Occupation Data.txt"
REPORTED_TITLES = Path("onet_29_3") / "Sample of Reported Titles.txt"
TASKS_TO_DWAS = Path("onet_29_3") / "Tasks to DWAs.txt"
ALTERNATE_TITLES = Path("onet_29_3") / "Alternate Titles.txt"


def load_titles(
    root: Path, per_occupation: int | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return O*NET job titles per occupation: official, reported, then alternate ones."""
    frames = [
        (OCCUPATION_DATA, "Title"),
        (REPORTED_TITLES, "Reported Job Title"),
        (ALTERNATE_TITLES, "Alternate Title"),
    ]
    parts = []
    for relative, column in frames:
        frame = _read(root, relative, sep="\t", dtype=str)
        parts.append(frame[["O*NET-SOC Code", column]].set_axis(["soc_code", "title"], axis=1))
    titles = pd.concat(parts, ignore_index=True).dropna()
    titles["title"] = titles["title"].str.strip()
    titles = titles[titles["title"].str.len() > 0].drop_duplicates(["soc_code", "title"])
    if per_occupation:
        titles = titles.groupby("soc_code").head(per_occupation)
    sources = {str(relative): artifact.sha256(root / relative) for relative, _ in frames}
    return titles.reset_index(drop=True), sources


def load_dwas(root: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return the O*NET detailed work activity titles linked to each (occupation, task)."""
    links = _read(root, TASKS_TO_DWAS, sep="\t", dtype=str)
    links = links[["O*NET-SOC Code", "Task ID", "DWA Title"]].dropna()
    links = links.set_axis(["soc_code", "task_id", "title"], axis=1)
    links["task_id"] = pd.to_numeric(links["task_id"], errors="coerce").astype("Int64")
    return links.drop_duplicates().reset_index(drop=True), {
        str(TASKS_TO_DWAS): artifact.sha256(root / TASKS_TO_DWAS)
    }


def share_view(tasks: pd.DataFrame, links: pd.DataFrame, weight: float = 1.0) -> pd.DataFrame:
    """Turn texts linked to tasks into weighted training rows labelled by those tasks' labels.

    `links` has a `title` column and the key columns it shares with `tasks` (`soc_code` for job
    titles; `soc_code` and `task_id` for work activities). Each distinct title becomes up to
    three rows, one per label, weighted by that label's share among its linked tasks. Only the
    given tasks are used, so a title never carries the label of a task held out of the split.
    """
    keys = [column for column in ("soc_code", "task_id") if column in links.columns]
    joined = links.merge(tasks[[*keys, "label"]], on=keys)
    if joined.empty:
        return pd.DataFrame({"text": [], "label": [], "weight": []})
    shares = pd.crosstab(joined["title"], joined["label"], normalize="index")
    long = shares.reset_index().melt(id_vars="title", var_name="label", value_name="share")
    long = long[long["share"] > 0].sort_values(["title", "label"], kind="stable")
    return pd.DataFrame(
        {
            "text": long["title"].to_numpy(),
            "label": long["label"].to_numpy(),
            "weight": long["share"].to_numpy() * weight,
        }
    )


def owned_phrases(
    paths: Sequence[Path], rows: dict[str, int], key: str
) -> tuple[list[str], np.ndarray]:
    """Return the phrases listed under `key` on the lines of JSON Lines files keyed by soc_code
    (our titles and service phrases), and the row (`rows`: code -> row) of each one's
    occupation; occupations not in `rows`, and lines without `key`, give none."""
    phrases, owners = [], []
    for path in paths:
        with open(path, encoding="utf-8") as stream:
            for line in map(json.loads, filter(str.strip, stream)):
                if line["soc_code"] in rows:
                    listed = line.get(key, [])
                    phrases += listed
                    owners += [rows[line["soc_code"]]] * len(listed)
    return phrases, np.array(owners, dtype=np.int32)
