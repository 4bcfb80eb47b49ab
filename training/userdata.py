"""Labelled data that users bring: the file format, its validation, and its training rows.

A file is JSON Lines (`.jsonl`, one object per line) or CSV (`.csv`, a header row, then one row
per line; a quoted cell may span lines). UTF-8. Each row is one of two kinds.

A **labelled posting** has `title` and `description` and at least one label:
- `band`: `low`, `moderate` or `high`;
- `beta`: the posting's exposure, 0 to 1 (the share of its duties labelled E1, plus half of E2);
- `duties`: per-duty labels, `[{"text": ..., "label": "E0" | "E1" | "E2"}, ...]` (JSON Lines
  only; in CSV write each duty as a labelled duty row with the posting's `id`);
- `skills`: the ids of the skills it asks for, from `models/skills.yaml` (JSON Lines: a list;
  CSV: separated by `;`). Skills are checked against the model's skills in the report; they
  do not train the exposure model.

A **labelled duty** has `text` and `label` (`E0`, `E1` or `E2`).

Both kinds may have `id` (yours; rows that share an id stay on one side of every evaluation
split) and `soc_code`, an O*NET-SOC code such as `27-3091.00` (rows of one occupation stay
together, and the report plots beta per occupation). Nothing else is accepted, so that a
misspelt column is an error rather than a label silently ignored.

Every row is validated before anything is trained, and every bad row is reported with its line
number and reason. A valid row is always used: a duty, a posting's labelled duties, and a
posting's band or beta become training rows; a posting labelled only with skills is used to
evaluate skills.

**How a posting-level band or beta becomes training rows.** The classifier learns duties, so a
posting is split into the units the scorer would score: its description is segmented with
`models.segment`, its duties are kept (or, lacking any, its other and requirement sentences, as
the scorer does), and its title is added as one more unit. A posting's beta says how exposed its
work is on average, but nothing about which duty is exposed, so every unit gets the same soft
label: the distribution over E0/E1/E2 of greatest entropy whose beta (P(E1) + P(E2)/2) equals
the posting's. Each unit becomes three training rows, one per label, weighted by that label's
probability, the way the title view turns an occupation's label shares into rows. Beta 0.5
gives a third each, beta 0 all E0 and beta 1 all E1. The alternative, tilting the current
model's own duty probabilities until they average to the posting's beta, would say more per
duty, but it would feed the model's errors back into its training and tie the data to a model.
A band stands for the median human beta of the O*NET occupations in that band (from the public
data); when a posting has both, its beta is used. A posting with labelled duties trains on those
duties, and its title on their label shares.
"""

import csv
import io
import json
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from models import artifact
from models.scorer import BETA_WEIGHTS, FALLBACK_KINDS, LABELS, Scorer, band
from models.segment import segment
from models.skills import load_taxonomy

BANDS = ("low", "moderate", "high")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv",)
SKILL_SEPARATOR = ";"
POSTING_FIELDS = ("id", "title", "description", "soc_code", "band", "beta", "duties", "skills")
DUTY_FIELDS = ("id", "text", "label", "soc_code")
# The most rows of one file reported; past that, their count.
MAX_REPORTED_ERRORS = 200
SOC_CODE = r"^\d{2}-\d{4}\.\d{2}$"


