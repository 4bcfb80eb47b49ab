"""The skills taxonomy, its lexicon and the skills component of a model."""

import copy

import joblib
import numpy as np
import pytest
import yaml

from models.scorer import Context
from models.segment import segment
from models.skills import (
    REQUIRED_IDS,
    TAXONOMY_FILE,
    LinearModel,
    Matcher,
    SkillModel,
    TaxonomyError,
    fold,
    load_taxonomy,
    parse_taxonomy,
)
from training import data
from training.skills import build_inferred_pipeline, load_iwa_titles

# Hand-written duties, labelled with the skills whose work they are.
TINY_DUTIES = [
    ("Translate manuals and documents into Spanish", ["machine_translation_post_editing"]),
    ("Translate website text from English into German", ["machine_translation_post_editing"]),
    ("Translate product descriptions and user guides", ["machine_translation_post_editing"]),
    ("Write blog articles and product descriptions", ["ai_assisted_writing"]),
    ("Write and edit marketing articles for the blog", ["ai_assisted_writing"]),
    ("Write newsletters and articles for customers", ["ai_assisted_writing"]),
    ("Answer customer questions by chat and email", ["conversational_ai_support"]),
    ("Respond to customer inquiries by chat", ["conversational_ai_support"]),
    ("Answer customer complaints and inquiries by email", ["conversational_ai_support"]),
    ("Lift boxes and load trucks in the warehouse", []),
    ("Clean floors and restrooms in the building", []),
    ("Repair plumbing fixtures and load trucks", []),
]
TINY_SKILLS = [
    "machine_translation_post_editing",
    "ai_assisted_writing",
    "conversational_ai_support",
]


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


@pytest.fixture(scope="module")
def lexicon(taxonomy) -> SkillModel:
    """A skills component with the lexicon only."""
    return SkillModel(taxonomy)


@pytest.fixture(scope="module")
def pipeline(taxonomy):
    texts = [text for text, _ in TINY_DUTIES]
    labels = np.array([[int(s in skills) for s in TINY_SKILLS] for _, skills in TINY_DUTIES])
    return build_inferred_pipeline(taxonomy.glossary).fit(texts, labels)


@pytest.fixture(scope="module")
def tiny(taxonomy, pipeline) -> SkillModel:
    """A skills component with an inferred-skill model fitted on TINY_DUTIES."""
    return SkillModel(
        taxonomy,
        inferred=LinearModel(pipeline),
        inferred_ids=TINY_SKILLS,
        thresholds=dict.fromkeys(TINY_SKILLS, 0.5),
    )


def mentioned(model: SkillModel, text: str) -> set[str]:
    return set(model.mentions(text, segment(text))[0])


def prohibited(model: SkillModel, text: str) -> bool:
    return bool(model.mentions(text, segment(text))[1])


def context(description: str, title: str = "Job", language: str = "en") -> Context:
    units = segment(description)
    duties = [unit for unit in units if unit.kind == "duty"]
    return Context(title, description, units, duties, np.zeros((len(duties), 3)), language)


# --- The taxonomy -----------------------------------------------------------------------------


def test_the_taxonomy_has_every_required_skill_named_in_three_languages(taxonomy):
    assert set(REQUIRED_IDS) <= set(taxonomy.ids)
    for skill in taxonomy.skills:
        assert all(skill.name[language] for language in ("en", "ja", "fa"))
        assert all(skill.terms[language] for language in ("en", "ja", "fa"))
        assert skill.description and skill.iwas


def test_the_taxonomy_names_only_real_iwas():
    try:
        root = data.data_dir()
    except data.DataError as error:
        pytest.skip(f"public data not available: {error}")
    titles = load_iwa_titles(root)
    taxonomy = load_taxonomy(TAXONOMY_FILE, titles)
    assert taxonomy.iwa_titles["4.A.4.a.1.I03"].startswith("Interpret language")


def _document() -> dict:
    return yaml.safe_load(TAXONOMY_FILE.read_text(encoding="utf-8"))


def _duplicate_id(document):
    document["skills"].append(copy.deepcopy(document["skills"][1]))


def _empty_name(document):
    document["skills"][0]["name"]["ja"] = " "


