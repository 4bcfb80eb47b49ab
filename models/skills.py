"""AI-augmented skills: the taxonomy, the lexicon that finds skills a posting names, and the model
component that adds `skills` and `ai_policy` to each result.

A skill is **mentioned** when a sentence that asks for work (a duty, requirement or untagged
line) names it: a tool or phrase of the skill ("Midjourney", "機械翻訳", "RLHF"), or a generic AI
term ("ChatGPT", "生成AI", "هوش مصنوعی") with the skill's cue words beside it ("use ChatGPT to
write blog posts"). A term that is negated ("no AI experience needed") does not count; one that
is prohibited ("AI-generated content will be rejected", "AI使用不可") does not count either and is
reported in `ai_policy`. For English sentences a text model adds the skills that statements
phrase without a lexicon term. A skill is **inferred** when a duty is work the skill augments:
a model trained on O*NET task statements scores each duty, and a skill is kept when a duty
reaches the skill's threshold. Japanese and Persian duties reach the same model through a
glossary of work words (翻訳 -> translate).

Offsets in evidence point into the description as sent, like the duties' offsets.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml
from scipy import sparse

from models.text import terms, tfidf_rows, tokenize

TAXONOMY_FILE = Path(__file__).resolve().with_name("skills.yaml")
# libyaml's parser when PyYAML was built with it: the same documents, eight times faster, which
# matters to a server's start (the API reads the file as it starts).
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LANGUAGES = ("en", "ja", "fa")
# The ids the product promises, with these meanings (the issue that introduced skills).
REQUIRED_IDS = (
    "prompt_engineering",
    "ai_assisted_writing",
    "machine_translation_post_editing",
    "generative_image_design",
    "ai_assisted_coding",
    "ml_engineering",
    "data_science_analytics",
    "llm_application_development",
    "data_annotation_ai_training",
    "ai_ethics_governance",
    "ai_marketing_seo",
    "conversational_ai_support",
    "ai_output_review",
    "workflow_automation",
    "generative_audio_video",
    "ai_research_synthesis",
)
SOURCES = ("mentioned", "inferred")
# Units whose words say what the worker must do or know. A company blurb ("we are an AI
# startup"), a benefit ("free ChatGPT Plus") or legal text never ask for a skill. Apply units
# are kept: segmentation tags sentences with "apply" or "applications" in them as such ("Apply
# machine learning to ..."), and application instructions rarely name an AI skill.
ASKING_KINDS = frozenset(("duty", "requirement", "other", "apply"))
# Scores of a mention found by the lexicon, before the text model may raise them: a skill term
# is the plainest ask; a generic term given to a skill by its cues, or to the fallback skill for
# lack of cues, says less about which skill is meant.
TERM_SCORE = 0.9
CUE_SCORE = 0.75
FALLBACK_SCORE = 0.6
# A skill is in the result when its score reaches its threshold: MENTION_THRESHOLD for
# mentions (every lexicon mention does; a text-model-only mention needs the model's own
# threshold), and the skill's inferred threshold, chosen in training, for inferences.
MENTION_THRESHOLD = 0.5
# An inferred threshold of 1.0 marks a skill that training could not infer at the precision
# goal; it is then never inferred (a logistic output can round to exactly 1.0).
NEVER = 1.0

_ID = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_IWA_ID = re.compile(r"^4\.A\.\d\.[a-z]\.\d+\.I\d{2}$")
_LATIN = re.compile(r"^[\x20-\x7e\u00b7\u00c0-\u024f\u2010-\u2014]+$")
_ARABIC_LETTER = "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff"
_ARABIC = re.compile(f"[{_ARABIC_LETTER}]")
_LATIN_EDGE = "A-Za-z0-9"
_WORD = re.compile(r"[^\W_]+")
_CLAUSE_MARK = re.compile(r"[;；؛]")
# What may stand between a Japanese term and a topic phrase after it ("AIの歴史について").
_NEAR_AFTER = re.compile(r"[^\s、。,.!?！？]{0,4}")


class TaxonomyError(ValueError):
    """A skills file that is malformed or names something that does not exist."""


# --- Text folding -----------------------------------------------------------------------------
# Matching runs on a folded copy of the text with the same length, so that every match offset is
# an offset into the original: full-width Latin reads as ASCII, a zero-width non-joiner as a
# space, Arabic yeh, alef maksura and kaf as their Persian forms, heh with yeh (ezafe) as heh,
# direction marks as spaces, and dashes as "-".
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FOLD.update(
    {
        0x3000: " ",
        0x00A0: " ",
        0x200C: " ",
        0x200B: " ",
        0x064A: "ی",
        0x0649: "ی",
        0x0643: "ک",
        0x06C0: "ه",
        0x200E: " ",
        0x200F: " ",
        0x2010: "-",
        0x2011: "-",
        0x2012: "-",
        0x2013: "-",
        0x2014: "-",
        0x2212: "-",
        0x2019: "'",
    }
)


def fold(text: str) -> str:
    """Return text lower-cased and folded for matching, with the same length as the input."""
    folded = text.translate(_FOLD)
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    # A few characters lower-case to two ("İ"); keep those as they are so offsets still line up.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)


def _fold_case_kept(text: str) -> str:
    return text.translate(_FOLD)


def _is_latin(term: str) -> bool:
    return _LATIN.match(term) is not None


def _canonical(term: str) -> str:
    """Return the key two spellings of one term share ("Post-editing", "post editing")."""
    return re.sub(r"[\s\-]+", "", fold(term))


# --- Matching ---------------------------------------------------------------------------------


_SEPARATOR = object()  # a space or hyphen inside a Latin term: matches either, or nothing
_GAP = object()  # a space inside a Japanese or Persian term: matches any spacing, or none
_ATOM_PATTERNS = {_SEPARATOR: r"[\s\-]*", _GAP: r"\s*"}


def _latin_atoms(term: str) -> tuple:
    # "fine-tuning", "fine tuning" and "finetuning" are one term.
    parts = [part for part in re.split(r"[\s\-]+", term.strip()) if part]
    atoms: list = []
    for part in parts:
        if atoms:
            atoms.append(_SEPARATOR)
        atoms += list(part)
    return tuple(atoms)


def _script_atoms(term: str) -> tuple:
    atoms: list = []
    for part in fold(term).split():
        if atoms:
            atoms.append(_GAP)
        atoms += list(part)
    return tuple(atoms)


def _latin_body(term: str) -> str:
    return _trie_pattern([_latin_atoms(term)])


def _script_body(term: str) -> str:
    body = _trie_pattern([_script_atoms(term)])
    if _ARABIC.search(term):
        return f"(?<![{_ARABIC_LETTER}]){body}"
    return body


def _atom_key(atoms: tuple) -> tuple:
    return tuple((1, "") if not isinstance(a, str) else (0, a) for a in atoms)


def _trie_pattern(terms: Iterable[tuple]) -> str:
    """Return one regex that matches any of the terms (sequences of atoms), longest first.

    The alternatives share their prefixes, so at each position the engine follows one branch
    instead of trying every term: hundreds of terms cost little more than one.
    """
    trie: dict = {}
    for atoms in terms:
        node = trie
        for atom in atoms:
            node = node.setdefault(atom, {})
        node[None] = {}

    def pattern(node: dict) -> str:
        branches = []
        for atom, child in node.items():
            if atom is None:
                continue
            text = _ATOM_PATTERNS.get(atom) if not isinstance(atom, str) else re.escape(atom)
            branches.append(text + pattern(child))
        if not branches:
            return ""
        # A term that ends here is tried after the longer ones that continue it.
        optional = None in node
        if len(branches) == 1 and not optional:
            return branches[0]
        return "(?:" + "|".join(branches) + ")" + ("?" if optional else "")

    return pattern(trie)


_PERSIAN_EDGE = f"(?<![{_ARABIC_LETTER}])"


def _ascii_path(source: str) -> bool:
    """Tell whether a Japanese or Persian pattern of Matcher could match text of ASCII alone.

    Read from the source `_trie_pattern` wrote: some term of the trie must consist of ASCII
    characters only (gaps match nothing). A source of any other shape counts as a possible match.
    """
    source = source.removeprefix(_PERSIAN_EDGE)
    if not (source.startswith("(?P<t>") and source.endswith(")")):
        return True
    try:
        ascii_only, end = _ascii_sequence(source, len("(?P<t>"))
    except (IndexError, ValueError):
        return True
    return ascii_only or end != len(source) - 1


def _ascii_sequence(source: str, i: int) -> tuple[bool, int]:
    """Parse atoms and groups from i up to a "|" or ")"; return whether all can be ASCII, and i."""
    ascii_only = True
    while i < len(source) and source[i] not in "|)":
        if source.startswith("(?:", i):
            branches_ascii = False
            i += 2
            while source[i] != ")":
                branch_ascii, i = _ascii_sequence(source, i + 1)
                branches_ascii = branches_ascii or branch_ascii
            i += 1
            if source.startswith("?", i):  # a term ends before the group
                branches_ascii = True
                i += 1
            ascii_only = ascii_only and branches_ascii
        elif source.startswith(r"\s*", i):
            i += 3
        elif source[i] == "\\":
            ascii_only = ascii_only and source[i + 1].isascii()
            i += 2
        elif source[i] in "()[]{}?*+":
            raise ValueError(f"unexpected {source[i]!r} at {i}")
        else:
            ascii_only = ascii_only and source[i].isascii()
            i += 1
    return ascii_only, i


@dataclass(frozen=True, slots=True)
class Match:
    """One term found in a text: where, and the key of the term."""

    start: int
    end: int
    key: str


class Matcher:
    """Find terms in text: Latin terms as whole words, Japanese and Persian ones as substrings.

    Latin terms written without a lower-case letter ("AI", "RAG") match only in capitals; all
    others match in any case, with an optional plural "s". `prefix=True` matches Latin terms at
    the start of a word only ("translat" finds "translation"). Overlapping matches keep the
    earliest, then the longest.
    """

    def __init__(self, terms: Iterable[str], prefix: bool = False):
        self.prefix = prefix
        sensitive, insensitive, persian, other = set(), set(), set(), set()
        for term in terms:
            term = term.strip()
            if not term:
                continue
            if _is_latin(term):
                if any(c.islower() for c in term):
                    insensitive.add(_latin_atoms(fold(term)))
                else:
                    sensitive.add(_latin_atoms(term))
            elif _ARABIC.match(fold(term)):
                persian.add(_script_atoms(term))
            else:
                other.add(_script_atoms(term))
        edge = rf"(?<![{_LATIN_EDGE}])"
        end = "" if prefix else rf"(?:'?s|es)?(?![{_LATIN_EDGE}])"
        self._sensitive = self._compile(sensitive, edge, end)
        self._insensitive = self._compile(insensitive, edge, end)
        # Persian words take suffixes but no prefixes that would hide another word's start.
        persian_pattern = self._compile(persian, f"(?<![{_ARABIC_LETTER}])", "")
        self._script = [p for p in (persian_pattern, self._compile(other, "", "")) if p]
        self._size = len(sensitive) + len(insensitive) + len(persian) + len(other)
        self._index_scripts()

    def _index_scripts(self) -> None:
        # Text of ASCII alone (most postings) is scanned only by the script patterns that could
        # match in it: none, unless a Japanese or Persian term folds to ASCII characters only.
        self._ascii_script = [p for p in self._script if _ascii_path(p.pattern)]

    def __getstate__(self) -> dict:
        state = dict(vars(self))
        state.pop("_ascii_script", None)
        return state

    def __setstate__(self, state: dict) -> None:
        vars(self).update(state)
        self._index_scripts()

    @staticmethod
    def _compile(terms: set[tuple], before: str, after: str) -> re.Pattern | None:
        if not terms:
            return None
        # The trie tries longer continuations first, so "AI tools" wins over "AI".
        return re.compile(f"{before}(?P<t>{_trie_pattern(sorted(terms, key=_atom_key))}){after}")

    def __bool__(self) -> bool:
        return self._size > 0

    def find(self, text: str, folded: str | None = None, cased: str | None = None) -> list[Match]:
        """Return the non-overlapping terms in text, in order."""
        folded = fold(text) if folded is None else folded
        found = []
        if self._sensitive is not None:
            cased = _fold_case_kept(text) if cased is None else cased
            found += [
                Match(m.start(), m.end(), _canonical(m.group("t")))
                for m in self._sensitive.finditer(cased)
            ]
        scripts = self._ascii_script if folded.isascii() else self._script
        for pattern in (self._insensitive, *scripts):
            if pattern is not None:
                found += [
                    Match(m.start(), m.end(), _canonical(m.group("t")))
                    for m in pattern.finditer(folded)
                ]
        if len(found) < 2:
            return found
        found.sort(key=lambda m: (m.start, -(m.end - m.start)))
        kept, last_end = [], -1
        for match in found:
            if match.start >= last_end:
                kept.append(match)
                last_end = match.end
        return kept

    def search(self, text: str, folded: str | None = None, cased: str | None = None) -> bool:
        """Return whether any term occurs in text."""
        folded = fold(text) if folded is None else folded
        if self._sensitive is not None:
            cased = _fold_case_kept(text) if cased is None else cased
            if self._sensitive.search(cased):
                return True
        scripts = self._ascii_script if folded.isascii() else self._script
        return any(p is not None and p.search(folded) for p in (self._insensitive, *scripts))


# --- Taxonomy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skill:
    """One AI-augmented skill of the taxonomy."""

    id: str
    name: dict[str, str]
    description: str
    inferred: bool
    iwas: tuple[str, ...]
    terms: dict[str, tuple[str, ...]]
    ambiguous: frozenset[str]
    cues: dict[str, tuple[str, ...]]
    # Defaults, so that a taxonomy pickled before these fields existed still loads.
    needs_ai: frozenset[str] = frozenset()
    object_of: tuple[str, ...] = ()
    proper_names: frozenset[str] = frozenset()
    adding_cues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    yields_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """The validated skills file."""

    version: int
    skills: tuple[Skill, ...]
    generic_terms: dict[str, tuple[str, ...]]
    generic_ambiguous: frozenset[str]
    fallback: str
    ai_context: dict[str, tuple[str, ...]]
    policy: dict[str, dict[str, tuple[str, ...]]]
    glossary: dict[str, dict[str, str]]
    iwa_titles: dict[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> tuple[str, ...]:
        """Return the skill ids in file order."""
        return tuple(skill.id for skill in self.skills)

    def skill(self, skill_id: str) -> Skill:
        """Return the skill with this id."""
        for skill in self.skills:
            if skill.id == skill_id:
                return skill
        raise KeyError(skill_id)

    def describe(self) -> list[dict]:
        """Return the skills as plain data, for the API and the model card."""
        return [
            {
                "id": skill.id,
                "name": dict(skill.name),
                "description": skill.description,
                "inferred": skill.inferred,
                "iwas": [{"id": iwa, "title": self.iwa_titles.get(iwa)} for iwa in skill.iwas],
                "terms": {language: list(terms) for language, terms in skill.terms.items()},
            }
            for skill in self.skills
        ]


POLICY_KEYS = ("prohibit", "negate", "needed", "before", "after", "except", "clause_breaks")
# Policy lists a skills file may leave out.
OPTIONAL_POLICY_KEYS = ("topic", "competence", "tool_use")


def load_taxonomy(
    path: str | Path = TAXONOMY_FILE, iwa_titles: Mapping[str, str] | None = None
) -> Taxonomy:
    """Read and validate a skills file; with `iwa_titles` (IWA id -> title), check the IWA ids."""
    path = Path(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
    except FileNotFoundError as error:
        raise TaxonomyError(f"no skills file at {path}") from error
    except yaml.YAMLError as error:
        raise TaxonomyError(f"skills file {path} is not valid YAML: {error}") from error
    return parse_taxonomy(document, iwa_titles, source=str(path))


def parse_taxonomy(
    document: Any, iwa_titles: Mapping[str, str] | None = None, source: str = "skills file"
) -> Taxonomy:
    """Validate a parsed skills document; every error names the entry it is about."""
    errors: list[str] = []
    if not isinstance(document, dict):
        raise TaxonomyError(f"{source}: the top level must be a mapping")
    entries = document.get("skills")
    if not isinstance(entries, list) or not entries:
        raise TaxonomyError(f"{source}: 'skills' must be a non-empty list")

    skills: list[Skill] = []
    seen: set[str] = set()
    named = {entry.get("id") for entry in entries if isinstance(entry, dict)}
    for index, entry in enumerate(entries):
        skill = _parse_skill(entry, index, iwa_titles, errors)
        if skill is None:
            continue
        if skill.id in seen:
            errors.append(f"skill {skill.id!r} (entry {index + 1}): duplicate id")
            continue
        seen.add(skill.id)
        skills.append(skill)
    for required in REQUIRED_IDS:
        if required not in named:
            errors.append(f"skill {required!r}: required id is missing")

    generic = document.get("generic")
    if not isinstance(generic, dict):
        errors.append("generic: must be a mapping with 'fallback', 'terms' and 'ambiguous'")
        generic = {}
    generic_terms = _languages(generic.get("terms"), "generic.terms", errors, non_empty=True)
    generic_ambiguous = _strings(generic.get("ambiguous", []), "generic.ambiguous", errors)
    _check_ambiguous(generic_ambiguous, generic_terms, "generic", errors)
    fallback = generic.get("fallback")
    if fallback not in named:
        errors.append(f"generic.fallback: {fallback!r} is not a skill id")

    ai_context = _languages(document.get("ai_context"), "ai_context", errors)
    policy_document = document.get("policy")
    if not isinstance(policy_document, dict):
        errors.append(f"policy: must be a mapping with {', '.join(POLICY_KEYS)}")
        policy_document = {}
    policy = {
        key: _languages(policy_document.get(key), f"policy.{key}", errors) for key in POLICY_KEYS
    }
    for key in OPTIONAL_POLICY_KEYS:
        policy[key] = _languages(policy_document.get(key, {}), f"policy.{key}", errors)
    for skill in skills:
        for key, others in (("object_of", skill.object_of), ("yields_to", skill.yields_to)):
            for other in others:
                if other not in named or other == skill.id:
                    errors.append(f"skill {skill.id!r}: {key} names {other!r}, not another skill")
    yielding = {skill.id: set(skill.yields_to) for skill in skills}
    for skill in skills:
        for other in skill.yields_to:
            if skill.id in yielding.get(other, ()) and skill.id < other:
                errors.append(f"skills {skill.id!r} and {other!r} yield to each other")

    glossary_document = document.get("glossary")
    glossary: dict[str, dict[str, str]] = {}
    if not isinstance(glossary_document, dict):
        errors.append("glossary: must map 'ja' and 'fa' to {term: English words}")
        glossary_document = {}
    for language, words in glossary_document.items():
        if language not in LANGUAGES or not isinstance(words, dict):
            errors.append(f"glossary.{language}: must be a language code mapping terms to words")
            continue
        for term, english in words.items():
            if not isinstance(term, str) or not isinstance(english, str) or not english.strip():
                errors.append(f"glossary.{language}.{term}: must map a term to English words")
        glossary[language] = {str(k): str(v) for k, v in words.items()}

    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        errors.append("version: must be an integer")
    if errors:
        raise TaxonomyError(f"{source}: " + "; ".join(errors))
    used = {iwa for skill in skills for iwa in skill.iwas}
    titles = {iwa: str(iwa_titles[iwa]) for iwa in sorted(used)} if iwa_titles else {}
    return Taxonomy(
        version=version,
        skills=tuple(skills),
        generic_terms=generic_terms,
        generic_ambiguous=frozenset(generic_ambiguous),
        fallback=fallback,
        ai_context=ai_context,
        policy=policy,
        glossary=glossary,
        iwa_titles=titles,
    )


def _parse_skill(
    entry: Any, index: int, iwa_titles: Mapping[str, str] | None, errors: list[str]
) -> Skill | None:
    if not isinstance(entry, dict):
        errors.append(f"skill entry {index + 1}: must be a mapping")
        return None
    skill_id = entry.get("id")
    if not isinstance(skill_id, str) or not _ID.match(skill_id):
        errors.append(f"skill entry {index + 1}: id {skill_id!r} must be snake_case")
        return None
    where = f"skill {skill_id!r}"
    count = len(errors)
    name = entry.get("name")
    if not isinstance(name, dict):
        errors.append(f"{where}: name must map {', '.join(LANGUAGES)} to names")
        name = {}
    for language in LANGUAGES:
        value = name.get(language)
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{where}: name.{language} is empty")
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip() or "\n" in description.strip():
        errors.append(f"{where}: description must be one non-empty line")
    inferred = entry.get("inferred", True)
    if not isinstance(inferred, bool):
        errors.append(f"{where}: inferred must be true or false")
    iwas = _strings(entry.get("iwas"), f"{where}: iwas", errors)
    if not iwas:
        errors.append(f"{where}: iwas must list at least one O*NET IWA id")
    for iwa in iwas:
        if not _IWA_ID.match(iwa):
            errors.append(f"{where}: IWA id {iwa!r} is malformed")
        elif iwa_titles is not None and iwa not in iwa_titles:
            errors.append(f"{where}: unknown IWA id {iwa!r}")
    if len(set(iwas)) != len(iwas):
        errors.append(f"{where}: an IWA id is listed twice")
    terms = _languages(entry.get("terms"), f"{where}: terms", errors, non_empty=True)
    ambiguous = _strings(entry.get("ambiguous", []), f"{where}: ambiguous", errors)
    _check_ambiguous(ambiguous, terms, where, errors)
    needs_ai = _strings(entry.get("needs_ai", []), f"{where}: needs_ai", errors)
    _check_ambiguous(needs_ai, terms, where, errors)
    proper_names = _strings(entry.get("proper_names", []), f"{where}: proper_names", errors)
    for term in proper_names:
        if term not in ambiguous or not _is_latin(term):
            errors.append(f"{where}: proper name {term!r} is not one of its Latin ambiguous terms")
    cues = _languages(entry.get("cues"), f"{where}: cues", errors)
    adding_cues = _languages(entry.get("adding_cues", {}), f"{where}: adding_cues", errors)
    object_of = _strings(entry.get("object_of", []), f"{where}: object_of", errors)
    yields_to = _strings(entry.get("yields_to", []), f"{where}: yields_to", errors)
    if len(errors) > count:
        return None
    return Skill(
        id=skill_id,
        name={language: name[language].strip() for language in LANGUAGES},
        description=description.strip(),
        inferred=inferred,
        iwas=tuple(iwas),
        terms=terms,
        ambiguous=frozenset(ambiguous),
        cues=cues,
        needs_ai=frozenset(needs_ai),
        object_of=tuple(object_of),
        proper_names=frozenset(proper_names),
        adding_cues=adding_cues,
        yields_to=tuple(yields_to),
    )


def _strings(value: Any, where: str, errors: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors.append(f"{where} must be a list of non-empty strings (quote 'no', 'yes', 'on')")
        return []
    return [v.strip() for v in value]


def _languages(
    value: Any, where: str, errors: list[str], non_empty: bool = False
) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        errors.append(f"{where} must map {', '.join(LANGUAGES)} to lists")
        return {language: () for language in LANGUAGES}
    result = {}
    for language in LANGUAGES:
        items = _strings(value.get(language, []), f"{where}.{language}", errors)
        if non_empty and not items:
            errors.append(f"{where}.{language} is empty")
        keys = [_canonical(item) for item in items]
        duplicates = sorted(
            {item for item, key in zip(items, keys, strict=True) if keys.count(key) > 1}
        )
        if duplicates:
            errors.append(f"{where}.{language} lists {', '.join(map(repr, duplicates))} twice")
        result[language] = tuple(items)
    unknown = set(value) - set(LANGUAGES)
    if unknown:
        errors.append(f"{where} has unknown languages {sorted(unknown)}")
    return result


def _check_ambiguous(
    ambiguous: list[str], terms: dict[str, tuple[str, ...]], where: str, errors: list[str]
) -> None:
    known = {_canonical(term) for items in terms.values() for term in items}
    for term in ambiguous:
        if _canonical(term) not in known:
            errors.append(f"{where}: ambiguous term {term!r} is not one of its terms")


# --- Lexicon ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TermInfo:
    """What a matched term says: the skills it names (none for a generic AI term)."""

    skills: frozenset[str]
    generic: bool
    ambiguous: bool


@dataclass(frozen=True, slots=True)
class Hit:
    """An AI term in the description, judged in its clause."""

    start: int
    end: int
    info: TermInfo
    polarity: str  # "ask", "negated" or "prohibited"
    confirmed: bool  # False for an ambiguous term with no AI context in its sentence
    clause: tuple[int, int]  # the clause the term was judged in


def _all(terms: Mapping[str, Sequence[str]]) -> list[str]:
    return [term for language in LANGUAGES for term in terms.get(language, ())]


class Lexicon:
    """The compiled lexicon of a taxonomy: terms, cues, AI context and policy phrases."""

    # Defaults for a lexicon pickled before these attributes existed: it judges as it did then.
    needs_ai: frozenset[str] = frozenset()
    proper_names: frozenset[str] = frozenset()
    adding_cues: Mapping[str, Matcher] = MappingProxyType({})
    yields_to: Mapping[str, frozenset[str]] = MappingProxyType({})
    topic: Matcher | None = None
    competence: Matcher | None = None
    tool_use: frozenset[str] = frozenset()

    def __init__(self, taxonomy: Taxonomy):
        infos: dict[str, set[str]] = {}
        ambiguous: set[str] = set()
        generic: set[str] = set()
        needs_ai: set[str] = set()
        proper_names: set[str] = set()
        for skill in taxonomy.skills:
            for term in _all(skill.terms):
                infos.setdefault(_canonical(term), set()).add(skill.id)
            ambiguous |= {_canonical(term) for term in skill.ambiguous | skill.needs_ai}
            needs_ai |= {_canonical(term) for term in skill.needs_ai}
            proper_names |= {_canonical(term) for term in skill.proper_names}
        self.needs_ai = frozenset(needs_ai)
        self.proper_names = frozenset(proper_names)
        for term in _all(taxonomy.generic_terms):
            key = _canonical(term)
            infos.setdefault(key, set())
            generic.add(key)
        ambiguous |= {_canonical(term) for term in taxonomy.generic_ambiguous}
        # A term listed under a skill and as generic names the skill.
        self.infos = {
            key: TermInfo(frozenset(ids), not ids and key in generic, key in ambiguous)
            for key, ids in infos.items()
        }
        all_terms = [t for s in taxonomy.skills for t in _all(s.terms)]
        self.terms = Matcher(all_terms + _all(taxonomy.generic_terms))
        self.cues = {
            skill.id: Matcher(_all(skill.cues), prefix=True)
            for skill in taxonomy.skills
            if any(skill.cues.values())
        }
        self.adding_cues = {
            skill.id: Matcher(_all(skill.adding_cues), prefix=True)
            for skill in taxonomy.skills
            if any(skill.adding_cues.values())
        }
        self.yields_to = {
            skill.id: frozenset(skill.yields_to) for skill in taxonomy.skills if skill.yields_to
        }
        self.fallback = taxonomy.fallback
        self.context = Matcher(_all(taxonomy.ai_context))
        policy = taxonomy.policy
        self.prohibit = Matcher(_all(policy["prohibit"]))
        self.negate = Matcher(_all(policy["negate"]))
        self.needed = Matcher(_all(policy["needed"]), prefix=True)
        self.breaks = Matcher(_all(policy["clause_breaks"]))
        self.excepted = Matcher(_all(policy["except"]))
        self.topic = Matcher(_all(policy.get("topic", {})))
        self.competence = Matcher(_all(policy.get("competence", {})), prefix=True)
        self.before = frozenset(fold(word) for word in _all(policy["before"]))
        self.tool_use = frozenset(fold(word) for word in _all(policy.get("tool_use", {})))
        after = []
        for word in _all(policy["after"]):
            body = _latin_body(fold(word)) if _is_latin(word) else _script_body(word)
            after.append(body + (rf"(?![{_LATIN_EDGE}])" if _is_latin(word) else ""))
        after.sort(key=len, reverse=True)
        self.after = re.compile(r"[\s\-]*(?:" + "|".join(after) + ")") if after else None

    def hits(self, text: str, spans: Sequence[tuple[int, int]]) -> list[Hit]:
        """Find the AI terms of text inside the given (start, end) spans, each judged in its span.

        A span is one sentence (a unit) or one heading line; clauses end at the policy's clause
        breaks and at semicolons.
        """
        folded = fold(text)
        cased = _fold_case_kept(text)
        matches = [m for m in self.terms.find(text, folded, cased) if m.key in self.infos]
        if not matches:
            return []
        starts = [start for start, _ in spans]
        by_span: dict[int, list[Match]] = {}
        for match in matches:
            i = bisect_right(starts, match.start) - 1
            if i >= 0 and match.end <= spans[i][1]:
                by_span.setdefault(i, []).append(match)
        result = []
        for i, span_matches in sorted(by_span.items()):
            start, end = spans[i]
            result += self._judge(
                text[start:end], folded[start:end], cased[start:end], span_matches, start
            )
        return result

    def _judge(
        self, text: str, folded: str, cased: str, matches: list[Match], offset: int
    ) -> list[Hit]:
        """Judge the terms of one span: confirmed or not, and asked, negated or prohibited."""
        excepted = self.excepted.find(text, folded, cased)
        # A term inside an excepted phrase is not AI asked for ("an AI company", "AI files").
        local = [
            Match(m.start - offset, m.end - offset, m.key)
            for m in matches
            if not any(e.start < m.end - offset and m.start - offset < e.end for e in excepted)
        ]
        if not local:
            return []
        # Japanese and Persian text write a word's other meanings in their own script ("カーソル",
        # "クロード"), so a Latin name in it is the product's ("Cursorでテストコードを書く").
        foreign = not _mostly_latin(text)
        # Excepted phrases ("不可欠", "no doubt") are blanked so that no cue is read inside them.
        for m in excepted:
            blank = " " * (m.end - m.start)
            folded = folded[: m.start] + blank + folded[m.end :]
            cased = cased[: m.start] + blank + cased[m.end :]
        breaks = sorted(
            {edge for m in self.breaks.find(text, folded, cased) for edge in (m.start, m.end)}
            | {m.start() for m in _CLAUSE_MARK.finditer(folded)}
        )
        judged = []
        scoped: dict[tuple[int, int], str] = {}  # clause -> polarity a before-word gave it
        for match in local:
            clause = _clause(breaks, match.start, match.end, len(folded))
            polarity = self._polarity(folded, cased, clause, match.start, match.end)
            if polarity == "ask" and clause in scoped:
                # "without machine translation tools like DeepL": the "without" covers the list.
                polarity = scoped[clause]
            elif polarity != "ask" and self._before(folded, clause, match.start):
                scoped[clause] = polarity
            judged.append((match, clause, polarity))
        # An AI term that is negated, prohibited or a topic confirms no term that is asked for:
        # in "automate invoices with Zapier; no AI needed" Zapier is not AI work.
        not_asked = [m for m, _, polarity in judged if polarity != "ask"]
        contexts = self.context.find(text, folded, cased)
        asked_contexts = [
            c for c in contexts if not any(m.start < c.end and c.start < m.end for m in not_asked)
        ]
        # What confirms an asked-for term is only what is asked for too; a term that is not
        # asked for is judged with all of them. Per group: a plain AI term, and the ambiguous ones.
        confirming = {}
        for asked in (True, False):
            group = [m for m, _, p in judged if p == "ask" or not asked]
            confirming[asked] = (
                any(not self.infos[m.key].ambiguous for m in group),
                {m.key for m in group if self.infos[m.key].ambiguous},
                asked_contexts if asked else contexts,
            )
        hits = []
        for match, clause, polarity in judged:
            info = self.infos[match.key]
            plain, ambiguous_keys, near = confirming[polarity == "ask"]
            # An ambiguous term counts with an AI word that is not itself, another AI term, or
            # a second ambiguous AI name ("Claude and Gemini").
            # A proper name written in lower case is the common word ("can whisper softly in
            # a warm voice") unless another AI term is there: context words do not confirm it.
            common_word = match.key in self.proper_names and text[match.start].islower()
            confirmed = (
                not info.ambiguous
                or plain
                or len(ambiguous_keys) > 1
                or (
                    not common_word
                    and any(c.end <= match.start or c.start >= match.end for c in near)
                )
                or (
                    foreign
                    and match.key not in self.needs_ai
                    and _is_latin(text[match.start : match.end])
                )
                or (match.key in self.proper_names and _named(text, match.start))
                or self._used_as_tool(text, folded, match)
            )
            hits.append(
                Hit(
                    match.start + offset,
                    match.end + offset,
                    info,
                    polarity,
                    confirmed,
                    (clause[0] + offset, clause[1] + offset),
                )
            )
        return hits

    def _used_as_tool(self, text: str, folded: str, match: Match) -> bool:
        """Tell whether an ambiguous one-word name is written as a tool put to use: capitalised,
        right after a word of use ("drafts with Claude", "using Runway"), and not followed by
        a capitalised word, as a person's surname would be ("with Claude Martin")."""
        name = text[match.start : match.end]
        if (
            not self.tool_use
            or match.key in self.needs_ai
            or not _is_latin(name)
            or not name[:1].isupper()
            or not name.isalnum()
        ):
            return False
        before = _WORD.findall(folded[: match.start])
        after = _WORD.search(text, match.end)
        surname = (
            after is not None
            and after.group()[0].isupper()
            and (not text[match.end : after.start()].strip())
        )
        return bool(before) and before[-1] in self.tool_use and not surname

    def _before(self, folded: str, clause: tuple[int, int], start: int) -> bool:
        return any(w in self.before for w in _WORD.findall(folded[clause[0] : start])[-3:])

    def _polarity(
        self, folded: str, cased: str, clause: tuple[int, int], start: int, end: int
    ) -> str:
        """Judge one term in its clause: asked for, negated, prohibited, or only the topic of
        the work ("an article about AI")."""
        clause_start, clause_end = clause
        words = folded[clause_start:clause_end]
        cased_words = cased[clause_start:clause_end]
        if self.prohibit.search(words, words, cased_words):
            return "prohibited"
        if self.negate.search(words, words, cased_words):
            return "negated"
        if self._before(folded, clause, start):
            needed = self.needed.search(words, words, cased_words)
            return "negated" if needed else "prohibited"
        if self.after is not None and self.after.match(folded, end, clause_end):
            return "prohibited"
        if self._topic(folded, cased, clause, start, end):
            return "topic"
        return "ask"

    def _topic(
        self, folded: str, cased: str, clause: tuple[int, int], start: int, end: int
    ) -> bool:
        """Tell whether a topic phrase makes the term the subject of the work: up to two words
        before it in English and Persian ("about generative AI", "درباره آینده هوش مصنوعی"), a
        few characters after it in Japanese ("人工知能の歴史について"). Asking to know the topic
        ("knowledge about AI", "AIに関する知識") is still an ask."""
        if not self.topic:
            return False
        clause_start, clause_end = clause
        words = folded[clause_start:clause_end]
        cased_words = cased[clause_start:clause_end]
        for m in self.topic.find(words, words, cased_words):
            m_start, m_end = m.start + clause_start, m.end + clause_start
            if _ARABIC.search(words[m.start : m.end]) or _is_latin(words[m.start : m.end]):
                about = m_end <= start and len(_WORD.findall(folded[m_end:start])) <= 2
            else:
                about = m_start >= end and _NEAR_AFTER.fullmatch(folded[end:m_start]) is not None
            if about:
                return not (self.competence and self.competence.search(words, words, cased_words))
        return False

    def adding(self, text: str, folded: str | None = None) -> set[str]:
        """Return the skills whose adding cues a text has ("SEO" adds marketing)."""
        folded = fold(text) if folded is None else folded
        return {
            skill for skill, matcher in self.adding_cues.items() if matcher.search(text, folded)
        }

    def attribute(self, text: str) -> list[str]:
        """Return the skills whose cues a sentence has most of, or the fallback skill, and the
        skills whose adding cues it has ("SEO articles" are writing and marketing).

        Of skills tied on cues, one that yields to another tied skill is dropped: in "writing
        unit tests" the writing is code.
        """
        folded = fold(text)
        cased = _fold_case_kept(text)
        found = {skill: matcher.find(text, folded, cased) for skill, matcher in self.cues.items()}
        # A cue inside a longer cue of another skill is part of that phrase: "ad copy" is
        # marketing's, not writing's "copy".
        spans = [(m.start, m.end, skill) for skill, matches in found.items() for m in matches]
        counts = {
            skill: sum(
                not any(
                    s <= m.start and m.end <= e and e - s > m.end - m.start and other != skill
                    for s, e, other in spans
                )
                for m in matches
            )
            for skill, matches in found.items()
        }
        best = max(counts.values(), default=0)
        if best == 0:
            return [self.fallback]
        adding = self.adding(text, folded)
        tied = {skill for skill, count in counts.items() if count == best}
        # A skill its adding cues bring in stands beside the others and takes nothing from them.
        leading = tied - adding
        tied -= {skill for skill in tied if self.yields_to.get(skill, frozenset()) & leading}
        return [skill for skill in counts if skill in tied or skill in adding]