class UserDataError(ValueError):
    """Labelled data that cannot be used: every bad row, each with its file, line and reason."""

    def __init__(self, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


# --- The format ----------------------------------------------------------------------------------


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be empty or only whitespace.")


@cache
def skill_ids() -> frozenset[str]:
    """Return the skill ids of the taxonomy the models are built with."""
    return frozenset(load_taxonomy().ids)


class _Labelled(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(validate=validate.Length(min=1, max=128))
    soc_code = fields.String(
        validate=validate.Regexp(SOC_CODE, error="Not an O*NET-SOC code like 27-3091.00.")
    )


class DutyLabelSchema(Schema):
    """One duty of a posting and its label."""

    class Meta:
        unknown = RAISE

    text = fields.String(required=True, validate=_not_blank)
    label = fields.String(required=True, validate=validate.OneOf(LABELS))


class DutyRowSchema(_Labelled):
    """A labelled duty."""

    text = fields.String(required=True, validate=_not_blank)
    label = fields.String(required=True, validate=validate.OneOf(LABELS))


class PostingRowSchema(_Labelled):
    """A labelled posting: a title, a description and at least one label."""

    title = fields.String(required=True, validate=_not_blank)
    description = fields.String(required=True, validate=_not_blank)
    band = fields.String(validate=validate.OneOf(BANDS))
    beta = fields.Float(allow_nan=False, validate=validate.Range(min=0.0, max=1.0))
    duties = fields.List(fields.Nested(DutyLabelSchema), validate=validate.Length(min=1))
    skills = fields.List(fields.String())

    @validates("skills")
    def _known_skills(self, value: list[str], **kwargs) -> None:
        unknown = [skill for skill in value if skill not in skill_ids()]
        if unknown:
            raise ValidationError(
                f"Unknown skill ids {unknown}; the ids are those of models/skills.yaml."
            )

    def load(self, data, **kwargs):
        """Validate a row, then require a label."""
        row = super().load(data, **kwargs)
        if not any(key in row for key in ("band", "beta", "duties", "skills")):
            raise ValidationError(
                {"_row": ["A posting needs a label: band, beta, duties or skills."]}
            )
        return row


@dataclass(frozen=True)
class Posting:
    """A labelled posting and where it was read."""

    source: str
    line: int
    title: str
    description: str
    id: str | None = None
    soc_code: str | None = None
    band: str | None = None
    beta: float | None = None
    duties: tuple[tuple[str, str], ...] = ()
    skills: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Duty:
    """A labelled duty and where it was read."""

    source: str
    line: int
    text: str
    label: str
    id: str | None = None
    soc_code: str | None = None


@dataclass(frozen=True)
class UserData:
    """The labelled postings and duties of one or more files, with each file's sha256."""

    postings: tuple[Posting, ...] = ()
    duties: tuple[Duty, ...] = ()
    files: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.postings) + len(self.duties)

    def items(self) -> list[Posting | Duty]:
        """Return postings then duties, in file order."""
        return [*self.postings, *self.duties]

    def subset(self, indices: Iterable[int]) -> "UserData":
        """Return the items at these positions of `items()`."""
        items = self.items()
        chosen = [items[i] for i in indices]
        return UserData(
            postings=tuple(i for i in chosen if isinstance(i, Posting)),
            duties=tuple(i for i in chosen if isinstance(i, Duty)),
            files=self.files,
        )

    def describe(self) -> dict:
        """Return counts of what the data holds, for the model card and the log."""
        postings = self.postings
        return {
            "files": self.files,
            "postings": len(postings),
            "postings_with_beta": sum(p.beta is not None for p in postings),
            "postings_with_band_only": sum(p.band is not None and p.beta is None for p in postings),
            "postings_with_duty_labels": sum(bool(p.duties) for p in postings),
            "postings_with_skills": sum(p.skills is not None for p in postings),
            "labelled_duties": len(self.duties) + sum(len(p.duties) for p in postings),
        }


_duty_schema = DutyRowSchema()
_posting_schema = PostingRowSchema()


def read(paths: str | Path | Sequence[str | Path]) -> UserData:
    """Read and validate labelled data files; raise UserDataError naming every bad row."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    postings, duties, files, errors = [], [], {}, []
    for path in map(Path, paths):
        try:
            rows, file_errors = _rows(path)
        except UserDataError as error:
            errors += error.errors
            continue
        files[str(path)] = artifact.sha256(path)
        for line, row in rows:
            try:
                item = _item(str(path), line, row)
            except ValidationError as error:
                file_errors += [f"{path}:{line}: {message}" for message in _flatten(error.messages)]
                continue
            (postings if isinstance(item, Posting) else duties).append(item)
        if not rows and not file_errors:
            file_errors.append(f"{path}: no rows")
        if len(file_errors) > MAX_REPORTED_ERRORS:
            more = len(file_errors) - MAX_REPORTED_ERRORS
            file_errors = [*file_errors[:MAX_REPORTED_ERRORS], f"{path}: ... and {more} more"]
        errors += sorted(file_errors, key=_line_of)
    if errors:
        raise UserDataError(errors)
    return UserData(postings=tuple(postings), duties=tuple(duties), files=files)


def _line_of(message: str) -> int:
    parts = message.split(":", 2)
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0


def _rows(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    """Return a file's (line number, raw row) pairs and the lines that cannot be parsed; raise
    UserDataError when the file as a whole cannot be read."""
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES + CSV_SUFFIXES:
        raise UserDataError([f"{path}: name the file .jsonl (JSON Lines) or .csv"])
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UserDataError([f"{path}: cannot read: {error.strerror or error}"]) from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise UserDataError([f"{path}:{line}: not UTF-8 ({error.reason})"]) from error
    if suffix in CSV_SUFFIXES:
        return _csv_rows(path, text)
    return _jsonl_rows(path, text)


def _jsonl_rows(path: Path, text: str) -> tuple[list[tuple[int, dict]], list[str]]:
    rows, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            errors.append(f"{path}:{number}: not valid JSON: {error.msg} (column {error.colno})")
            continue
        if not isinstance(row, dict):
            errors.append(f"{path}:{number}: a row must be a JSON object")
            continue
        rows.append((number, row))
    return rows, errors


def _csv_rows(path: Path, text: str) -> tuple[list[tuple[int, dict]], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise UserDataError([f"{path}:1: not valid CSV: {error}"]) from error
    if header is None:
        return [], []
    header = [name.strip() for name in header]
    known = (set(POSTING_FIELDS) | set(DUTY_FIELDS)) - {"duties"}
    unknown = [name for name in header if name not in known and name != "duties"]
    errors = []
    if "duties" in header:
        errors.append(
            f"{path}:1: a CSV file has no 'duties' column; write each labelled duty as a row "
            "of its own (text, label) with the posting's id"
        )
    if unknown:
        errors.append(
            f"{path}:1: unknown columns {unknown}; the columns are {', '.join(sorted(known))}"
        )
    if len(set(header)) != len(header):
        errors.append(f"{path}:1: a column name is repeated")
    if errors:
        raise UserDataError(errors)
    rows = []
    start = reader.line_num + 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                if len(cells) != len(header):
                    errors.append(
                        f"{path}:{start}: has {len(cells)} cells, the header {len(header)}"
                    )
                else:
                    rows.append((start, _csv_row(header, cells)))
            start = reader.line_num + 1
    except csv.Error as error:
        errors.append(f"{path}:{start}: not valid CSV: {error}; the rest of the file is not read")
    return rows, errors


def _csv_row(header: list[str], cells: list[str]) -> dict:
    # An empty cell is an absent value: one file holds postings and duties side by side.
    row = {name: cell for name, cell in zip(header, cells, strict=True) if cell.strip()}
    if "skills" in row:
        row["skills"] = [s.strip() for s in row["skills"].split(SKILL_SEPARATOR) if s.strip()]
    return row


def _item(source: str, line: int, row: dict) -> Posting | Duty:
    is_posting = bool({"title", "description"} & set(row))
    is_duty = bool({"text", "label"} & set(row))
    if is_posting and is_duty:
        raise ValidationError(
            {
                "_row": [
                    "A row is either a posting (title, description) or a duty (text, label), "
                    "not both."
                ]
            }
        )
    if is_duty:
        valid = _duty_schema.load(row)
        return Duty(source=source, line=line, **valid)
    if not is_posting:
        raise ValidationError(
            {
                "_row": [
                    "A row is a posting (title, description and a label) or a duty "
                    "(text and label)."
                ]
            }
        )
    valid = _posting_schema.load(row)
    duties = tuple((duty["text"], duty["label"]) for duty in valid.pop("duties", []))
    skills = valid.pop("skills", None)
    return Posting(
        source=source,
        line=line,
        duties=duties,
        skills=None if skills is None else tuple(dict.fromkeys(skills)),
        **valid,
    )


def _flatten(messages, prefix: str = "") -> list[str]:
    """Turn marshmallow's nested messages into 'field.index.field: message' lines."""
    if isinstance(messages, dict):
        lines = []
        for key, value in messages.items():
            name = "" if key in ("_row", "_schema") else str(key)
            lines += _flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return lines
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix}: {m}" if prefix else m for m in messages]
    if isinstance(messages, list):
        return [line for m in messages for line in _flatten(m, prefix)]
    return [f"{prefix}: {messages}" if prefix else str(messages)]


