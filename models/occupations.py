"""Occupations: code a posting to O*NET-SOC occupations, show their published exposure (lenses),
blend it into the posting's score, and split exposed work into automation and augmentation.

One component, `OccupationModel`, does all of it through the scorer's `enrich` hook:
- `occupations`: the five most probable O*NET-SOC 2019 occupations of the posting, from its title
  and the text that says what the work is (duties, requirements, other lines; never benefits,
  company blurb, legal or apply text).
- `lenses`: the published measures of the top occupation, Eloundou et al. (2023) beta as rated by
  humans and by GPT-4, each named with its source and version.
- `exposure`: the duties' score is blended with the occupation's published human beta, each part
  weighted by its precision; `exposure.duty_score` keeps the duties-only score.
- `needs_review`: raised when the occupation is uncertain, the posting is not in English, or the
  duties and the occupation's published beta disagree by more than a margin set in training.
- `duties[i].mode` and `automation`: whether AI would more likely do an exposed duty itself
  (automation) or help a person do it (augmentation), learned from GPT-4's T0-T4 automation ratings.

The coder is a nearest-centroid and nearest-title model over TF-IDF features of the title, its
head and the text, with the service phrases of each occupation that a posting contains, small
enough to ship in the artifact. The matrix of every job title's character n-grams is derived
data: it is rebuilt from the stored titles when the artifact is loaded (under a second) instead
of being stored (about 16 MB).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from models.language import read_as_english
from models.scorer import LABELS, Context, band
from models.text import (
    PhraseShares,
    Tfidf,
    normalize_rows,
    owner_groups,
    terms,
    tfidf_rows,
    weigh_counts,
    word_tfidf,
)

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline

# An O*NET-SOC 2019 occupation code, e.g. 15-1252.00.
CODE = re.compile(r"\d{2}-\d{4}\.\d{2}")
TOP = 5
# Unit kinds that say what the work is. Benefits, company blurbs, legal and apply text describe
# the employer, not the occupation, and would pull every ad towards the same few codes.
CODING_KINDS = ("duty", "requirement", "other")
# Word n-grams of the service phrases: words alone, so that "logo for my bakery" contains most
# of "logo design".
SERVICE_NGRAMS = (1, 1)
# The coder's features, in the order of its weights.
FEATURES = (
    "title_centroid",
    "title_nearest",
    "description",
    "title_services",
    "text_services",
    "head_centroid",
    "head_nearest",
)
MEASURES = ("alpha", "beta", "gamma")
RATERS = ("human", "gpt4")
MODES = ("automation", "augmentation")
# The occ_level.csv column prefix of each rater's occupation measures.
PUBLISHED_COLUMNS = {"human": "human_rating", "gpt4": "dv_rating"}
# The published measures shown beside a posting's score, for its top occupation.
LENSES = (("human", "beta"), ("gpt4", "beta"))
AUTOMATION_LEVELS = ("T0", "T1", "T2", "T3", "T4")

# Pay, numbers and brackets are never part of an O*NET title ("Stocker ($18.75/hr)").
_PAY = re.compile(r"[$€£¥]\s*[\d.,]+\s*[kK]?(?:\s*(?:/|per)\s*\w+)?|\d[\d.,]*")


# Where a title's role ends and what qualifies it begins: a spaced dash or slash, a bar, colon,
# comma or opening bracket, or one of a few prepositions ("Warehouse Associate - 2nd shift",
# "Growth Rep - Commercial Cleaning", "Hairstylist for wedding party", "Lawyer to review ...").
_HEAD_END = re.compile(r"\s[-–—|/]\s|[|:(\[,]|\s(?:for|at|to|with|in)\s", re.IGNORECASE)


def clean_title(title: str) -> str:
    """Drop pay, numbers and bracket punctuation from a posting title."""
    return " ".join(_PAY.sub(" ", title).replace("(", " ").replace(")", " ").split())


def title_head(title: str) -> str:
    """Return the part of a title before its first qualifier, cleaned (all of it if none)."""
    head = clean_title(_HEAD_END.split(title, maxsplit=1)[0])
    return head if len(head) >= 2 else clean_title(title)


def title_vectorizers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    """Return unfitted word and character TF-IDF vectorizers for job titles."""
    # Imported here: fitting needs scikit-learn, serving a saved model does not.
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = word_tfidf(dtype=np.float32)
    # Character n-grams within words match abbreviations and variants ("Dev", "Developer").
    characters = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True, min_df=2, dtype=np.float32
    )
    return words, characters


def service_phrases(phrases: Sequence[str], owners: np.ndarray, count: int) -> PhraseShares:
    """Index the occupations' service phrases by their stemmed words."""
    vectorizer = word_tfidf(ngram_range=SERVICE_NGRAMS, dtype=np.float32).fit(phrases)
    return PhraseShares(Tfidf.of(vectorizer), phrases, owners, count)


