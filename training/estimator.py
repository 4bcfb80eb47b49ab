"""The exposure classifier: one function builds it."""

from collections.abc import Sequence

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from models.text import word_tfidf
from training.data import share_view

RANDOM_STATE = 0
# Extra training views, each text weighted against one task statement: O*NET job titles (at
# most this many per occupation) and detailed work activity titles. Both raised held-out kappa
# and occupation Spearman in GroupKFold (see the README).
TITLES_PER_OCCUPATION = 30
TITLE_WEIGHT = 1.0
DWA_WEIGHT = 1.0


def build_pipeline(c: float = 2.0) -> Pipeline:
    """Return an unfitted text -> E0/E1/E2 probability pipeline.

    Stemmed word uni- and bigrams with sublinear TF-IDF, then a multinomial logistic regression:
    chosen over character n-grams, naive Bayes, calibrated linear SVMs, k-nearest neighbours and
    USE sentence embeddings by GroupKFold results on held-out occupations (see the README), and
    fast enough to score hundreds of postings a second on one core.
    """
    return Pipeline(
        [
            (
                "features",
                word_tfidf(min_df=2),
            ),
            (
                "classifier",
                LogisticRegression(C=c, max_iter=3000, random_state=RANDOM_STATE),
            ),
        ]
    )


def fit(
    tasks: pd.DataFrame,
    views: Sequence[tuple[pd.DataFrame, float]] = (),
    extra: pd.DataFrame | None = None,
) -> Pipeline:
    """Fit the pipeline on task statements, linked-text views (links, weight) of them, and
    `extra` rows that carry their own weight (text, label, weight: a user's labelled data)."""
    parts = [tasks[["text", "label"]].assign(weight=1.0)]
    parts += [share_view(tasks, links, weight) for links, weight in views]
    if extra is not None:
        parts.append(extra[["text", "label", "weight"]])
    rows = pd.concat([part for part in parts if len(part)], ignore_index=True)
    model = build_pipeline().fit(
        rows["text"].tolist(),
        rows["label"].tolist(),
        classifier__sample_weight=rows["weight"].to_numpy(dtype=float),
    )
    # scikit-learn caches id(stop_words), a memory address, on the vectorizer; dropping the cache
    # makes the same training run pickle to the same bytes, so the artifact's sha256 reproduces.
    vars(model.named_steps["features"]).pop("_stop_words_id", None)
    return model