# --- Training rows -----------------------------------------------------------------------------


def soft_label(beta: float) -> tuple[float, float, float]:
    """Return the E0/E1/E2 distribution of greatest entropy whose beta is `beta`.

    The distribution is p_k proportional to exp(lambda * v_k) with v = (0, 1, 1/2); writing
    x = exp(lambda / 2), beta = (x^2 + x/2) / (1 + x + x^2), a quadratic in x.
    """
    beta = min(max(float(beta), 0.0), 1.0)
    if beta >= 1.0:
        return (0.0, 1.0, 0.0)
    a, b, c = 1.0 - beta, 0.5 - beta, -beta
    x = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    total = 1.0 + x + x * x
    return (1.0 / total, x * x / total, x / total)


def band_betas(human_betas: pd.Series, thresholds: dict[str, float]) -> dict[str, float]:
    """Return the beta a band stands for: the median human beta of the occupations in it."""
    betas = pd.Series(human_betas, dtype=float).dropna()
    bands = betas.map(lambda beta: band(beta, thresholds))
    medians = betas.groupby(bands).median()
    fallback = {
        "low": thresholds["moderate"] / 2,
        "moderate": (thresholds["moderate"] + thresholds["high"]) / 2,
        "high": (thresholds["high"] + 1.0) / 2,
    }
    return {name: round(float(medians.get(name, fallback[name])), 4) for name in BANDS}