def _unknown_iwa(document):
    document["skills"][0]["iwas"].append("4.A.9.z.9.I99")


def _malformed_iwa(document):
    document["skills"][0]["iwas"] = ["Write stuff"]


def _missing_required(document):
    document["skills"] = [s for s in document["skills"] if s["id"] != "ai_marketing_seo"]


def _unknown_ambiguous(document):
    document["skills"][0]["ambiguous"] = ["Clippy"]


def _unquoted_no(document):
    document["policy"]["before"]["en"] = [False, "without"]


def _term_twice(document):
    document["skills"][0]["terms"]["en"] += ["Prompt Engineering"]


def _unknown_fallback(document):
    document["generic"]["fallback"] = "ai_everything"


def _unknown_object_of(document):
    document["skills"][0]["object_of"] = ["ai_everything"]


def _unknown_needs_ai(document):
    document["skills"][0]["needs_ai"] = ["Clippy"]


def _yields_to_each_other(document):
    document["skills"][0]["yields_to"] = ["ai_assisted_writing"]
    document["skills"][1]["yields_to"] = ["prompt_engineering"]


def _proper_name_not_ambiguous(document):
    document["skills"][0]["proper_names"] = ["Prompt Engineering"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_duplicate_id, "skill 'ai_assisted_writing' (entry 18): duplicate id"),
        (_empty_name, "skill 'prompt_engineering': name.ja is empty"),
        (_unknown_iwa, "skill 'prompt_engineering': unknown IWA id '4.A.9.z.9.I99'"),
        (_malformed_iwa, "skill 'prompt_engineering': IWA id 'Write stuff' is malformed"),
        (_missing_required, "skill 'ai_marketing_seo': required id is missing"),
        (_unknown_ambiguous, "ambiguous term 'Clippy' is not one of its terms"),
        (_unquoted_no, "policy.before.en must be a list of non-empty strings"),
        (_term_twice, "skill 'prompt_engineering': terms.en lists"),
        (_unknown_fallback, "generic.fallback: 'ai_everything' is not a skill id"),
        (_unknown_object_of, "object_of names 'ai_everything', not another skill"),
        (_unknown_needs_ai, "ambiguous term 'Clippy' is not one of its terms"),
        (
            _yields_to_each_other,
            "skills 'ai_assisted_writing' and 'prompt_engineering' yield to each other",
        ),
        (
            _proper_name_not_ambiguous,
            "proper name 'Prompt Engineering' is not one of its Latin ambiguous terms",
        ),
    ],
)
def test_a_bad_taxonomy_is_refused_naming_the_entry(change, message):
    document = _document()
    change(document)
    titles = {iwa: "title" for s in _document()["skills"] for iwa in s["iwas"]}
    with pytest.raises(TaxonomyError) as error:
        parse_taxonomy(document, titles)
    assert message in str(error.value)


def test_the_unchanged_document_is_valid_with_the_same_iwa_titles():
    titles = {iwa: "title" for s in _document()["skills"] for iwa in s["iwas"]}
    assert parse_taxonomy(_document(), titles).iwa_titles


def test_a_missing_file_is_a_taxonomy_error(tmp_path):
    with pytest.raises(TaxonomyError, match="no skills file"):
        load_taxonomy(tmp_path / "skills.yaml")


# --- Matching ---------------------------------------------------------------------------------


def test_folding_keeps_every_offset():
    text = "ＡＩツールとChatGPT‐4、چت‌جی‌پی‌تی and İstanbul"
    folded = fold(text)
    assert len(folded) == len(text)
    assert folded.startswith("aiツール") and "\u200c" not in folded


def test_persian_letter_variants_and_direction_marks_fold_to_one_spelling(lexicon):
    # Alef maksura for a final yeh, an ezafe heh and a right-to-left mark around a Latin name.
    text = "تولید محتوای\u0649 وبلاگ با هوش مصنوع\u0649 و نام\u06c0 \u200fChatGPT\u200f"
    assert fold(text) == fold(text.translate({0x0649: "ی", 0x06C0: "ه", 0x200F: " "}))
    assert mentioned(lexicon, "نوشتن مقاله وبلاگ با هوش مصنوع\u0649") == {"ai_assisted_writing"}


