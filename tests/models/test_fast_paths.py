"""The serving fast paths give exactly what the plain paths they replace give.

Each reference below is the code (scikit-learn's, or this project's before it was made faster)
that a fast path stands in for. The shipped model holds its fitted numbers in classes of its own
(`LinearText`, `Tfidf`), which scoring reads without scikit-learn; the references rebuild
scikit-learn's fitted objects from those numbers. The full results of the shipped default model
on the realistic postings must be identical, to the last digit, with every fast path switched
off.
"""

import contextlib
import dataclasses
import hashlib
import json
import math
import pickle
import random
import threading
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from models import language, occupations, registry, scorer, skills, text
from models.scorer import LinearText, Scorer
from models.segment import segment

EVAL = Path(__file__).resolve().parents[2] / "training" / "eval"
POSTING_FILES = ("postings.jsonl", "postings_parallel.jsonl")


def read_postings() -> list[dict]:
    postings = []
    for name in POSTING_FILES:
        for line in (EVAL / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                postings.append(
                    {"id": row["id"], "title": row["title"], "description": row["description"]}
                )
    return postings


@pytest.fixture(scope="module")
def default_scorer() -> Scorer:
    return Scorer.load(registry.default_dir())


@pytest.fixture(scope="module")
def postings() -> list[dict]:
    return read_postings()


@pytest.fixture(scope="module")
def texts(postings) -> list[str]:
    """Every title and unit of the realistic postings, and a few degenerate texts."""
    found = [posting["title"] for posting in postings]
    found += [unit.text for posting in postings for unit in segment(posting["description"])]
    return [*found, "", "   ", "a", "zzzz qqqq", "You will", "Need someone to\nwrite"]


# --- References -------------------------------------------------------------------------------


def sklearn_vectorizer(tfidf: text.Tfidf) -> TfidfVectorizer:
    """Return the fitted TfidfVectorizer a Tfidf was made from, rebuilt from its numbers."""
    words = tfidf.analyzer == "word"
    vectorizer = TfidfVectorizer(
        analyzer=tfidf.analyzer,
        tokenizer=tfidf.tokenizer if words else None,
        token_pattern=None if words else r"(?u)\b\w\w+\b",
        lowercase=tfidf.lowercase,
        ngram_range=tfidf.ngram_range,
        sublinear_tf=tfidf.sublinear_tf,
        dtype=tfidf.dtype,
        vocabulary=tfidf.vocabulary_,
    )
    vectorizer.idf_ = tfidf.idf_
    return vectorizer


def sklearn_pipeline(linear: LinearText) -> Pipeline:
    """Return the fitted Pipeline a LinearText was made from, rebuilt from its numbers."""
    features = sklearn_vectorizer(
        text.Tfidf(
            "word",
            linear.ngram_range,
            linear.vocabulary,
            linear.idf,
            tokenizer=linear.tokenizer,
            sublinear_tf=linear.sublinear_tf,
            dtype=linear.dtype,
        )
    )
    classifier = LogisticRegression()
    classifier.coef_ = np.ascontiguousarray(linear.coef.T)
    classifier.intercept_ = linear.intercept
    classifier.classes_ = linear.classes_
    classifier.n_features_in_ = len(linear.idf)
    return Pipeline([("features", features), ("classifier", classifier)])


def reference_tokenize(value: str) -> list[str]:
    return [text._stem(word) for word in text._TOKEN.findall(text.strip_lead_in(value).lower())]


def reference_vectorize(vectorizer, values) -> sp.csr_matrix:
    analyze = sklearn_vectorizer(vectorizer).build_analyzer()
    vocabulary = vectorizer.vocabulary_
    idf = vectorizer.idf_
    indptr, indices, rows = [0], [], []
    for value in values:
        counts = Counter(
            column for column in map(vocabulary.get, analyze(value)) if column is not None
        )
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        weights = (np.log(tf) + 1.0) * idf[columns]
        norm = math.sqrt(float(weights @ weights))
        indices.append(columns)
        rows.append(weights / norm if norm > 0 else weights)
        indptr.append(indptr[-1] + len(columns))
    return sp.csr_matrix(
        (
            np.concatenate(rows).astype(vectorizer.dtype) if rows else np.zeros(0),
            np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
            np.array(indptr),
        ),
        shape=(len(values), len(idf)),
    )


def reference_transform(model: skills.LinearModel, values) -> sp.csr_matrix:
    low, high = model.ngram_range
    indptr, indices, rows = [0], [], []
    for value in values:
        tokens = model.tokenizer(value)
        counts: dict[int, int] = {}
        for n in range(low, min(high, len(tokens)) + 1):
            for i in range(len(tokens) - n + 1):
                column = model.vocabulary.get(" ".join(tokens[i : i + n]))
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
        columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if model.sublinear_tf:
            tf = 1.0 + np.log(tf)
        weights = tf * model.idf[columns]
        norm = math.sqrt(float(weights @ weights))
        indices.append(columns)
        rows.append((weights / norm if norm > 0 else weights).astype(np.float32))
        indptr.append(indptr[-1] + len(columns))
    shape = (len(indptr) - 1, len(model.idf))
    if not indices:
        return sp.csr_matrix(shape)
    return sp.csr_matrix((np.concatenate(rows), np.concatenate(indices), np.array(indptr)), shape)


def reference_similarity(queries, matrix) -> np.ndarray:
    return (queries @ matrix).toarray()


def reference_detect(value: str) -> language.Detection:
    value = unicodedata.normalize("NFKC", value)
    counts = {name: len(pattern.findall(value)) for name, pattern in language._SCRIPT.items()}
    letters = sum(counts.values())
    if letters == 0:
        return language.Detection(language.UNDETERMINED, False)
    share = {name: count / letters for name, count in counts.items()}
    if counts["kana"] >= 2 and share["kana"] + share["han"] >= language._SCRIPT_SHARE:
        return language._detection("ja")
    if share["han"] >= language._SCRIPT_SHARE and share["han"] >= share["hangul"]:
        return language._detection(
            "ja" if counts["kana"] or language._japanese_kanji(value) else "zh"
        )
    if share["arabic"] >= language._SCRIPT_SHARE:
        return language._detection(language._arabic_script(value))
    best = max(language._SCRIPT_LANGUAGE, key=lambda name: counts[name])
    if share[best] >= language._SCRIPT_SHARE:
        if best == "cyrillic" and language._UKRAINIAN.search(value):
            return language._detection("uk")
        return language._detection(language._SCRIPT_LANGUAGE[best])
    if share["latin"] >= language._SCRIPT_SHARE:
        return language._detection(reference_latin(value))
    return language.Detection(language.UNDETERMINED, False)


def reference_latin(value: str) -> str:
    lowered = value.lower()
    votes = dict.fromkeys(language._FUNCTION_WORDS, 0.0)
    for word in language._LATIN_WORD.findall(lowered):
        for code in language._WORD_LANGUAGES.get(word, ()):
            votes[code] += 1.0
    for code, pattern, _ in language._LATIN_MARKS:
        votes[code] += 1.5 * len(pattern.findall(lowered))
    best = max(votes, key=lambda code: (votes[code], code == "en"))
    return best if votes[best] > votes["en"] else "en"


def matchers(model: skills.SkillModel) -> list[skills.Matcher]:
    lexicon = model.lexicon
    found = [lexicon.terms, lexicon.context, lexicon.prohibit, lexicon.negate, lexicon.needed]
    return [*found, lexicon.breaks, lexicon.excepted, *lexicon.cues.values()]


@contextlib.contextmanager
def plain_paths(model: Scorer):
    """Switch every fast path of the scorer off, for the references above."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model, "model", sklearn_pipeline(model.model))
        patch.setattr(model, "_linear", None)
        patch.setattr(scorer, "shared_tokens", contextlib.nullcontext)
        patch.setattr(scorer, "detect", reference_detect)
        patch.setattr(occupations, "vectorize", reference_vectorize)
        patch.setattr(occupations, "similarity", reference_similarity)
        patch.setattr(skills.LinearModel, "transform", reference_transform)
        for component in model.components.values():
            if isinstance(component, skills.SkillModel):
                for matcher in matchers(component):
                    patch.setattr(matcher, "_ascii_script", matcher._script)
        yield


# --- The whole results ------------------------------------------------------------------------


def test_results_are_identical_with_the_fast_paths_switched_off(default_scorer, postings):
    fast_single = [default_scorer.score_many([posting])[0] for posting in postings]
    fast_batch = default_scorer.score_many(postings)
    with plain_paths(default_scorer):
        plain_single = [default_scorer.score_many([posting])[0] for posting in postings]
        plain_batch = default_scorer.score_many(postings)
    assert len(plain_single) == len(read_postings()) > 300
    for fast, plain in zip(fast_single + fast_batch, plain_single + plain_batch, strict=True):
        assert json.dumps(fast, sort_keys=True) == json.dumps(plain, sort_keys=True)
    assert {result["language"] for result in fast_single} >= {"en", "ja", "fa"}


def test_the_title_index_is_the_vectorizers_matrix(default_scorer):
    coder = default_scorer.components["occupations"].coder
    order = np.argsort(coder.title_owners, kind="stable")
    titles = [coder.titles[i] for i in order]
    expected = sklearn_vectorizer(coder.title_characters).transform(titles).T.tocsr()
    assert_same_sparse(coder._title_matrix, expected)


# --- Each fast path ---------------------------------------------------------------------------


def assert_same_sparse(actual, expected) -> None:
    assert type(actual) is type(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    assert np.array_equal(actual.indptr, expected.indptr)
    assert np.array_equal(actual.indices, expected.indices)
    assert np.array_equal(actual.data, expected.data)


def test_the_shipped_model_holds_its_numbers_without_scikit_learn(default_scorer):
    assert type(default_scorer.model) is LinearText
    model = default_scorer.components["occupations"]
    coder = model.coder
    for vectorizer in (coder.title_words, coder.title_characters, coder.description_words):
        assert type(vectorizer) is text.Tfidf
    assert type(model.automation) is occupations.Automation
    assert type(model.automation.features) is text.Tfidf


def test_linear_text_gives_the_pipelines_probabilities(default_scorer, texts):
    pipeline = sklearn_pipeline(default_scorer.model)
    linear = LinearText.of(pipeline)
    assert linear is not None
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        expected = pipeline.predict_proba(texts)
        one_by_one = [pipeline.predict_proba([value]) for value in texts[:50]]
    assert np.array_equal(linear.predict_proba(texts), expected)
    with text.shared_tokens():
        assert np.array_equal(linear.predict_proba(texts), expected)
    for value, row in zip(texts[:50], one_by_one, strict=True):
        assert np.array_equal(linear.predict_proba([value]), row)


def test_linear_text_leaves_other_estimators_to_scikit_learn(default_scorer):
    assert LinearText.of(default_scorer.components["occupations"]) is None
    binary = Pipeline([("features", text.word_tfidf()), ("classifier", LogisticRegression())])
    binary.fit(["write articles", "lay bricks", "edit copy", "pour concrete"], [1, 0, 1, 0])
    assert LinearText.of(binary) is None


@pytest.mark.parametrize("name", ["title_words", "title_characters", "description_words"])
def test_tfidf_gives_the_vectorizers_matrix(default_scorer, texts, name):
    tfidf = getattr(default_scorer.components["occupations"].coder, name)
    vectorizer = sklearn_vectorizer(tfidf)
    values = [*texts, "Ωmega  Σίσυφος\tİstanbul", "ＡＩ  engineer", "a b", "déjà vu 🙂"]
    assert tfidf.build_analyzer()(values[0]) == vectorizer.build_analyzer()(values[0])
    assert_same_sparse(tfidf.transform(values), vectorizer.transform(values))
    assert tfidf.transform([]).shape == (0, len(tfidf.idf_))  # scikit-learn refuses no texts


def test_tfidf_refuses_settings_it_does_not_carry():
    vectorizer = text.word_tfidf(binary=True).fit(["write articles", "edit copy"])
    with pytest.raises(ValueError, match="Tfidf carries"):
        text.Tfidf.of(vectorizer)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_rows_gives_scikit_learns_numbers(dtype, monkeypatch):
    from sklearn.preprocessing import normalize

    monkeypatch.setattr(text, "_NORMALIZE_CELLS", 300)  # many blocks
    rng = np.random.default_rng(7)
    for seed in range(60):
        matrix = sp.random(
            int(rng.integers(1, 60)), 500, density=rng.uniform(0.0, 0.4), format="csr",
            dtype=dtype, random_state=seed,
        )  # fmt: skip
        matrix.data = (rng.random(matrix.nnz) * rng.choice([1e-3, 1.0, 1e3], matrix.nnz)).astype(
            dtype
        )
        expected = normalize(matrix.copy(), copy=False)
        assert_same_sparse(text.normalize_rows(matrix.copy()), expected)


def test_vectorize_gives_the_reference_rows(default_scorer, texts):
    model = default_scorer.components["occupations"]
    coder = model.coder
    for vectorizer in (coder.title_words, coder.title_characters, coder.description_words):
        expected = reference_vectorize(vectorizer, texts)
        assert_same_sparse(occupations.vectorize(vectorizer, texts), expected)
        with text.shared_tokens():
            assert_same_sparse(occupations.vectorize(vectorizer, texts), expected)
    features = model.automation.features
    assert_same_sparse(
        occupations.vectorize(features, texts[:7]), reference_vectorize(features, texts[:7])
    )
    assert occupations.vectorize(coder.title_words, []).shape == (0, len(coder.title_words.idf_))


@pytest.mark.parametrize("rows", [1, 3, occupations._ROW_BY_ROW + 1])
def test_similarity_gives_the_sparse_products_rows(default_scorer, texts, rows):
    coder = default_scorer.components["occupations"].coder
    pairs = [
        (coder.title_words, coder.title_centroids),
        (coder.title_characters, coder._title_matrix),
        (coder.description_words, coder.description_centroids),
    ]
    rng = random.Random(rows)
    for vectorizer, matrix in pairs:
        # Short and long queries, so that both ways of adding rows are taken.
        chosen = [" ".join(rng.sample(texts, k=rng.choice((1, 1, 5)))) for _ in range(rows)]
        queries = occupations.vectorize(vectorizer, chosen)
        assert np.array_equal(
            occupations.similarity(queries, matrix), reference_similarity(queries, matrix)
        )


def test_linear_model_transform_gives_the_reference_rows(default_scorer, texts):
    model = default_scorer.components["skills"]
    for linear in (model.inferred, model.mentioned):
        assert linear.weights.flags.c_contiguous
        assert_same_sparse(linear.transform(texts), reference_transform(linear, texts))
        with text.shared_tokens():
            assert_same_sparse(linear.transform(texts), reference_transform(linear, texts))
        assert linear.transform([]).shape == (0, len(linear.idf))


def test_linear_model_loads_row_major_weights_from_a_column_major_pickle(default_scorer):
    linear = default_scorer.components["skills"].mentioned
    state = dict(vars(linear), weights=np.asfortranarray(linear.weights))
    old = skills.LinearModel.__new__(skills.LinearModel)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.weights.flags.c_contiguous
    assert np.array_equal(old.weights, linear.weights)


@pytest.mark.parametrize("seed", range(3))
def test_shared_tokens_are_the_tokens_of_each_text(seed):
    pieces = [
        "You will", "you'll be responsible for", "As a senior developer, you will",
        "Need someone to", "help us", "write", "articles", ":", "-", ",", " ", "\n", "\n\n",
        "ΣΑΣ", "daß", "İstanbul", "we need a freelancer who can", "the candidate will",
        "looking for", "日本語", "data-entry", "it's", "As a\n", "you\n", "will\n",
    ]  # fmt: skip
    rng = random.Random(seed)
    for _ in range(2000):
        value = "".join(
            rng.choice(pieces) + rng.choice((" ", "", "\n")) for _ in range(rng.randint(1, 8))
        )
        lines = value.split("\n")
        with text.shared_tokens():
            for line in rng.sample(lines, k=len(lines)):
                if rng.random() < 0.5:
                    text.tokenize(line)
            assert text.tokenize(value) == reference_tokenize(value)
            assert [text.tokenize(line) for line in lines] == list(map(reference_tokenize, lines))
            assert list(text.terms(value, text.tokenize, (1, 2))) == text.ngrams(
                reference_tokenize(value), (1, 2)
            )


def test_shared_tokens_are_handed_out_as_copies():
    with text.shared_tokens():
        tokens = text.tokenize("Translate documents")
        tokens.append("changed")
        assert text.tokenize("Translate documents") == reference_tokenize("Translate documents")
    assert text._SHARED.get() is None


def test_detect_gives_the_reference_language(postings, texts):
    values = [f"{posting['title']}\n{posting['description']}" for posting in postings] + texts
    for line in (EVAL / "languages.jsonl").read_text(encoding="utf-8").splitlines():
        values += [v for v in json.loads(line).values() if isinstance(v, str)]
    words = [w for group in language._FUNCTION_WORDS.values() for w in group]
    words += ["d'un", "qu'il", "zione", "ciones", "ción", "ção", "ñ", "ß", "è", "œ", "ğ", "İ"]
    rng = random.Random(0)
    for _ in range(20000):
        value = " ".join(rng.choice(words) for _ in range(rng.randint(1, 20)))
        values.append(value.upper() if rng.random() < 0.3 else value)
    alphabet = "abcñçßé ’–•テスト翻訳师師한국어привітєابپچگكيةالΑΒשלוםสวัสดีनमस्ते12 .,'\n"
    for _ in range(5000):
        values.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))))
    for value in values:
        assert language.detect(value) == reference_detect(value), value


def test_every_mark_holds_one_of_its_signs():
    rng = random.Random(1)
    pieces = ["ción", "ciones", "ção", "ções", "zione", "zioni", "d'", "l'", "qu'", "ñ", "¿"]
    pieces += list("ßäöüèêëœãõğışİ") + ["a", " ", "x", "'", "qu", "d", "l"]
    for _ in range(5000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))).lower()
        for _, pattern, signs in language._LATIN_MARKS:
            for match in pattern.finditer(value):
                assert any(sign in match.group() for sign in signs), (pattern, match)


def test_character_tfidf_gives_the_vectorizers_matrix(default_scorer):
    vectorizer = sklearn_vectorizer(default_scorer.components["occupations"].coder.title_characters)
    values = [
        "", "   ", "a", "Ωmega Σίσυφος İstanbul", "ＡＩ engineer", "x\x00y", "dev\tops\n\nlead",
        "déjà vu", "🙂 emoji dev", "C++/C# .NET developer", "Software Engineer II",
    ]  # fmt: skip
    assert_same_sparse(
        occupations.character_tfidf(vectorizer, values), vectorizer.transform(values)
    )


def test_script_patterns_are_skipped_for_ascii_text_only_when_they_cannot_match():
    # A full-width "ＡＩ" is not a Latin term, yet folds to ASCII: its pattern must still run.
    matcher = skills.Matcher(["ＡＩ", "翻訳", "هوش مصنوعی"])
    assert len(matcher._ascii_script) == 1
    assert [m.key for m in matcher.find("use ai tools")] == ["ai"]
    assert matcher.search("use ai tools") and not matcher.search("use tools")
    assert [m.key for m in matcher.find("AI翻訳")] == ["ai", "翻訳"]
    assert skills.Matcher(["翻訳", "AIライティング"])._ascii_script == []
    restored = pickle.loads(pickle.dumps(matcher))
    assert "_ascii_script" not in matcher.__getstate__()
    assert [p.pattern for p in restored._ascii_script] == [p.pattern for p in matcher._ascii_script]


@pytest.mark.parametrize(
    "source",
    [
        "(?P<t>x",  # not a pattern Matcher writes
        "(?P<t>[a-z]+)",
        "(?P<t>a{2})",
    ],
)
def test_an_unexpected_script_pattern_counts_as_able_to_match_ascii(source):
    assert skills._ascii_path(source)


# --- Encoder weights hashed while the model loads ---------------------------------------------


def test_the_default_model_loads_with_its_encoders_checked_and_no_thread_left(default_scorer):
    loaded = Scorer.load(registry.default_dir())
    assert not [t for t in threading.enumerate() if t.name == "hash-encoder-weights"]
    heads = set(loaded.multilingual.heads) if loaded.multilingual is not None else set()
    assert {spec.name for spec in language.card_encoders(loaded.card)} == heads


def test_a_digest_hashed_ahead_serves_one_check_of_the_same_file_only(tmp_path):
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"a" * 4096)
    spec = dataclasses.replace(
        language.ENCODERS["use"],
        weights=str(weights),
        sha256=hashlib.sha256(b"a" * 4096).hexdigest(),
    )
    with language.hashing_ahead([spec]):
        assert spec.check() == weights
        weights.write_bytes(b"b" * 4096)  # same size, written after it was hashed
        with pytest.raises(language.EncoderError, match="refusing to mix encoders"):
            spec.check()
    with pytest.raises(language.EncoderError, match="refusing to mix encoders"):
        spec.check()


@pytest.mark.parametrize(
    "card",
    [{}, {"languages": None}, {"languages": {"encoders": {"x": {"name": 1}}}}],
    ids=["none", "null", "malformed"],
)
def test_a_card_without_well_formed_encoders_names_none(card):
    assert language.card_encoders(card) == []