def units(title: str, description: str) -> list[str]:
    """Return the texts the scorer would score for a posting: its duties (or, lacking any, its
    other and requirement sentences), then its title."""
    found = segment(description)
    scored = [unit.text for unit in found if unit.kind == "duty"]
    if not scored:
        scored = [unit.text for unit in found if unit.kind in FALLBACK_KINDS]
    return [*scored, title.strip()] if title.strip() else scored


def group(item: Posting | Duty) -> str:
    """Return the evaluation group of an item: its occupation, else its id, else itself."""
    if item.soc_code:
        return f"soc:{item.soc_code}"
    if item.id:
        return f"id:{item.id}"
    return f"row:{item.source}:{item.line}"


def training_rows(
    data: UserData, betas_of_bands: dict[str, float], weight: float = 1.0
) -> pd.DataFrame:
    """Turn labelled data into weighted training rows: text, label, weight, group."""
    rows: list[tuple[str, str, float, str]] = []

    def add(text: str, distribution: Sequence[float], key: str) -> None:
        for label, share in zip(LABELS, distribution, strict=True):
            if share > 0:
                rows.append((text, label, share * weight, key))

    for duty in data.duties:
        add(duty.text, _one_hot(duty.label), group(duty))
    for posting in data.postings:
        key = group(posting)
        if posting.duties:
            for text, label in posting.duties:
                add(text, _one_hot(label), key)
            counts = pd.Series([label for _, label in posting.duties]).value_counts(normalize=True)
            add(posting.title, [float(counts.get(label, 0.0)) for label in LABELS], key)
        elif posting.beta is not None or posting.band is not None:
            beta = posting.beta if posting.beta is not None else betas_of_bands[posting.band]
            for text in units(posting.title, posting.description):
                add(text, soft_label(beta), key)
    return pd.DataFrame(rows, columns=["text", "label", "weight", "group"])