# --- Inferred-skill features ------------------------------------------------------------------


class GlossaryTokenizer:
    """Tokenize a duty for the inferred-skill model, in English, Japanese or Persian.

    English words become stems (models.text.tokenize). Japanese and Persian work words found in
    the glossary become the stems of their English glosses, so a duty such as "マニュアルの翻訳"
    reaches the same features as "translate manuals".
    """

    def __init__(self, glossary: Mapping[str, Mapping[str, str]]):
        self.words = {
            _canonical(term): english
            for language in glossary
            for term, english in glossary[language].items()
        }
        self.matcher = Matcher(term for language in glossary for term in glossary[language])

    def __call__(self, text: str) -> list[str]:
        tokens = tokenize(text)
        if text.isascii():
            return tokens
        for match in self.matcher.find(text):
            tokens += tokenize(self.words.get(match.key, ""))
        return tokens


class LinearModel:
    """A fitted TF-IDF + one-vs-rest logistic regression pipeline, kept for serving as its
    vocabulary, idf weights and one weight matrix.

    The probabilities are the pipeline's (each label's logistic function of its decision), but
    one pass of plain Python and one sparse-dense product replace a vectorizer call and a call
    per label, each paying scikit-learn's input checks: a fraction of a millisecond per posting
    instead of several.
    """

    def __init__(self, pipeline: Any):
        steps = pipeline.named_steps
        features, estimators = steps["features"], steps["classifier"].estimators_
        supported = (
            features.analyzer == "word"
            and features.norm == "l2"
            and features.use_idf
            and not features.binary
            and features.preprocessor is None
            and features.stop_words is None
            and not features.lowercase
        )
        if not supported:
            raise TaxonomyError("LinearModel supports word n-gram TF-IDF with l2 norm only")
        if not all(hasattr(e, "coef_") for e in estimators):
            raise TaxonomyError("every label of a skills model needs positive training examples")
        self.tokenizer = features.tokenizer
        self.ngram_range = tuple(features.ngram_range)
        self.sublinear_tf = bool(features.sublinear_tf)
        self.vocabulary = dict(features.vocabulary_)
        self.idf = features.idf_.astype(np.float64)
        # Row-major, like every LinearModel once loaded (__setstate__): scipy would copy a
        # column-major right operand on every product.
        self.weights = np.ascontiguousarray(
            np.vstack([e.coef_.ravel() for e in estimators]).T, dtype=np.float32
        )
        self.bias = np.array([e.intercept_[0] for e in estimators], dtype=np.float32)

    def __setstate__(self, state: dict) -> None:
        # Models saved before the weights were row-major: the same numbers, laid out for the
        # product.
        vars(self).update(state)
        self.weights = np.ascontiguousarray(self.weights)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Return the TF-IDF rows of texts, as the fitted vectorizer would."""
        shape = (len(texts), len(self.idf))
        if not texts:
            return sparse.csr_matrix(shape)
        values, columns, indptr = tfidf_rows(
            texts,
            lambda text: terms(text, self.tokenizer, self.ngram_range),
            self.vocabulary,
            self.idf,
            self.sublinear_tf,
        )
        # float32 like the weights, so the product does not copy them to float64 each call.
        return sparse.csr_matrix(
            (values.astype(np.float32), columns, np.array(indptr)), shape=shape
        )

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return one probability per label for each text."""
        decision = np.asarray(self.transform(texts) @ self.weights, dtype=np.float64) + self.bias
        return 1.0 / (1.0 + np.exp(-decision))


