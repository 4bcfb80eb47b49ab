"""Fit the cross-lingual exposure component and evaluate every language on the parallel postings.

    python -m training.multilingual [--data-dir DIR] [--model DIR] [--json FILE]

Trains the component on the public data, pairs it with the English parts of a saved version
(default: the served one), and prints the per-language figures the card holds: `routed` sends
non-English postings to the new component, which scores their duties and codes their
occupations; the saved occupations component blends the two (`duties_only` is before the blend).

The component's heads are fitted on English O*NET texts only (task statements and the job-title
and work-activity views the English model also learns from), embedded by encoders that map other
languages near their English translations. Occupations are coded by the posting's embedding and
by its title's likeness to the occupations' titles and service phrases as Japanese and Persian
ads write them (`data/occupation_titles.jsonl`, `data/occupation_services.jsonl`, written for
this project); how each language's postings are coded (a shift, a temperature and the titles'
weight) is fitted on our own calibration postings (`data/multilingual_calibration.jsonl`).
The parallel postings (`eval/postings_parallel.jsonl`, the same posting written in English,
Japanese and Persian) are never trained or calibrated on.
"""

import argparse
import copy
import hashlib
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

from models import artifact, registry
from models.language import (
    ENCODERS,
    SUPPORTED,
    CrossLingualExposure,
    Encoder,
    EncoderError,
    NativeTitles,
    OccupationCentroids,
    detect,
    head_probabilities,
    posting_vector,
)
from models.occupations import Blend, duty_error, occupation_beta, softmax
from models.scorer import TITLE_WEIGHT, Scorer, aggregate, band
from training import data, estimator
from training import occupations as occupation_training
from training.estimator import RANDOM_STATE

EVAL = Path(__file__).resolve().parent / "eval"
PARALLEL = EVAL / "postings_parallel.jsonl"
LANGUAGE_SAMPLES = EVAL / "languages.jsonl"
# Embeddings of the English training texts, kept between runs (build/ is not committed).
CACHE_DIR = data.PROJECT / "build" / "embeddings"
# Which heads score which language. Measured on the parallel postings (see the README): USE
# aligns Japanese with English as well as e5 does (Spearman 0.82 against 0.81, and averaging both
# gained 0.007 at the cost of e5's speed), and is ten times faster, so Japanese uses USE alone.
# USE barely knows Persian (Spearman 0.59), so Persian, and every other language, uses e5.
ROUTES = {"ja": ("use",), "fa": ("e5",), "*": ("e5",)}
# e5 embeds about 90 texts a second on 2 cores, so its head learns from a random subset of the
# English texts; USE embeds about 1,300 a second and learns from all of them.
TEXT_LIMITS = {"use": None, "e5": 6000}
# Texts per occupation (task statements and job titles) that each encoder's occupation centroids
# average, drawn at random but reproducibly; None for all of them. The first training run on a
# machine embeds them all, which e5 does at about 90 texts a second.
CENTROID_LIMITS: dict[str, dict[str, int | None] | None] = {"use": None, "e5": None}
HEAD_C = 0.5
# Unseen O*NET job titles (past the ones trained on) that fit each encoder's softmax temperature.
HELD_OUT_TITLES = 400
# Softmax temperatures tried: each 1.25-1.5 times the last. Postings in another language sit
# further from the English centroids than English titles do, and e5's cosines span a narrow
# range: Persian postings want about 0.0025 from e5, Japanese ones about 0.025 from USE.
# fmt: off
TEMPERATURES = (
    0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03,
    0.04, 0.05, 0.07, 0.1,
)
# fmt: on
# Japanese and Persian postings written for this project (titles and 0-3 work lines, as the
# platforms write them), each coded to the O*NET-SOC occupation it is: how each language's postings
# are coded (a shift and a temperature) is fitted on them. The parallel postings stay for
# evaluation only.
CALIBRATION = Path(__file__).resolve().parent / "data" / "multilingual_calibration.jsonl"
CALIBRATION_FOLDS = 5
# A language needs this many calibration postings (of occupations trained on) to be fitted; one
# with fewer keeps the encoder's temperature and no shift.
MIN_CALIBRATION = 50
# Shares of a language's offset from English taken off its embedded texts, tried with each
# temperature when calibrating it.
SHIFT_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
# The occupations' titles (2-5 per occupation and language) and service phrases (3-6, "ロゴ作成",
# "طراحی لوگو") as Japanese and Persian ads and freelance listings write them, written for this
# project: a posting's title is compared with them (`NativeTitles`) beside its embedding. Their
# weight is fitted with each language's shift and temperature, from NATIVE_WEIGHTS (0: unused).
NATIVE_TITLES = (
    Path(__file__).resolve().parent / "data" / "occupation_titles.jsonl",
    occupation_training.SERVICES,
)
NATIVE_LANGUAGES = ("ja", "fa")
NATIVE_WEIGHTS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
TARGETS = {"spearman_gap": 0.05, "mean_absolute_difference": 0.07, "band_agreement": 0.85}