def _one_hot(label: str) -> tuple[float, ...]:
    return tuple(1.0 if label == name else 0.0 for name in LABELS)


# --- Evaluation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A model's predictions for labelled data, beside the human labels."""

    duty_truth: np.ndarray  # E labels of the labelled duties
    duty_probabilities: np.ndarray  # their E0/E1/E2 probabilities
    postings: pd.DataFrame  # id, soc_code, gold_beta, gold_band, beta, band, gold_skills, skills

    @staticmethod
    def concat(outcomes: Sequence["Outcome"]) -> "Outcome":
        """Join the outcomes of several folds."""
        return Outcome(
            duty_truth=np.concatenate([o.duty_truth for o in outcomes]),
            duty_probabilities=np.concatenate([o.duty_probabilities for o in outcomes]),
            postings=pd.concat([o.postings for o in outcomes], ignore_index=True),
        )


_POSTING_COLUMNS = ["id", "soc_code", "gold_beta", "gold_band", "beta", "band"]


def predict(scorer: Scorer, data: UserData) -> Outcome:
    """Score labelled data with a model."""
    texts = [d.text for d in data.duties] + [t for p in data.postings for t, _ in p.duties]
    truth = [d.label for d in data.duties] + [lab for p in data.postings for _, lab in p.duties]
    probabilities = scorer.predict(texts) if texts else np.zeros((0, len(LABELS)))
    labelled = list(data.postings)
    results = scorer.score_many(
        [{"id": p.id, "title": p.title, "description": p.description} for p in labelled]
    )
    has_skills = scorer_has_skills(scorer)
    records = []
    for posting, result in zip(labelled, results, strict=True):
        gold_beta = posting.beta
        if gold_beta is None and posting.duties:
            gold_beta = float(np.mean([BETA_WEIGHTS[label] for _, label in posting.duties]))
        gold_band = posting.band
        if gold_band is None and gold_beta is not None:
            gold_band = band(gold_beta, scorer.thresholds)
        records.append(
            {
                "id": posting.id,
                "soc_code": posting.soc_code,
                "gold_beta": gold_beta,
                "gold_band": gold_band,
                "beta": result["exposure"]["beta"],
                "band": result["exposure"]["band"],
                "gold_skills": posting.skills,
                "skills": tuple(s["id"] for s in result.get("skills", [])) if has_skills else None,
            }
        )
    return Outcome(
        duty_truth=np.array(truth, dtype=object),
        duty_probabilities=np.asarray(probabilities, dtype=float),
        postings=pd.DataFrame(records, columns=[*_POSTING_COLUMNS, "gold_skills", "skills"]),
    )


def scorer_has_skills(scorer: Scorer) -> bool:
    """Say whether a model has a skills component."""
    return any(hasattr(component, "taxonomy") for component in scorer.enrichers)


def metrics(outcome: Outcome) -> dict:
    """Return the headline figures of predictions against the human labels."""
    report: dict = {}
    truth, probabilities = outcome.duty_truth, outcome.duty_probabilities
    if len(truth):
        predicted = np.array(LABELS)[probabilities.argmax(axis=1)]
        report["duties"] = {"count": int(len(truth)), **duty_metrics(truth, predicted)}
    postings = outcome.postings
    if len(postings):
        summary: dict = {"count": int(len(postings))}
        with_beta = postings.dropna(subset=["gold_beta"])
        if len(with_beta):
            error = (with_beta["beta"] - with_beta["gold_beta"]).abs()
            summary["beta"] = {
                "count": int(len(with_beta)),
                "mean_absolute_error": round(float(error.mean()), 4),
                "spearman": _spearman(with_beta["beta"], with_beta["gold_beta"]),
            }
        with_band = postings.dropna(subset=["gold_band"])
        if len(with_band):
            summary["band"] = {
                "count": int(len(with_band)),
                "accuracy": round(float((with_band["band"] == with_band["gold_band"]).mean()), 4),
            }
        report["postings"] = summary
        skills = skill_metrics(postings)
        if skills:
            report["skills"] = skills
    return report


