"""Held-out evaluation: tasks by occupation-grouped folds, occupations, realistic postings."""

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from models.scorer import LABELS, Scorer
from training.data import TaskTable

POSTINGS = Path(__file__).resolve().parent / "eval" / "postings.jsonl"
SHARES = {"alpha": (0.0, 1.0, 0.0), "beta": (0.0, 1.0, 0.5), "gamma": (0.0, 1.0, 1.0)}


def out_of_fold(
    table: TaskTable, fit: Callable[[pd.DataFrame], Pipeline], folds: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return each task's E0/E1/E2 probabilities from the fold model that did not see its group,
    and each task's fold number."""
    frame = table.frame
    texts, labels = frame["text"].to_numpy(), frame["label"].to_numpy()
    probabilities = np.zeros((len(frame), len(LABELS)))
    fold_of = np.zeros(len(frame), dtype=int)
    for fold, (train, test) in enumerate(
        GroupKFold(n_splits=folds).split(texts, labels, frame["group"])
    ):
        model = fit(frame.iloc[train])
        columns = [list(model.classes_).index(label) for label in LABELS]
        probabilities[test] = model.predict_proba(texts[test])[:, columns]
        fold_of[test] = fold
    return probabilities, fold_of


def task_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """Return accuracy, macro-F1 and Cohen's kappa of E labels."""
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
        "kappa": round(float(cohen_kappa_score(truth, predicted)), 4),
    }


def calibration(truth: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> dict:
    """Return the multiclass Brier score and the expected calibration error of the top label."""
    onehot = (truth[:, None] == np.array(LABELS)[None, :]).astype(float)
    brier = float(((probabilities - onehot) ** 2).sum(axis=1).mean())
    confidence = probabilities.max(axis=1)
    correct = np.array(LABELS)[probabilities.argmax(axis=1)] == truth
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return {"brier": round(brier, 4), "ece": round(float(ece), 4)}


def occupation_shares(frame: pd.DataFrame, probabilities: np.ndarray) -> pd.DataFrame:
    """Return per occupation the mean alpha, beta and gamma of its tasks."""
    shares = pd.DataFrame(
        {name: probabilities @ np.array(weights) for name, weights in SHARES.items()}
    )
    shares["soc_code"] = frame["soc_code"].to_numpy()
    return shares.groupby("soc_code").mean()


def correlations(predicted: pd.DataFrame, occupations: pd.DataFrame) -> dict:
    """Return Spearman and Pearson of predicted shares against the human occupation ratings."""
    joined = predicted.join(occupations, how="inner")
    result = {"occupations": len(joined)}
    for name in SHARES:
        human = joined[f"human_rating_{name}"]
        result[name] = {
            "spearman": round(float(spearmanr(joined[name], human)[0]), 4),
            "pearson": round(float(pearsonr(joined[name], human)[0]), 4),
        }
    return result


def one_hot(labels: np.ndarray) -> np.ndarray:
    """Turn E labels into probability rows."""
    return (labels[:, None] == np.array(LABELS)[None, :]).astype(float)


def held_out_report(table: TaskTable, probabilities: np.ndarray, fold_of: np.ndarray) -> dict:
    """Compare the model's out-of-fold predictions and GPT-4's labels with the human labels."""
    frame = table.frame
    truth = frame["label"].to_numpy()
    predicted = np.array(LABELS)[probabilities.argmax(axis=1)]
    gpt4 = frame["gpt4_label"].to_numpy()
    rated = np.isin(gpt4, LABELS)
    per_fold = {"model": [], "gpt4": []}
    for fold in np.unique(fold_of):
        rows = np.flatnonzero(fold_of == fold)
        per_fold["model"].append(task_metrics(truth[rows], predicted[rows])["kappa"])
        mask = rows[rated[rows]]
        per_fold["gpt4"].append(task_metrics(truth[mask], gpt4[mask])["kappa"])
    return {
        "tasks": int(len(frame)),
        "folds": int(len(np.unique(fold_of))),
        "model": {
            "tasks": task_metrics(truth, predicted),
            "calibration": calibration(truth, probabilities),
            "kappa_per_fold": per_fold["model"],
            "occupations": correlations(occupation_shares(frame, probabilities), table.occupations),
        },
        "gpt4": {
            "tasks": task_metrics(truth[rated], gpt4[rated]),
            "kappa_per_fold": per_fold["gpt4"],
            "occupations": correlations(
                occupation_shares(frame[rated].reset_index(drop=True), one_hot(gpt4[rated])),
                table.occupations,
            ),
        },
    }


def read_postings(path: Path = POSTINGS) -> list[dict]:
    """Read the realistic postings set (JSON Lines with soc_code, title, description)."""
    with open(path, encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def postings_report(scorer: Scorer, postings: list[dict], occupations: pd.DataFrame) -> dict:
    """Correlate posting scores (the headline score, and the duties' alone) with the human beta
    of their gold occupation."""
    known = [p for p in postings if p["soc_code"] in occupations.index]
    results = scorer.score_many(known)
    frame = pd.DataFrame(
        {
            "soc_code": [p["soc_code"] for p in known],
            "style": [p.get("style", "unknown") for p in known],
            "score": [r["exposure"]["score"] for r in results],
            "duty_score": [r["exposure"].get("duty_score", r["exposure"]["beta"]) for r in results],
            "gold": [float(occupations.loc[p["soc_code"], "human_rating_beta"]) for p in known],
        }
    )
    by_occupation = frame.groupby("soc_code")[["score", "gold"]].mean()
    report = {
        "postings": len(frame),
        "occupations": int(frame["soc_code"].nunique()),
        "spearman_per_posting": round(float(spearmanr(frame["score"], frame["gold"])[0]), 4),
        # The duties (and title) alone, before any blend with the posting's occupation.
        "duty_spearman_per_posting": round(
            float(spearmanr(frame["duty_score"], frame["gold"])[0]), 4
        ),
        "pearson_per_posting": round(float(pearsonr(frame["score"], frame["gold"])[0]), 4),
        "spearman_per_occupation": round(
            float(spearmanr(by_occupation["score"], by_occupation["gold"])[0]), 4
        ),
        "mean_absolute_error": round(float((frame["score"] - frame["gold"]).abs().mean()), 4),
        "by_style": {},
    }
    for style, rows in frame.groupby("style"):
        if len(rows) >= 5:
            report["by_style"][style] = {
                "postings": len(rows),
                "spearman": round(float(spearmanr(rows["score"], rows["gold"])[0]), 4),
            }
    return report
