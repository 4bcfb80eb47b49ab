"""Fit the occupations component: the coder, the blend, the review rule and the automation split.

Everything is chosen on the public O*NET and Eloundou data, never on the realistic postings:
- Coder weights: maximum likelihood on pseudo-postings built from what the coder's index did not
  see, a held-out Sample of Reported Titles job title (held out by its text, from every source)
  with 0 to 8 of the occupation's held-out task statements as its duties.
- Blend floors: least squares of the blended score against the gold occupation's human beta on
  the same pseudo-postings, with duty scores from exposure classifiers that never saw the
  occupation (GroupKFold by occupation group, task statements only).
- Review margin: the 95th percentile of |duties' score - human beta| on correctly coded
  pseudo-postings with duties. The uncertainty threshold (0.5) is set a priori: below it the
  top occupation is more likely wrong than right.
- Then, on English postings written for calibration (`data/postings_calibration.jsonl`, scored
  as served), `calibrate_on_postings` chooses by held-out figures whether the coder's weights
  are kept, scaled by one factor or refitted, whether the floors are kept or refitted, and
  whether English duties enter the blend through a line fitted there (their score on the
  occupations' scale).
The realistic postings are scored afterwards, by `postings_report`, and only reported.

python -m training.occupations [--data-dir DIR] prints the card section and the postings figures
of a component fitted now and joined to the default model's other components (nothing is saved).
"""

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize, minimize_scalar
from scipy.special import logsumexp
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, cohen_kappa_score, roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from models import artifact, registry
from models.occupations import (
    AUTOMATION_LEVELS,
    FEATURES,
    MEASURES,
    PUBLISHED_COLUMNS,
    RATERS,
    Blend,
    OccupationCoder,
    OccupationModel,
    OccupationTable,
    Publication,
    Review,
    coding_text,
    duty_error,
    occupation_beta,
    service_phrases,
    softmax,
)
from models.scorer import LABELS, Scorer, aggregate
from models.text import PhraseShares, word_tfidf
from training import data, estimator, evaluate
from training.data import TaskTable

HUMAN_AUTOMATION = Path("eloundou_2023") / "automation_gpt4_human_labels.tsv"
TITLES = Path(__file__).resolve().parent / "eval" / "titles.jsonl"
# English postings written for this project in the styles users send (gigs, corporate ads,
# bulleted, prose, HTML), each coded to its O*NET-SOC occupation. The coder's weights and the
# blend's floors are fitted on pseudo-postings first; these postings then choose, by
# cross-validated likelihood and error, whether real-looking postings want them rescaled or
# refitted. The realistic postings (eval/postings.jsonl) stay for evaluation only.
CALIBRATION = Path(__file__).resolve().parent / "data" / "postings_calibration.jsonl"
# What clients call each occupation's work when they do not name the job ("logo design", "deep
# cleaning"): 3-6 English phrases per occupation, written for this project.
SERVICES = Path(__file__).resolve().parent / "data" / "occupation_services.jsonl"
CALIBRATION_FOLDS = 5
# Fewer postings of the occupations coded to (a quick run on a slice) leave the fits as they are.
MIN_CALIBRATION = 50
CODER_CHOICES = ("pseudo_postings", "scaled", "refitted")
BLEND_CHOICES = ("pseudo_postings", "refitted", "pseudo_postings_with_line", "refitted_with_line")
# The factor on the pseudo-posting weights stays within [1/8, 8].
SCALE_RANGE = (-np.log(8.0), np.log(8.0))
RANDOM_STATE = 0
FOLDS = 3  # coder calibration folds over held-out reported titles and task statements
EXPOSURE_FOLDS = 3  # occupation-grouped folds for the duty scores of pseudo-postings
DUTY_TOLERANCE = 1e-3
DUTY_COUNTS = (0, 1, 2, 3, 5, 8)  # duties per pseudo-posting, drawn uniformly
MIN_PROBABILITY = 0.5
# The blend's floors stay within this range: neither part is ever taken as exact, nor ignored.
FLOOR_RANGE = (0.01, 1.0)
MARGIN_QUANTILE = 0.95
# GPT-4 automation levels at which the model would do the task itself (T3 mostly, T4 fully);
# T0-T2 keep a person doing the task, with the model's help when the task is exposed.
AUTOMATION_FROM = 3
TARGETS = {
    "postings_top1": 0.70,
    "postings_major_group_top1": 0.90,
    "postings_blend_spearman": 0.85,
}
CITATION = (
    "Eloundou, Manning, Mishkin and Rock (2023), GPTs are GPTs: An Early Look at the Labor "
    "Market Impact Potential of Large Language Models, data from github.com/openai/GPTs-are-GPTs"
)
TAXONOMY = "O*NET 29.3 database (O*NET-SOC 2019 codes), U.S. Department of Labor/ETA, CC BY 4.0"


