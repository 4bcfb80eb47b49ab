"""The cross-lingual component's training and the parallel postings set it is evaluated on."""

import json
import re
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from models.language import ENCODERS, CrossLingualExposure, Encoder, detect
from training import data, multilingual

PARALLEL = multilingual.read_jsonl(multilingual.PARALLEL)
FIELDS = {"id", "group", "language", "soc_code", "style", "title", "description"}


def groups() -> dict[str, dict[str, dict]]:
    grouped: dict[str, dict[str, dict]] = defaultdict(dict)
    for posting in PARALLEL:
        grouped[posting["group"]][posting["language"]] = posting
    return grouped


# --- The parallel postings set ----------------------------------------------------------------


def test_parallel_set_has_sixty_groups_each_in_english_japanese_and_persian():
    assert all(set(posting) == FIELDS for posting in PARALLEL)
    assert len({posting["id"] for posting in PARALLEL}) == len(PARALLEL)
    grouped = groups()
    assert len(grouped) >= 60
    for versions in grouped.values():
        assert set(versions) == {"en", "ja", "fa"}
        assert len({v["soc_code"] for v in versions.values()}) == 1
        assert len({v["style"] for v in versions.values()}) == 1


def test_parallel_set_mixes_gigs_and_ads_across_the_beta_range():
    styles = {posting["style"] for posting in PARALLEL}
    assert styles == {"gig", "ad"}
    try:
        occupations = data.load_tasks(data.data_dir()).occupations
    except data.DataError as error:
        pytest.skip(f"public data not available: {error}")
    codes = {posting["soc_code"] for posting in PARALLEL}
    assert codes <= set(occupations.index)
    betas = occupations.loc[sorted(codes), "human_rating_beta"]
    assert betas.min() < 0.05 and betas.max() > 0.8
    # Every band (the terciles of all occupations' human beta) holds a fifth of the occupations.
    assert (np.histogram(betas, bins=[0, 0.1602, 0.4123, 1.0])[0] >= len(codes) / 5).all()


def test_parallel_set_is_written_as_each_platform_writes():
    japanese = [p for p in PARALLEL if p["language"] == "ja"]
    persian = [p for p in PARALLEL if p["language"] == "fa"]
    assert sum("【" in p["description"] for p in japanese) >= 50
    assert sum(bool(re.search("です|ます", p["description"])) for p in japanese) >= 30
    assert sum("\u200c" in p["description"] for p in persian) >= 50
    assert sum(bool(re.search("[۰-۹]", p["description"])) for p in persian) >= 30


def test_parallel_set_languages_are_detected():
    for posting in PARALLEL:
        found = detect(f"{posting['title']}\n{posting['description']}")
        assert found.code == posting["language"], posting["id"]


# --- Reports ----------------------------------------------------------------------------------


def test_parallel_report_compares_each_language_with_its_english_version():
    occupations = pd.DataFrame(
        {"human_rating_beta": [0.1, 0.5, 0.9]}, index=["11-0000.00", "22-0000.00", "33-0000.00"]
    )
    postings = []
    for index, code in enumerate(occupations.index):
        for language in ("en", "ja"):
            postings.append(
                {
                    "id": f"g{index}-{language}",
                    "group": f"g{index}",
                    "language": language,
                    "soc_code": code,
                    "title": f"title {index}",
                    "description": f"{language} {index}",
                }
            )
    # English scores the gold beta; Japanese adds 0.05, which moves only 0.1 across a band.
    offsets = {"en": 0.0, "ja": 0.05}

    def score_many(batch):
        assert all("language" not in p for p in batch)
        results = []
        for p in batch:
            language, index = p["description"].split()
            beta = occupations["human_rating_beta"].iloc[int(index)] + offsets[language]
            exposure = {"score": beta, "duty_score": beta - offsets[language]}
            results.append({"exposure": exposure, "language": language})
        return results

    report = multilingual.parallel_report(
        score_many, postings, occupations, {"moderate": 0.12, "high": 0.4}
    )
    english, japanese = report["languages"]["en"], report["languages"]["ja"]
    assert english["spearman"] == japanese["spearman"] == 1.0
    assert japanese["mean_absolute_difference_to_english"] == 0.05
    assert japanese["band_agreement_with_english"] == pytest.approx(2 / 3, abs=1e-4)
    assert japanese["detected"] == 1.0
    assert japanese["targets_met"] == {
        "spearman_gap": True,
        "mean_absolute_difference": True,
        "band_agreement": False,
    }
    assert "band_agreement_with_english" not in english
    # Before the (here imaginary) occupation blend, both languages score alike.
    assert japanese["duties_only"]["mean_absolute_difference_to_english"] == 0.0
    assert japanese["duties_only"]["band_agreement_with_english"] == 1.0