@pytest.mark.parametrize(
    ("terms", "text", "found"),
    [
        (["Claude"], "Ask Claude; not Claudette or McClaude.", ["Claude"]),
        (["AI"], "生成AIを使う AI-first, not MAIL, Thai, said or ai.", ["AI", "AI"]),
        (["AI"], "ＡＩツール", ["ＡＩ"]),
        (
            ["fine-tuning"],
            "fine tuning, finetuning and Fine-Tuning",
            ["fine tuning", "finetuning", "Fine-Tuning"],
        ),
        (["chatbot"], "two chatbots", ["chatbots"]),
        (["AI", "AI tools"], "AI tools", ["AI tools"]),
        (["プロンプト"], "プロンプト作成", ["プロンプト"]),
        (["ترجمه"], "ترجمه متن، نه مترجم", ["ترجمه"]),
        (["هوش مصنوعی"], "با هوش‌مصنوعی", ["هوش‌مصنوعی"]),
    ],
)
def test_terms_match_whole_latin_words_and_japanese_and_persian_substrings(terms, text, found):
    assert [text[m.start : m.end] for m in Matcher(terms).find(text)] == found


# --- Mentioned skills and prohibitions --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        ("Experience with ChatGPT prompt writing is a must.", {"prompt_engineering"}),
        ("Midjourneyで画像生成をお願いします。", {"generative_image_design"}),
        ("RLHF annotation of model answers.", {"data_annotation_ai_training"}),
        ("Use ChatGPT to write blog posts.", {"ai_assisted_writing"}),
        ("生成AIを活用してブログ記事を執筆していただきます。", {"ai_assisted_writing"}),
        ("آشنایی با چت‌جی‌پی‌تی برای تولید محتوا", {"ai_assisted_writing"}),
        ("Experience with ChatGPT.", {"generative_ai_tools"}),
        ("Use Claude and Gemini for drafting memos.", {"ai_assisted_writing"}),
        ("Please contact Claude Martin at the front desk.", set()),
        ("Our office is in Gemini Tower.", set()),
        ("Please be prompt with your replies.", set()),
        ("Co-pilot wanted for charter flights.", set()),
        ("We are an AI startup building chatbots for banks.", set()),
        ("Benefits: a paid ChatGPT Plus subscription.", set()),
    ],
)
def test_a_skill_is_mentioned_only_when_a_sentence_asks_for_it(lexicon, text, skills):
    assert mentioned(lexicon, text) == skills


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        # AI naming the employer or Illustrator's file format asks for nothing.
        ("Work at a leading generative AI company on payroll operations.", set()),
        ("Send the final logo as AI, EPS and SVG files.", set()),
        ("入稿はAIデータでお願いします。", set()),
        ("لوگو را با فرمت AI تحویل دهید.", set()),
        (
            "Build LangChain agents for the clients of our AI startup.",
            {"llm_application_development"},
        ),
        # An ambiguous tool name counts beside the words of its work, in every language.
        ("Sunoで動画用のBGMを作っていただきます。", {"generative_audio_video"}),
        ("ساخت ویدیو کوتاه با Runway برای اینستاگرام", {"generative_audio_video"}),
        ("Walk the runway in our fashion show.", set()),
        # A no-code or RPA tool is a skill only with AI in the flow.
        ("Connect Typeform to Airtable with Zapier.", set()),
        ("Build a Zapier flow that asks ChatGPT to tag new leads.", {"workflow_automation"}),
        # Fine-tuning is training a model.
        ("Fine-tune Mistral models on our support tickets.", {"ml_engineering"}),
        ("Fine-tune our onboarding process.", set()),
        # A general-purpose assistant for everyday office work, and copy for ads.
        (
            "Use ChatGPT to summarise meeting notes and plan your day-to-day work.",
            {"generative_ai_tools"},
        ),
        ("生成AIでランディングページのキャッチコピーを作成", {"ai_marketing_seo"}),
        ("Outline reports with ChatGPT before you write them.", {"ai_assisted_writing"}),
        # Generative output checked by hand.
        (
            "Transcribe calls with Whisper and manually correct the names.",
            {"generative_audio_video", "ai_output_review"},
        ),
        ("生成AIで作成した記事の誤りを確認していただきます。", {"ai_output_review"}),
    ],
)
def test_a_term_counts_only_as_what_it_names_in_its_sentence(lexicon, text, skills):
    assert mentioned(lexicon, text) == skills


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        # A Latin product name inside Japanese or Persian text is the product.
        ("Cursorでテストコードを書いていただきます。", {"ai_assisted_coding"}),
        ("آشنایی با Cursor برای توسعه فرانت اند", {"ai_assisted_coding"}),
        ("カーソルを合わせるとメニューが開きます。", set()),
        ("Move the cursor over the button to open the menu.", set()),
        # ...but a tool that is the skill only with AI in the flow still needs the AI.
        ("Zapierでスプレッドシートとチャットワークを連携する作業です。", set()),
        ("اتوماسیون ارسال فاکتور با Zapier", set()),
        # Persian and Japanese spellings of the assistants' names.
        ("نوشتن مقاله وبلاگ با اوپن‌ای‌آی", {"ai_assisted_writing"}),
        ("کار با Copilot مایکروسافت در ورد و اکسل", {"generative_ai_tools"}),
        ("ディープシークでブログ記事を下書きしていただきます。", {"ai_assisted_writing"}),
    ],
)
def test_a_latin_name_in_japanese_or_persian_text_is_the_product(lexicon, text, skills):
    assert mentioned(lexicon, text) == skills


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        ("Use Perplexity to research competitors.", {"ai_research_synthesis"}),
        ("Generate subtitles for our lectures using Whisper.", {"generative_audio_video"}),
        ("Comfortable coding in Cursor or Windsurf.", {"ai_assisted_coding"}),
        # The common word, and a capital that only starts the sentence.
        ("The perplexity of the results surprised the team.", set()),
        ("Voice actor who can whisper softly for ASMR videos.", set()),
        ("Whisper softly into the microphone for ASMR videos.", set()),
    ],
)
def test_a_capitalised_tool_name_inside_a_sentence_is_the_product(lexicon, text, skills):
    assert mentioned(lexicon, text) == skills


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        ("Annotate medical images for a computer-vision model.", {"data_annotation_ai_training"}),
        (
            "Label images with bounding boxes to train our AI models.",
            {"data_annotation_ai_training"},
        ),
        ("Rate chatbot responses for helpfulness.", {"data_annotation_ai_training"}),
        # Without the work it serves, the same words are the skill.
        ("Train computer-vision models for defect detection.", {"ml_engineering"}),
    ],
)
def test_a_skill_that_is_only_the_object_of_another_is_not_reported(lexicon, text, skills):
    assert mentioned(lexicon, text) == skills


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        ("Write a 2,000-word article about artificial intelligence.", set()),
        ("Translate a white paper on the future of generative AI into French.", set()),
        ("Teach a course on artificial intelligence to high-school students.", set()),
        ("Write a research report on AI adoption in hospitals.", set()),
        ("人工知能の歴史についてのコラムを執筆していただきます。", set()),
        ("نوشتن مقاله درباره آینده هوش مصنوعی در پزشکی", set()),
        # Knowing the topic is asked for.
        ("Knowledge about AI and machine learning is a plus.", {"ml_engineering"}),
        ("生成AIに関する知識がある方", {"generative_ai_tools"}),
        # Writing with AI is not writing about it.
        ("Write articles with ChatGPT.", {"ai_assisted_writing"}),
    ],
)
def test_ai_as_the_topic_of_the_work_asks_for_no_skill(lexicon, text, skills):
    assert mentioned(lexicon, text) == skills


