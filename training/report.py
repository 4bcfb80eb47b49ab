"""The evaluation report written beside every trained model: one HTML file that opens offline.

Plots are drawn with matplotlib and embedded as base64 PNG, so the file needs no network, no
script and no other file: it can be mailed, attached to a review or opened from the models
folder. Figures are made with `Figure` rather than pyplot: no global state, no display backend.
"""

import base64
import html
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models import registry
from models.scorer import LABELS
from training.userdata import Outcome, skill_metrics

REPORT_FILE = registry.REPORT_FILE
BINS = 10
DPI = 100
COLOURS = {"E0": "#4c72b0", "E1": "#dd8452", "E2": "#55a868"}


@dataclass(frozen=True)
class Evidence:
    """What the report plots besides the card: held-out predictions beside human labels."""

    truth: np.ndarray | None = None  # human E labels of the public held-out tasks
    probabilities: np.ndarray | None = None  # their out-of-fold E0/E1/E2 probabilities
    occupations: pd.DataFrame | None = None  # per soc_code: predicted and human beta
    user: Outcome | None = None  # the user's labelled data, predicted out of fold


def write(directory: Path, card: dict, evidence: Evidence) -> Path:
    """Write report.html into a model directory and return its path."""
    path = Path(directory) / REPORT_FILE
    path.write_text(render(card, evidence), encoding="utf-8")
    return path


def render(card: dict, evidence: Evidence) -> str:
    """Return the report as one self-contained HTML page."""
    sections = [
        _section(
            "Reliability of the E probabilities",
            "For each label, duties are binned by the probability the model gave that label; a "
            "calibrated model's points lie on the diagonal. Bars: how many duties fall in each "
            "bin.",
            _reliability(evidence),
        ),
        _section(
            "Confusion matrix against human labels",
            "Rows are the human label, columns the model's most probable label; each cell gives "
            "the count and the share of its row.",
            _confusion(evidence),
        ),
        _section(
            "Predicted versus human beta per occupation",
            "Each point is an O*NET occupation: the mean predicted beta of its held-out tasks "
            "against Eloundou et al.'s human beta; for your data, the mean over your postings "
            "of that occupation (or each posting, without a code).",
            _betas(evidence),
        ),
        _section(
            "Skills: precision and recall per skill",
            "Each skill's precision (of the skills the model reported, the share that were "
            "right) and recall (of the skills labelled, the share the model found).",
            _skills(card, evidence),
        ),
        _section("Figures of the model card", "", [_card_tables(card)]),
    ]
    title = f"Model {card.get('version', '?')}: evaluation report"
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
            f"<p class=lead>{html.escape(_lead(card))}</p>",
            *sections,
            "</body></html>",
        ]
    )


def _lead(card: dict) -> str:
    sha = card.get("artifact", {}).get("sha256", "")[:12]
    parts = [f"created {card.get('created_at', '?')}", f"artifact sha256 {sha}"]
    if card.get("git_commit"):
        parts.append(f"commit {card['git_commit'][:12]}")
    user = card.get("data", {}).get("user")
    if user:
        only = " alone" if user.get("only") else " with the public data"
        parts.append(f"trained on {len(user.get('files', {}))} user file(s){only}")
    return "; ".join(parts) + "."


def _section(title: str, explanation: str, body: Iterable[str]) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    text = f"<p>{html.escape(explanation)}</p>" if explanation else ""
    return f'<section id="{slug}"><h2>{html.escape(title)}</h2>{text}{"".join(body)}</section>'


