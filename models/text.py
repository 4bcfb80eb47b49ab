"""Text normalisation shared by training and scoring.

The model learns from O*NET task statements ("Translate documents ..."), but postings phrase the
same work as "You will be translating ...", "Need someone to translate ...". Normalising both to
the same stemmed, lower-cased tokens lets the statements' vocabulary carry over to postings.
"""

import math
import re
from collections import _count_elements
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import Stemmer

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STEMMER = Stemmer.Stemmer("english")

# Posting phrasings that introduce a duty without describing it. Stripped so that
# "You will write articles" reads like the task statement "Write articles".
_LEAD_IN = re.compile(
    r"^\s*(?:"
    r"(?:as (?:a|an|our|the) [\w\s-]{1,40}?,\s*)?"
    r"(?:you|the (?:successful )?(?:candidate|applicant|hire|person)|he or she|they)"
    r"(?:'ll| will| would| shall| are expected to| must| should)?"
    r"(?: be)?(?: (?:responsible for|expected to|asked to|required to|tasked with))?"
    r"|(?:i|we) (?:need|want|am looking for|are looking for|require)"
    r"(?: (?:a|an|someone|somebody|a freelancer|an expert|a professional)(?: (?:who can|to))?)?"
    r"|(?:looking for|seeking|need|needed|wanted)"
    r"(?: (?:someone|somebody|a freelancer|an expert|a professional)(?: (?:who can|to))?)?"
    r"|responsible for|duties include|tasks include|your (?:tasks|duties) (?:will )?include"
    r"|help (?:me|us)(?: to)?"
    r")\b[\s:,-]*",
    re.IGNORECASE,
)

# The texts tokenized so far in the current `shared_tokens()` block, or None outside one.
_SHARED: ContextVar[dict | None] = ContextVar("shared_tokens", default=None)


def strip_lead_in(text: str) -> str:
    """Remove a posting's lead-in phrase ("You will", "Need someone to") from a duty."""
    stripped = _LEAD_IN.sub("", text, count=1)
    return stripped if stripped.strip() else text


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def tokenize(text: str) -> list[str]:
    """Split text into lower-cased English word stems."""
    shared = _SHARED.get()
    if shared is None:
        return _tokenize(text)
    tokens = shared.get(text)
    if tokens is None:
        tokens = shared[text] = tuple(_tokenize_lines(text, shared))
    return list(tokens)


def _tokenize(text: str) -> list[str]:
    return _words(strip_lead_in(text))


def _words(text: str) -> list[str]:
    return [_stem(word) for word in _TOKEN.findall(text.lower())]


def _tokenize_lines(text: str, shared: dict) -> list[str]:
    """Return _tokenize(text) from the shared tokens of its lines, where they were read before.

    No token spans a newline, and only the text's start loses a lead-in: the tokens of a text are
    those of its first line after the lead-in, then those of each other line as it stands.
    """
    if "\n" not in text:
        return _tokenize(text)
    lines = text.split("\n")
    lead_in = _LEAD_IN.match(text)
    cut = lead_in.end() if lead_in and text[lead_in.end() :].strip() else 0
    if cut > len(lines[0]):  # a lead-in that runs on into the next line
        return _tokenize(text)
    tokens = _words(lines[0][cut:]) if cut else _line_words(lines[0], shared)
    for line in lines[1:]:
        tokens += _line_words(line, shared)
    return tokens


def _line_words(line: str, shared: dict) -> list[str]:
    """Return _words(line), shared; it is the line's tokenize() too when it has no lead-in."""
    key = ("words", line)
    words = shared.get(key)
    if words is None:
        plain = _LEAD_IN.match(line) is None
        words = (shared.get(line) if plain else None) or tuple(_words(line))
        shared[key] = words
        if plain:
            shared.setdefault(line, words)
    return list(words)


@contextmanager
def shared_tokens() -> Iterator[None]:
    """Tokenize each distinct text once inside the block, whichever model asks for it.

    One posting's duties are read by the exposure model, both skills models and the automation
    model, each tokenizing them and joining the same n-grams; in a block they do it once. The
    cache lives as long as the block (one scoring call), in this thread or task only. Nested
    blocks share the outer one's cache.
    """
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def word_tfidf(tokenizer: Callable[[str], list[str]] | None = None, **options) -> "TfidfVectorizer":
    """Return an unfitted TF-IDF of word n-grams (1-2 unless `ngram_range` says), sublinear, over
    `tokenizer` (default: `tokenize`); `options` (min_df, dtype, ...) go to TfidfVectorizer."""
    # Imported here: fitting needs scikit-learn, serving a saved model does not.
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        tokenizer=tokenizer or tokenize,
        token_pattern=None,
        lowercase=False,
        sublinear_tf=True,
        **{"ngram_range": (1, 2), **options},
    )