def test_a_cue_inside_a_longer_cue_of_another_skill_counts_for_that_skill(taxonomy):
    lexicon = SkillModel(taxonomy).lexicon
    # "copy" is a writing cue, but "ad copy" is marketing's; "write" still counts for writing.
    assert lexicon.attribute("Create ad copy with ChatGPT for Facebook.") == ["ai_marketing_seo"]
    assert lexicon.attribute("Create copy with ChatGPT.") == ["ai_assisted_writing"]


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        (
            "ساخت دستیار فروش با API اوپن‌ای‌آی",
            {"llm_application_development"},
        ),
        ("ویرایش مقالاتی که توسط هوش مصنوعی تولید شده‌اند", {"ai_output_review"}),
        ("بازبینی متن‌های تولیدشده با هوش مصنوعی", {"ai_output_review"}),
        ("Train YOLO models to count cars in drone footage.", {"ml_engineering"}),
        ("生成AIで作った画像を人の目でチェックしてください。", {"ai_output_review"}),
        # Working beside people with AI titles is not their work.
        ("Work closely with ML engineers on the product roadmap.", set()),
        ("AIエンジニアと連携して要件をまとめていただきます。", set()),
        ("همکاری با مهندسان هوش مصنوعی در تعریف نیازمندی‌ها", set()),
        # A tool named in one clause leaves the AI of another clause to its own cues.
        (
            "記事は生成AIで書いてもOKですが、最終チェックは人の目で行ってください。",
            {"ai_assisted_writing", "ai_output_review"},
        ),
        # AI output to check, named after the noun or by a human step.
        ("Polish blog posts generated by AI so they read naturally.", {"ai_output_review"}),
        (
            "Transcribe the calls with Whisper and fix the transcripts by hand.",
            {"generative_audio_video", "ai_output_review"},
        ),
        ("Paint the mural by hand.", set()),
        ("AIで生成された商品説明文をチェックしてください。", {"ai_output_review"}),
        ("Chatbot evaluation: rate each reply for tone.", {"data_annotation_ai_training"}),
        ("Proofread Jasper drafts for our newsletter.", set()),
        ("Jasper AI drafts for our newsletter.", {"ai_assisted_writing"}),
    ],
)
def test_tools_and_phrasings_of_each_language(lexicon, text, skills):
    assert mentioned(lexicon, text) == skills


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        ("Draft listicles with Claude, then add your own anecdotes.", {"ai_assisted_writing"}),
        ("Cut short product clips using Runway for our shop.", {"generative_audio_video"}),
        # A surname after the name, lower case, or a tool that needs AI: not confirmed.
        ("Send the drafts to our editor, with Claude Martin in copy.", set()),
        ("Walk the runway using confident poses for the video shoot.", set()),
        ("Sync leads to the CRM using Zapier.", set()),
    ],
)
def test_an_ambiguous_name_put_to_use_is_the_tool(lexicon, text, skills):
    assert mentioned(lexicon, text) == skills


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        ("Automate invoice entry into Xero with Zapier; no AI needed.", set()),
        ("Connect Zapier to ChatGPT to sort incoming leads.", {"workflow_automation"}),
        ("Record a warm voice-over for our Runway show teaser.", set()),
        ("Sora will record the voice track with you.", set()),
        ("Edit clips generated with Runway for our AI video ads.", {"generative_audio_video"}),
    ],
)
def test_only_ai_asked_for_confirms_an_ambiguous_term(lexicon, text, skills):
    assert mentioned(lexicon, text) == skills


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        ("Use Copilot to speed up writing unit tests.", {"ai_assisted_coding"}),
        (
            "Evaluate LLM replies against a rubric and write better ones.",
            {"data_annotation_ai_training"},
        ),
        ("Draft a policy on the use of generative AI tools.", {"ai_ethics_governance"}),
        ("Review answers generated by the LLM before customers see them.", {"ai_output_review"}),
        ("نوشتن کپشن اینستاگرام با هوش مصنوعی", {"ai_marketing_seo"}),
        ("ساخت ویدیوهای کوتاه با ابزارهای هوش مصنوعی", {"generative_audio_video"}),
        ("Summarise customer interviews for the product team with AI.", {"ai_research_synthesis"}),
        # With more cues of its own, a skill keeps the sentence.
        ("Write and edit blog articles with ChatGPT.", {"ai_assisted_writing"}),
    ],
)
def test_a_tie_of_cues_goes_to_the_skill_the_other_yields_to(lexicon, text, skills):
    assert mentioned(lexicon, text) == skills


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        ("Write SEO blog posts with ChatGPT.", {"ai_assisted_writing", "ai_marketing_seo"}),
        ("生成AIを使ったSEO記事の作成", {"ai_assisted_writing", "ai_marketing_seo"}),
        ("نوشتن مقالات سئو با ChatGPT", {"ai_assisted_writing", "ai_marketing_seo"}),
        ("Write blog posts with ChatGPT.", {"ai_assisted_writing"}),
        ("Plan our SEO strategy with AI tools.", {"ai_marketing_seo"}),
        ("Write SEO landing pages in Writesonic.", {"ai_assisted_writing", "ai_marketing_seo"}),
    ],
)
def test_seo_adds_marketing_beside_the_work_it_is_for(lexicon, text, skills):
    assert mentioned(lexicon, text) == skills