def train_occupations(
    root: Path,
    table: TaskTable,
    log: Callable[[str], object] = print,
    exposure=None,
    calibration: Path | None = None,
) -> tuple[OccupationModel, dict]:
    """Fit the occupations component on the public data; return it and its card section.

    Given the `exposure` classifier the component will ship with and a `calibration` postings
    file, `calibrate_on_postings` then sets the coder's weights and the blend's floors.
    """
    started = time.perf_counter()
    rng = np.random.default_rng(RANDOM_STATE)
    occupations = build_table(root, table)
    titles, title_sources = data.load_titles(root)
    titles = titles[titles["soc_code"].isin(set(occupations.codes))].reset_index(drop=True)
    rows = {code: row for row, code in enumerate(occupations.codes)}
    documents, document_owners = occupation_documents(occupations)
    services = read_services(SERVICES, rows) if SERVICES.is_file() else None

    pseudo = pseudo_postings(root, occupations, titles, rng)
    features = held_out_features(pseudo, occupations, titles, rows, services)
    gold = pseudo["row"].to_numpy()
    weights = fit_weights(features, gold)
    halves = rng.random(len(gold)) < 0.5
    cross = np.zeros((len(gold), len(occupations.codes)))
    for fit_on in (halves, ~halves):
        cross[~fit_on] = softmax(
            _logits(features[~fit_on], fit_weights(features[fit_on], gold[fit_on]))
        )
    title_only = features.copy()
    title_only[:, [FEATURES.index("description"), FEATURES.index("text_services")]] = 0.0
    coder_report = {
        "reported_titles": coding_report(
            softmax(_logits(title_only, weights)), gold, occupations.codes
        ),
        "pseudo_postings": {
            **coding_report(cross, gold, occupations.codes),
            "by_duties": {
                str(count): coding_report(cross[mask], gold[mask], occupations.codes)["top1"]
                for count in DUTY_COUNTS
                if (mask := pseudo["duties"].to_numpy() == count).any()
            },
        },
    }
    log(
        f"coder, held out: reported titles top-1 {coder_report['reported_titles']['top1']}, "
        f"pseudo-postings top-1 {coder_report['pseudo_postings']['top1']}"
    )

    duty = duty_scores(table, pseudo)
    betas = occupations.measure("human", "beta")
    blend, blend_report = fit_blend(duty, cross, betas[gold], betas, halves)
    correct = cross.argmax(axis=1) == gold
    gaps = np.abs(duty["score"] - betas[gold])[correct & (pseudo["duties"].to_numpy() > 0)]
    margin = float(np.ceil(np.quantile(gaps, MARGIN_QUANTILE) * 20) / 20)
    review = Review(min_probability=MIN_PROBABILITY, margin=margin)
    log(
        f"blend, pseudo-postings Spearman: duties {blend_report['spearman']['duties']}, "
        f"occupation {blend_report['spearman']['occupation_top1']}, "
        f"blend {blend_report['spearman']['blend']}"
    )

    automation, automation_report = fit_automation(root, table)
    log(f"automation, held out: AUC {automation_report['held_out']['auc']}")

    coder = OccupationCoder(weights).fit(
        titles["title"].tolist(),
        titles["soc_code"].map(rows).to_numpy(),
        documents,
        document_owners,
        len(occupations.codes),
        services,
    )
    sources = {
        **table.sources,
        **title_sources,
        str(data.OCCUPATION_DATA): artifact.sha256(root / data.OCCUPATION_DATA),
        str(HUMAN_AUTOMATION): artifact.sha256(root / HUMAN_AUTOMATION),
    }
    publication = Publication(
        citation=CITATION,
        file="occ_level.csv",
        version=f"occ_level.csv sha256 {sources[str(data.OCCUPATION_LABELS)][:12]}",
    )
    model = OccupationModel(
        table=occupations,
        coder=coder,
        automation=automation,
        blend=blend,
        review=review,
        publication=publication,
        bands=band_thresholds(table.occupations),
        taxonomy=TAXONOMY,
    )
    calibrated = None
    if exposure is not None and calibration is not None and calibration.is_file():
        calibrated = calibrate_on_postings(
            exposure, model, evaluate.read_postings(calibration), log
        )
    titles_report = titles_set_report(model, read_titles()) if TITLES.is_file() else None
    card = {
        "occupations": len(occupations.codes),
        "taxonomy": TAXONOMY,
        "coverage": "Only the O*NET-SOC occupations with Eloundou et al. (2023) labels are coded "
        "to; O*NET's 'All Other' and military codes have no task statements or labels.",
        "coder": {
            "features": list(FEATURES),
            "method": "softmax over occupations of weighted TF-IDF cosines: title words against "
            "each occupation's title centroid, title character 3-4-grams against its nearest "
            "title, posting text (duties, requirements, other lines) against the centroid of its "
            "task statements and description; the largest share of one of the "
            "occupation's service phrases contained in the title, and in the text; and the two "
            "title similarities again for the title's head, the part before its first qualifier",
            "weights": [round(float(w), 3) for w in weights],
            "titles": len(titles),
            "documents": len(documents),
            "services": None
            if services is None
            else {
                "file": f"{SERVICES.parent.name}/{SERVICES.name}",
                "sha256": artifact.sha256(SERVICES),
                "phrases": len(services.phrases),
            },
            "held_out": {
                "split": f"{FOLDS} folds: Sample of Reported Titles held out by normalised text "
                "(from every title source) with a random fold of the task statements; weights "
                "cross-fitted on halves for these figures",
                "pseudo_postings": "a held-out reported title with "
                f"{'/'.join(map(str, DUTY_COUNTS))} of its occupation's held-out tasks as duties",
                **coder_report,
            },
            "titles_set": titles_report,
        },
        "lenses": {
            "publication": CITATION,
            "version": publication.version,
            "measures": [f"{PUBLISHED_COLUMNS[r]}_beta" for r in ("human", "gpt4")],
        },
        "blend": blend_report,
        **({"calibration": calibrated} if calibrated is not None else {}),
        "review": {
            "min_probability": MIN_PROBABILITY,
            "margin": margin,
            "margin_rule": f"{MARGIN_QUANTILE:.0%} quantile of |duties' score - human beta| on "
            "correctly coded held-out pseudo-postings with duties, rounded up to 0.05",
            "reasons": [
                "language_not_english",
                "occupation_uncertain",
                "score_disagrees_with_occupation",
            ],
        },
        "automation": automation_report,
        "bands": model.bands,
        "data": {"files": sources},
        "targets": {"values": TARGETS},
        "training_seconds": round(time.perf_counter() - started, 1),
    }
    log(f"occupations component trained in {card['training_seconds']}s")
    return model, card


