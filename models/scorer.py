"""Score a job posting: segment -> score units -> aggregate -> explain."""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from models import artifact
from models.language import (
    SUPPORTED,
    UNSUPPORTED_CONFIDENCE,
    Detection,
    EncoderError,
    card_encoders,
    detect,
    hashing_ahead,
    normalize_code,
    read_as_english,
    softmax_rows,
)
from models.segment import Unit, segment
from models.text import count_matrix, shared_tokens, terms, weigh_counts

LABELS = ("E0", "E1", "E2")
# Weight of each label in beta (Eloundou et al. 2023): E1 counts fully, E2 half.
BETA_WEIGHTS = {"E0": 0.0, "E1": 1.0, "E2": 0.5}
# Units that tell what the work is when a posting lists no duties (a one-line gig, a title
# and a requirements list). Benefits, company blurb, legal and apply text never do.
FALLBACK_KINDS = ("other", "requirement")
# Units that say what the work is, read when coding a posting to an occupation.
CODING_KINDS = ("duty", "requirement", "other")
# The title is scored as one more unit with this weight: it names the work, which matters most
# for gigs and for ads whose duties are few or vague.
TITLE_WEIGHT = 1.0


# The largest variance one unit's beta can have (E0 or E1 at even odds): the prior unit's.
_PRIOR_VARIANCE = 0.25


@dataclass(frozen=True, slots=True)
class Exposure:
    """A posting's exposure: the Eloundou shares over its scored units."""

    alpha: float
    beta: float
    gamma: float
    confidence: float


def aggregate(probabilities: np.ndarray, weights: np.ndarray) -> Exposure:
    """Combine per-unit E0/E1/E2 probabilities into expected alpha, beta, gamma and a confidence.

    alpha, beta and gamma are the expected shares of E1, E1 + 0.5 E2 and E1 + E2 over the units,
    each unit counted by its weight. Confidence is 1 - 2 x the standard error of beta implied by
    the unit probabilities (each unit's label drawn from its own distribution), with one more
    unit of maximal uncertainty as a prior so that a single unit, however sure, stays at 0.5 or
    below; it rises towards 1 with more and surer units.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    weights = np.asarray(weights, dtype=float)
    total = float(weights.sum())
    if probabilities.size == 0 or total <= 0:
        return Exposure(0.0, 0.0, 0.0, 0.0)
    mean = weights @ probabilities / total
    e1, e2 = float(mean[1]), float(mean[2])
    values = np.array([BETA_WEIGHTS[label] for label in LABELS])
    unit_beta = probabilities @ values
    unit_variance = probabilities @ values**2 - unit_beta**2
    variance = max(float(weights**2 @ unit_variance), 0.0) + _PRIOR_VARIANCE
    standard_error = math.sqrt(variance) / (total + 1.0)
    return Exposure(
        alpha=_unit_interval(e1),
        beta=_unit_interval(e1 + 0.5 * e2),
        gamma=_unit_interval(e1 + e2),
        confidence=_unit_interval(1.0 - 2.0 * standard_error),
    )


def band(score: float, thresholds: dict[str, float]) -> str:
    """Name the band of a score: low below `moderate`, high from `high` up."""
    if score >= thresholds["high"]:
        return "high"
    if score >= thresholds["moderate"]:
        return "moderate"
    return "low"


def _unit_interval(value: float) -> float:
    return round(min(max(value, 0.0), 1.0), 4)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one posting contributes to the batch: its units and the texts to classify."""

    units: list[Unit]
    duties: list[Unit]
    texts: list[str]
    weights: list[float]
    basis: str


@dataclass(frozen=True, slots=True)
class Context:
    """Everything an enricher may read about one scored posting."""

    title: str
    description: str
    units: list[Unit]  # every unit of the description, duties and boilerplate alike
    duties: list[Unit]  # the duty units, in order
    duty_probabilities: np.ndarray  # E0/E1/E2 rows for `duties` (empty when basis is not duties)
    language: str = "en"
    extra: dict = field(default_factory=dict)  # what earlier enrichers left for later ones


class Enricher(Protocol):
    """A model component that adds fields to a result (skills, occupations, ...)."""

    def enrich(self, context: Context, result: dict) -> None:
        """Add this component's fields to `result`, in place."""