@pytest.mark.parametrize(
    "text",
    [
        "No AI-generated content.",
        "AI tools are not allowed.",
        "AI-written submissions will be rejected.",
        "Translate without machine translation tools like DeepL.",
        "AI使用不可。",
        "生成AIの使用は禁止です。",
        "ChatGPT等のAIツールの利用はご遠慮ください。",
        "استفاده از هوش مصنوعی ممنوع است.",
        "مقاله باید بدون هوش مصنوعی نوشته شود.",
        "We do not accept machine-translated subtitles.",
        "Cover letters written by ChatGPT will be ignored.",
        "ترجمه با گوگل ترنسلیت را قبول نمی‌کنیم.",
        "Apply with a cover letter written by you, not by ChatGPT.",
        "Using ChatGPT will result in immediate termination of the contract.",
        "Never upload our drafts to ChatGPT.",
        "AIで書いた原稿は認めておりません。",
        # Persian verbs in the plural and the singular, joined by a zero-width non-joiner or not.
        "مقالات نوشته شده با هوش مصنوعی پذیرفته نمی‌شوند.",
        "ترجمه ماشینی پذیرفته نمیشود.",
        "لطفا از هوش مصنوعی استفاده نکنند.",
        "از مترجم ماشینی استفاده نکنید.",
        "کپشن‌ها را خودتان بنویسید، نه هوش مصنوعی.",
        "نمی‌خواهیم مقالات با ChatGPT نوشته شوند.",
        "AIを使わずにご自身で執筆してください。",
        "生成AIの利用はできません。",
        "ChatGPTで作成した文章は受け付けていません。",
        "Do not rely on ChatGPT for the final copy.",
        "Please avoid AI-generated images.",
        "Every essay is checked with GPTZero for AI writing.",
    ],
)
def test_a_prohibition_is_reported_and_asks_for_nothing(lexicon, text):
    assert prohibited(lexicon, text)
    assert mentioned(lexicon, text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "No AI experience required.",
        "AIの知識は不要です。",
        "آشنایی با هوش مصنوعی لازم نیست.",
        "نیازی به تجربه کار با هوش مصنوعی نیست.",
        "Bookkeeping in Excel, no machine learning involved.",
        "集計はExcelで行います（AIは使いません）。",
        "チャットボットではなく、スタッフが電話で対応します。",
        "AIの使用は必須ではありません。",
    ],
)
def test_a_negation_asks_for_nothing_and_prohibits_nothing(lexicon, text):
    assert not prohibited(lexicon, text)
    assert mentioned(lexicon, text) == set()