def training_rows(root: Path, table: data.TaskTable) -> pd.DataFrame:
    """Return the English rows the English model learns from: tasks, job titles, work activities."""
    tasks = table.frame
    titles, _ = data.load_titles(root, estimator.TITLES_PER_OCCUPATION)
    dwas, _ = data.load_dwas(root)
    parts = [tasks[["text", "label"]].assign(weight=1.0)]
    parts.append(data.share_view(tasks, titles, estimator.TITLE_WEIGHT))
    parts.append(data.share_view(tasks, dwas, estimator.DWA_WEIGHT))
    rows = pd.concat(parts, ignore_index=True)
    return rows.astype({"text": object, "label": object})


def sample_texts(rows: pd.DataFrame, limit: int | None, seed: int = RANDOM_STATE) -> pd.DataFrame:
    """Keep the rows of at most `limit` distinct texts, drawn at random but reproducibly."""
    texts = np.sort(rows["text"].unique())
    if limit is None or len(texts) <= limit:
        return rows
    chosen = set(np.random.default_rng(seed).choice(texts, size=limit, replace=False))
    return rows[rows["text"].isin(chosen)].reset_index(drop=True)


class EmbeddingCache:
    """Embeddings of texts by one encoder version, saved under build/ between training runs."""

    def __init__(self, directory: Path | None, name: str) -> None:
        spec = ENCODERS[name]
        self.path = (
            None
            if directory is None
            else Path(directory) / f"{name}-{spec.version}-{spec.sha256[:12]}.npz"
        )
        self.vectors: dict[str, np.ndarray] = {}
        if self.path is not None and self.path.is_file():
            with np.load(self.path) as stored:
                self.vectors = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))

    def embed(self, encoder: Encoder, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        """Return embeddings of texts and how many had to be computed."""
        keys = [_key(text) for text in texts]
        missing = sorted(
            {
                key: text for key, text in zip(keys, texts, strict=True) if key not in self.vectors
            }.items()
        )
        if missing:
            fresh = encoder.encode([text for _, text in missing])
            self.vectors.update(zip([key for key, _ in missing], fresh, strict=True))
            self.save()
        return np.vstack([self.vectors[key] for key in keys]), len(missing)

    def save(self) -> None:
        """Write the cache, if it has a place."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self.vectors))
        vectors = np.vstack(list(self.vectors.values())).astype(np.float32)
        np.savez(self.path, keys=keys, vectors=vectors)


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def fit_head(embeddings: np.ndarray, labels: Sequence[str], weights: np.ndarray):
    """Fit one encoder's head: a multinomial logistic regression on its embeddings."""
    head = LogisticRegression(C=HEAD_C, max_iter=2000, random_state=RANDOM_STATE)
    return head.fit(embeddings, list(labels), sample_weight=np.asarray(weights, dtype=float))


def occupation_texts(
    root: Path, table: data.TaskTable
) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """Return (soc_code, text) pairs that describe each occupation, the official occupation
    titles, and held-out job titles.

    Centroids are built from an occupation's task statements and the job titles the English
    model trains on; the held-out titles are further O*NET titles it never sees.
    """
    codes = set(table.frame["soc_code"])
    every, _ = data.load_titles(root)
    every = every[every["soc_code"].isin(codes)]
    trained = every.groupby("soc_code").head(estimator.TITLES_PER_OCCUPATION)
    known = pd.concat(
        [
            table.frame[["soc_code", "text"]].assign(kind="task"),
            trained.rename(columns={"title": "text"})[["soc_code", "text"]].assign(kind="title"),
        ],
        ignore_index=True,
    ).drop_duplicates(["soc_code", "text"])
    unseen = every.drop(trained.index).rename(columns={"title": "text"})
    unseen = unseen[~unseen["text"].isin(set(known["text"]))].drop_duplicates("text")
    count = min(HELD_OUT_TITLES, len(unseen))
    held_out = unseen.sample(n=count, random_state=RANDOM_STATE) if count else unseen
    official = every.groupby("soc_code").head(1)["title"].tolist()
    return known.astype(object), official, held_out[["soc_code", "text"]].astype(object)


AUTOMATION_FROM = occupation_training.AUTOMATION_FROM
AUTOMATION_FOLDS = 3


def exposed_tasks(root: Path, table: data.TaskTable) -> pd.DataFrame:
    """Return the exposed task statements with GPT-4's automation level: text, group, target."""
    levels = occupation_training.automation_levels(root)
    frame = table.frame.merge(levels, on=["soc_code", "task_id"], how="left")
    exposed = frame[frame["label"].isin(["E1", "E2"]) & frame["automation"].notna()]
    level = exposed["automation"].map(occupation_training.AUTOMATION_LEVELS.index)
    return pd.DataFrame(
        {
            "text": exposed["text"].to_numpy(),
            "group": exposed["group"].to_numpy(),
            "target": (level >= AUTOMATION_FROM).to_numpy(),
        }
    )


def fit_automation_head(
    exposed: pd.DataFrame, vectors: dict[str, np.ndarray]
) -> tuple[LogisticRegression, dict]:
    """Fit P(automation | exposed) on the embedded exposed tasks; report its held-out AUC
    (GroupKFold by occupation group)."""
    known = exposed[exposed["text"].isin(vectors.keys())].reset_index(drop=True)
    embedded = np.vstack([vectors[text] for text in known["text"]])
    target = known["target"].to_numpy()

    def fit(rows: np.ndarray) -> LogisticRegression:
        head = LogisticRegression(C=HEAD_C, max_iter=2000, random_state=RANDOM_STATE)
        return head.fit(embedded[rows], target[rows])

    held_out = np.zeros(len(known))
    folds = GroupKFold(n_splits=AUTOMATION_FOLDS).split(embedded, target, known["group"])
    for train, test in folds:
        head = fit(train)
        held_out[test] = head.predict_proba(embedded[test])[:, list(head.classes_).index(True)]
    report = {
        "tasks": len(known),
        "split": f"GroupKFold({AUTOMATION_FOLDS}) by occupation group",
        "auc": _round(roc_auc_score(target, held_out)),
        "accuracy": _round(np.mean((held_out >= 0.5) == target)),
    }
    return fit(np.arange(len(known))), report


def texts_per_occupation(
    pairs: pd.DataFrame, limits: dict[str, int | None] | None, seed: int = RANDOM_STATE
) -> pd.DataFrame:
    """Keep at most `limits[kind]` of each occupation's texts of each kind ("task", "title"),
    drawn reproducibly; a kind not named, or named with None, keeps all of its texts."""
    if not limits:
        return pairs
    shuffled = pairs.sample(frac=1.0, random_state=seed)
    kept = [
        group if limits.get(kind) is None else group.groupby("soc_code").head(limits[kind])
        for kind, group in shuffled.groupby("kind", sort=False)
    ]
    return pd.concat(kept).sort_index()


def fit_centroids(
    codes: np.ndarray, pairs: pd.DataFrame, vectors: dict[str, np.ndarray]
) -> np.ndarray:
    """Average the embedded texts of each occupation into unit-length centroid rows."""
    position = {code: index for index, code in enumerate(codes)}
    centroids = np.zeros((len(codes), len(next(iter(vectors.values())))), dtype=np.float64)
    for code, text in zip(pairs["soc_code"], pairs["text"], strict=True):
        if text in vectors and code in position:
            centroids[position[code]] += vectors[text]
    return _unit_rows(centroids)


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def fit_temperature(
    centroids: np.ndarray, codes: np.ndarray, held_out: pd.DataFrame, vectors, mean=None
) -> tuple[float, float]:
    """Return the softmax temperature that best predicts held-out titles' occupations, and the
    mean log-likelihood it gives them (vectors centred on `mean` first, when given)."""
    position = {code: index for index, code in enumerate(codes)}
    rows = [
        (position[c], vectors[t])
        for c, t in zip(held_out["soc_code"], held_out["text"], strict=True)
        if c in position and t in vectors
    ]
    if not rows:
        return TEMPERATURES[len(TEMPERATURES) // 2], float("-inf")
    gold = np.array([index for index, _ in rows])
    titles = _unit_rows(np.vstack([vector for _, vector in rows]).astype(np.float64))
    if mean is not None:
        titles = _unit_rows(titles - mean)
    return best_temperature(titles @ centroids.astype(np.float64).T, gold)


def best_temperature(
    similarity: np.ndarray, gold: np.ndarray, added: np.ndarray | None = None
) -> tuple[float, float]:
    """Return the temperature in TEMPERATURES whose softmax of the similarities (rows of
    postings, columns of occupations) over it, plus `added` when given, gives the gold columns
    the highest mean log-likelihood, and that log-likelihood."""
    rows = np.arange(len(gold))

    def likelihood(temperature: float) -> float:
        logits = similarity / temperature if added is None else similarity / temperature + added
        return float(_log_softmax(logits)[rows, gold].mean())

    best = max(TEMPERATURES, key=likelihood)
    return best, likelihood(best)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def fit_occupations(
    codes: np.ndarray, pairs: pd.DataFrame, held_out: pd.DataFrame, vectors
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """Return centroids, temperature and centring mean (or None) for one encoder, choosing
    centred or plain vectors by the held-out titles' likelihood."""
    plain = fit_centroids(codes, pairs, vectors)
    mean = plain.mean(axis=0)
    centred = _unit_rows(plain - mean)
    plain_fit = fit_temperature(plain, codes, held_out, vectors)
    centred_fit = fit_temperature(centred, codes, held_out, vectors, mean)
    if centred_fit[1] > plain_fit[1]:
        return centred.astype(np.float16), centred_fit[0], mean.astype(np.float32)
    return plain.astype(np.float16), plain_fit[0], None


def train_multilingual(
    root: Path,
    table: data.TaskTable,
    log=print,
    *,
    routes: dict[str, tuple[str, ...]] | None = None,
    limits: dict[str, int | None] | None = None,
    centroid_limits: dict[str, dict[str, int | None] | None] | None = None,
    cache_dir: Path | None = CACHE_DIR,
    threads: int = 2,
    calibration: Path | None = CALIBRATION,
    blend: Blend | None = None,
    native_titles: Sequence[Path] = NATIVE_TITLES,
) -> tuple[CrossLingualExposure, dict]:
    """Fit one head per encoder on the English training texts; return the component and its card.

    The card section holds the encoders (package, version, weights sha256), the routes, what
    each head learnt from and what it cost, the occupation coder's temperatures and shifts (each
    language's fitted on the `calibration` postings, with the figures before and after), and the
    language detector's accuracy. Given the occupations component's `blend`, the calibration
    figures include the blended score's. The figures on the parallel postings need the English
    model too: add them with `parallel_report`.
    """
    routes = dict(routes or ROUTES)
    limits = {**TEXT_LIMITS, **(limits or {})}
    centroid_limits = {**CENTROID_LIMITS, **(centroid_limits or {})}
    rows = training_rows(root, table)
    known, official, held_out = occupation_texts(root, table)
    codes = np.array(sorted(set(known["soc_code"])))
    # Only the calibration postings of occupations trained on (all, unless this is a slice).
    trained = set(codes)
    postings = [
        posting
        for posting in (read_jsonl(calibration) if calibration is not None else [])
        if posting["soc_code"] in trained
    ]
    extra = calibration_texts(postings)
    # Every text that describes an occupation is embedded, for its centroid, even by an encoder
    # whose head learns from a sample: with centroids of e5's sample (8 texts an occupation), the
    # Persian calibration postings were coded right at top-1 0.31; with all its texts (47), 0.48
    # (temperature fitted on them, cross-validated, no shift).
    heads, specs, training, centroids, temperatures, means = {}, {}, {}, {}, {}, {}
    automation_heads, automation_report = {}, {}
    exposed = exposed_tasks(root, table)
    calibration_vectors: dict[str, dict[str, np.ndarray]] = {}
    english_means: dict[str, np.ndarray] = {}
    for name in sorted({name for names in routes.values() for name in names}):
        started = time.perf_counter()
        spec = ENCODERS[name]
        spec.check()
        chosen = sample_texts(rows, limits.get(name))
        described = texts_per_occupation(known, centroid_limits.get(name))
        texts = list(
            dict.fromkeys(
                [*chosen["text"], *described["text"], *official, *held_out["text"], *extra]
            )
        )
        cache = EmbeddingCache(cache_dir, name)
        embeddings, computed = cache.embed(Encoder(spec, threads=threads), texts)
        vectors = dict(zip(texts, embeddings, strict=True))
        calibration_vectors[name] = {text: vectors[text] for text in extra}
        english_means[name] = fit_centroids(codes, described, vectors).mean(axis=0)
        heads[name] = fit_head(
            np.vstack([vectors[text] for text in chosen["text"]]),
            chosen["label"],
            chosen["weight"].to_numpy(),
        )
        automation_heads[name], automation_report[name] = fit_automation_head(exposed, vectors)
        centroids[name], temperatures[name], means[name] = fit_occupations(
            codes, described, held_out, vectors
        )
        specs[name] = spec
        seconds = round(time.perf_counter() - started, 1)
        training[name] = {
            "texts": int(chosen["text"].nunique()),
            "centroid_texts": len(described),
            "rows": len(chosen),
            "embedded": len(texts),
            "embedded_now": computed,
            "seconds": seconds,
        }
        log(
            f"multilingual: head {name} on {training[name]['texts']} texts "
            f"({computed} embedded now) in {seconds}s"
        )
    native = read_native_titles(native_titles, codes)
    occupations = OccupationCentroids(codes, centroids, temperatures, means, native=native)
    component = CrossLingualExposure(heads, specs, routes, occupations, automation_heads)
    calibrated = None
    if postings:
        betas = table.occupations["human_rating_beta"].reindex(codes).to_numpy(dtype=float)
        fits, languages = calibrate_occupations(
            component, postings, calibration_vectors, english_means, betas, blend
        )
        for key, fit in fits.items():
            occupations.temperatures[key] = fit.temperature
            if fit.share > 0:
                occupations.shifts[key] = fit.shift
            if fit.native_weight > 0:
                occupations.native_weights[key] = fit.native_weight
        log(
            "multilingual: calibrated "
            + ", ".join(
                f"{key} T={f.temperature} shift={f.share} titles={f.native_weight}"
                for key, f in fits.items()
            )
        )
        calibrated = {
            "file": f"{calibration.parent.name}/{calibration.name}",
            "sha256": artifact.sha256(calibration),
            "postings": len(postings),
            "method": CALIBRATION_METHOD,
            "languages": languages,
        }
    card = {
        "supported": list(SUPPORTED),
        "unsupported": "scored with the cross-lingual component, confidence halved, "
        "language_supported false",
        **component.describe(),
        "training": training,
        "automation": {
            "labels": "as the occupations component's: GPT-4's T0-T4 automation levels of the "
            f"exposed (E1/E2) task statements, automation from T{AUTOMATION_FROM}",
            "head": "logistic regression on the encoder's embeddings of the English tasks",
            "held_out": automation_report,
        },
        "detection": detection_report(),
    }
    if calibrated is not None:
        card["occupations"]["calibration"] = calibrated
    if native:
        card["occupations"]["native_titles_source"] = [
            {"file": f"{path.parent.name}/{path.name}", "sha256": artifact.sha256(path)}
            for path in native_titles
        ]
    return component, card


def read_native_titles(paths: Sequence[Path], codes: np.ndarray) -> dict[str, NativeTitles]:
    """Return, per language of NATIVE_LANGUAGES, the titles (and service phrases) of the
    occupations in `codes` written in it (a line of each file: soc_code, the English title or
    phrases, then a list per language)."""
    position = {code: index for index, code in enumerate(codes)}
    native = {}
    for language in NATIVE_LANGUAGES:
        titles, owners = data.owned_phrases(paths, position, language)
        if titles:
            native[language] = NativeTitles.fit(titles, owners, len(codes))
    return native


# --- Calibration on postings in other languages ------------------------------------------------

CALIBRATION_METHOD = (
    "per language, and per encoder of its route: the shift share (of SHIFT_SHARES) and the "
    "temperature (of TEMPERATURES) that give the calibration postings' own occupations the "
    "highest mean log-likelihood under the softmax of the cosines between each posting and the "
    "English occupation centroids. A posting's vector is its title's plus the mean of its work "
    "lines' (as served), each text first moved by share x (the mean of the language's "
    "calibration texts - the mean of the English texts the centroids average). 'before' is the "
    "encoder's temperature fitted on English titles, with no shift; 'after_cross_validated' "
    "fits on 4 of 5 folds grouped by occupation and scores the fifth. Duties' score: the work "
    "lines and the title, one unit each, through the language's heads; blend: the occupations "
    "component's floors; both compared with the human beta of the posting's occupation."
)


def calibration_texts(postings: Sequence[dict]) -> list[str]:
    """Return every title and work line of the calibration postings, once each."""
    return list(dict.fromkeys(text for p in postings for text in (p["title"], *p["lines"])))


@dataclass(frozen=True)
class LanguageFit:
    """How one encoder codes postings in one language: the shift, temperature and weight of the
    native titles fitted."""

    share: float  # of the offset between the language's texts and the English ones
    shift: np.ndarray  # share x that offset, taken off each embedded text
    temperature: float
    log_likelihood: float  # of the gold occupations, on the postings fitted on
    native_weight: float = 0.0  # of the title's similarity to the occupations' native titles


def native_rows(occupations: OccupationCentroids, postings: Sequence[dict]) -> np.ndarray | None:
    """Return each posting's title's similarity to every occupation's titles in its language,
    one row each; None when a posting's language has no native titles."""
    rows = [occupations.native_similarities(p["language"], p["title"]) for p in postings]
    if not rows or any(row is None for row in rows):
        return None
    return np.vstack(rows)


def fit_language(
    occupations: OccupationCentroids,
    name: str,
    postings: Sequence[dict],
    gold: np.ndarray,
    vectors: dict[str, np.ndarray],
    english_mean: np.ndarray,
    weights: Sequence[float] = NATIVE_WEIGHTS,
) -> LanguageFit:
    """Fit an encoder's shift share (of SHIFT_SHARES), temperature (of TEMPERATURES) and weight
    of the native titles (of `weights`, when the language has them) for postings in one
    language: the three that give their gold occupations the highest mean log-likelihood. The
    offset is the mean of the postings' embedded titles and lines less `english_mean`, the mean
    of the English texts the centroids average."""
    rows = [_rows(vectors, [p["title"], *p["lines"]]) for p in postings]
    offset = _unit_rows(np.vstack(rows).astype(np.float64)).mean(axis=0) - english_mean
    native = native_rows(occupations, postings)
    best = None
    for share in SHIFT_SHARES:
        shift = (share * offset).astype(np.float32)
        similarity = _similarities(occupations, name, rows, shift)
        for weight in weights if native is not None else (0.0,):
            added = weight * native if weight else None
            temperature, likelihood = best_temperature(similarity, gold, added)
            if best is None or likelihood > best.log_likelihood:
                best = LanguageFit(share, shift, temperature, likelihood, weight)
    return best


def language_probabilities(
    occupations: OccupationCentroids,
    name: str,
    fit: LanguageFit,
    postings: Sequence[dict],
    vectors: dict[str, np.ndarray],
) -> np.ndarray:
    """Return occupation probabilities of postings, one row each, under an encoder's fit."""
    rows = [_rows(vectors, [p["title"], *p["lines"]]) for p in postings]
    logits = _similarities(occupations, name, rows, fit.shift) / fit.temperature
    if fit.native_weight:
        logits += fit.native_weight * native_rows(occupations, postings)
    return softmax(logits)


def _similarities(
    occupations: OccupationCentroids, name: str, rows: Sequence[np.ndarray], shift: np.ndarray
) -> np.ndarray:
    vectors = np.vstack([posting_vector(embedded - shift) for embedded in rows])
    return occupations.similarities(name, vectors).astype(np.float64)


def fit_route(
    occupations: OccupationCentroids,
    postings: Sequence[dict],
    gold: np.ndarray,
    vectors: dict[str, dict[str, np.ndarray]],
    english_means: dict[str, np.ndarray],
    weights: Sequence[float] = NATIVE_WEIGHTS,
) -> dict[str, LanguageFit]:
    """Fit each encoder of a route (named by `english_means`) on postings in one language."""
    return {
        name: fit_language(occupations, name, postings, gold, vectors[name], mean, weights)
        for name, mean in english_means.items()
    }


def route_probabilities(
    occupations: OccupationCentroids,
    fits: dict[str, LanguageFit],
    postings: Sequence[dict],
    vectors: dict[str, dict[str, np.ndarray]],
) -> np.ndarray:
    """Return occupation probabilities of postings under a route's fits, averaged as served."""
    return np.mean(
        [
            language_probabilities(occupations, name, fit, postings, vectors[name])
            for name, fit in fits.items()
        ],
        axis=0,
    )


def cross_validated_route(
    occupations: OccupationCentroids,
    postings: Sequence[dict],
    gold: np.ndarray,
    vectors: dict[str, dict[str, np.ndarray]],
    english_means: dict[str, np.ndarray],
    weights: Sequence[float] = NATIVE_WEIGHTS,
) -> np.ndarray:
    """Return each posting's occupation probabilities under a route fitted on the other folds
    (CALIBRATION_FOLDS, grouped by occupation)."""
    held_out = np.zeros((len(postings), len(occupations.codes)))
    groups = [p["soc_code"] for p in postings]
    for train, test in GroupKFold(n_splits=CALIBRATION_FOLDS).split(postings, groups=groups):
        fits = fit_route(
            occupations, [postings[i] for i in train], gold[train], vectors, english_means, weights
        )
        held_out[test] = route_probabilities(
            occupations, fits, [postings[i] for i in test], vectors
        )
    return held_out


def calibrate_occupations(
    component: CrossLingualExposure,
    postings: Sequence[dict],
    vectors: dict[str, dict[str, np.ndarray]],
    english_means: dict[str, np.ndarray],
    betas: np.ndarray,
    blend: Blend | None = None,
) -> tuple[dict[str, LanguageFit], dict]:
    """Fit how each encoder codes each language's postings on the calibration postings in it.

    Returns the fits keyed "encoder:language" (one per encoder of the language's route) and,
    per language, the report described by CALIBRATION_METHOD. `vectors` holds each encoder's
    embeddings of the postings' titles and lines, `english_means` the mean of the English texts
    its centroids average, `betas` the human beta of each of the component's occupations. A
    language with fewer than MIN_CALIBRATION postings of those occupations is not fitted.
    """
    occupations = component.occupations
    position = {code: index for index, code in enumerate(occupations.codes)}
    fits: dict[str, LanguageFit] = {}
    report: dict = {}
    for language in sorted({p["language"] for p in postings}):
        mine = [p for p in postings if p["language"] == language and p["soc_code"] in position]
        if len(mine) < MIN_CALIBRATION:
            report[language] = {"postings": len(mine), "fitted": False}
            continue
        names = component.route(language)
        gold = np.array([position[p["soc_code"]] for p in mine])
        groups = [p["soc_code"] for p in mine]
        means = {name: english_means[name] for name in names}
        mine_fits = fit_route(occupations, mine, gold, vectors, means)
        held_out = cross_validated_route(occupations, mine, gold, vectors, means)
        english = {
            name: LanguageFit(0.0, np.zeros(1, np.float32), occupations.temperatures[name], 0.0)
            for name in names
        }
        duties = calibration_duties(component, mine, vectors, language)
        report[language] = {
            "postings": len(mine),
            "occupations": len(set(groups)),
            "fitted": True,
            "encoders": {
                name: {
                    "english_temperature": occupations.temperatures[name],
                    "temperature": fit.temperature,
                    "shift_share": fit.share,
                    "shift_norm": _round(np.linalg.norm(fit.shift)),
                    "native_weight": fit.native_weight,
                    "log_likelihood_fitted_on": _round(fit.log_likelihood),
                }
                for name, fit in mine_fits.items()
            },
            "before": calibration_figures(
                route_probabilities(occupations, english, mine, vectors),
                gold,
                occupations.codes,
                betas,
                duties,
                blend,
            ),
            "after_cross_validated": calibration_figures(
                held_out, gold, occupations.codes, betas, duties, blend
            ),
        }
        if language in occupations.native:
            report[language]["after_cross_validated_without_native_titles"] = calibration_figures(
                cross_validated_route(occupations, mine, gold, vectors, means, (0.0,)),
                gold,
                occupations.codes,
                betas,
                duties,
                blend,
            )
        fits.update({f"{name}:{language}": fit for name, fit in mine_fits.items()})
    return fits, report


def calibration_duties(
    component: CrossLingualExposure,
    postings: Sequence[dict],
    vectors: dict[str, dict[str, np.ndarray]],
    language: str,
) -> np.ndarray:
    """Return each posting's duties' score (beta) and confidence, one row each, as the scorer
    gives them when its lines are the duties: the lines and the title, one unit each, through
    the heads of the language's route."""
    names = component.route(language)
    scores = []
    for posting in postings:
        texts = [*posting["lines"], posting["title"]]
        probabilities = np.mean(
            [
                head_probabilities(component.heads[name], _rows(vectors[name], texts))
                for name in names
            ],
            axis=0,
        )
        exposure = aggregate(
            probabilities, np.array([1.0] * len(posting["lines"]) + [TITLE_WEIGHT])
        )
        scores.append((exposure.beta, exposure.confidence))
    return np.array(scores, dtype=float).reshape(-1, 2)


def calibration_figures(
    probabilities: np.ndarray,
    gold: np.ndarray,
    codes: np.ndarray,
    betas: np.ndarray,
    duties: np.ndarray,
    blend: Blend | None = None,
) -> dict:
    """Return the coding's figures against the gold occupations (rows of `probabilities` over
    `codes`), and the duties' and, given a blend, the blended score's against their human beta."""
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :5]
    major = np.array([code[:2] for code in codes])
    gold_probability = probabilities[np.arange(len(gold)), gold]
    gold_beta = betas[gold]
    score, confidence = duties[:, 0], duties[:, 1]
    figures = {
        "top1": _round(np.mean(top[:, 0] == gold)),
        "top5": _round(np.mean((top == gold[:, None]).any(axis=1))),
        "major_group_top1": _round(np.mean(major[top[:, 0]] == major[gold])),
        "log_likelihood": _round(np.mean(np.log(np.maximum(gold_probability, 1e-300)))),
        "mean_top_probability": _round(np.mean(probabilities.max(axis=1))),
        "spearman": {"duties": _round(spearmanr(score, gold_beta)[0])},
        "mean_absolute_error": {"duties": _round(np.mean(np.abs(score - gold_beta)))},
    }
    if blend is not None:
        published, spread = occupation_beta(probabilities, betas)
        duty_weight, occupation_weight = blend.weights(duty_error(confidence), spread)
        blended = np.clip(duty_weight * score + occupation_weight * published, 0.0, 1.0)
        figures["spearman"]["blend"] = _round(spearmanr(blended, gold_beta)[0])
        figures["mean_absolute_error"]["blend"] = _round(np.mean(np.abs(blended - gold_beta)))
        figures["mean_duty_weight"] = _round(np.mean(duty_weight))
    return figures


def _rows(vectors: dict[str, np.ndarray], texts: Sequence[str]) -> np.ndarray:
    return np.vstack([vectors[text] for text in texts])


def _round(value: float) -> float:
    return round(float(value), 4)


# --- Evaluation -------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSON Lines file."""
    with open(path, encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def detection_report(samples: Path = LANGUAGE_SAMPLES, parallel: Path = PARALLEL) -> dict:
    """Return the detector's accuracy on short gigs in 14 languages and on the parallel set."""
    cases = [(row["language"], row["text"]) for row in read_jsonl(samples)]
    if parallel.is_file():
        for posting in read_jsonl(parallel):
            cases.append((posting["language"], posting["title"]))
            cases.append((posting["language"], f"{posting['title']}\n{posting['description']}"))
    started = time.perf_counter()
    found = [detect(text) for _, text in cases]
    seconds = time.perf_counter() - started
    truth = np.array([language for language, _ in cases])
    codes = np.array([detection.code for detection in found])
    # What matters most: first-class languages recognised, others never taken for one.
    flags = np.array([detection.supported for detection in found])
    report = {
        "texts": len(cases),
        "accuracy": round(float((codes == truth).mean()), 4),
        "supported_flag_accuracy": round(float((flags == np.isin(truth, SUPPORTED)).mean()), 4),
        "by_language": {
            language: round(float((codes[truth == language] == language).mean()), 4)
            for language in sorted(set(truth))
        },
        "texts_per_second": round(len(cases) / max(seconds, 1e-9)),
    }
    return report


def routed(scorer: Scorer, component: CrossLingualExposure) -> Callable[[list[dict]], list[dict]]:
    """Return a score_many that routes non-English postings to the component.

    For evaluating a component before it is saved with the model: each posting's language is
    detected, English goes to the English model, every other language to the component, which
    also codes their occupations (in place of the saved model's own multilingual component).
    """

    def score_many(postings: list[dict]) -> list[dict]:
        groups: dict[str, list[int]] = defaultdict(list)
        detections = [detect(f"{p['title']}\n{p['description']}") for p in postings]
        for index, detection in enumerate(detections):
            groups[detection.code].append(index)
        results: list[dict] = [{}] * len(postings)
        for language, indices in groups.items():
            batch = [postings[i] for i in indices]
            if language == "en":
                scored = scorer.score_many(batch)
            else:
                clone = copy.copy(scorer)
                clone.predict = lambda texts, language=language: component.predict(texts, language)
                clone.multilingual = component
                scored = clone.score_many(batch)
            for index, result in zip(indices, scored, strict=True):
                detection = detections[index]
                results[index] = {
                    **result,
                    "language": detection.code,
                    "language_supported": detection.supported,
                }
        return results

    return score_many


def parallel_report(
    score_many: Callable[[list[dict]], list[dict]],
    postings: list[dict],
    occupations: pd.DataFrame,
    thresholds: dict[str, float],
) -> dict:
    """Compare each language's scores with the gold human beta and with the English version.

    Postings are sent without their `language`, so detection is part of what is measured. When
    results carry `exposure.duty_score` (the score before an occupation blend), the same figures
    are given for it under `duties_only`.
    """
    known = [p for p in postings if p["soc_code"] in occupations.index]
    by_language: dict[str, list[dict]] = defaultdict(list)
    for posting in known:
        by_language[posting["language"]].append(posting)
    scores: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    speed, detected = {}, {}
    for language, group in by_language.items():
        requests = [
            {"id": p["id"], "title": p["title"], "description": p["description"]} for p in group
        ]
        score_many(requests[:1])  # load the encoders before timing
        started = time.perf_counter()
        results = score_many(requests)
        speed[language] = round(len(group) / (time.perf_counter() - started), 1)
        for key in ("score", "duty_score"):
            if all(key in r["exposure"] for r in results):
                scores[key][language] = {
                    p["group"]: float(r["exposure"][key])
                    for p, r in zip(group, results, strict=True)
                }
        detected[language] = round(
            float(np.mean([r.get("language") == language for r in results])), 4
        )
    gold = {p["group"]: float(occupations.loc[p["soc_code"], "human_rating_beta"]) for p in known}
    report: dict = {"postings": len(known), "groups": len(gold), "languages": {}}
    for language in sorted(by_language, key=lambda code: (code != "en", code)):
        row = {
            "postings": len(by_language[language]),
            **_figures(scores["score"], language, gold, thresholds),
            "detected": detected[language],
            "postings_per_second": speed[language],
        }
        if "duty_score" in scores:
            row["duties_only"] = _figures(scores["duty_score"], language, gold, thresholds)
        report["languages"][language] = row
    report["targets"] = TARGETS
    return report


def _figures(
    scores: dict[str, dict[str, float]], language: str, gold: dict, thresholds: dict
) -> dict:
    groups = sorted(scores[language])
    score = np.array([scores[language][g] for g in groups])
    spearman = round(float(spearmanr(score, [gold[g] for g in groups])[0]), 4)
    row = {"spearman": spearman, "mean_score": round(float(score.mean()), 4)}
    english = scores.get("en", {})
    paired = [g for g in groups if g in english]
    if language == "en" or not paired:
        return row
    mine = np.array([scores[language][g] for g in paired])
    theirs = np.array([english[g] for g in paired])
    same_band = [
        band(a, thresholds) == band(b, thresholds) for a, b in zip(mine, theirs, strict=True)
    ]
    english_spearman = float(spearmanr(theirs, [gold[g] for g in paired])[0])
    row["mean_absolute_difference_to_english"] = round(float(np.abs(mine - theirs).mean()), 4)
    row["band_agreement_with_english"] = round(float(np.mean(same_band)), 4)
    row["spearman_gap_to_english"] = round(english_spearman - spearman, 4)
    row["targets_met"] = {
        "spearman_gap": row["spearman_gap_to_english"] <= TARGETS["spearman_gap"],
        "mean_absolute_difference": row["mean_absolute_difference_to_english"]
        <= TARGETS["mean_absolute_difference"],
        "band_agreement": row["band_agreement_with_english"] >= TARGETS["band_agreement"],
    }
    return row


def evaluate(scorer: Scorer, component: CrossLingualExposure, occupations: pd.DataFrame) -> dict:
    """Score the parallel postings with a saved English model plus the component."""
    return {
        "file": PARALLEL.name,
        "english_model": scorer.version,
        **parallel_report(
            routed(scorer, component), read_jsonl(PARALLEL), occupations, scorer.thresholds
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """Train the component, evaluate it with a saved English model, print the figures."""
    parser = argparse.ArgumentParser(prog="python -m training.multilingual", description=__doc__)
    parser.add_argument("--data-dir", help="public data (default: as training.train)")
    parser.add_argument("--model", help="model directory whose English model to pair with")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    try:
        root = data.data_dir(args.data_dir)
        model_dir = Path(args.model) if args.model else registry.default_dir()
        table = data.load_tasks(root)
        scorer = Scorer.load(model_dir)
        # The saved occupations component's blend, for the calibration figures of blended scores.
        blend = getattr(scorer.components.get("occupations"), "blend", None)
        started = time.perf_counter()
        component, card = train_multilingual(root, table, blend=blend)
        card["training_seconds"] = round(time.perf_counter() - started, 1)
        card["parallel"] = evaluate(scorer, component, table.occupations)
    except (data.DataError, artifact.ArtifactError, registry.RegistryError, EncoderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(card, indent=2, ensure_ascii=False)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