class LinearText:
    """A fitted TF-IDF + multinomial logistic regression Pipeline, evaluated step by step.

    The same operations on the same arrays as `Pipeline.predict_proba` (counts in column order,
    sublinear tf, idf, scikit-learn's row normalisation, the sparse product, softmax), so the
    same probabilities to the last bit, without the vectorizer's and the classifier's per-call
    checks, which take most of the time of scoring one posting's few texts. Training saves the
    exposure model in this form (`of`), so that serving never imports scikit-learn.
    """

    def __init__(self, features: Any, classifier: Any):
        self.tokenizer = features.tokenizer
        self.ngram_range = tuple(features.ngram_range)
        self.sublinear_tf = bool(features.sublinear_tf)
        self.vocabulary = features.vocabulary_
        self.idf = features.idf_
        self.dtype = features.dtype
        # Row-major: scipy copies a column-major right operand (coef_.T) on every product.
        self.coef = np.ascontiguousarray(classifier.coef_.T)
        self.intercept = classifier.intercept_
        self.classes_ = classifier.classes_

    @classmethod
    def of(cls, model: Any) -> "LinearText | None":
        """Return the direct evaluation of a Pipeline of this shape, else None."""
        if isinstance(model, LinearText):
            return model
        # Only a model that is not one already needs scikit-learn, which then is loaded anyway.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        if not isinstance(model, Pipeline) or len(model.steps) != 2:
            return None
        features, classifier = (step for _, step in model.steps)
        if type(features) is not TfidfVectorizer or type(classifier) is not LogisticRegression:
            return None
        supported = (
            features.input == "content"
            and features.analyzer == "word"
            and callable(features.tokenizer)
            and features.preprocessor is None
            and not features.lowercase
            and features.strip_accents is None
            and features.stop_words is None
            and not features.binary
            and features.use_idf
            and features.norm == "l2"
            and features.dtype in (np.float64, np.float32)
            and hasattr(features, "vocabulary_")
            and len(classifier.classes_) > 2
            and classifier.coef_.shape == (len(classifier.classes_), len(features.idf_))
        )
        return cls(features, classifier) if supported else None

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return the Pipeline's predict_proba of texts."""
        tokenizer, ngram_range = self.tokenizer, self.ngram_range
        counts = count_matrix(
            texts,
            lambda text: terms(text, tokenizer, ngram_range),
            self.vocabulary,
            len(self.idf),
            self.dtype,
        )
        matrix = weigh_counts(counts, self.idf, self.sublinear_tf)
        return softmax_rows(matrix @ self.coef + self.intercept)