def description_vectorizer() -> TfidfVectorizer:
    """Return an unfitted TF-IDF vectorizer for task statements and posting text."""
    return word_tfidf(min_df=2, dtype=np.float32)


def vectorize(vectorizer: Tfidf | TfidfVectorizer, texts: Sequence[str]) -> sp.csr_matrix:
    """Return `vectorizer.transform(texts)` for a fitted sublinear, L2-normalised TF-IDF vectorizer.

    The same numbers without scikit-learn's per-call input validation, which costs about a
    millisecond a call and would dominate scoring one posting.
    """
    if not (vectorizer.sublinear_tf and vectorizer.use_idf and vectorizer.norm == "l2"):
        raise ValueError("vectorize() handles sublinear, idf-weighted, L2-normalised TF-IDF only")
    idf = vectorizer.idf_
    if not texts:
        return sp.csr_matrix((0, len(idf)))
    values, columns, indptr = tfidf_rows(texts, _analyzer(vectorizer), vectorizer.vocabulary_, idf)
    return sp.csr_matrix(
        (values.astype(vectorizer.dtype), columns, np.array(indptr)),
        shape=(len(texts), len(idf)),
    )


# Up to this many postings at once, similarity() reads matrix rows for each posting in turn.
_ROW_BY_ROW = 16
# Up to this many terms, a query adds the matrix rows it reads one by one.
_FEW_TERMS = 8


def similarity(queries: sp.csr_matrix, matrix: sp.csr_matrix) -> np.ndarray:
    """Return `(queries @ matrix).toarray()` from the rows of the matrix each query reads.

    A query row reads a few of the matrix's rows; each output is the same sum, in the same order
    (the query's stored columns in turn), as scipy's sparse product, without that product's two
    passes over arrays as wide as the matrix and its conversion to a dense row. Many queries at
    once (training's evaluations) go through the sparse product, which then costs less per row.
    """
    if queries.shape[0] > _ROW_BY_ROW:
        return (queries @ matrix).toarray()
    out = np.zeros((queries.shape[0], matrix.shape[1]), np.result_type(queries.dtype, matrix.dtype))
    for i in range(queries.shape[0]):
        start, end = queries.indptr[i], queries.indptr[i + 1]
        columns, values = queries.indices[start:end], queries.data[start:end]
        if end - start > _FEW_TERMS:
            out[i] = matrix[columns].T @ values
            continue
        # A title's few words: adding each matrix row in place costs less than gathering them.
        row = out[i]
        for column, value in zip(columns.tolist(), values, strict=True):
            first, last = matrix.indptr[column], matrix.indptr[column + 1]
            row[matrix.indices[first:last]] += value * matrix.data[first:last]
    return out