def build_table(root: Path, table: TaskTable) -> OccupationTable:
    """Gather the labelled occupations' titles, descriptions, measures and tasks compactly."""
    frame = table.frame
    codes = np.array(sorted(set(frame["soc_code"]) & set(table.occupations.index)))
    described = pd.read_csv(root / data.OCCUPATION_DATA, sep="\t", dtype=str)
    described = described.set_index("O*NET-SOC Code")
    measures = table.occupations.loc[
        codes, [f"{PUBLISHED_COLUMNS[r]}_{m}" for r in RATERS for m in MEASURES]
    ].to_numpy(dtype=np.float32)
    rows = {code: row for row, code in enumerate(codes)}
    tasks = frame[frame["soc_code"].isin(rows)].merge(
        automation_levels(root), on=["soc_code", "task_id"], how="left"
    )
    label_index = {label: index for index, label in enumerate(LABELS)}
    level_index = {level: index for index, level in enumerate(AUTOMATION_LEVELS)}
    return OccupationTable(
        codes=codes,
        titles=[str(described.loc[code, "Title"]) for code in codes],
        descriptions=[str(described.loc[code, "Description"]) for code in codes],
        measures=measures,
        task_owners=tasks["soc_code"].map(rows).to_numpy(dtype=np.int16),
        task_ids=tasks["task_id"].fillna(-1).to_numpy(dtype=np.int32),
        task_texts=tasks["text"].tolist(),
        task_labels=tasks["label"].map(label_index).to_numpy(dtype=np.int8),
        task_gpt4_labels=tasks["gpt4_label"].map(label_index).fillna(-1).to_numpy(dtype=np.int8),
        task_automation=tasks["automation"].map(level_index).fillna(-1).to_numpy(dtype=np.int8),
    )


def automation_levels(root: Path) -> pd.DataFrame:
    """Return GPT-4's T0-T4 automation level of each (occupation, task) in Eloundou's labels."""
    labels = pd.read_csv(
        root / data.TASK_LABELS,
        sep="\t",
        usecols=["O*NET-SOC Code", "Task ID", "gpt4_automation"],
        dtype={"O*NET-SOC Code": str},
    )
    labels["task_id"] = pd.to_numeric(labels["Task ID"], errors="coerce").astype("Int64")
    labels = labels.rename(columns={"O*NET-SOC Code": "soc_code", "gpt4_automation": "automation"})
    return labels[["soc_code", "task_id", "automation"]].drop_duplicates(["soc_code", "task_id"])


def occupation_documents(occupations: OccupationTable) -> tuple[list[str], np.ndarray]:
    """Return the texts that describe each occupation (tasks, description, title), with owners."""
    count = len(occupations.codes)
    texts = occupations.task_texts + occupations.descriptions + occupations.titles
    owners = np.r_[occupations.task_owners, np.arange(count), np.arange(count)]
    return texts, owners.astype(np.int32)


def normalise(title: str) -> str:
    """Return a title's key for holding it out: lower case, words only."""
    return " ".join(re.findall(r"\w+", title.lower()))