class Scorer:
    """A loaded model that scores postings.

    The artifact is a dict of named components; `exposure`, a text -> E0/E1/E2 classifier with
    predict_proba, is the one every model has.
    """

    def __init__(self, components: dict[str, Any], card: dict):
        if not isinstance(components, dict) or "exposure" not in components:
            raise artifact.ArtifactError(f"model {card.get('version')} has no 'exposure' component")
        self.components = components
        self.model = model = components["exposure"]
        # Components other than the classifier add their fields in the artifact's order.
        self.enrichers: list[Enricher] = [
            component for name, component in components.items() if hasattr(component, "enrich")
        ]
        self.card = card
        self.version: str = card["version"]
        self.sha256: str = card["artifact"]["sha256"]
        self.thresholds: dict[str, float] = card["bands"]
        classes = list(model.classes_)
        if sorted(classes) != list(LABELS):
            raise artifact.ArtifactError(f"model classes {classes} are not {list(LABELS)}")
        # Column order of predict_proba, mapped to E0, E1, E2.
        self._columns = [classes.index(label) for label in LABELS]
        self._linear = LinearText.of(model)
        # Scores duties in any language but English; a model without one scores all as English.
        self.multilingual = components.get("multilingual")
        if self.multilingual is not None:
            try:
                self.multilingual.check()
            except EncoderError as error:
                raise artifact.ArtifactError(f"model {self.version}: {error}") from error

    @classmethod
    def load(cls, directory: str | Path) -> "Scorer":
        """Load a scorer from a model directory (model.joblib + card.json)."""
        directory = Path(directory)
        # The encoders the card names are hashed while the model loads, for Scorer()'s check.
        with hashing_ahead(card_encoders(artifact.read_card(directory))):
            components, card = artifact.load(directory)
            return cls(components, card)

    def predict(self, texts: Sequence[str], language: str = "en") -> np.ndarray:
        """Return E0/E1/E2 probabilities, one row per text in `language`."""
        if not texts:
            return np.zeros((0, len(LABELS)))
        if not read_as_english(language) and self.multilingual is not None:
            return self.multilingual.predict(texts, language)
        if self._linear is not None:
            return self._linear.predict_proba(texts)[:, self._columns]
        # The texts are ours and the model's parameters were checked when it was fitted:
        # skipping scikit-learn's input and parameter checks changes no result and takes about
        # a fifth off this call.
        import sklearn

        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return self.model.predict_proba(list(texts))[:, self._columns]

    def score(
        self, title: str, description: str, id: str | None = None, language: str | None = None
    ) -> dict:
        """Score one posting."""
        posting = {"id": id, "title": title, "description": description, "language": language}
        return self.score_many([posting])[0]

    def score_many(self, postings: Sequence[dict]) -> list[dict]:
        """Score postings in one model call per language.

        Each posting has `title`, `description`, and optional `id` and `language` (a BCP 47 tag
        the caller states; detected from the text when absent).
        """
        # The models of a call tokenize the same duties and lines; each text is tokenized once.
        with shared_tokens():
            return self._score_many(postings)

    def _score_many(self, postings: Sequence[dict]) -> list[dict]:
        plans = [self._plan(p["title"], p["description"]) for p in postings]
        languages = [self._language(p) for p in postings]
        batches: dict[str, list[int]] = defaultdict(list)
        for index, found in enumerate(languages):
            batches[found.code].append(index)
        probabilities: list[np.ndarray] = [np.zeros((0, len(LABELS)))] * len(plans)
        for code, indices in batches.items():
            rows = self.predict([text for i in indices for text in plans[i].texts], code)
            offset = 0
            for i in indices:
                probabilities[i] = rows[offset : offset + len(plans[i].texts)]
                offset += len(plans[i].texts)
        results = []
        for posting, plan, found, rows in zip(
            postings, plans, languages, probabilities, strict=True
        ):
            result = self._explain(posting.get("id"), plan, rows, found)
            if self.enrichers:
                context = Context(
                    title=posting["title"],
                    description=posting["description"],
                    units=plan.units,
                    duties=plan.duties,
                    duty_probabilities=rows[: len(plan.duties)]
                    if plan.basis == "duties"
                    else np.zeros((0, len(LABELS))),
                    language=found.code,
                )
                if self._codes_across_languages(found):
                    # The occupations coder reads English; other languages are coded by embedding.
                    context.extra["occupation_probabilities"] = (
                        self.multilingual.occupation_probabilities(
                            posting["title"],
                            [unit.text for unit in plan.units if unit.kind in CODING_KINDS],
                            found.code,
                        )
                    )
                    # And their duties' automation or augmentation, by the same embeddings.
                    context.extra["automation_probabilities"] = partial(
                        self.multilingual.automation_probabilities, language=found.code
                    )
                for enricher in self.enrichers:
                    enricher.enrich(context, result)
            results.append(result)
        return results

    def _codes_across_languages(self, found: Detection) -> bool:
        return (
            not read_as_english(found.code)
            and self.multilingual is not None
            and self.multilingual.occupations is not None
        )

    @staticmethod
    def _language(posting: dict) -> Detection:
        """Return the language the caller stated, else the one detected in the posting."""
        stated = posting.get("language")
        if stated:
            code = normalize_code(stated)
            return Detection(code, code in SUPPORTED)
        return detect(f"{posting['title']}\n{posting['description']}")

    def _plan(self, title: str, description: str) -> _Plan:
        units = segment(description)
        duties = [unit for unit in units if unit.kind == "duty"]
        basis = "duties"
        scored = duties
        if not duties:
            scored = [unit for unit in units if unit.kind in FALLBACK_KINDS]
            basis = "text"
        texts = [unit.text for unit in scored]
        weights = [1.0] * len(texts)
        title = title.strip()
        if not scored:
            basis = "title"
        if title:
            texts.append(title)
            weights.append(TITLE_WEIGHT)
        return _Plan(units=units, duties=duties, texts=texts, weights=weights, basis=basis)

    def _explain(
        self, posting_id: str | None, plan: _Plan, rows: np.ndarray, language: Detection
    ) -> dict:
        exposure = aggregate(rows, np.asarray(plan.weights))
        confidence = exposure.confidence
        if not language.supported:
            # Scored all the same, but no evaluation or heading lexicon stands behind it.
            confidence = round(confidence * UNSUPPORTED_CONFIDENCE, 4)
        duties = []
        if plan.basis == "duties":
            for unit, row in zip(plan.duties, rows, strict=False):
                duties.append(
                    {
                        "text": unit.text,
                        "start": unit.start,
                        "end": unit.end,
                        "label": LABELS[int(np.argmax(row))],
                        "probabilities": {
                            label: round(float(p), 4) for label, p in zip(LABELS, row, strict=True)
                        },
                    }
                )
        return {
            "id": posting_id,
            "exposure": {
                "score": exposure.beta,
                "band": band(exposure.beta, self.thresholds),
                "alpha": exposure.alpha,
                "beta": exposure.beta,
                "gamma": exposure.gamma,
                "confidence": confidence,
                "basis": plan.basis,
            },
            "duties": duties,
            "language": language.code,
            "language_supported": language.supported,
            "model": {"version": self.version, "sha256": self.sha256[:12]},
        }
