"""Fit the cross-lingual exposure component and evaluate every language on the parallel postings.

    python -m training.multilingual [--data-dir DIR] [--model DIR] [--json FILE]

Trains the component on the public data, pairs it with the English model of a saved version
(default: the served one), and prints the per-language figures the card holds. Until the Scorer
routes languages itself, `routed` does it here; its `score` then still blends non-English
postings with the English occupation coder's guess, so read `duties_only` for the component.

The component's heads are fitted on English O*NET texts only (task statements and the job-title
and work-activity views the English model also learns from), embedded by encoders that map other
languages near their English translations. The parallel postings (`eval/postings_parallel.jsonl`,
the same posting written in English, Japanese and Persian) are never trained on.
"""

import argparse
import copy
import hashlib
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression

from models import artifact, registry
from models.language import (
    ENCODERS,
    SUPPORTED,
    CrossLingualExposure,
    Encoder,
    EncoderError,
    OccupationCentroids,
    detect,
)
from models.scorer import Scorer, band
from training import data, estimator
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
HEAD_C = 0.5
# Unseen O*NET job titles (past the ones trained on) that fit each encoder's softmax temperature.
HELD_OUT_TITLES = 400
TEMPERATURES = (0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1)
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
    similarity = titles @ centroids.astype(np.float64).T

    def likelihood(temperature: float) -> float:
        logits = similarity / temperature
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        return float((logits[np.arange(len(gold)), gold] - log_norm).mean())

    best = max(TEMPERATURES, key=likelihood)
    return best, likelihood(best)


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
    cache_dir: Path | None = CACHE_DIR,
    threads: int = 2,
) -> tuple[CrossLingualExposure, dict]:
    """Fit one head per encoder on the English training texts; return the component and its card.

    The card section holds the encoders (package, version, weights sha256), the routes, what
    each head learnt from and what it cost, and the language detector's accuracy. The figures
    on the parallel postings need the English model too: add them with `parallel_report`.
    """
    routes = dict(routes or ROUTES)
    limits = {**TEXT_LIMITS, **(limits or {})}
    rows = training_rows(root, table)
    known, official, held_out = occupation_texts(root, table)
    codes = np.array(sorted(set(known["soc_code"])))
    # Every occupation's official title is always embedded, so none is left without a centroid.
    heads, specs, training, centroids, temperatures, means = {}, {}, {}, {}, {}, {}
    for name in sorted({name for names in routes.values() for name in names}):
        started = time.perf_counter()
        spec = ENCODERS[name]
        spec.check()
        chosen = sample_texts(rows, limits.get(name))
        texts = list(dict.fromkeys([*chosen["text"], *official, *held_out["text"]]))
        cache = EmbeddingCache(cache_dir, name)
        embeddings, computed = cache.embed(Encoder(spec, threads=threads), texts)
        vectors = dict(zip(texts, embeddings, strict=True))
        heads[name] = fit_head(
            np.vstack([vectors[text] for text in chosen["text"]]),
            chosen["label"],
            chosen["weight"].to_numpy(),
        )
        centroids[name], temperatures[name], means[name] = fit_occupations(
            codes, known, held_out, vectors
        )
        specs[name] = spec
        seconds = round(time.perf_counter() - started, 1)
        training[name] = {
            "texts": int(chosen["text"].nunique()),
            "rows": len(chosen),
            "embedded": len(texts),
            "embedded_now": computed,
            "seconds": seconds,
        }
        log(
            f"multilingual: head {name} on {training[name]['texts']} texts "
            f"({computed} embedded now) in {seconds}s"
        )
    occupations = OccupationCentroids(codes, centroids, temperatures, means)
    component = CrossLingualExposure(heads, specs, routes, occupations)
    card = {
        "supported": list(SUPPORTED),
        "unsupported": "scored with the cross-lingual component, confidence halved, "
        "language_supported false",
        **component.describe(),
        "training": training,
        "detection": detection_report(),
    }
    return component, card


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

    For evaluating before the Scorer routes by language itself: each posting's language is
    detected, English goes to the English model, every other language to the component.
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


def evaluate(model_dir: Path, component: CrossLingualExposure, occupations: pd.DataFrame) -> dict:
    """Score the parallel postings with a saved English model plus the component."""
    scorer = Scorer.load(model_dir)
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
        started = time.perf_counter()
        component, card = train_multilingual(root, table)
        card["training_seconds"] = round(time.perf_counter() - started, 1)
        card["parallel"] = evaluate(model_dir, component, table.occupations)
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