def duty_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """Return accuracy, macro-F1 and Cohen's kappa of E labels; None where undefined."""
    truth, predicted = np.asarray(truth, dtype=str), np.asarray(predicted, dtype=str)
    with warnings.catch_warnings():
        # Kappa is undefined when both sides use one label; reported as None, not a warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = float(cohen_kappa_score(truth, predicted, labels=list(LABELS)))
    present = sorted(set(truth) | set(predicted))
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(
            float(f1_score(truth, predicted, labels=present, average="macro", zero_division=0)),
            4,
        ),
        "kappa": None if math.isnan(kappa) else round(kappa, 4),
    }


def skill_metrics(postings: pd.DataFrame) -> dict | None:
    """Return per-skill precision and recall over postings that carry skill labels."""
    if "skills" not in postings or "gold_skills" not in postings:
        return None
    rated = postings[postings["gold_skills"].notna() & postings["skills"].notna()]
    if rated.empty:
        return None
    ids = sorted(
        {s for row in rated["gold_skills"] for s in row}
        | {s for row in rated["skills"] for s in row}
    )
    per_skill, tp_all, fp_all, fn_all = {}, 0, 0, 0
    for skill in ids:
        truth = rated["gold_skills"].map(lambda row, s=skill: s in row)
        guess = rated["skills"].map(lambda row, s=skill: s in row)
        tp, fp, fn = (
            int((truth & guess).sum()),
            int((~truth & guess).sum()),
            int((truth & ~guess).sum()),
        )
        per_skill[skill] = _precision_recall(tp, fp, fn)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
    return {
        "postings": int(len(rated)),
        "micro": _precision_recall(tp_all, fp_all, fn_all),
        "per_skill": per_skill,
    }


def _precision_recall(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return {
        "precision": None if precision is None else round(precision, 4),
        "recall": None if recall is None else round(recall, 4),
        "support": tp + fn,
        "predicted": tp + fp,
    }


def _spearman(a: pd.Series, b: pd.Series) -> float | None:
    if len(a) < 3 or a.nunique() < 2 or b.nunique() < 2:
        return None
    return round(float(spearmanr(a, b)[0]), 4)


def fold_scorer(model: Pipeline, thresholds: dict[str, float]) -> Scorer:
    """Wrap a fitted pipeline that was never saved in a Scorer, to score held-out postings."""
    card = {"version": "fold", "artifact": {"sha256": ""}, "bands": thresholds}
    return Scorer({"exposure": model}, card)


def cross_validate(
    data: UserData,
    fit: Callable[[pd.DataFrame], Pipeline],
    betas_of_bands: dict[str, float],
    thresholds: dict[str, float],
    folds: int,
    weight: float = 1.0,
) -> tuple[dict, Outcome] | None:
    """Score each item with a model fitted without its group (GroupKFold), return the figures
    and the predictions; None when the data has fewer than two groups.

    `fit` receives the training rows of the user's other groups and returns a fitted pipeline
    (trained, besides, on whatever else the run trains on).
    """
    items = data.items()
    groups = np.array([group(item) for item in items])
    splits = min(folds, len(set(groups)))
    if splits < 2:
        return None
    outcomes = []
    for fold, (train, test) in enumerate(GroupKFold(n_splits=splits).split(items, groups=groups)):
        rows = training_rows(data.subset(train), betas_of_bands, weight)
        model = fit(rows)
        missing = sorted(set(LABELS) - set(model.classes_))
        if missing:
            raise UserDataError(
                [
                    f"fold {fold + 1} of {splits} of the labelled data has no {missing} example "
                    "to train on; add some, or use fewer --folds"
                ]
            )
        outcomes.append(predict(fold_scorer(model, thresholds), data.subset(test)))
    outcome = Outcome.concat(outcomes)
    return {"folds": splits, "groups": int(len(set(groups))), **metrics(outcome)}, outcome