def pseudo_postings(
    root: Path, occupations: OccupationTable, titles: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Draw one pseudo-posting per distinct reported title: its fold, title and duty task rows.

    Each task row of the table gets a fold; a pseudo-posting's duties are drawn from its
    occupation's tasks in its own fold, so they are held out of the index with its title.
    """
    reported = pd.read_csv(root / data.REPORTED_TITLES, sep="\t", dtype=str)
    rows = {code: row for row, code in enumerate(occupations.codes)}
    reported = reported[reported["O*NET-SOC Code"].isin(rows)]
    reported = reported.assign(key=reported["Reported Job Title"].map(normalise))
    reported = reported.drop_duplicates("key").sort_values("key").reset_index(drop=True)
    fold = rng.integers(0, FOLDS, len(reported))
    task_fold = rng.integers(0, FOLDS, len(occupations.task_texts))
    by_fold_and_owner: dict[tuple[int, int], np.ndarray] = {
        key: np.asarray(group.index)
        for key, group in pd.DataFrame(
            {"fold": task_fold, "owner": occupations.task_owners}
        ).groupby(["fold", "owner"])
    }
    postings = []
    for (_, posting), posting_fold in zip(reported.iterrows(), fold, strict=True):
        row = rows[posting["O*NET-SOC Code"]]
        count = int(rng.choice(DUTY_COUNTS))
        pool = by_fold_and_owner.get((int(posting_fold), row), np.array([], dtype=int))
        chosen = rng.permutation(pool)[:count] if count else pool[:0]
        postings.append(
            {
                "fold": int(posting_fold),
                "title": posting["Reported Job Title"],
                "key": posting["key"],
                "row": row,
                "soc_code": posting["O*NET-SOC Code"],
                "tasks": [int(task) for task in chosen],
                "duties": len(chosen),
            }
        )
    frame = pd.DataFrame(postings)
    frame.attrs["task_fold"] = task_fold
    return frame


def read_services(path: Path, rows: dict[str, int]) -> PhraseShares:
    """Return the service phrases of the occupations in `rows` (code -> row), indexed."""
    return service_phrases(*data.owned_phrases([path], rows, "services"), len(rows))


def held_out_features(
    pseudo: pd.DataFrame,
    occupations: OccupationTable,
    titles: pd.DataFrame,
    rows: dict,
    services: PhraseShares | None = None,
) -> np.ndarray:
    """Return each pseudo-posting's coder features from a coder that never saw it."""
    task_fold = pseudo.attrs["task_fold"]
    keys = titles["title"].map(normalise)
    features = np.zeros((len(pseudo), len(FEATURES), len(occupations.codes)), dtype=np.float32)
    documents, owners = occupation_documents(occupations)
    task_count = len(occupations.task_texts)
    for fold in range(FOLDS):
        test = np.flatnonzero(pseudo["fold"].to_numpy() == fold)
        held_keys = set(pseudo["key"].iloc[test])
        index = titles[~keys.isin(held_keys)]
        kept = np.r_[np.flatnonzero(task_fold != fold), np.arange(task_count, len(documents))]
        coder = OccupationCoder().fit(
            index["title"].tolist(),
            index["soc_code"].map(rows).to_numpy(),
            [documents[i] for i in kept],
            owners[kept],
            len(occupations.codes),
            services,
        )
        for start in range(0, len(test), 512):
            chunk = pseudo.iloc[test[start : start + 512]]
            texts = [
                "\n".join(occupations.task_texts[task] for task in tasks)
                for tasks in chunk["tasks"]
            ]
            features[test[start : start + 512]] = coder.features(chunk["title"].tolist(), texts)
    return features


def _logits(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.tensordot(features, np.asarray(weights, dtype=np.float32), axes=([1], [0]))


def fit_weights(features: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Fit the coder's feature weights by maximum likelihood of the gold occupations."""

    picked = features[np.arange(len(gold)), :, gold].astype(float)

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        logits = _logits(features, weights).astype(float)
        probabilities = softmax(logits)
        value = np.mean(logsumexp(logits, axis=1) - logits[np.arange(len(gold)), gold])
        gradient = np.einsum("nfo,no->f", features, probabilities) / len(gold) - picked.mean(0)
        return float(value), gradient

    start = np.full(len(FEATURES), 10.0)
    bounds = [(0, None)] * len(FEATURES)
    return minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds).x


def coding_report(probabilities: np.ndarray, gold: np.ndarray, codes: np.ndarray) -> dict:
    """Return top-1 and top-5 accuracy at the full code and the major group, and calibration."""
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :5]
    major = np.array([code[:2] for code in codes])
    return {
        "postings": int(len(gold)),
        "top1": _round(np.mean(top[:, 0] == gold)),
        "top5": _round(np.mean((top == gold[:, None]).any(axis=1))),
        "major_group_top1": _round(np.mean(major[top[:, 0]] == major[gold])),
        "major_group_top5": _round(np.mean((major[top] == major[gold][:, None]).any(axis=1))),
        "mean_top_probability": _round(np.mean(probabilities.max(axis=1))),
    }


def duty_scores(table: TaskTable, pseudo: pd.DataFrame) -> pd.DataFrame:
    """Score each pseudo-posting's duties and title with a classifier that never saw its occupation.

    The classifiers are trained on task statements only (no title or work-activity views), in
    GroupKFold by occupation group, which keeps the component's training time short.
    """
    frame = table.frame
    # The occupation table's tasks are the task table's rows of the coded occupations, in order.
    coded = np.flatnonzero(frame["soc_code"].isin(set(table.occupations.index)).to_numpy())
    group_of = frame.drop_duplicates("soc_code").set_index("soc_code")["group"]
    probabilities = np.zeros((len(frame), len(LABELS)))
    title_probabilities = np.zeros((len(pseudo), len(LABELS)))
    posting_groups = group_of.reindex(pseudo["soc_code"]).to_numpy()
    splits = GroupKFold(n_splits=EXPOSURE_FOLDS).split(frame, groups=frame["group"])
    for train, test in splits:
        model = estimator.build_pipeline()
        # A looser tolerance than the shipped classifier's: a third of its iterations, nearly
        # the same held-out accuracy, and these scores only calibrate the blend.
        model.set_params(classifier__tol=DUTY_TOLERANCE)
        model.fit(frame["text"].iloc[train].tolist(), frame["label"].iloc[train].tolist())
        columns = [list(model.classes_).index(label) for label in LABELS]
        probabilities[test] = model.predict_proba(frame["text"].iloc[test].tolist())[:, columns]
        mine = np.flatnonzero(np.isin(posting_groups, frame["group"].iloc[test].unique()))
        if len(mine):
            titles = pseudo["title"].iloc[mine].tolist()
            title_probabilities[mine] = model.predict_proba(titles)[:, columns]
    scores, confidences = [], []
    for i, tasks in enumerate(pseudo["tasks"]):
        units = np.vstack([probabilities[coded[tasks]], title_probabilities[i]])
        exposure = aggregate(units, np.ones(len(units)))
        scores.append(exposure.beta)
        confidences.append(exposure.confidence)
    return pd.DataFrame({"score": scores, "confidence": confidences})


def fit_blend(
    duty: pd.DataFrame,
    probabilities: np.ndarray,
    gold_beta: np.ndarray,
    betas: np.ndarray,
    halves: np.ndarray,
) -> tuple[Blend, dict]:
    """Fit the blend's two floors by least squares against the gold human beta; report it."""
    published, spread = occupation_beta(probabilities, betas)
    error = duty_error(duty["confidence"].to_numpy())
    scores = duty["score"].to_numpy()

    def fit(mask: np.ndarray) -> Blend:
        def loss(log_floors: np.ndarray) -> float:
            blend = Blend(*np.exp(log_floors))
            duty_weight, occupation_weight = blend.weights(error[mask], spread[mask])
            blended = duty_weight * scores[mask] + occupation_weight * published[mask]
            return float(np.mean(np.square(blended - gold_beta[mask])))

        bounds = [(np.log(FLOOR_RANGE[0]), np.log(FLOOR_RANGE[1]))] * 2
        result = minimize(loss, np.log([0.1, 0.1]), method="Nelder-Mead", bounds=bounds)
        return Blend(*(round(float(v), 4) for v in np.exp(result.x)))

    blended = np.zeros(len(scores))
    for fit_on in (halves, ~halves):
        duty_weight, occupation_weight = fit(fit_on).weights(error[~fit_on], spread[~fit_on])
        blended[~fit_on] = duty_weight * scores[~fit_on] + occupation_weight * published[~fit_on]
    blend = fit(np.ones(len(scores), dtype=bool))
    duty_weight, _ = blend.weights(error, spread)
    lookup = betas[probabilities.argmax(axis=1)]
    report = {
        "rule": "score = w * duties' score + (1 - w) * expected published human beta under the "
        "coder's probabilities; each part weighted by 1 / (its own variance + floor^2)",
        "duty_floor": blend.duty_floor,
        "occupation_floor": blend.occupation_floor,
        "fitted_on": "held-out pseudo-postings (O*NET reported titles and task statements), "
        "least squares against the gold occupation's human beta; figures below cross-fitted",
        "pseudo_postings": int(len(scores)),
        "mean_duty_weight": _round(np.mean(duty_weight)),
        "spearman": {
            "duties": _spearman(scores, gold_beta),
            "occupation_top1": _spearman(lookup, gold_beta),
            "occupation_expected": _spearman(published, gold_beta),
            "blend": _spearman(blended, gold_beta),
        },
    }
    return blend, report


def fit_automation(root: Path, table: TaskTable) -> tuple[Pipeline, dict]:
    """Fit text -> P(automation | exposed) on exposed tasks, labelled by GPT-4's T0-T4 levels."""
    frame = table.frame.merge(automation_levels(root), on=["soc_code", "task_id"], how="left")
    exposed = frame[frame["label"].isin(["E1", "E2"]) & frame["automation"].notna()]
    exposed = exposed.reset_index(drop=True)
    level = exposed["automation"].map(AUTOMATION_LEVELS.index).to_numpy()
    target = level >= AUTOMATION_FROM
    texts = exposed["text"].to_numpy()
    held_out = np.zeros(len(exposed))
    splits = GroupKFold(n_splits=EXPOSURE_FOLDS).split(texts, target, exposed["group"])
    for train, test in splits:
        held_out[test] = (
            build_automation_pipeline()
            .fit(texts[train], target[train])
            .predict_proba(texts[test])[:, 1]
        )
    model = build_automation_pipeline().fit(texts, target)
    vars(model.named_steps["features"]).pop("_stop_words_id", None)
    predicted = held_out >= 0.5
    # The 100 tasks the paper also had humans rate on the automation rubric: a small check of
    # what GPT-4's ratings, and the classifier learned from them, say against people.
    humans = pd.read_csv(
        root / HUMAN_AUTOMATION,
        sep="\t",
        usecols=["O*NET-SOC Code", "Task ID", "human_automation"],
        dtype={"O*NET-SOC Code": str},
    ).dropna()
    humans["task_id"] = pd.to_numeric(humans["Task ID"], errors="coerce").astype("Int64")
    humans = humans.rename(columns={"O*NET-SOC Code": "soc_code"})
    checked = exposed.reset_index().merge(humans, on=["soc_code", "task_id"])
    human = checked["human_automation"].map(AUTOMATION_LEVELS.index).to_numpy() >= AUTOMATION_FROM
    report = {
        "labels": "gpt4_automation of eloundou_2023/full_labelset.tsv: GPT-4's ratings on the "
        "paper's T0-T4 automation rubric, not human ratings",
        "definition": f"automation = T{AUTOMATION_FROM}-T4 (the model would do most or all of "
        f"the task); augmentation = T0-T{AUTOMATION_FROM - 1} (a person does the task, helped by "
        "the model); learned on the tasks humans labelled exposed (E1 or E2)",
        "tasks": int(len(exposed)),
        "automation_rate": _round(target.mean()),
        "held_out": {
            "split": f"GroupKFold({EXPOSURE_FOLDS}) by occupation group",
            "auc": _round(roc_auc_score(target, held_out)),
            "accuracy": _round(accuracy_score(target, predicted)),
            "kappa": _round(cohen_kappa_score(target, predicted)),
        },
        "human_reference": {
            "tasks": int(len(checked)),
            "gpt4_agreement": _round(np.mean(target[checked["index"]] == human))
            if len(checked)
            else None,
            "model_agreement": _round(np.mean(predicted[checked["index"]] == human))
            if len(checked)
            else None,
            "note": "exposed tasks among the 100 with a human automation rating "
            "(automation_gpt4_human_labels.tsv); the model's figure is held out",
        },
        "posting_shares": "automation_share + augmentation_share = the posting's gamma (its "
        "expected exposed share), split by the exposure-weighted mean P(automation) of its duties",
    }
    return model, report


def build_automation_pipeline() -> Pipeline:
    """Return an unfitted text -> automation-versus-augmentation classifier."""
    return Pipeline(
        [
            (
                "features",
                word_tfidf(min_df=2),
            ),
            ("classifier", LogisticRegression(C=1.0, max_iter=2000, random_state=RANDOM_STATE)),
        ]
    )


def band_thresholds(occupations: pd.DataFrame) -> dict[str, float]:
    """Return band cut points: the terciles of the occupations' human beta (as training.train)."""
    low, high = np.quantile(occupations["human_rating_beta"].dropna(), [1 / 3, 2 / 3])
    return {"moderate": round(float(low), 4), "high": round(float(high), 4)}


def read_titles(path: Path = TITLES) -> list[dict]:
    """Read the hand-written noisy titles set (JSON Lines with title, soc_code, language)."""
    with open(path, encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def titles_set_report(model: OccupationModel, titles: list[dict]) -> dict:
    """Code the hand-written titles alone; report English accuracy and non-English fallback."""
    known = [t for t in titles if model.table.row(t["soc_code"]) is not None]
    english = [t for t in known if t.get("language", "en") == "en"]
    other = [t for t in known if t.get("language", "en") != "en"]
    report: dict = {"file": TITLES.name}
    if english:
        probabilities = model.coder.predict_proba(
            [t["title"] for t in english], [""] * len(english)
        )
        gold = np.array([model.table.row(t["soc_code"]) for t in english])
        report["english"] = coding_report(probabilities, gold, model.codes)
    if other:
        probabilities = model.coder.predict_proba([t["title"] for t in other], [""] * len(other))
        top = probabilities.max(axis=1)
        report["other_languages"] = {
            "postings": len(other),
            "mean_top_probability": _round(top.mean()),
            "below_min_probability": _round(np.mean(top < model.review.min_probability)),
        }
    return report


def postings_report(scorer: Scorer, postings: list[dict]) -> dict:
    """Score realistic postings with the occupations component; report coding and the blend.

    Each posting's scores are compared with the human beta of its gold occupation: the duties
    alone, the top occupation's published beta (the research pipeline), and the blend.
    """
    model: OccupationModel = scorer.components["occupations"]
    known = [p for p in postings if model.table.row(p["soc_code"]) is not None]
    results = scorer.score_many(known)
    gold = np.array([model.table.row(p["soc_code"]) for p in known])
    rows = {code: row for row, code in enumerate(model.codes)}
    probabilities = np.zeros((len(known), len(model.codes)))
    for i, result in enumerate(results):
        for match in result["occupations"]:
            probabilities[i, rows[match["code"]]] = match["probability"]
    gold_beta = model.table.measure("human", "beta")[gold]
    duty = np.array([r["exposure"]["duty_score"] for r in results])
    blend = np.array([r["exposure"]["score"] for r in results])
    lookup = np.array([r["lenses"][0]["value"] for r in results])
    expected = np.array([r["exposure"]["blend"]["occupation"]["score"] for r in results])
    flagged = np.array([r["needs_review"]["flag"] for r in results])
    reasons: dict[str, int] = {}
    for result in results:
        for reason in result["needs_review"]["reasons"]:
            reasons[reason["code"]] = reasons.get(reason["code"], 0) + 1
    coding = coding_report(probabilities, gold, model.codes)
    correct = probabilities.argmax(axis=1) == gold
    spearman = {
        "duties": _spearman(duty, gold_beta),
        "occupation_top1": _spearman(lookup, gold_beta),
        "occupation_expected": _spearman(expected, gold_beta),
        "blend": _spearman(blend, gold_beta),
    }
    report = {
        "postings": len(known),
        "coding": coding,
        "spearman_per_posting": spearman,
        "mean_absolute_error": {
            "duties": _round(np.abs(duty - gold_beta).mean()),
            "occupation_top1": _round(np.abs(lookup - gold_beta).mean()),
            "blend": _round(np.abs(blend - gold_beta).mean()),
        },
        "mean_duty_weight": _round(
            np.mean([r["exposure"]["blend"]["duties"]["weight"] for r in results])
        ),
        "needs_review": {
            "rate": _round(flagged.mean()),
            "reasons": reasons,
            "top1_when_flagged": _round(correct[flagged].mean()) if flagged.any() else None,
            "top1_when_not_flagged": _round(correct[~flagged].mean()) if (~flagged).any() else None,
        },
        "automation": {
            "mean_automation_share": _round(
                np.mean([r["automation"]["automation_share"] for r in results])
            ),
            "mean_augmentation_share": _round(
                np.mean([r["automation"]["augmentation_share"] for r in results])
            ),
        },
    }
    styles = np.array([p.get("style", "unknown") for p in known])
    report["by_style"] = {
        style: {
            "postings": int(mask.sum()),
            "top1": _round(correct[mask].mean()),
            "spearman": {
                "duties": _spearman(duty[mask], gold_beta[mask]),
                "occupation_top1": _spearman(lookup[mask], gold_beta[mask]),
                "blend": _spearman(blend[mask], gold_beta[mask]),
            },
        }
        for style in sorted(set(styles))
        if (mask := styles == style).sum() >= 5
    }
    report["targets_met"] = {
        "postings_top1": coding["top1"] >= TARGETS["postings_top1"],
        "postings_major_group_top1": coding["major_group_top1"]
        >= TARGETS["postings_major_group_top1"],
        "postings_blend_spearman": spearman["blend"] >= TARGETS["postings_blend_spearman"],
        "blend_beats_both_parts": spearman["blend"]
        > max(spearman["duties"], spearman["occupation_top1"], spearman["occupation_expected"]),
    }
    return report


# --- Calibration on postings ------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """What the scorer sees of calibration postings: coder features, duties' score, gold."""

    features: np.ndarray  # (postings, features, occupations)
    duty_score: np.ndarray
    confidence: np.ndarray
    gold: np.ndarray  # row of each posting's occupation
    groups: np.ndarray  # its O*NET-SOC code, for folds


class _Recorder:
    """An enricher that keeps what the occupations component would read of each posting."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, float, float]] = []

    def enrich(self, context, result: dict) -> None:
        exposure = result["exposure"]
        self.seen.append(
            (context.title, coding_text(context), exposure["score"], exposure["confidence"])
        )


def observe(exposure, model: OccupationModel, postings: list[dict]) -> Observed:
    """Score postings (English, as served) up to the occupations component; return its inputs."""
    known = [p for p in postings if model.table.row(p["soc_code"]) is not None]
    recorder = _Recorder()
    card = {"version": "calibration", "artifact": {"sha256": ""}, "bands": model.bands}
    scorer = Scorer({"exposure": exposure, "recorder": recorder}, card)
    scorer.score_many(
        [{"title": p["title"], "description": p["description"], "language": "en"} for p in known]
    )
    titles, texts, scores, confidences = map(list, zip(*recorder.seen, strict=True))
    return Observed(
        features=model.coder.features(titles, texts),
        duty_score=np.array(scores, dtype=float),
        confidence=np.array(confidences, dtype=float),
        gold=np.array([model.table.row(p["soc_code"]) for p in known]),
        groups=np.array([p["soc_code"] for p in known]),
    )


def fit_coder(choice: str, features: np.ndarray, gold: np.ndarray, weights: np.ndarray):
    """Return the coder's weights under a choice: as fitted on pseudo-postings, those times the
    one factor (a temperature) that fits `gold` best, or all of them refitted on `gold`."""
    if choice == "pseudo_postings":
        return np.asarray(weights, dtype=float)
    if choice == "refitted":
        return fit_weights(features, gold)
    logits = _logits(features, weights).astype(float)

    def loss(log_scale: float) -> float:
        scaled = logits * np.exp(log_scale)
        return float(np.mean(logsumexp(scaled, axis=1) - scaled[np.arange(len(gold)), gold]))

    found = minimize_scalar(loss, bounds=SCALE_RANGE, method="bounded")
    return np.asarray(weights, dtype=float) * float(np.exp(found.x))


def _blended(blend: Blend, observed: Observed, rows: np.ndarray, probabilities, betas):
    # The calibration postings are English: their duties enter through the blend's line.
    published, spread = occupation_beta(probabilities, betas)
    duty_weight, occupation_weight = blend.weights(duty_error(observed.confidence[rows]), spread)
    duties = blend.duty_estimate(observed.duty_score[rows])
    return np.clip(duty_weight * duties + occupation_weight * published, 0, 1)


def fit_duty_line(observed: Observed, rows: np.ndarray, betas: np.ndarray) -> tuple[float, float]:
    """Return the intercept and slope of the gold human beta on the duties' score, on `rows`."""
    slope, intercept = np.polyfit(observed.duty_score[rows], betas[observed.gold[rows]], 1)
    return round(float(intercept), 4), round(float(slope), 4)


def fit_floors(
    observed: Observed, rows: np.ndarray, probabilities, betas, line: tuple[float, float] = (0, 1)
) -> Blend:
    """Fit the blend's floors by least squares against the gold human beta on `rows`, with the
    duties entering through `line` (intercept, slope)."""
    gold_beta = betas[observed.gold[rows]]

    def loss(log_floors: np.ndarray) -> float:
        blend = Blend(*np.exp(log_floors), *line)
        blended = _blended(blend, observed, rows, probabilities, betas)
        return float(np.mean(np.square(blended - gold_beta)))

    bounds = [(np.log(FLOOR_RANGE[0]), np.log(FLOOR_RANGE[1]))] * 2
    result = minimize(loss, np.log([0.1, 0.1]), method="Nelder-Mead", bounds=bounds)
    return Blend(*(round(float(v), 4) for v in np.exp(result.x)), *line)


def fit_blend_choice(
    choice: str, observed: Observed, rows: np.ndarray, probabilities, betas, blend: Blend
) -> Blend:
    """Return one of BLEND_CHOICES fitted on `rows`: the floors as fitted on pseudo-postings
    (`blend`) or refitted, with the duties as they are or through a line fitted on the same rows."""
    if choice == "pseudo_postings":
        return blend
    if choice == "refitted":
        return fit_floors(observed, rows, probabilities, betas)
    line = fit_duty_line(observed, rows, betas)
    if choice == "pseudo_postings_with_line":
        return replace(blend, duty_intercept=line[0], duty_slope=line[1])
    return fit_floors(observed, rows, probabilities, betas, line)


def calibrate_on_postings(
    exposure, model: OccupationModel, postings: list[dict], log: Callable[[str], object] = print
) -> dict:
    """Choose, on postings written like real ones, how the coder's weights and the blend's floors
    should be set; set them on `model` and return the card section.

    Each choice is scored held out (GroupKFold by occupation, every fit on the other folds): the
    coder's by the mean log-likelihood of the gold occupations, the floors' by the squared error
    of the blended score against the gold occupation's human beta.
    """
    observed = observe(exposure, model, postings)
    if len(observed.gold) < MIN_CALIBRATION:
        log(f"calibration postings: {len(observed.gold)} of known occupations, too few to fit")
        return {"postings": int(len(observed.gold)), "fitted": False}
    betas = model.table.measure("human", "beta")
    weights = np.asarray(model.coder.weights, dtype=float)
    blend = model.blend
    count, gold = len(observed.gold), observed.gold
    folds = list(
        GroupKFold(n_splits=CALIBRATION_FOLDS).split(observed.duty_score, groups=observed.groups)
    )
    held_out = {choice: np.zeros((count, len(model.codes))) for choice in CODER_CHOICES}
    blended = {choice: np.zeros(count) for choice in BLEND_CHOICES}
    for train, test in folds:
        for choice in CODER_CHOICES:
            fitted = fit_coder(choice, observed.features[train], gold[train], weights)
            held_out[choice][test] = softmax(_logits(observed.features[test], fitted))
    likelihood = {
        choice: _round(
            np.mean(np.log(np.maximum(held_out[choice][np.arange(count), gold], 1e-300)))
        )
        for choice in CODER_CHOICES
    }
    coder_choice = max(CODER_CHOICES, key=lambda choice: likelihood[choice])
    for train, test in folds:
        fitted = fit_coder(coder_choice, observed.features[train], gold[train], weights)
        train_probabilities = softmax(_logits(observed.features[train], fitted))
        for choice in BLEND_CHOICES:
            fitted_blend = fit_blend_choice(
                choice, observed, train, train_probabilities, betas, blend
            )
            blended[choice][test] = _blended(
                fitted_blend, observed, test, held_out[coder_choice][test], betas
            )
    gold_beta = betas[gold]
    error = {c: _round(np.mean(np.square(blended[c] - gold_beta))) for c in BLEND_CHOICES}
    blend_choice = min(BLEND_CHOICES, key=lambda choice: error[choice])
    probabilities = held_out[coder_choice]
    lookup = betas[probabilities.argmax(axis=1)]
    published, _ = occupation_beta(probabilities, betas)

    model.coder.weights = fit_coder(coder_choice, observed.features, gold, weights)
    everything = np.arange(count)
    # Only the chosen blend is fitted on every posting.
    model.blend = fit_blend_choice(
        blend_choice,
        observed,
        everything,
        softmax(_logits(observed.features, model.coder.weights)),
        betas,
        blend,
    )
    log(
        f"calibration postings: coder {coder_choice} (log-likelihood {likelihood}), "
        f"floors {blend_choice} (squared error {error})"
    )
    return {
        "file": f"{CALIBRATION.parent.name}/{CALIBRATION.name}",
        "sha256": artifact.sha256(CALIBRATION) if CALIBRATION.is_file() else None,
        "postings": count,
        "occupations": int(len(set(observed.groups))),
        "fitted": True,
        "split": f"GroupKFold({CALIBRATION_FOLDS}) by occupation; every choice fitted on the "
        "other folds",
        "coder": {
            "choices": list(CODER_CHOICES),
            "log_likelihood": likelihood,
            "chosen": coder_choice,
            "weights": [round(float(w), 3) for w in model.coder.weights],
            "held_out": {
                choice: coding_report(held_out[choice], gold, model.codes)
                for choice in CODER_CHOICES
            },
        },
        "blend": {
            "choices": list(BLEND_CHOICES),
            "squared_error": error,
            "chosen": blend_choice,
            "duty_floor": model.blend.duty_floor,
            "occupation_floor": model.blend.occupation_floor,
            "duty_intercept": model.blend.duty_intercept,
            "duty_slope": model.blend.duty_slope,
            "spearman": {
                "duties": _spearman(observed.duty_score, gold_beta),
                "occupation_top1": _spearman(lookup, gold_beta),
                "occupation_expected": _spearman(published, gold_beta),
                "blend": _spearman(blended[blend_choice], gold_beta),
            },
        },
    }


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return _round(spearmanr(a, b)[0])


def _round(value: float) -> float:
    return round(float(value), 4)


def main(argv: list[str] | None = None) -> int:
    """Fit the component, join it to the default model, print its card section and figures."""
    parser = argparse.ArgumentParser(prog="python -m training.occupations", description=__doc__)
    parser.add_argument("--data-dir", help="public data (default: as training.train)")
    args = parser.parse_args(argv)
    try:
        root = data.data_dir(args.data_dir)
        components, model_card = artifact.load(registry.default_dir())
        model, card = train_occupations(
            root,
            data.load_tasks(root),
            log=print,
            exposure=components["exposure"],
            calibration=CALIBRATION,
        )
    except (data.DataError, artifact.ArtifactError, registry.RegistryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    scorer = Scorer({**components, "occupations": model}, model_card)
    card["postings"] = postings_report(scorer, evaluate.read_postings())
    print(json.dumps(card, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
