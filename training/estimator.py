"""The exposure classifier: one function builds it."""

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from models.text import tokenize
from training.data import title_view

RANDOM_STATE = 0
# Title view: how many O*NET titles per occupation, and the weight of one title against one task.
TITLES_PER_OCCUPATION = 30
TITLE_WEIGHT = 1.0


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
                TfidfVectorizer(
                    tokenizer=tokenize,
                    token_pattern=None,
                    lowercase=False,
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    min_df=2,
                ),
            ),
            (
                "classifier",
                LogisticRegression(C=c, max_iter=3000, random_state=RANDOM_STATE),
            ),
        ]
    )


def fit(tasks: pd.DataFrame, titles: pd.DataFrame | None = None) -> Pipeline:
    """Fit the pipeline on task statements, plus the title view of the same occupations."""
    texts = list(tasks["text"])
    labels = list(tasks["label"])
    weights = [1.0] * len(texts)
    if titles is not None and len(titles):
        view = title_view(tasks, titles, TITLES_PER_OCCUPATION, TITLE_WEIGHT)
        texts += list(view["text"])
        labels += list(view["label"])
        weights += list(view["weight"])
    model = build_pipeline().fit(texts, labels, classifier__sample_weight=np.asarray(weights))
    # scikit-learn caches id(stop_words), a memory address, on the vectorizer; dropping the cache
    # makes the same training run pickle to the same bytes, so the artifact's sha256 reproduces.
    vars(model.named_steps["features"]).pop("_stop_words_id", None)
    return model