# --- The model component ----------------------------------------------------------------------


class SkillModel:
    """The skills component of a model: adds `skills` and `ai_policy` to each result.

    `inferred` maps a duty text to one probability per inferred skill (predict_proba columns in
    `inferred_ids` order) and `thresholds` holds each inferred skill's threshold. `mentioned`,
    optional, maps an English sentence to one probability per skill in `mentioned_ids` order:
    it raises the score of a skill the lexicon found in the same sentence, and gives the sentence
    any other skill whose probability reaches `mentioned_threshold`. A sentence whose AI terms
    are all negated, prohibited or only its topic is not read by it.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        inferred: Any = None,
        inferred_ids: Sequence[str] = (),
        thresholds: Mapping[str, float] | None = None,
        mentioned: Any = None,
        mentioned_ids: Sequence[str] = (),
        mentioned_threshold: float = 1.0,
    ):
        self.taxonomy = taxonomy
        self.lexicon = Lexicon(taxonomy)
        self.inferred = inferred
        self.inferred_ids = tuple(inferred_ids)
        self.thresholds = dict(thresholds or {})
        self.mentioned = mentioned
        self.mentioned_ids = tuple(mentioned_ids)
        self.mentioned_threshold = float(mentioned_threshold)
        unknown = (set(self.inferred_ids) | set(self.mentioned_ids)) - set(taxonomy.ids)
        if unknown:
            raise TaxonomyError(
                f"the skills model returns ids not in its taxonomy: {sorted(unknown)}"
            )
        missing = set(self.inferred_ids) - set(self.thresholds)
        if missing:
            raise TaxonomyError(f"inferred skills without a threshold: {sorted(missing)}")
        self._names = {skill.id: skill.name for skill in taxonomy.skills}

    # The result ---------------------------------------------------------------------------

    def enrich(self, context: Any, result: dict) -> None:
        """Add `skills` (mentioned and inferred) and `ai_policy` to a scored posting's result."""
        mentions, prohibitions = self.mentions(context.description, context.units)
        inferences = self.inferences(context.duties)
        entries = {}
        for skill_id, (score, spans) in inferences.items():
            entries[skill_id] = self._entry(skill_id, score, "inferred", spans, context)
        for skill_id, (score, spans) in mentions.items():
            inferred_score = inferences.get(skill_id, (0.0, []))[0]
            entries[skill_id] = self._entry(
                skill_id, max(score, inferred_score), "mentioned", spans, context
            )
        result["skills"] = sorted(entries.values(), key=lambda e: (-e["score"], e["id"]))
        result["ai_policy"] = {
            "prohibited": bool(prohibitions),
            "evidence": [self._evidence(context.description, *span) for span in prohibitions],
        }

    def _entry(self, skill_id: str, score: float, source: str, spans, context) -> dict:
        language = getattr(context, "language", "en")
        names = self._names[skill_id]
        return {
            "id": skill_id,
            "name": names.get(language, names["en"]),
            "score": round(float(score), 4),
            "source": source,
            "evidence": [self._evidence(context.description, s, e, t) for s, e, t in spans],
        }

    @staticmethod
    def _evidence(description: str, start: int, end: int, text: str | None = None) -> dict:
        return {
            "text": description[start:end] if text is None else text,
            "start": start,
            "end": end,
        }

    # Mentioned ----------------------------------------------------------------------------

    def mentions(
        self, description: str, units: Sequence[Any]
    ) -> tuple[dict[str, tuple[float, list]], list[tuple[int, int, str]]]:
        """Return the skills the description asks for, {id: (score, [(start, end, None)])},
        and its AI prohibitions as [(start, end, text)]."""
        spans = _spans(description, units)
        # Text that segmentation made no unit of is headings, unless it made no unit at all (a
        # one-line gig it read as a heading): then each line is a sentence of the posting.
        kinds = {(u.start, u.end): u.kind for u in units} or {span: "other" for span in spans}
        texts = {(u.start, u.end): u.text for u in units}
        hits = self.lexicon.hits(description, spans)
        # span -> skill -> [score, evidence spans]: a sentence's skills are judged together.
        per_span: dict[tuple[int, int], dict[str, list]] = {}
        prohibitions: list[tuple[int, int, str]] = []
        by_span: dict[tuple[int, int], list[Hit]] = {}
        starts = [s for s, _ in spans]
        for hit in hits:
            span = spans[bisect_right(starts, hit.start) - 1]
            by_span.setdefault(span, []).append(hit)
        for span, span_hits in by_span.items():
            if any(h.polarity == "prohibited" and h.confirmed for h in span_hits):
                text = texts.get(span, " ".join(description[span[0] : span[1]].split()))
                prohibitions.append((span[0], span[1], text))
            if kinds.get(span) not in ASKING_KINDS:
                continue
            found = per_span.setdefault(span, {})
            asked = [h for h in span_hits if h.polarity == "ask" and h.confirmed]
            specific = [h for h in asked if h.info.skills]
            for hit in specific:
                for skill_id in hit.info.skills:
                    _add(found, skill_id, TERM_SCORE, (hit.start, hit.end))
                # Adding cues stand beside a named tool too: "SEO articles with Jasper".
                for skill_id in self.lexicon.adding(description[hit.clause[0] : hit.clause[1]]):
                    _add(found, skill_id, CUE_SCORE, (hit.start, hit.end))
            # The skill a clause names says what its generic AI terms are for; in another
            # clause they may ask for other work ("AI drafts are fine, but a person checks").
            named = {h.clause for h in specific}
            for hit in (h for h in asked if h.info.generic and h.clause not in named):
                skills = self.lexicon.attribute(description[hit.clause[0] : hit.clause[1]])
                score = FALLBACK_SCORE if skills == [self.lexicon.fallback] else CUE_SCORE
                for skill_id in skills:
                    _add(found, skill_id, score, (hit.start, hit.end))
        self._add_model_mentions(units, by_span, per_span)
        mentions: dict[str, tuple[float, list]] = {}
        for found in per_span.values():
            for skill_id, (score, evidence) in self._serving(found).items():
                if score < MENTION_THRESHOLD:
                    continue
                before, seen = mentions.get(skill_id, (0.0, []))
                mentions[skill_id] = (max(before, score), seen + evidence)
        mentions = {
            skill_id: (score, [(s, e, None) for s, e in sorted(set(evidence))])
            for skill_id, (score, evidence) in mentions.items()
        }
        return mentions, sorted(prohibitions)

    def _serving(self, found: dict[str, list]) -> dict[str, list]:
        """Drop the skills of a sentence that are only the object of another skill it names:
        images labelled "for a computer-vision model" ask for annotation, not ML engineering."""
        if len(found) < 2:
            return found
        return {
            skill_id: entry
            for skill_id, entry in found.items()
            if not any(
                other in found and found[other][0] >= MENTION_THRESHOLD
                for other in self.taxonomy.skill(skill_id).object_of
            )
        }

    def _add_model_mentions(self, units, by_span, per_span) -> None:
        if self.mentioned is None:
            return
        candidates = []
        for unit in units:
            if unit.kind not in ASKING_KINDS or not _mostly_latin(unit.text):
                continue
            hits = by_span.get((unit.start, unit.end), [])
            # A sentence whose AI terms are all negated, prohibited or topics asks for nothing.
            if hits and not any(h.polarity == "ask" for h in hits):
                continue
            candidates.append(unit)
        if not candidates:
            return
        probabilities = self.mentioned.predict_proba([unit.text for unit in candidates])
        for unit, row in zip(candidates, probabilities, strict=True):
            found = per_span.setdefault((unit.start, unit.end), {})
            for skill_id, p in zip(self.mentioned_ids, row, strict=True):
                p = float(p)
                if skill_id in found:
                    # The model raises the confidence of a mention the lexicon found.
                    found[skill_id][0] = max(found[skill_id][0], p)
                elif p >= self.mentioned_threshold:
                    _add(found, skill_id, p, (unit.start, unit.end))

    # Inferred -----------------------------------------------------------------------------

    def inferences(self, duties: Sequence[Any]) -> dict[str, tuple[float, list]]:
        """Return the skills the duties imply, {id: (score, [(start, end, text)])}."""
        if self.inferred is None or not duties or not self.inferred_ids:
            return {}
        probabilities = self.predict_inferred([duty.text for duty in duties])
        result = {}
        for j, skill_id in enumerate(self.inferred_ids):
            threshold = self.thresholds[skill_id]
            if threshold >= NEVER:
                continue
            column = probabilities[:, j]
            carrying = np.flatnonzero(column >= threshold)
            if carrying.size:
                spans = [(duties[i].start, duties[i].end, duties[i].text) for i in carrying]
                result[skill_id] = (float(column.max()), spans)
        return result

    def predict_inferred(self, texts: Sequence[str]) -> np.ndarray:
        """Return one probability per inferred skill for each duty text."""
        return np.asarray(self.inferred.predict_proba(list(texts)))

    # Description --------------------------------------------------------------------------

    def describe(self) -> dict:
        """Return the taxonomy with each skill's thresholds, as served by `GET /v1/skills`."""
        skills = self.taxonomy.describe()
        for skill in skills:
            threshold = self.thresholds.get(skill["id"], NEVER)
            skill["inferred"] = threshold < NEVER
            skill["thresholds"] = {
                "mentioned": MENTION_THRESHOLD,
                "inferred": round(float(threshold), 4) if threshold < NEVER else None,
            }
        return {"version": self.taxonomy.version, "skills": skills}