def test_centroids_and_temperature_code_held_out_titles():
    codes = np.array(["A", "B"])
    vectors = {
        "write": np.array([1.0, 0.0]),
        "edit": np.array([0.9, 0.1]),
        "roof": np.array([0.0, 1.0]),
        "writer": np.array([0.95, 0.05]),
        "roofer": np.array([0.1, 0.9]),
    }
    pairs = pd.DataFrame({"soc_code": ["A", "A", "B", "Z"], "text": ["write", "edit", "roof", "x"]})
    centroids = multilingual.fit_centroids(codes, pairs, vectors)
    assert np.allclose(np.linalg.norm(centroids, axis=1), 1.0)
    held_out = pd.DataFrame({"soc_code": ["A", "B"], "text": ["writer", "roofer"]})
    # Held-out titles that sit next to their own occupation want the sharpest softmax.
    temperature, likelihood = multilingual.fit_temperature(centroids, codes, held_out, vectors)
    assert temperature == min(multilingual.TEMPERATURES) and likelihood > np.log(0.9)
    fitted, temperature, mean = multilingual.fit_occupations(codes, pairs, held_out, vectors)
    assert fitted.dtype == np.float16 and fitted.shape == (2, 2)
    assert mean is None or mean.shape == (2,)


def test_detection_report_counts_every_sample():
    report = multilingual.detection_report()
    samples = multilingual.read_jsonl(multilingual.LANGUAGE_SAMPLES)
    assert report["texts"] == len(samples) + 2 * len(PARALLEL)
    assert report["supported_flag_accuracy"] == 1.0
    assert report["accuracy"] >= 0.99
    assert {"en", "ja", "fa", "zh", "ar", "es"} <= set(report["by_language"])


# --- Training pieces --------------------------------------------------------------------------


def test_sample_texts_is_reproducible_and_keeps_every_row_of_a_chosen_text():
    rows = pd.DataFrame({"text": [f"t{i % 50}" for i in range(200)], "label": "E0", "weight": 1.0})
    first = multilingual.sample_texts(rows, 10)
    assert first["text"].nunique() == 10 and len(first) == 40
    assert first.equals(multilingual.sample_texts(rows, 10))
    assert multilingual.sample_texts(rows, None) is rows


def test_embedding_cache_computes_each_text_once(tmp_path):
    encoder = Encoder(ENCODERS["use"])
    cache = multilingual.EmbeddingCache(tmp_path, "use")
    texts = ["Write articles", "記事を書く", "Write articles"]
    first, computed = cache.embed(encoder, texts)
    assert computed == 2 and first.shape == (3, 512)
    again, computed = multilingual.EmbeddingCache(tmp_path, "use").embed(encoder, texts)
    assert computed == 0
    assert np.allclose(first, again)
    # The file is named by the encoder's version and weights, so another encoder never reuses it.
    assert [path.name for path in tmp_path.iterdir()] == ["use-0.2.1-0db566fd0af8.npz"]


@pytest.mark.slow
def test_a_slice_trains_a_component_that_scores_japanese_and_persian(tmp_path):
    try:
        root = data.data_dir()
    except data.DataError as error:
        pytest.skip(f"public data not available: {error}")
    table = data.slice_occupations(data.load_tasks(root), 40)
    component, card = multilingual.train_multilingual(
        root, table, log=lambda _: None, limits={"use": 1500, "e5": 300}, cache_dir=tmp_path
    )
    assert isinstance(component, CrossLingualExposure)
    assert card["routes"] == {"ja": ["use"], "fa": ["e5"], "*": ["e5"]}
    for name, spec in ENCODERS.items():
        assert card["encoders"][name]["sha256"] == spec.sha256
        assert card["encoders"][name]["version"] == spec.version
    assert card["training"]["e5"]["texts"] == 300
    assert card["occupations"]["occupations"] == len(set(table.frame["soc_code"]))
    assert set(card["occupations"]["temperatures"]) == {"use", "e5"}
    assert set(card["occupations"]["centred"]) <= {"use", "e5"}
    assert card["detection"]["supported_flag_accuracy"] == 1.0
    json.dumps(card)
    rows = component.predict(["ブログ記事の執筆", "نوشتن مقاله وبلاگ", "Artikel schreiben"], "ja")
    assert rows.shape == (3, 3) and np.allclose(rows.sum(axis=1), 1.0)
    coded = component.occupation_probabilities("ウェブライター", ["ブログ記事の執筆"], "ja")
    assert sum(coded.values()) == pytest.approx(1.0)