def ngrams(tokens: Sequence[str], ngram_range: tuple[int, int]) -> list[str]:
    """Return the word n-grams of tokens in scikit-learn's order: all unigrams, then bigrams, ..."""
    low, high = ngram_range
    if high == 1:
        return list(tokens)
    grams = list(tokens) if low == 1 else []
    count = len(tokens)
    for n in range(max(low, 2), min(high, count) + 1):
        if n == 2:
            grams += [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
        else:
            grams += [" ".join(tokens[i : i + n]) for i in range(count - n + 1)]
    return grams


def terms(
    text: str, tokenizer: Callable[[str], list[str]], ngram_range: tuple[int, int]
) -> Sequence[str]:
    """Return the word n-grams a TfidfVectorizer with this tokenizer reads in text.

    The same list as the vectorizer's analyzer when it has no preprocessor, stop words or
    lower-casing of its own; shared inside a `shared_tokens()` block, so read it, never change it.
    """
    shared = _SHARED.get()
    if shared is None:
        return ngrams(tokenizer(text), ngram_range)
    key = (tokenizer, tuple(ngram_range), text)
    found = shared.get(key)
    if found is None:
        found = shared[key] = tuple(ngrams(tokenizer(text), ngram_range))
    return found


def _counts(
    texts: Sequence[str], analyze: Callable[[str], Sequence[str]], vocabulary: Mapping[str, int]
) -> tuple[list[int], list[int], list[int]]:
    """Return each text's vocabulary columns, in the order they first occur, with their counts,
    as CSR parts: columns, counts and indptr."""
    columns: list[int] = []
    counts: list[int] = []
    indptr = [0]
    get = vocabulary.get
    for text in texts:
        # Counter's own counting loop (in C) into a plain dict: the same counts, without the cost
        # of a Counter object per text, which a posting pays for about 70 texts.
        found: dict[int | None, int] = {}
        _count_elements(found, map(get, analyze(text)))
        found.pop(None, None)
        columns += found.keys()
        counts += found.values()
        indptr.append(len(columns))
    return columns, counts, indptr


def count_matrix(
    texts: Sequence[str],
    analyze: Callable[[str], Sequence[str]],
    vocabulary: Mapping[str, int],
    width: int,
    dtype: Any = np.float64,
) -> sp.csr_matrix:
    """Return CountVectorizer's matrix of texts: term counts, columns sorted within each row."""
    columns, counts, indptr = _counts(texts, analyze, vocabulary)
    matrix = sp.csr_matrix(
        (
            np.array(counts, dtype=dtype),
            np.array(columns, dtype=np.int32),
            np.array(indptr, dtype=np.int32),
        ),
        shape=(len(texts), width),
    )
    matrix.sort_indices()
    return matrix


def weigh_counts(counts: sp.csr_matrix, idf: np.ndarray, sublinear_tf: bool) -> sp.csr_matrix:
    """Turn a count matrix into TfidfTransformer's rows in place: sublinear tf, idf, unit norm."""
    data = counts.data
    if sublinear_tf:
        np.log(data, data)
        data += 1.0
    data *= idf[counts.indices]
    return normalize_rows(counts)


def tfidf_rows(
    texts: Sequence[str],
    analyze: Callable[[str], Sequence[str]],
    vocabulary: Mapping[str, int],
    idf: np.ndarray,
    sublinear_tf: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Return the L2-normalised TF-IDF rows of texts as CSR parts: values, columns and indptr.

    A row's columns are in the order its terms first occur, and its norm is the dot product of
    its weights with themselves, as the serving models have always computed it; whole-batch
    array operations give each element the same value as one row at a time would.
    """
    columns, counts, indptr = _counts(texts, analyze, vocabulary)
    index = np.array(columns, dtype=np.int64)
    tf = np.array(counts, dtype=np.float64)
    if sublinear_tf:
        tf = np.log(tf) + 1.0
    weights = tf * idf[index]
    divisors = []
    for start, end in zip(indptr, indptr[1:], strict=False):
        row = weights[start:end]
        norm = math.sqrt(float(row @ row))
        divisors.append(norm if norm > 0 else 1.0)
    weights /= np.repeat(divisors, np.diff(indptr))
    return weights, index, indptr


# Whitespace runs, which scikit-learn's char_wb analyzer reads as one space.
_WHITE_SPACES = re.compile(r"\s\s+")
# Rows of squares added at once by normalize_rows(), times their widest row: bounds its memory.
_NORMALIZE_CELLS = 1 << 20


class Tfidf:
    """A fitted TF-IDF vectorizer as the scoring path reads it, without scikit-learn.

    Made from a fitted `TfidfVectorizer` (`of`) of the two kinds the models use: word n-grams over
    a tokenizer of ours, and lower-cased character n-grams within words (`char_wb`). It keeps the
    vectorizer's attribute names, so code that reads a vectorizer reads it too, and `transform`
    gives the vectorizer's matrix to the bit. A saved model made of these loads without importing
    scikit-learn, which with the SciPy and pandas modules it imports takes about a second.
    """

    # The settings every Tfidf has; a vectorizer with others cannot become one.
    input = "content"
    preprocessor = None
    strip_accents = None
    stop_words = None
    binary = False
    use_idf = True
    norm = "l2"

    def __init__(
        self,
        analyzer: str,
        ngram_range: tuple[int, int],
        vocabulary: dict[str, int],
        idf: np.ndarray,
        tokenizer: Callable[[str], Sequence[str]] | None = None,
        lowercase: bool = False,
        sublinear_tf: bool = True,
        dtype: Any = np.float64,
    ):
        if analyzer not in ("word", "char_wb"):
            raise ValueError(f"Tfidf reads word or char_wb n-grams, not {analyzer!r}")
        if analyzer == "word" and (not callable(tokenizer) or lowercase):
            raise ValueError("a word Tfidf needs a tokenizer and lower-cases nothing itself")
        self.analyzer = analyzer
        self.ngram_range = tuple(ngram_range)
        self.vocabulary_ = vocabulary
        self.idf_ = idf
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.sublinear_tf = sublinear_tf
        self.dtype = dtype

    @classmethod
    def of(cls, vectorizer: Any) -> "Tfidf":
        """Return a fitted TfidfVectorizer's Tfidf; ValueError for settings it does not carry."""
        plain = (
            vectorizer.input == "content"
            and vectorizer.preprocessor is None
            and vectorizer.strip_accents is None
            and vectorizer.stop_words is None
            and not vectorizer.binary
            and vectorizer.use_idf
            and vectorizer.norm == "l2"
            and hasattr(vectorizer, "vocabulary_")
        )
        if not plain:
            raise ValueError("Tfidf carries fitted, idf-weighted, L2-normalised TF-IDF only")
        return cls(
            analyzer=vectorizer.analyzer,
            ngram_range=vectorizer.ngram_range,
            vocabulary=dict(vectorizer.vocabulary_),
            idf=vectorizer.idf_,
            tokenizer=vectorizer.tokenizer if vectorizer.analyzer == "word" else None,
            lowercase=bool(vectorizer.lowercase),
            sublinear_tf=bool(vectorizer.sublinear_tf),
            dtype=vectorizer.dtype,
        )

    def build_analyzer(self) -> Callable[[str], Sequence[str]]:
        """Return the function from a text to its n-grams, as the vectorizer's analyzer."""
        if self.analyzer == "word":
            tokenizer, ngram_range = self.tokenizer, self.ngram_range
            return lambda text: ngrams(tokenizer(text), ngram_range)
        low, high = self.ngram_range
        lowercase = self.lowercase

        def characters(text: str) -> list[str]:
            # scikit-learn's _char_wb_ngrams, on its preprocessor's output.
            grams: list[str] = []
            for word in _WHITE_SPACES.sub(" ", text.lower() if lowercase else text).split():
                word = f" {word} "
                for n in range(low, high + 1):
                    if len(word) <= n:  # a short word counts once, whole
                        grams.append(word)
                        break
                    grams += [word[i : i + n] for i in range(len(word) - n + 1)]
            return grams

        return characters

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Return the TF-IDF matrix of texts: counts, sublinear tf, idf, rows of unit length."""
        counts = count_matrix(
            texts, self.build_analyzer(), self.vocabulary_, len(self.idf_), self.dtype
        )
        return weigh_counts(counts, self.idf_, self.sublinear_tf)


def normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each row of a CSR matrix to unit L2 norm, in place, and return it.

    The same numbers as scikit-learn's `normalize(matrix, copy=False)`, to the bit: each row's
    squares, in the data's precision, are added in order in double precision (a cumulative sum
    over the row, padded with zeros, which add nothing), and each value is divided by the root in
    double precision. An all-zero row stays as it is.
    """
    data, indptr = matrix.data, matrix.indptr
    lengths = np.diff(indptr)
    rows = len(lengths)
    if not data.size:
        return matrix
    squares = (data * data).astype(np.float64)
    sums = np.zeros(rows)
    # Rows in order of length, added in blocks that fit the bound at their widest row.
    order = np.argsort(lengths, kind="stable")
    widths = np.maximum(lengths[order], 1)
    start = 0
    while start < rows:
        # Widths rise, so the rows that fit are a prefix; a row too wide alone is a block too.
        fits = np.arange(1, rows - start + 1) * widths[start:] <= _NORMALIZE_CELLS
        stop = start + max(int(fits.sum()), 1)
        block = order[start:stop]
        spans = lengths[block]
        firsts = np.repeat(indptr[block], spans)
        offsets = np.arange(int(spans.sum())) - np.repeat(np.cumsum(spans) - spans, spans)
        padded = np.zeros((len(block), int(widths[stop - 1])))
        padded[np.repeat(np.arange(len(block)), spans), offsets] = squares[firsts + offsets]
        sums[block] = np.cumsum(padded, axis=1)[:, -1]
        start = stop
    norms = np.sqrt(sums)
    norms[sums == 0.0] = 1.0
    data[:] = data / np.repeat(norms, lengths)
    return matrix


def owner_groups(owners: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the order that groups items by owner, where each group starts in that order, and
    the owner of each group. Columns of items put in that order give each owner's largest value
    with one `np.maximum.reduceat(values, starts, axis=1)`."""
    order = np.argsort(owners, kind="stable")
    grouped = owners[order]
    starts = np.r_[0, np.flatnonzero(np.diff(grouped)) + 1]
    return order, starts, grouped[starts]


class PhraseShares:
    """Phrases owned by items (occupations); for a text, each item's largest share of one of its
    phrases that the text contains.

    Each phrase is a TF-IDF vector (L2 unit length); a text contains the share of a phrase's
    squared weights whose terms it has: 1 when the whole phrase is in it, whatever else the
    text says. Unlike a cosine, a long text is not penalised, and a phrase that shares two
    common words with the text does not outweigh one that the text names whole.
    """

    def __init__(self, vectorizer: Tfidf, phrases: Sequence[str], owners: np.ndarray, count: int):
        self.vectorizer = vectorizer  # fitted on the phrases
        self.phrases = list(phrases)
        self.owners = np.asarray(owners, dtype=np.int32)  # each phrase's item
        self.count = count  # items
        self._index()

    def _index(self) -> None:
        order, self._starts, self._start_owners = owner_groups(self.owners)
        matrix = self.vectorizer.transform([self.phrases[i] for i in order])
        matrix.data **= 2  # each term's share of its phrase's (unit) length
        self._matrix = matrix.T.tocsr()

    def __getstate__(self) -> dict:
        return {key: value for key, value in vars(self).items() if not key.startswith("_")}

    def __setstate__(self, state: dict) -> None:
        vars(self).update(state)
        self._index()

    def shares(self, texts: Sequence[str]) -> np.ndarray:
        """Return, for each text (rows) and item (columns), the largest share of one of the
        item's phrases that the text contains."""
        return self.shares_of(self.vectorizer.transform(list(texts)))

    def shares_of(self, query: sp.csr_matrix) -> np.ndarray:
        """Return `shares` of the texts whose TF-IDF rows (by `vectorizer`) are `query`.

        The query's values are overwritten (each term counts as present), so pass a matrix made
        for this call: it saves a copy on the scoring path.
        """
        out = np.zeros((query.shape[0], self.count), dtype=np.float32)
        if query.nnz:
            query.data[:] = 1.0  # which terms the text has, not how often
            contained = (query @ self._matrix).toarray()
            out[:, self._start_owners] = np.maximum.reduceat(contained, self._starts, axis=1)
        return out