def _add(found: dict[str, list], skill_id: str, score: float, span: tuple[int, int]) -> None:
    entry = found.setdefault(skill_id, [0.0, []])
    entry[0] = max(entry[0], score)
    entry[1].append(span)


def _spans(description: str, units: Sequence[Any]) -> list[tuple[int, int]]:
    """Return the units' spans and, between them, the spans of heading lines."""
    spans: list[tuple[int, int]] = []
    last = 0
    for unit in sorted(units, key=lambda u: u.start):
        spans += _lines(description, last, unit.start)
        spans.append((unit.start, unit.end))
        last = max(last, unit.end)
    spans += _lines(description, last, len(description))
    return spans


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    # Text between units is headings, markup and spacing; each line is judged on its own.
    result = []
    for m in re.finditer(r"[^\n\r]+", text[start:end]):
        if m.group().strip():
            result.append((start + m.start(), start + m.end()))
    return result


def _clause(breaks: list[int], start: int, end: int, length: int) -> tuple[int, int]:
    before = [b for b in breaks if b <= start]
    after = [b for b in breaks if b >= end]
    return (before[-1] if before else 0, after[0] if after else length)


def _named(text: str, start: int) -> bool:
    """Tell whether the word at start is capitalised after the first word of its sentence."""
    return text[start].isupper() and _WORD.search(text, 0, start) is not None


def _mostly_latin(text: str) -> bool:
    if text.isascii():
        return any(c.isalpha() for c in text)
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isascii() for c in letters) >= 0.8 * len(letters)