def test_a_persian_prefix_joined_by_a_non_joiner_is_no_negation(lexicon):
    # "بی‌کلام" is "without lyrics", not "without" before the tool.
    text = "ساخت موسیقی بی‌کلام با Suno برای پادکست"
    assert not prohibited(lexicon, text)
    assert mentioned(lexicon, text) == {"generative_audio_video"}


def test_an_ask_and_a_prohibition_in_one_sentence_are_told_apart(lexicon):
    text = "Use Midjourney for mood boards, but AI-generated final artwork is not allowed."
    assert mentioned(lexicon, text) == {"generative_image_design"}
    assert prohibited(lexicon, text)


def test_essential_is_not_read_as_not_allowed(lexicon):
    assert not prohibited(lexicon, "AIの知識が必要不可欠です。")


# --- The result -------------------------------------------------------------------------------


def test_evidence_offsets_point_into_the_description_even_in_html(tiny):
    description = (
        "<h3>Tasks</h3><ul><li>Translate manuals into Spanish with <b>DeepL</b></li>"
        "<li>No AI-generated images, please.</li></ul>"
    )
    result = {}
    tiny.enrich(context(description), result)
    evidence = [e for skill in result["skills"] for e in skill["evidence"]]
    assert evidence and result["ai_policy"]["prohibited"]
    for item in evidence:
        source = description[item["start"] : item["end"]]
        assert item["text"] == source or item["text"] in " ".join(source.split())
    (span,) = result["ai_policy"]["evidence"]
    assert description[span["start"] : span["end"]].startswith("No AI-generated images")