def _png(figure: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _note(text: str) -> str:
    return f"<p class=note>{html.escape(text)}</p>"


def _sources(evidence: Evidence) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Return (name, human labels, probabilities) for each set of labelled duties."""
    found = []
    if evidence.truth is not None and len(evidence.truth):
        found.append(("public O*NET tasks, held out", evidence.truth, evidence.probabilities))
    user = evidence.user
    if user is not None and len(user.duty_truth):
        found.append(("your labelled duties, held out", user.duty_truth, user.duty_probabilities))
    return found


def _reliability(evidence: Evidence) -> list[str]:
    sources = _sources(evidence)
    if not sources:
        return [_note("No labelled duties were held out in this run.")]
    blocks = []
    for name, truth, probabilities in sources:
        figure = Figure(figsize=(11, 4.6))
        axes = figure.subplots(2, 3, height_ratios=[3, 1], sharex=True, squeeze=False)
        edges = np.linspace(0, 1, BINS + 1)
        for column, label in enumerate(LABELS):
            p = probabilities[:, column]
            hit = (np.asarray(truth) == label).astype(float)
            which = np.clip(np.digitize(p, edges[1:-1]), 0, BINS - 1)
            counts = np.bincount(which, minlength=BINS)
            used = counts > 0
            mean_p = np.bincount(which, weights=p, minlength=BINS)[used] / counts[used]
            freq = np.bincount(which, weights=hit, minlength=BINS)[used] / counts[used]
            top, bottom = axes[0][column], axes[1][column]
            top.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1)
            top.plot(mean_p, freq, marker="o", color=COLOURS[label])
            top.set_title(f"{label}")
            top.set_xlim(0, 1)
            top.set_ylim(0, 1)
            if column == 0:
                top.set_ylabel("observed share")
            bottom.bar(
                (edges[:-1] + edges[1:]) / 2, counts, width=1 / BINS * 0.9, color=COLOURS[label]
            )
            bottom.set_xlabel(f"predicted P({label})")
            if column == 0:
                bottom.set_ylabel("duties")
        figure.suptitle(f"{name} ({len(truth)} duties)")
        blocks.append(_png(figure, f"Reliability diagram, {name}"))
    return blocks


def _confusion(evidence: Evidence) -> list[str]:
    sources = _sources(evidence)
    if not sources:
        return [_note("No labelled duties were held out in this run.")]
    figure = Figure(figsize=(5 * len(sources), 4.2))
    axes = figure.subplots(1, len(sources), squeeze=False)
    for axis, (name, truth, probabilities) in zip(axes[0], sources, strict=True):
        predicted = np.array(LABELS)[probabilities.argmax(axis=1)]
        truth = np.asarray(truth, dtype=str)
        matrix = np.array(
            [[int(((truth == h) & (predicted == m)).sum()) for m in LABELS] for h in LABELS]
        )
        rows = matrix.sum(axis=1, keepdims=True)
        shares = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
        axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(LABELS)):
            for j in range(len(LABELS)):
                colour = "white" if shares[i, j] > 0.6 else "black"
                axis.text(
                    j,
                    i,
                    f"{matrix[i, j]}\n{shares[i, j]:.0%}",
                    ha="center",
                    va="center",
                    color=colour,
                )
        axis.set_xticks(range(len(LABELS)), LABELS)
        axis.set_yticks(range(len(LABELS)), LABELS)
        axis.set_xlabel("model")
        axis.set_ylabel("human")
        axis.set_title(name)
    return [_png(figure, "Confusion matrices against human labels")]


def _betas(evidence: Evidence) -> list[str]:
    panels = []
    if evidence.occupations is not None and len(evidence.occupations):
        frame = evidence.occupations
        panels.append(("public O*NET occupations", frame["human"], frame["predicted"]))
    user = evidence.user
    if user is not None and len(user.postings):
        postings = user.postings.dropna(subset=["gold_beta"])
        if len(postings):
            key = (
                postings["soc_code"]
                .fillna(postings["id"])
                .fillna(pd.Series(range(len(postings)), index=postings.index).astype(str))
            )
            per = postings.groupby(key)[["gold_beta", "beta"]].mean()
            panels.append(("your postings", per["gold_beta"], per["beta"]))
    if not panels:
        return [_note("No occupation or posting betas were held out in this run.")]
    figure = Figure(figsize=(5 * len(panels), 4.6))
    axes = figure.subplots(1, len(panels), squeeze=False)
    for axis, (name, human, predicted) in zip(axes[0], panels, strict=True):
        axis.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1)
        axis.scatter(human, predicted, s=10, alpha=0.6, color="#4c72b0")
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1)
        axis.set_xlabel("human beta")
        axis.set_ylabel("predicted beta")
        rho = _spearman(np.asarray(human, float), np.asarray(predicted, float))
        suffix = f", Spearman {rho:.3f}" if rho is not None else ""
        axis.set_title(f"{name} ({len(human)}{suffix})")
    return [_png(figure, "Predicted versus human beta")]


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    ranks_a, ranks_b = pd.Series(a).rank(), pd.Series(b).rank()
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def skill_tables(card: dict, evidence: Evidence) -> list[tuple[str, dict]]:
    """Return (where, {skill: {precision, recall, ...}}) for every per-skill table to plot."""
    tables = []

    def walk(node, path):
        if isinstance(node, dict):
            per_skill = node.get("per_skill")
            if isinstance(per_skill, dict) and per_skill:
                tables.append((" / ".join(path) or "card", per_skill))
            for key, value in node.items():
                if key != "per_skill":
                    walk(value, [*path, str(key)])

    walk(card.get("skills", {}), ["skills"])
    walk(card.get("evaluation", {}).get("user", {}).get("skills", {}), ["your postings"])
    if evidence.user is not None and not any(p[0] == "your postings" for p in tables):
        found = skill_metrics(evidence.user.postings)
        if found:
            tables.append(("your postings", found["per_skill"]))
    return tables


def _skills(card: dict, evidence: Evidence) -> list[str]:
    tables = skill_tables(card, evidence)
    if not tables:
        return [
            _note(
                "No per-skill figures: this model has no skills component evaluated in its "
                "card, and no labelled posting carried `skills`."
            )
        ]
    blocks = []
    for where, per_skill in tables:
        skills = sorted(per_skill)
        precision = [per_skill[s].get("precision") for s in skills]
        recall = [per_skill[s].get("recall") for s in skills]
        height = max(2.0, 0.32 * len(skills) + 1.0)
        figure = Figure(figsize=(8, height))
        axis = figure.subplots()
        y = np.arange(len(skills))
        axis.barh(y - 0.2, [p or 0 for p in precision], height=0.4, label="precision")
        axis.barh(y + 0.2, [r or 0 for r in recall], height=0.4, label="recall")
        support = [per_skill[s].get("support", "") for s in skills]
        axis.set_yticks(y, [f"{s} ({n})" for s, n in zip(skills, support, strict=True)])
        axis.invert_yaxis()
        axis.set_xlim(0, 1)
        axis.set_xlabel("share (support in brackets; no bar: undefined)")
        axis.legend(loc="lower right")
        axis.set_title(where)
        blocks.append(_png(figure, f"Per-skill precision and recall, {where}"))
    return blocks


def _card_tables(card: dict) -> str:
    parts = []
    held_out = card.get("evaluation", {}).get("held_out")
    if held_out:
        rows = []
        for name, keys in (
            ("task accuracy", ("tasks", "accuracy")),
            ("task macro-F1", ("tasks", "macro_f1")),
            ("task Cohen's kappa", ("tasks", "kappa")),
            ("occupation beta, Spearman", ("occupations", "beta", "spearman")),
            ("occupation beta, Pearson", ("occupations", "beta", "pearson")),
            ("occupation gamma, Spearman", ("occupations", "gamma", "spearman")),
            ("occupation alpha, Spearman", ("occupations", "alpha", "spearman")),
            ("calibration ECE", ("calibration", "ece")),
            ("calibration Brier", ("calibration", "brier")),
        ):
            rows.append((name, _get(held_out.get("model"), keys), _get(held_out.get("gpt4"), keys)))
        parts.append(
            _table(
                f"Held-out occupations ({held_out.get('tasks')} tasks, "
                f"{held_out.get('folds')} folds)",
                ("figure", "this model", "GPT-4"),
                rows,
            )
        )
    postings = card.get("evaluation", {}).get("postings")
    if postings:
        rows = [
            (key.replace("_", " "), value)
            for key, value in postings.items()
            if not isinstance(value, dict)
        ]
        rows += [
            (f"Spearman, {style}", f"{v['spearman']} ({v['postings']})")
            for style, v in postings.get("by_style", {}).items()
        ]
        parts.append(_table("Realistic postings", ("figure", "value"), rows))
    user = card.get("evaluation", {}).get("user")
    if user:
        rows = [
            (" / ".join(path), value) for path, value in _leaves(user) if "per_skill" not in path
        ]
        parts.append(_table("Your labelled data, held out", ("figure", "value"), rows))
    targets = card.get("targets")
    if targets:
        rows = [
            (name, targets.get("values", {}).get(name), "yes" if met else "no")
            for name, met in targets.get("met", {}).items()
        ]
        parts.append(_table("Targets", ("target", "value", "met"), rows))
    files = card.get("data", {}).get("files", {})
    user_files = card.get("data", {}).get("user", {}).get("files", {})
    if files or user_files:
        rows = [(name, digest[:16]) for name, digest in {**files, **user_files}.items()]
        parts.append(_table("Data", ("file", "sha256 (prefix)"), rows))
    parts.append(
        "<details><summary>The whole card</summary><pre>"
        + html.escape(json.dumps(card, indent=2, ensure_ascii=False))
        + "</pre></details>"
    )
    return "".join(parts)


def _get(node, keys):
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, str(key)))
    else:
        yield path, node


def _table(caption: str, header: tuple[str, ...], rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem;
       color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; }
.lead, .note { color: #555; }
figure { margin: 1rem 0; } img { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 1rem 0; }
caption { text-align: left; font-weight: 600; padding: 0.3rem 0; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: left; }
pre { background: #f6f6f6; padding: 1rem; overflow: auto; font-size: 12px; }
"""