def character_tfidf(vectorizer: Tfidf | TfidfVectorizer, texts: Sequence[str]) -> sp.csr_matrix:
    """Return `vectorizer.transform(texts)` for a fitted char_wb TF-IDF vectorizer of titles.

    The same matrix, with the character n-grams of all texts counted by array operations instead
    of one Python string per n-gram: rebuilding the title index on load takes a tenth of the time.
    A vectorizer with settings this does not handle is called as it is.
    """
    counts = _character_counts(vectorizer, texts)
    if counts is None:
        return vectorizer.transform(texts)
    # TfidfTransformer.transform's steps, on the counts its vectorizer would have made.
    return weigh_counts(counts, vectorizer.idf_, vectorizer.sublinear_tf)


def _character_counts(
    vectorizer: Tfidf | TfidfVectorizer, texts: Sequence[str]
) -> sp.csr_matrix | None:
    """Return CountVectorizer's sorted count matrix of texts for a char_wb vectorizer, or None.

    Each word, padded with a space on both sides, gives its character n-grams of every length in
    ngram_range (from 3, so a padded word is never shorter than one). Characters are numbered
    (1 and up) by the vocabulary's alphabet, and an n-gram becomes the integer of its numbers in
    16 bits each: n-grams are then found and counted with sorted arrays. Words are joined with
    "\\x00", numbered 0 like every character outside the alphabet, so that no n-gram spans two.
    """
    low, high = vectorizer.ngram_range
    vocabulary = vectorizer.vocabulary_
    supported = (
        vectorizer.analyzer == "char_wb"
        and vectorizer.input == "content"
        and vectorizer.preprocessor is None
        and vectorizer.strip_accents is None
        and vectorizer.lowercase
        and not vectorizer.binary
        and vectorizer.use_idf
        and vectorizer.norm == "l2"
        and low == 3
        and high <= 4
    )
    if not supported or not vocabulary:
        return None
    terms = list(vocabulary)
    joined = "\x00".join(terms)
    lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
    alphabet = sorted(set(joined) - {"\x00"})
    if (
        len(alphabet) >= 1 << 16
        or joined.count("\x00") != len(terms) - 1
        or lengths.min() < low
        or lengths.max() > high
    ):
        return None
    points = np.array([ord(char) for char in alphabet], dtype=np.int64)

    def numbers(text: str) -> np.ndarray:
        found = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = np.zeros(max(int(found.max(initial=0)), int(points[-1])) + 1, dtype=np.uint64)
        table[points] = np.arange(1, len(points) + 1, dtype=np.uint64)
        return table[found]

    def keys(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        # The n-grams starting at each position that hold no 0, as (positions, keys).
        count = len(codes) - n + 1
        if count <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
        key = np.zeros(count, dtype=np.uint64)
        valid = np.ones(count, dtype=bool)
        for k in range(n):
            window = codes[k : k + count]
            key = (key << np.uint64(16)) | window
            valid &= window > 0
        return np.flatnonzero(valid), key[valid]

    term_codes = numbers(joined)
    term_starts = np.zeros(len(terms), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=term_starts[1:])
    term_keys = np.zeros(len(terms), dtype=np.uint64)
    for k in range(high):
        longer = lengths > k
        term_keys[longer] = term_keys[longer] << np.uint64(16) | term_codes[term_starts[longer] + k]
    columns = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
    order = np.argsort(term_keys)
    term_keys, columns = term_keys[order], columns[order]

    padded = [
        " " + " \x00 ".join(words) + " " if (words := text.lower().split()) else ""
        for text in texts
    ]
    codes = numbers("\x00".join(padded))
    # The text each position belongs to (texts are joined with one "\x00" each).
    row_of = np.repeat(np.arange(len(texts)), [len(text) + 1 for text in padded])
    rows, found = [], []
    for n in range(low, high + 1):
        positions, gram_keys = keys(codes, n)
        index = np.minimum(np.searchsorted(term_keys, gram_keys), len(term_keys) - 1)
        hit = term_keys[index] == gram_keys
        rows.append(row_of[positions[hit]])
        found.append(columns[index[hit]])
    size = len(vocabulary)
    cells, counts = np.unique(
        np.concatenate(rows) * size + np.concatenate(found), return_counts=True
    )
    indptr = np.searchsorted(cells // size, np.arange(len(texts) + 1)).astype(np.int32)
    return sp.csr_matrix(
        (counts.astype(vectorizer.dtype), (cells % size).astype(np.int32), indptr),
        shape=(len(texts), size),
    )


def _analyzer(vectorizer: Tfidf | TfidfVectorizer) -> Callable[[str], Sequence[str]]:
    """Return the vectorizer's analyzer; word n-grams come from the scoring call's shared tokens."""
    plain_words = (
        vectorizer.analyzer == "word"
        and callable(vectorizer.tokenizer)
        and vectorizer.preprocessor is None
        and not vectorizer.lowercase
        and vectorizer.strip_accents is None
        and vectorizer.stop_words is None
        and vectorizer.input == "content"
    )
    if not plain_words:
        return vectorizer.build_analyzer()
    tokenizer, ngram_range = vectorizer.tokenizer, tuple(vectorizer.ngram_range)
    return lambda text: terms(text, tokenizer, ngram_range)


def _centroids(vectors: sp.csr_matrix, owners: np.ndarray, count: int) -> sp.csr_matrix:
    """Return the L2-normalised sum of each owner's rows, as columns (features x owners).

    Stored by feature so that a sparse query row multiplies it without a conversion.
    """
    membership = sp.csr_matrix(
        (np.ones(len(owners), dtype=np.float32), (owners, np.arange(len(owners)))),
        shape=(count, len(owners)),
    )
    return normalize_rows(membership @ vectors).astype(np.float32).T.tocsr()


class OccupationCoder:
    """Score a posting's title and text against every occupation; softmax them into probabilities.

    Seven similarities per occupation, all but the services cosines of TF-IDF vectors:
    - title_centroid: stemmed words of the title against the centroid of the occupation's titles;
    - title_nearest: character n-grams of the title against its single most similar title;
    - description: stemmed words of the posting text against the centroid of the occupation's
      task statements, description and title;
    - title_services and text_services: the largest share of one of the occupation's service
      phrases ("logo design", "deep cleaning") that the title, and the posting text, contain.
      Gigs often name the work rather than the job ("Logo for my bakery"), which O*NET's titles
      and tasks word otherwise.
    - head_centroid and head_nearest: the first two for the title's head, the part before its
      first qualifier ("Growth Rep" of "Growth Rep - Commercial Cleaning"), so that the role
      counts apart from the domain it serves. A title without a qualifier repeats the first two.
    The probability is a softmax over occupations of the weighted sum; the weights are fitted by
    maximum likelihood on held-out O*NET data, which also sets the temperature.
    """

    def __init__(self, weights: Sequence[float] = (1.0,) * len(FEATURES)):
        self.weights = np.asarray(weights, dtype=float)
        self.services: PhraseShares | None = None

    def fit(
        self,
        titles: Sequence[str],
        title_owners: np.ndarray,
        documents: Sequence[str],
        document_owners: np.ndarray,
        count: int,
        services: PhraseShares | None = None,
    ) -> OccupationCoder:
        """Index job titles and occupation documents (task statements, descriptions) by owner,
        with the occupations' service phrases if given (else those two features are 0)."""
        self.count = count
        self.services = services
        self.title_owners = np.asarray(title_owners, dtype=np.int32)
        self.titles = [clean_title(title) for title in titles]
        words, characters = title_vectorizers()
        self.title_centroids = _centroids(
            words.fit(self.titles).transform(self.titles), self.title_owners, count
        )
        descriptions = description_vectorizer().fit(documents)
        self.description_centroids = _centroids(
            descriptions.transform(documents),
            np.asarray(document_owners, dtype=np.int32),
            count,
        )
        # Kept without scikit-learn, which a saved model then loads without.
        self.title_words = Tfidf.of(words)
        self.title_characters = Tfidf.of(characters.fit(self.titles))
        self.description_words = Tfidf.of(descriptions)
        self._index_titles()
        return self

    def _index_titles(self) -> None:
        # Columns grouped by owner, so that one reduceat takes each occupation's best title.
        order, self._starts, self._start_owners = owner_groups(self.title_owners)
        matrix = character_tfidf(self.title_characters, [self.titles[i] for i in order])
        self._title_matrix = matrix.T.tocsr()

    def __getstate__(self) -> dict:
        state = dict(vars(self))
        for derived in ("_title_matrix", "_starts", "_start_owners"):
            state.pop(derived, None)
        return state

    def __setstate__(self, state: dict) -> None:
        # Coders saved with fewer features (three before the service phrases, five before the
        # title heads) weigh the later ones 0, and score as they did.
        state.setdefault("services", None)
        missing = len(FEATURES) - len(state["weights"])
        state["weights"] = np.r_[state["weights"], np.zeros(missing)]
        vars(self).update(state)
        self._index_titles()

    def features(self, titles: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """Return the similarities, shape (postings, features, occupations)."""
        heads = [title_head(title) for title in titles]
        titles = [clean_title(title) for title in titles]
        out = np.zeros((len(titles), len(FEATURES), self.count), dtype=np.float32)
        # Titles and the heads that differ from them in one pass; the other heads repeat them.
        qualified = [row for row, title in enumerate(titles) if heads[row] != title]
        both = self._title_features([*titles, *(heads[row] for row in qualified)])
        out[:, :2] = out[:, 5:] = both[: len(titles)]
        out[qualified, 5:] = both[len(titles) :]
        out[:, 2] = similarity(vectorize(self.description_words, texts), self.description_centroids)
        if self.services is not None:
            # Titles and texts in one pass: the fixed cost of each step is most of its cost.
            shares = self.services.shares_of(vectorize(self.services.vectorizer, [*titles, *texts]))
            out[:, 3], out[:, 4] = shares[: len(titles)], shares[len(titles) :]
        return out

    def _title_features(self, titles: list[str]) -> np.ndarray:
        """Return title_centroid and title_nearest, shape (titles, 2, occupations)."""
        out = np.zeros((len(titles), 2, self.count), dtype=np.float32)
        out[:, 0] = similarity(vectorize(self.title_words, titles), self.title_centroids)
        nearest = similarity(vectorize(self.title_characters, titles), self._title_matrix)
        out[:, 1][:, self._start_owners] = np.maximum.reduceat(nearest, self._starts, axis=1)
        return out

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Combine similarities into one logit per occupation."""
        return np.tensordot(features, self.weights.astype(np.float32), axes=([1], [0]))

    def predict_proba(self, titles: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """Return occupation probabilities, one row per posting."""
        return softmax(self.logits(self.features(titles, texts)))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Return the row-wise softmax."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Blend:
    """Precision-weighted mean of the duties' score and the occupation's published human beta.

    Each part's variance is what it says about itself plus a floor fitted on held-out O*NET data:
    - duties: the squared standard error of beta behind `confidence` (few, unsure duties give a
      large one), plus `duty_floor` squared for what the classifier gets wrong on every duty;
    - occupation: the variance of published beta across the coder's candidates (an uncertain
      coder spreads over occupations that differ), plus `occupation_floor` squared for the
      coder being confidently wrong.
    Training keeps both floors within [0.01, 1], so neither part is ever taken as exact.

    An English posting's duties enter as `duty_intercept + duty_slope * score`, their score read
    on the occupations' scale: scored duty by duty, a posting's beta is pulled towards the middle
    of the range. The line is fitted on the English calibration postings when it lowers their
    held-out error (else it stays 0 + 1 * score); other languages' duties, scored through other
    heads, enter as they are.
    """

    duty_floor: float
    occupation_floor: float
    duty_intercept: float = 0.0
    duty_slope: float = 1.0

    def duty_estimate(self, score: float | np.ndarray) -> np.ndarray:
        """Return an English posting's duties' score on the occupations' scale, within [0, 1]."""
        return np.clip(self.duty_intercept + self.duty_slope * np.asarray(score, dtype=float), 0, 1)

    def weights(
        self, duty_error: np.ndarray, occupation_spread: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the normalised weights of the duties part and of the occupation part."""
        duty = np.square(duty_error) + self.duty_floor**2
        occupation = np.square(occupation_spread) + self.occupation_floor**2
        # Inverse-variance weights, written so that a zero variance on one side is no division
        # by zero: the duties' weight is the occupation's variance over the sum.
        return occupation / (duty + occupation), duty / (duty + occupation)


def occupation_beta(probabilities: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the expected published beta under the coder's probabilities and its spread."""
    mean = probabilities @ betas
    variance = probabilities @ np.square(betas) - np.square(mean)
    return mean, np.sqrt(np.maximum(variance, 0.0))


def duty_error(confidence: float | np.ndarray) -> np.ndarray:
    """Return the standard error of the duties' beta from the scorer's confidence (1 - 2 SE)."""
    return (1.0 - np.asarray(confidence, dtype=float)) / 2.0


@dataclass(frozen=True)
class Review:
    """When a posting's coding and score need a person's eye."""

    min_probability: float  # below this top-occupation probability, the coding is uncertain
    margin: float  # duties' score and the top occupation's human beta may differ this much

    def reasons(self, probability: float, duty_score: float, published: float, language: str):
        """Return the reasons to review a posting, as {code, detail} dicts."""
        reasons = []
        # An undetermined language is left to the probability.
        if not read_as_english(language):
            reasons.append(
                {
                    "code": "language_not_english",
                    "detail": f"The posting's language is {language!r}; its duties are scored "
                    "by models of English labels carried across languages, and its occupations "
                    "coded by its likeness to English O*NET titles and tasks and to the "
                    "occupations' titles in its language.",
                }
            )
        if probability < self.min_probability:
            reasons.append(
                {
                    "code": "occupation_uncertain",
                    "detail": f"The top occupation's probability {probability:.2f} is below "
                    f"{self.min_probability:.2f}.",
                }
            )
        if abs(duty_score - published) > self.margin:
            reasons.append(
                {
                    "code": "score_disagrees_with_occupation",
                    "detail": f"The duties' score {duty_score:.2f} and the top occupation's "
                    f"published human beta {published:.2f} differ by more than {self.margin:.2f}.",
                }
            )
        return reasons


@dataclass(frozen=True)
class Publication:
    """Where the published occupation measures come from, named for the lenses that cite them."""

    citation: str
    file: str
    version: str

    def entry(self, table: OccupationTable, row: int, rater: str, measure: str) -> dict:
        """Return one published measure of one occupation, with its source and version."""
        column = f"{PUBLISHED_COLUMNS[rater]}_{measure}"
        return {
            "name": f"eloundou_{rater}_{measure}",
            "rater": rater,
            "value": _unit(float(table.measure(rater, measure)[row])),
            "source": f"{self.citation}; {self.file}, column {column}",
            "version": self.version,
        }


@dataclass
class OccupationTable:
    """The occupations with exposure labels: titles, descriptions, measures and labelled tasks."""

    codes: np.ndarray  # (occupations,) O*NET-SOC codes, sorted
    titles: list[str]
    descriptions: list[str]
    measures: np.ndarray  # (occupations, 6): human alpha, beta, gamma, then GPT-4's
    task_owners: np.ndarray  # (tasks,) row of each task's occupation
    task_ids: np.ndarray
    task_texts: list[str]
    task_labels: np.ndarray  # index into LABELS of the human label (human_exposure_agg)
    task_gpt4_labels: np.ndarray  # index into LABELS of GPT-4's label, -1 if none
    task_automation: np.ndarray  # GPT-4's automation level 0-4 (T0-T4), -1 if none
    _rows: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rows = {code: row for row, code in enumerate(self.codes)}
        order = np.argsort(self.task_owners, kind="stable")
        self._task_order = order
        self._task_starts = np.searchsorted(self.task_owners[order], np.arange(len(self.codes) + 1))

    def __getstate__(self) -> dict:
        return {key: value for key, value in vars(self).items() if not key.startswith("_")}

    def __setstate__(self, state: dict) -> None:
        vars(self).update(state)
        self.__post_init__()

    def row(self, code: str) -> int | None:
        """Return the row of an occupation code, or None if it is not in the table."""
        return self._rows.get(code)

    def measure(self, rater: str, name: str) -> np.ndarray:
        """Return one published measure (e.g. human beta) of every occupation."""
        return self.measures[:, RATERS.index(rater) * len(MEASURES) + MEASURES.index(name)]

    def tasks(self, row: int) -> np.ndarray:
        """Return the task rows of an occupation, in table order."""
        return self._task_order[self._task_starts[row] : self._task_starts[row + 1]]


class Automation:
    """Text -> P(automation | the duty is exposed), from a fitted Pipeline of a TF-IDF step named
    "features" and a binary logistic regression named "classifier" (True = automation).

    Its predict_proba without the per-call validation, and without scikit-learn once saved.
    """

    def __init__(self, pipeline: Pipeline):
        steps = pipeline.named_steps
        classifier = steps["classifier"]
        self.features = Tfidf.of(steps["features"])
        self.coef = classifier.coef_[0]
        self.intercept = float(classifier.intercept_[0])
        self.positive = bool(classifier.classes_[1])

    @classmethod
    def of(cls, model: Any) -> Automation:
        """Return the model if it is one, else the one of a fitted Pipeline."""
        return model if isinstance(model, Automation) else cls(model)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Return each text's probability of automation."""
        decision = vectorize(self.features, texts) @ self.coef + self.intercept
        positive = 1.0 / (1.0 + np.exp(-decision))
        return positive if self.positive else 1.0 - positive


class OccupationModel:
    """The occupations component: coder, lenses, blend, review rule and automation classifier."""

    def __init__(
        self,
        table: OccupationTable,
        coder: OccupationCoder,
        automation: Pipeline | Automation,
        blend: Blend,
        review: Review,
        publication: Publication,
        bands: dict[str, float],
        taxonomy: str,
    ):
        self.table = table
        self.coder = coder
        self.automation = Automation.of(automation)
        self.blend = blend
        self.review = review
        self.publication = publication
        self.bands = bands
        self.taxonomy = taxonomy  # where codes, titles, descriptions and tasks come from

    @property
    def codes(self) -> np.ndarray:
        """Return the codes the coder can output."""
        return self.table.codes

    def enrich(self, context: Context, result: dict) -> None:
        """Add occupations, lenses, the blended score, needs_review and automation shares."""
        coded = context.extra.get("occupation_probabilities")
        if coded is None:
            probabilities = self.coder.predict_proba([context.title], [coding_text(context)])[0]
        else:
            # A non-English posting, coded by the multilingual component's embeddings.
            probabilities = np.array([coded.get(str(code), 0.0) for code in self.table.codes])
            probabilities = probabilities / max(probabilities.sum(), 1e-12)
        top = np.argsort(-probabilities, kind="stable")[:TOP]
        lead = int(top[0])
        result["occupations"] = [
            {
                "code": str(self.table.codes[row]),
                "title": self.table.titles[row],
                "probability": round(float(probabilities[row]), 4),
            }
            for row in top
        ]
        context.extra["occupations"] = result["occupations"]
        result["lenses"] = [
            {
                "occupation": str(self.table.codes[lead]),
                **self.publication.entry(self.table, lead, *lens),
            }
            for lens in LENSES
        ]

        exposure = result["exposure"]
        duty_score = float(exposure["score"])
        betas = self.table.measure("human", "beta")
        published, spread = occupation_beta(probabilities, betas)
        error = duty_error(exposure["confidence"])
        duty_weight, occupation_weight = self.blend.weights(error, spread)
        duty_part = duty_score
        if read_as_english(context.language):
            duty_part = _unit(float(self.blend.duty_estimate(duty_score)))
        score = _unit(duty_weight * duty_part + occupation_weight * float(published))
        exposure.update(
            score=score,
            band=band(score, self.bands),
            duty_score=duty_score,
            blend={
                "duties": {"score": duty_part, "weight": _unit(duty_weight)},
                "occupation": {
                    "score": _unit(float(published)),
                    "weight": _unit(occupation_weight),
                },
            },
        )
        reasons = self.review.reasons(
            float(probabilities[lead]), duty_score, float(betas[lead]), context.language
        )
        result["needs_review"] = {"flag": bool(reasons), "reasons": reasons}
        self._split(context, result)

    def _split(self, context: Context, result: dict) -> None:
        duties = result.get("duties") or []
        if duties and len(context.duty_probabilities) == len(duties):
            texts = [duty["text"] for duty in duties]
            exposed = 1.0 - np.asarray(context.duty_probabilities)[:, LABELS.index("E0")]
        else:
            # No duties were scored: the text or title that was scored stands for the work.
            texts = [coding_text(context) or context.title]
            exposed = np.ones(1)
        # Another language's duties are judged by the multilingual component, when it can.
        across = context.extra.get("automation_probabilities")
        automated = across(texts) if across is not None else None
        if automated is None:
            automated = self._automation_probability(texts)
        for duty, probability in zip(duties, automated, strict=False):
            duty["mode"] = {
                "label": MODES[0] if probability >= 0.5 else MODES[1],
                "automation": _unit(probability),
                "augmentation": _unit(1.0 - probability),
            }
        # The exposed share (gamma) split by the exposure-weighted automation probability.
        share = float(exposed @ automated / exposed.sum()) if exposed.sum() > 0 else 0.0
        gamma = float(result["exposure"]["gamma"])
        result["automation"] = {
            "automation_share": _unit(gamma * share),
            "augmentation_share": _unit(gamma * (1.0 - share)),
        }

    def __setstate__(self, state: dict) -> None:
        # Models saved with the automation Pipeline itself: the same numbers.
        vars(self).update(state)
        self.automation = Automation.of(self.automation)

    def _automation_probability(self, texts: list[str]) -> np.ndarray:
        return self.automation.predict(texts)

    def page(self, code: str) -> dict | None:
        """Return an occupation's page, or None for a code not in the table."""
        row = self.table.row(code)
        if row is None:
            return None
        table = self.table
        tasks = [
            {
                "id": int(table.task_ids[task]),
                "text": table.task_texts[task],
                "label": LABELS[int(table.task_labels[task])],
                "gpt4_label": _optional(LABELS, table.task_gpt4_labels[task]),
                "automation_level": _optional(AUTOMATION_LEVELS, table.task_automation[task]),
            }
            for task in table.tasks(row)
        ]
        return {
            "code": code,
            "title": table.titles[row],
            "description": table.descriptions[row],
            "tasks": tasks,
            "source": self.taxonomy,
            "measures": [
                self.publication.entry(table, row, rater, measure)
                for rater in RATERS
                for measure in MEASURES
            ],
        }


def coding_text(context: Context) -> str:
    """Return the posting text the coder reads: its duties, requirements and other lines."""
    return "\n".join(unit.text for unit in context.units if unit.kind in CODING_KINDS)


def _optional(names: Sequence[str], index: int) -> str | None:
    return names[int(index)] if index >= 0 else None


def _unit(value: float) -> float:
    if math.isnan(value):
        return 0.0
    return round(min(max(float(value), 0.0), 1.0), 4)