def test_enrich_gives_mentioned_and_inferred_skills_sorted_by_score(tiny):
    description = (
        "- Translate manuals and documents into Spanish\n- Write blog articles with ChatGPT"
    )
    result = {}
    tiny.enrich(context(description), result)
    by_id = {skill["id"]: skill for skill in result["skills"]}
    assert by_id["ai_assisted_writing"]["source"] == "mentioned"
    translation = by_id["machine_translation_post_editing"]
    assert translation["source"] == "inferred"
    (duty,) = translation["evidence"]
    assert description[duty["start"] : duty["end"]] == duty["text"]
    assert duty["text"] == "Translate manuals and documents into Spanish"
    scores = [skill["score"] for skill in result["skills"]]
    assert scores == sorted(scores, reverse=True)
    assert result["ai_policy"] == {"prohibited": False, "evidence": []}


def test_a_japanese_duty_is_inferred_through_the_glossary(tiny):
    result = {}
    tiny.enrich(context("マニュアルの翻訳をお願いします。", language="ja"), result)
    (skill,) = result["skills"]
    assert skill["id"] == "machine_translation_post_editing"
    assert skill["name"] == "機械翻訳のポストエディット"


def test_a_skill_whose_threshold_is_one_is_never_inferred(taxonomy, pipeline):
    never = SkillModel(
        taxonomy,
        inferred=LinearModel(pipeline),
        inferred_ids=TINY_SKILLS,
        thresholds={**dict.fromkeys(TINY_SKILLS, 0.0), "ai_assisted_writing": 1.0},
    )
    result = {}
    never.enrich(context("Write blog articles and product descriptions"), result)
    assert "ai_assisted_writing" not in {skill["id"] for skill in result["skills"]}
    assert never.describe()["skills"][1]["thresholds"]["inferred"] is None


def test_the_serving_model_gives_the_pipeline_probabilities(pipeline):
    # Repeated words next to single ones tell sublinear from raw term frequencies.
    texts = [*(t for t, _ in TINY_DUTIES), "", "翻訳 記事", "translate translate customer articles"]
    assert np.allclose(LinearModel(pipeline).predict_proba(texts), pipeline.predict_proba(texts))


def test_the_component_survives_a_joblib_round_trip(tiny, tmp_path):
    joblib.dump(tiny, tmp_path / "skills.joblib")
    loaded = joblib.load(tmp_path / "skills.joblib")
    description = "- Translate manuals into Spanish\n- Use Midjourney for covers\n- AI使用不可"
    first, second = {}, {}
    tiny.enrich(context(description), first)
    loaded.enrich(context(description), second)
    assert first == second and first["skills"]


def test_every_id_the_component_can_return_is_in_its_taxonomy(tiny, taxonomy):
    ids = set(taxonomy.ids)
    lexicon = tiny.lexicon
    named = {skill for info in lexicon.infos.values() for skill in info.skills}
    assert named | set(lexicon.cues) | {lexicon.fallback} | set(tiny.inferred_ids) <= ids
    assert [skill["id"] for skill in tiny.describe()["skills"]] == list(taxonomy.ids)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"inferred_ids": ["ai_everything"], "thresholds": {"ai_everything": 0.5}}, "not in"),
        ({"inferred_ids": ["ai_assisted_writing"], "thresholds": {}}, "without a threshold"),
    ],
)
def test_a_component_refuses_ids_its_taxonomy_lacks(taxonomy, arguments, message):
    with pytest.raises(TaxonomyError, match=message):
        SkillModel(taxonomy, **arguments)
