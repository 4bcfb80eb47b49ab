"""Posting segmentation: split a job description into units, each with offsets into the original.

A unit is one list item, line or sentence of the visible text, tagged with the heading it falls
under and a kind (duty, requirement, benefit, ...). Offsets always point into the string the
client sent, whether it was plain text, Markdown or HTML, so callers can highlight units in place.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

KINDS = ("duty", "requirement", "benefit", "company", "legal", "apply", "other")


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of a posting: its visible text, where it sits in the original, and what it is."""

    text: str
    start: int
    end: int
    kind: str
    section: str | None


# --- Lexicons ---------------------------------------------------------------------------------
# Lower case; English terms match on word boundaries, Japanese and Persian ones as substrings.
# Persian terms are written with a space where the text may have a zero-width non-joiner.

# fmt: off
# Laid out as paragraphs for review; the formatter would give every term its own line.
DUTY_HEADINGS = (
    "responsibilities", "responsibility", "duties", "job duties", "key duties", "what you'll do",
    "what you will do", "what you'll be doing", "what you will be doing", "the role", "your role",
    "role description", "about the role", "about this role", "job description",
    "position description", "job summary", "position summary", "about the job", "about this job",
    "about the position", "about this position", "about the project", "about the task",
    "about the opportunity", "about this opportunity", "the opportunity", "key tasks", "tasks",
    "your tasks", "main tasks", "day to day", "day-to-day", "in this role you will",
    "in this role", "scope of work", "deliverables", "project description", "project details",
    "project overview", "task description", "accountabilities", "your mission", "your impact",
    "description",
    "業務内容", "仕事内容", "募集内容", "依頼内容", "お仕事内容", "作業内容", "業務詳細",
    "依頼詳細", "担当業務", "職務内容", "案件概要",
    "案件内容",
    "شرح وظایف", "وظایف", "شرح پروژه", "مسئولیت ها", "شرح شغل", "شرح کار", "توضیحات پروژه",
)
REQUIREMENT_HEADINGS = (
    "requirements", "requirement", "qualifications", "qualification", "what you bring",
    "what you'll bring", "what we're looking for", "what we are looking for",
    "who we're looking for", "who we are looking for", "skills", "required skills",
    "desired skills", "technical skills", "must have", "must-have", "must haves", "must-haves",
    "nice to have", "nice-to-have", "nice to haves", "preferred", "who you are", "about you",
    "experience", "your profile", "profile", "candidate profile", "ideal candidate",
    "competencies", "education", "what you need", "you should have", "bonus points",
    "minimum qualifications", "basic qualifications", "preferred qualifications",
    "応募条件", "必須スキル", "歓迎スキル", "求める人材", "応募資格", "必須条件", "歓迎条件",
    "求めるスキル", "必要なスキル", "求める経験",
    "対象となる方", "必須", "歓迎",
    "الزامات", "مهارت ها", "مهارت", "شرایط", "نیازمندی ها", "شرایط احراز",
)
BENEFIT_HEADINGS = (
    "benefits", "benefit", "perks", "what we offer", "what we're offering", "we offer",
    "our offer", "compensation", "salary", "pay", "budget", "rate", "rates", "remuneration",
    "rewards", "why join us", "why work with us", "what's in it for you", "terms of employment",
    "terms of appointment", "appointment terms", "employment terms", "conditions of employment",
    "employment conditions", "working conditions", "package",
    "待遇", "福利厚生", "報酬", "給与", "給料", "時給", "月給", "年収", "単価",
    "مزایا", "حقوق", "دستمزد", "بودجه",
)
COMPANY_HEADINGS = (
    "about us", "who we are", "about the company", "our mission", "company overview",
    "company description", "company profile", "our company", "our story", "our culture",
    "our values", "about the team", "our team", "about",
    "会社概要", "私たちについて", "会社紹介", "企業情報", "当社について", "弊社について",
    "会社情報",
    "درباره ما", "درباره شرکت", "معرفی شرکت",
)
LEGAL_HEADINGS = (
    "equal opportunity", "equal employment opportunity", "eeo", "diversity statement", "diversity",
    "diversity & inclusion", "diversity and inclusion", "inclusion", "disclaimer", "privacy",
    "privacy notice", "data protection", "legal", "non-discrimination", "accommodations",
    "e-verify",
)
APPLY_HEADINGS = (
    "how to apply", "to apply", "application process", "application procedure", "next steps",
    "hiring process", "interview process", "apply", "applying",
    "応募方法", "選考フロー", "選考プロセス", "応募手順", "選考方法",
    "نحوه ارسال درخواست", "نحوه درخواست", "ارسال رزومه",
    # A gig's deadline, like "deadline" among the English cues: a term of the job, not a duty.
    "納期", "زمان تحویل", "مهلت تحویل", "مهلت انجام", "مدت انجام",
)
# Words that may sit around a lexicon term in a heading without making it a sentence.
HEADING_FILLERS = (
    "and", "job", "your", "our", "the", "key", "main", "additional", "other", "general", "basic",
    "core", "position", "role", "required", "desired", "minimum",
)
# Cues strong enough to beat the section: boilerplate often trails the last heading unannounced.
LEGAL_STRONG_CUES = (
    "equal opportunity", "equal employment", "without regard to", "race, color", "race, colour",
    "regardless of race", "affirmative action", "e-verify", "protected veteran", "eeo",
    "sexual orientation", "gender identity", "national origin", "reasonable accommodation",
    "reasonable accommodations",
)
APPLY_STRONG_CUES = (
    "how to apply", "apply now", "apply today", "apply here", "please apply", "send your cv",
    "send your resume", "send us your cv", "send us your resume", "submit your application",
    "submit your cv", "submit your resume", "email your cv", "email your resume",
    "send your portfolio", "submit your portfolio", "click apply", "interested candidates",
    "interested applicants",
)
LEGAL_CUES = (
    "disability", "disabilities", "veteran", "veterans", "accommodation", "accommodations",
    "background check", "background checks", "drug test", "drug screen", "discrimination",
    "discriminate", "privacy", "personal data", "data protection", "gdpr", "disclaimer",
)
BENEFIT_CUES = (
    "salary", "salaries", "$", "£", "usd", "eur", "per hour", "/hour", "/hr", "an hour",
    "per month", "per year", "per annum", "hourly rate", "health insurance", "dental",
    "vision insurance", "401(k)", "401k", "pension", "paid time off", "pto", "vacation",
    "holidays", "we offer", "equity", "stock options", "remote-friendly",
    "flexible hours", "flexible working", "budget", "compensation", "benefits",
    "perks", "reimbursement", "allowance", "wellness", "parental leave", "maternity", "paternity",
    "insurance", "retirement", "competitive",
    "円", "時給", "月給", "年収", "報酬", "給与", "賞与", "交通費", "社会保険", "福利厚生", "支給",
    "休暇",
    "€", "حقوق", "بیمه", "پاداش", "تومان", "ریال", "دستمزد", "مزایا", "توافقی",
)
# Pay words that also say how a task is paid or that a skill is welcome ("Bonus: experience with
# Figma", "label images (RLHF project, paid per task)"): they make a unit a benefit only outside
# parentheses, and only when no requirement or duty cue is there.
WEAK_BENEFIT_CUES = ("bonus", "bonuses", "paid", "pay")
# Words that contain a cue without being one; Japanese and Persian cues match inside words, and
# the longest term wins, so these hide the cue: "حقوقی" is legal (a law firm), "حقوق" is salary.
NOT_CUES = (
    "حقوقی",
)
REQUIREMENT_CUES = (
    "years of experience", "years' experience", "years experience", "year of experience",
    "experience with", "experience in", "experience of", "degree", "bachelor", "bachelor's",
    "master's", "phd", "proficiency", "proficient", "must have", "must be", "you have", "you are",
    "knowledge of", "understanding of", "familiarity with", "familiar with", "preferred",
    "certification", "certified", "fluent", "fluency", "required", "a plus", "nice to have",
    "ability to", "skills", "background in", "track record", "native speaker", "qualification",
    "qualifications",
    "経験", "年以上", "歓迎", "必須", "資格", "スキル", "知識", "尚可", "優遇",
    "سابقه", "مدرک", "آشنایی با", "تسلط", "مهارت", "توانایی",
)
APPLY_CUES = (
    "apply", "applying", "application", "applications", "send your", "submit your", "click",
    "deadline", "cv", "resume", "résumé", "cover letter", "portfolio", "contact us", "interview",
    "応募", "ご連絡", "選考", "面接",
    "رزومه", "ارسال درخواست",
)
COMPANY_CUES = (
    "we are a", "we're a", "our company", "founded in", "founded", "our mission",
    "leading provider", "headquartered", "our clients", "our customers", "is a leading",
    "is a global", "global leader", "startup", "start-up", "our story",
    "弊社", "当社", "設立", "私たちは",
    "شرکت ما", "ما یک", "تاسیس",
)
DUTY_CUES = (
    "you will", "you'll", "responsible for", "tasks include", "duties include",
    "responsibilities include", "the role involves", "your job", "in this role",
    "していただきます", "していただく", "お願いします", "お願いいたします", "お任せします",
    "担当していただ", "作成", "執筆",
    "انجام", "ترجمه", "نیازمند", "به دنبال",
)
# Sentence openers, matched at the start of a unit; the longest opener wins.
DUTY_VERBS = (
    "write", "translate", "manage", "develop", "design", "build", "create", "lead", "maintain",
    "implement", "support", "coordinate", "prepare", "review", "analyze", "analyse", "conduct",
    "monitor", "ensure", "collaborate", "work", "assist", "provide", "handle", "perform",
    "oversee", "plan", "drive", "deliver", "own", "research", "test", "edit", "proofread",
    "transcribe", "draft", "produce", "respond", "answer", "process", "update", "track", "report",
    "organize", "organise", "schedule", "communicate", "identify", "evaluate", "assess",
    "optimize", "optimise", "deploy", "configure", "install", "troubleshoot", "debug", "document",
    "train", "mentor", "supervise", "sell", "negotiate", "recruit", "audit", "compile", "enter",
    "record", "label", "annotate", "categorize", "summarize", "summarise", "code", "program",
    "architect", "integrate", "automate", "migrate", "refactor", "partner", "contribute",
    "participate", "help", "serve", "operate", "inspect", "repair", "facilitate", "present",
    "promote", "publish", "moderate", "curate", "localize", "localise", "illustrate", "animate",
    "compose", "rewrite", "convert", "format", "scrape", "extract", "collect", "gather", "set up",
    "establish", "define", "shape", "champion", "advise", "consult", "guide", "teach", "tutor",
    "coach", "calculate", "reconcile", "invoice", "generate", "craft", "send", "submit", "post",
    "design and build", "investigate", "resolve", "fix", "verify", "proof", "check", "clean",
    "prioritize", "prioritise", "improve", "run", "make",
)
DUTY_OPENERS = (
    "you will", "you'll", "you would", "responsible for", "need someone to", "need someone",
    "need a", "need an", "need", "i need", "we need", "looking for someone to",
    "seeking someone to", "the candidate will", "the successful candidate will", "this role will",
    "this position will", "in this role you will", "your tasks", "tasks include", "duties include",
)
REQUIREMENT_OPENERS = (
    "ability to", "able to", "must", "experience", "knowledge", "proficiency", "proficient",
    "fluent", "fluency", "familiarity", "familiar with", "proven", "at least", "minimum",
    "bachelor", "bachelor's", "master's", "degree", "you have", "you are", "you're", "you've",
    "understanding of", "working knowledge", "hands-on experience", "background in",
    "expertise in", "you will have", "you'll have", "you should have", "you must",
    "candidates must", "applicants must",
    # A nice-to-have, not a pay bonus: "Bonus if you know Stable Diffusion".
    "bonus if", "bonus points", "it's a bonus if", "a plus if",
)
BENEFIT_OPENERS = (
    "we offer", "we provide", "you will receive", "you'll receive", "you will get", "you'll get",
    "you will enjoy", "you'll enjoy", "you get", "you receive", "enjoy", "you will have access",
    "you'll have access", "competitive", "budget", "salary", "pay",
)
COMPANY_OPENERS = (
    "we are a", "we're a", "our company", "our mission", "founded",
    # What the employer sells: "Our platform uses AI to route tickets."
    "our platform", "our saas", "our software", "our products",
)
APPLY_OPENERS = (
    "to apply", "apply via", "apply through", "apply at", "apply online", "if interested",
    "if you are interested", "if you're interested", "interested?", "send your cv",
    "send your resume", "send us your cv", "send us your resume", "send us your application",
    "email your cv", "email your resume", "email us your",
    "ご応募は", "応募は", "応募方法は",
    "رزومه خود را",
)
# Tokens a period follows without ending the sentence (lower case, no final period).
ABBREVIATIONS = (
    "e.g", "i.e", "etc", "inc", "sr", "jr", "dr", "mr", "mrs", "ms", "vs", "no", "nr", "u.s",
    "u.k", "st", "ltd", "co", "corp", "approx", "dept", "est", "ca", "cf", "al", "fig", "vol",
    "ph.d", "prof", "jan", "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "hr", "hrs", "yr", "yrs", "incl", "excl", "govt", "a.m", "p.m",
)
# fmt: on


# --- Patterns ---------------------------------------------------------------------------------

# The characters str.splitlines() breaks on, so callers can reason about lines the same way.
_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_LINE_BREAK_CHARS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_HTML_TAG = re.compile(
    r"</?(?:p|br|li|ul|ol|div|h[1-6]|strong|b|em|i|u|span|a|table|tr|td|th|section|article"
    r"|blockquote|hr|font|body|html|script|style)(?=[\s/>])[^<>]*>",
    re.IGNORECASE,
)
_HTML_BLOCK_TAG = re.compile(
    r"<(?:p|br|li|div|h[1-6]|ul|ol|tr|table|section|article|blockquote|hr|td|th)(?=[\s/>])",
    re.IGNORECASE,
)
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form"
    " h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td tfoot th thead tr"
    " ul".split()
)
_ABBREVIATIONS = frozenset(ABBREVIATIONS)
_HEADER_TAGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_BOLD_TAGS = frozenset(("b", "strong"))
_HIDDEN_TAGS = frozenset(("script", "style"))
_BOLD, _HEADER = 1, 2

_HEADING_MARKS = "■□◆◇▼▽★☆◎"
_MARKER = re.compile(
    r"\s*(?:"
    rf"(?P<mark>[{_HEADING_MARKS}])"
    r"|(?P<dot>●)"
    r"|(?P<bullet>[•·▪◦‣・○▶►➢➤✓✔※→\u2460-\u2473]|[-*+–](?=\s|$))"
    r"|(?P<number>(?:\d{1,3}|[a-z])[.)](?=\s|$)|\d{1,3}[．）]|（\d{1,3}）"
    # Persian lists number items "۱-" as often as "۱."
    r"|[\u06f0-\u06f9\u0660-\u0669]{1,3}[-–](?=\s|$)"
    r"|\((?:\d{1,3}|[a-z]|[ivx]{1,4})\)(?=\s|$))"
    r"|(?P<hash>\#{1,6})(?=\s|$)"
    r")\s*"
)
_BRACKETS = {"【": "】", "［": "］", "＜": "＞", "《": "》", "〈": "〉", "〔": "〕", "[": "]"}
_BRACKET_HEADING = re.compile(r"\s*([【［＜《〈〔\[])([^】］＞》〉〕\]\n]{1,40})([】］＞》〉〕\]])")
_INLINE_COLON = re.compile(r":(?=\s)|：")
_INLINE_BULLET = re.compile(r"(?<=\s)[•·▪●◦‣](?=\s)")
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\([^()\s]*\)")
_MD_BOLD = re.compile(r"\*\*")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|[。！？]+[」』）)】\"”]*|؟+|;(?=\s)")
_SPACE = re.compile(r"\s*")
_ALNUM = re.compile(r"[^\W_]")
_DOTTED_INITIALS = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_LEADING_NOISE = re.compile(r"[\W_]+")
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")

_SENTENCE_OPENING_PUNCT = "\"'“‘([¿¡«"
_TERMINAL_PUNCT = ".。!！"
_LONG_CLAUSE_WORDS = 5  # a ";" splits only when both clauses have at least this many words
_SHORT_HEADING_WORDS, _SHORT_HEADING_CHARS = 8, 60
_TAGGED_HEADING_WORDS, _TAGGED_HEADING_CHARS = 12, 100
_INLINE_HEADING_WORDS, _INLINE_HEADING_CHARS = 5, 40

_FOLD = str.maketrans(
    {"’": "'", "‘": "'", "ʼ": "'", "‐": "-", "‑": "-", "ي": "ی", "ك": "ک", "\u200c": " ", "ـ": None}
)


def _normalize(text: str) -> str:
    return text.lower().translate(_FOLD)


def _is_word_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def _trie_pattern(terms: Iterable[str]) -> str:
    """Compile literal terms into one trie-shaped regex: linear, and longest match first.

    Word boundaries apply only where a term starts or ends with an ASCII word character, so
    Japanese and Persian terms match inside longer words and "$" or "401(k)" next to anything.
    """
    trie: dict[str, dict] = {}
    for term in terms:
        node = trie
        for char in term:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, dict], last: str) -> str:
        # Children before the end marker: greedy, so the longest term wins at a position.
        alternatives = [re.escape(c) + emit(child, c) for c, child in node.items() if c]
        if "" in node:
            alternatives.append(r"(?!\w)" if _is_word_char(last) else "")
        if len(alternatives) == 1:
            return alternatives[0]
        return "(?:" + "|".join(alternatives) + ")"

    bounded = [re.escape(c) + emit(child, c) for c, child in trie.items() if _is_word_char(c)]
    free = [re.escape(c) + emit(child, c) for c, child in trie.items() if not _is_word_char(c)]
    # One lookbehind for all word-initial terms instead of one per branch keeps the scan cheap.
    parts = []
    if bounded:
        parts.append(r"(?<!\w)(?:" + "|".join(bounded) + ")")
    if free:
        parts.append("(?:" + "|".join(free) + ")")
    return "|".join(parts)


class _Lexicon:
    """Terms of several kinds, matched in one pass over normalised text."""

    def __init__(self, kinds: Iterable[tuple[str, Iterable[str]]]) -> None:
        self.kind_of: dict[str, str] = {}
        for kind, terms in kinds:
            for term in terms:
                # A term listed under two kinds keeps the first, so list order is priority.
                self.kind_of.setdefault(_normalize(term), kind)
        self.pattern = re.compile(_trie_pattern(self.kind_of))

    def first(self, norm: str) -> str | None:
        """Return the kind of the earliest (then longest) term in norm."""
        m = self.pattern.search(norm)
        return None if m is None else self.kind_of[m.group()]

    def opening(self, norm: str, pos: int = 0) -> str | None:
        """Return the kind of the longest term norm starts with at pos."""
        m = self.pattern.match(norm, pos)
        return None if m is None else self.kind_of[m.group()]

    def kinds_in(self, norm: str) -> set[str]:
        """Return every kind with a term in norm."""
        return {self.kind_of[m.group()] for m in self.pattern.finditer(norm)}


def _verb_forms(verbs: Iterable[str]) -> list[str]:
    # "Write", "Writes" and "Writing" all open a duty; gerunds are common in bullet lists.
    forms = []
    for verb in verbs:
        head, _, tail = verb.partition(" ")
        third = head + "es" if head.endswith(("s", "sh", "ch", "x")) else head + "s"
        stem = head[:-1] if head.endswith("e") and not head.endswith("ee") else head
        gerund = _GERUNDS.get(head, stem + "ing")
        for form in (head, third, gerund):
            forms.append(f"{form} {tail}" if tail else form)
    return forms


_GERUNDS = {"plan": "planning", "run": "running", "program": "programming", "set": "setting"}
_HEADINGS = _Lexicon(
    (
        ("duty", DUTY_HEADINGS),
        ("requirement", REQUIREMENT_HEADINGS),
        ("benefit", BENEFIT_HEADINGS),
        ("company", COMPANY_HEADINGS),
        ("legal", LEGAL_HEADINGS),
        ("apply", APPLY_HEADINGS),
    )
)
_FILLERS = frozenset(HEADING_FILLERS)
_STRONG_CUES = _Lexicon((("legal", LEGAL_STRONG_CUES), ("apply", APPLY_STRONG_CUES)))
_CUE_ORDER = ("legal", "benefit", "requirement", "apply", "company", "duty")
_CUES = _Lexicon(
    (
        ("legal", LEGAL_CUES),
        ("benefit", BENEFIT_CUES),
        ("requirement", REQUIREMENT_CUES),
        ("apply", APPLY_CUES),
        ("company", COMPANY_CUES),
        ("duty", DUTY_CUES),
        ("weak_benefit", WEAK_BENEFIT_CUES),
        ("none", NOT_CUES),
    )
)
_PARENTHESES = re.compile(r"\([^()]*\)|（[^（）]*）")
# "Bonus: Midjourney" labels a nice-to-have skill; "Bonus: $500" still has a benefit cue.
_NICE_TO_HAVE_LABEL = re.compile(r"(?:bonus|plus|nice to have|nice-to-have)\s*[:：\-–]")
_OPENERS = _Lexicon(
    (
        ("apply", APPLY_OPENERS),
        ("benefit", BENEFIT_OPENERS),
        ("requirement", REQUIREMENT_OPENERS),
        ("company", COMPANY_OPENERS),
        ("duty", (*DUTY_OPENERS, *_verb_forms(DUTY_VERBS))),
    )
)


# --- Visible text with a map back to the source -----------------------------------------------


class _Run:
    """Visible text where character i came from source[starts[i]:ends[i]]."""

    __slots__ = ("text", "starts", "ends", "flags")

    def __init__(
        self, text: str, starts: Sequence[int], ends: Sequence[int], flags: bytearray | None = None
    ) -> None:
        self.text = text
        self.starts = starts
        self.ends = ends
        self.flags = flags  # _BOLD / _HEADER bits per character, or None when there are none

    def slice(self, a: int, b: int) -> _Run:
        flags = None if self.flags is None else self.flags[a:b]
        return _Run(self.text[a:b], self.starts[a:b], self.ends[a:b], flags)

    def mark(self, a: int, b: int, flag: int) -> None:
        if self.flags is None:
            self.flags = bytearray(len(self.text))
        for i in range(a, b):
            self.flags[i] |= flag

    def drop(self, drops: list[tuple[int, int, bool]]) -> _Run:
        """Remove markup ranges, folding each into the neighbour it belongs to (forward or back)."""
        text, starts, ends, flags = [], [], [], bytearray()
        fixes = []
        kept = prev = 0
        for a, b, forward in drops:
            text.append(self.text[prev:a])
            starts.extend(self.starts[prev:a])
            ends.extend(self.ends[prev:a])
            if self.flags is not None:
                flags += self.flags[prev:a]
            kept += a - prev
            fixes.append((kept, forward, self.starts[a], self.ends[b - 1]))
            prev = b
        text.append(self.text[prev:])
        starts.extend(self.starts[prev:])
        ends.extend(self.ends[prev:])
        if self.flags is not None:
            flags += self.flags[prev:]
        # Folding the markup into the kept characters keeps it inside the unit's source span.
        for index, forward, start, end in fixes:
            if forward and index < len(starts):
                starts[index] = start
            elif not forward and index > 0:
                ends[index - 1] = end
        return _Run("".join(text), starts, ends, None if self.flags is None else flags)


class _Sink:
    """The visible characters an HTML parse has produced so far."""

    def __init__(self, source: str, newline_is_break: bool) -> None:
        self.source = source
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.flags = bytearray()
        self.newline_is_break = newline_is_break
        self.bold = self.header = self.hidden = 0

    def flag(self) -> int:
        return (_BOLD if self.bold else 0) | (_HEADER if self.header else 0)

    def add_source(self, start: int, end: int) -> None:
        text = self.source[start:end]
        if not self.newline_is_break:
            # Inside block markup a newline in the source is just a space, as a browser shows it.
            text = text.translate(_NEWLINE_TO_SPACE)
        self.parts.append(text)
        self.starts.extend(range(start, end))
        self.ends.extend(range(start + 1, end + 1))
        self.flags += _FLAG_BYTES[self.flag()] * (end - start)

    def add_entity(self, start: int, end: int) -> None:
        text = html.unescape(self.source[start:end])
        if not self.newline_is_break:
            text = text.translate(_NEWLINE_TO_SPACE)
        self.parts.append(text)
        self.starts.extend([start] * len(text))
        self.ends.extend([end] * len(text))
        self.flags += _FLAG_BYTES[self.flag()] * len(text)

    def add_break(self, pos: int) -> None:
        # Zero width: a unit never starts or ends on whitespace, so this maps to nothing.
        self.parts.append("\n")
        self.starts.append(pos)
        self.ends.append(pos)
        self.flags.append(0)

    def run(self) -> _Run:
        return _Run("".join(self.parts), self.starts, self.ends, self.flags)


_NEWLINE_TO_SPACE = str.maketrans({c: " " for c in _LINE_BREAK_CHARS})
_FLAG_BYTES = tuple(bytes((flag,)) for flag in range(4))


class _Extractor(HTMLParser):
    """Feed the visible characters of a sanitised copy of the source into a sink."""

    def __init__(self, fed: str, base: int, newlines: list[int], sink: _Sink) -> None:
        super().__init__(convert_charrefs=False)
        self._fed = fed
        self._sink = sink
        # HTMLParser counts lines by "\n" only and reports (line, column) from the feed start.
        first = bisect_left(newlines, base)
        self._line_starts = [base, *(p + 1 for p in newlines[first:])]

    def source_offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        sink = self._sink
        if tag in _HIDDEN_TAGS:
            sink.hidden += 1
        elif tag in _BLOCK_TAGS:
            # Formatting rarely spans blocks: resetting stops one unclosed <b> bolding the rest.
            sink.bold = 0
            sink.header = 1 if tag in _HEADER_TAGS else 0
            sink.add_break(self.source_offset())
        elif tag in _BOLD_TAGS:
            sink.bold += 1

    def handle_endtag(self, tag: str) -> None:
        sink = self._sink
        if tag in _HIDDEN_TAGS:
            sink.hidden = max(0, sink.hidden - 1)
        elif tag in _BLOCK_TAGS:
            sink.bold = sink.header = 0
            sink.add_break(self.source_offset())
        elif tag in _BOLD_TAGS:
            sink.bold = max(0, sink.bold - 1)

    def handle_data(self, data: str) -> None:
        if self._sink.hidden or not data:
            return
        start = self.source_offset()
        # HTMLParser hands out raw slices of what it was fed; anything else would be a miscount.
        if self._fed.startswith(data, start):
            self._sink.add_source(start, start + len(data))

    def handle_entityref(self, name: str) -> None:
        self._add_reference(1 + len(name))

    def handle_charref(self, name: str) -> None:
        self._add_reference(2 + len(name))

    def _add_reference(self, length: int) -> None:
        if self._sink.hidden:
            return
        start = self.source_offset()
        end = start + length
        if self._fed.startswith(";", end):
            end += 1
        self._sink.add_entity(start, end)


_MARKUP_OPEN = re.compile(r"<|&#")
_CHARREF = re.compile(r"&#(?:[0-9]|[xX][0-9a-fA-F])")
# Possessive and atomic throughout: a tag must be recognised or rejected in one linear pass.
_START_TAG = re.compile(
    r"<([a-zA-Z][^\t\n\r\f />\x00<]*+)"
    r"(?>\s++(?>[^\s/>\"'=<]++(?>\s*+=\s*+(?>\"[^\"<]*+\"|'[^'<]*+'|[^\s\"'<>=`]++))?+)?+"
    r"|/(?!>))*+\s*+(/?)>"
)
_END_TAG = re.compile(r"</[^<>]*+>")
_DECLARATION = re.compile(r"<[!?][^<>]*+>")
_COMMENT_CLOSE = re.compile(r"--\s*>")
_CDATA_CLOSE = {
    "script": re.compile(r"</\s*script\s*>", re.IGNORECASE),
    "style": re.compile(r"</\s*style\s*>", re.IGNORECASE),
}


def _sanitize(source: str) -> str:
    """Return a copy of source HTMLParser gets through in one pass, with the same offsets.

    The standard library parser rescans the rest of the input for each unclosed quote, comment
    or declaration, which turns a malformed megabyte into minutes. Here each "<" or "&#" that
    does not open a complete construct is blanked, so every construct the parser meets ends
    where it should. A blanked character still shows as itself, because the visible text is
    always read from the original. The copy stops at an unclosed comment, which hides the rest
    of the page in a browser too.
    """
    blanks = []
    end = len(source)
    pos = 0
    while (m := _MARKUP_OPEN.search(source, pos)) is not None:
        i = m.start()
        pos = i + 1
        nxt = source[i + 1 : i + 2]
        if m.group() == "&#":
            if not _CHARREF.match(source, i):
                blanks.append(i)
        elif nxt.isascii() and nxt.isalpha():
            tag = _START_TAG.match(source, i)
            if tag is None:
                blanks.append(i)
                continue
            pos = tag.end()
            name = tag.group(1).lower()
            if name in _CDATA_CLOSE and not tag.group(2):
                close = _CDATA_CLOSE[name].search(source, pos)
                if close is None:
                    break  # the parser hides everything after an unclosed <script>
                pos = close.end()
        elif source.startswith("<!--", i):
            close = _COMMENT_CLOSE.search(source, i + 4)
            if close is None:
                end = i
                break
            pos = close.end()
        elif nxt and nxt in "!?/":
            declaration = (_END_TAG if nxt == "/" else _DECLARATION).match(source, i)
            if declaration is None:
                blanks.append(i)
                continue
            pos = declaration.end()
            if source.startswith("<![", i):
                # _markupbase asserts on unknown marked sections; "<!\x00" is a bogus comment
                # instead, hidden up to ">" as a browser hides "<![CDATA[...]]>" in HTML.
                blanks.append(i + 2)
    pieces = []
    last = 0
    for i in blanks:
        pieces.append(source[last:i])
        pieces.append("\x00")
        last = i + 1
    pieces.append(source[last:end])
    return "".join(pieces)


def _html_run(source: str) -> _Run:
    sink = _Sink(source, newline_is_break=_HTML_BLOCK_TAG.search(source) is None)
    fed = _sanitize(source)
    newlines = [m.start() for m in re.finditer("\n", source)]
    base = 0
    while base < len(fed):
        parser = _Extractor(fed, base, newlines, sink)
        try:
            parser.feed(fed[base:])
            parser.close()
            break
        except AssertionError:
            # Defensive: _markupbase asserts on declarations the sanitiser should have blanked.
            # Keep the offending "<" as text and parse on after it rather than fail the request.
            failed = max(parser.source_offset(), base)
            if not sink.hidden:
                sink.add_source(failed, failed + 1)
            base = failed + 1
    return sink.run()


def _plain_run(source: str) -> _Run:
    return _Run(source, range(len(source)), range(1, len(source) + 1))


def _lines(run: _Run) -> Iterator[_Run]:
    text = run.text
    start = 0
    for m in _LINE_BREAK.finditer(text):
        if not text[start : m.start()].isspace() and m.start() > start:
            yield run.slice(start, m.start())
        start = m.end()
    if start < len(text) and not text[start:].isspace():
        yield run.slice(start, len(text))


def _strip_markdown(run: _Run) -> _Run:
    if "](" in run.text:
        drops = []
        for m in _MD_LINK.finditer(run.text):
            label = m.group(1)
            if not label[0].isspace() and not label[-1].isspace():
                drops.append((m.start(), m.start() + 1, True))
                drops.append((m.end(1), m.end(), False))
        if drops:
            run = run.drop(drops)
    if "**" in run.text:
        text = run.text
        marks = [m.start() for m in _MD_BOLD.finditer(text)]
        drops = []
        i = 0
        while i + 1 < len(marks):
            a, b = marks[i], marks[i + 1]
            inner = text[a + 2 : b]
            # Flanking rules keep "2**3**4" and "a** b**" literal, as Markdown does.
            if (
                inner
                and not inner[0].isspace()
                and not inner[-1].isspace()
                and (a == 0 or not text[a - 1].isalnum())
                and (b + 2 == len(text) or not text[b + 2].isalnum())
            ):
                run.mark(a + 2, b, _BOLD)
                drops.append((a, a + 2, True))
                drops.append((b, b + 2, False))
                i += 2
            else:
                i += 1
        if drops:
            run = run.drop(drops)
    return run


# --- Headings ---------------------------------------------------------------------------------


def _section_kind(title: str) -> str | None:
    # Earliest, then longest: "about the role" is a duty, "about" alone the company.
    return _HEADINGS.first(_normalize(title))


def _is_lexicon_line(vis: str) -> bool:
    norm = _normalize(vis).rstrip(":：?？ ")
    if len(norm.split()) > 6 or _HEADINGS.first(norm) is None:
        return False
    rest = _HEADINGS.pattern.sub(" ", norm)
    return all(word in _FILLERS for word in _WORD.findall(rest))


def _all_flagged(run: _Run, flag: int) -> bool:
    if run.flags is None:
        return False
    return all(f & flag for c, f in zip(run.text, run.flags, strict=True) if not c.isspace())


def _is_caps(vis: str) -> bool:
    return sum(c.isupper() for c in vis) >= 4 and not any(c.islower() for c in vis)


def _title(text: str) -> str:
    return " ".join(text.split()).rstrip(":：").strip()


def _heading(run: _Run, marker: str | None) -> tuple[str, int] | None:
    """Return (section title, index where the unit text resumes) if the line opens a section."""
    text = run.text
    bracket = _BRACKET_HEADING.match(text)
    if bracket and _BRACKETS[bracket.group(1)] == bracket.group(3):
        title = _title(bracket.group(2))
        if _ALNUM.search(title) and (bracket.group(1) != "[" or _section_kind(title)):
            return title, bracket.end()
    words = text.split()
    vis = " ".join(words)
    if not _ALNUM.search(vis):
        return None
    if len(words) <= _TAGGED_HEADING_WORDS and len(vis) <= _TAGGED_HEADING_CHARS:
        if marker == "hash" or _all_flagged(run, _HEADER):
            return _title(vis), len(text)
    if len(words) <= _SHORT_HEADING_WORDS and len(vis) <= _SHORT_HEADING_CHARS:
        if vis[-1] in ":：" or _all_flagged(run, _BOLD):
            return _title(vis), len(text)
        if vis[-1] not in _TERMINAL_PUNCT and (
            marker == "mark"
            or (marker != "bullet" and _is_lexicon_line(vis))
            or (marker in (None, "number") and _is_caps(vis))
        ):
            return _title(vis), len(text)
    colon = _INLINE_COLON.search(text, 0, _INLINE_HEADING_CHARS + 1)
    if colon and text[colon.end() :].strip():
        prefix = text[: colon.start()]
        title = _title(prefix)
        if (
            title
            and len(title.split()) <= _INLINE_HEADING_WORDS
            and _ALNUM.search(title)
            and not any(c in _TERMINAL_PUNCT for c in title)
            and (
                _section_kind(title) is not None
                or marker == "mark"
                or _all_flagged(run.slice(0, colon.start()), _BOLD)
            )
        ):
            return title, colon.end()
    return None


# --- Sentences --------------------------------------------------------------------------------


def _opens_sentence(text: str, i: int, end: int) -> bool:
    i = _SPACE.match(text, i, end).end()
    for _ in range(3):
        if i >= end:
            return False
        c = text[i]
        if c in _SENTENCE_OPENING_PUNCT:
            i += 1
            continue
        # Caseless letters (kana, kanji, Arabic script) open a sentence like capitals do.
        return c.isupper() or c.isdigit() or (c.isalpha() and not c.islower())
    return False


def _is_abbreviation(text: str, start: int, dot: int) -> bool:
    chunk = text[max(start, dot - 40) : dot]
    if not chunk or chunk[-1].isspace():
        return False
    token = chunk.rsplit(None, 1)[-1].lstrip(_SENTENCE_OPENING_PUNCT).lower()
    return (
        token in _ABBREVIATIONS
        or (len(token) == 1 and token.isalpha())
        or _DOTTED_INITIALS.fullmatch(token) is not None
    )


def _sentences(text: str, a: int, b: int) -> list[tuple[int, int]]:
    cuts: list[tuple[int, bool]] = []  # (index after the boundary, soft)
    for m in _SENTENCE_END.finditer(text, a, b):
        mark = m.group()
        if mark == ";":
            cuts.append((m.end(), True))
        elif mark[0] in "。！？؟":
            cuts.append((m.end(), False))
        elif _opens_sentence(text, m.end(), b) and not (
            mark.rstrip("\"'”’)]") == "." and _is_abbreviation(text, a, m.start())
        ):
            cuts.append((m.end(), False))
    if not cuts:
        return [(a, b)]
    # Words between consecutive cuts, counted once each so long runs of ";" stay linear.
    bounds = [a, *(cut for cut, _ in cuts), b]
    words = [len(text[x:y].split()) for x, y in zip(bounds, bounds[1:], strict=False)]
    pieces = []
    start = a
    left = 0
    for i, (cut, soft) in enumerate(cuts):
        left += words[i]
        if soft and (left < _LONG_CLAUSE_WORDS or words[i + 1] < _LONG_CLAUSE_WORDS):
            continue
        pieces.append((start, cut))
        start = cut
        left = 0
    pieces.append((start, b))
    return pieces


def _bullet_pieces(run: _Run) -> Iterator[tuple[int, int]]:
    start = 0
    for m in _INLINE_BULLET.finditer(run.text):
        i = m.start()
        # Only a bullet standing alone between spaces in the source, not one that dropped
        # Markdown was folded into (its span would be wider than the bullet itself).
        starts, ends = run.starts, run.ends
        if ends[i - 1] == starts[i] == ends[i] - 1 and ends[i] == starts[i + 1]:
            yield start, i
            start = i + 1
    yield start, len(run.text)


def _spans(run: _Run) -> list[tuple[int, int]]:
    """Return (start, end) of each unit in run.text: trimmed, and holding a letter or digit."""
    text = run.text
    spans: list[tuple[int, int]] = []
    pending = None
    for a, b in _bullet_pieces(run):
        for x, y in _sentences(text, a, b):
            piece = text[x:y]
            stripped = piece.strip()
            if not stripped:
                continue
            x += len(piece) - len(piece.lstrip())
            y = x + len(stripped)
            if not _ALNUM.search(stripped):
                # Stray punctuation or an emoji belongs to a neighbour, never lost or alone.
                if spans:
                    spans[-1] = (spans[-1][0], y)
                elif pending is None:
                    pending = x
                continue
            if pending is not None:
                x, pending = pending, None
            spans.append((x, y))
    return spans


# --- Classification ---------------------------------------------------------------------------


def _classify(text: str, section_kind: str | None, has_sections: bool) -> str:
    if section_kind in ("legal", "apply"):
        return section_kind
    norm = _normalize(text)
    head = _LEADING_NOISE.match(norm)
    opener = _OPENERS.opening(norm, head.end() if head else 0)
    if opener == "apply":
        return opener
    strong = _STRONG_CUES.first(norm)
    # "Ensure compliance with equal opportunity law" is still a duty of an HR role.
    if strong == "apply" or (strong == "legal" and opener != "duty"):
        return strong
    if section_kind is not None:
        return section_kind
    if opener is not None:
        return opener
    found = _CUES.kinds_in(norm)
    if _NICE_TO_HAVE_LABEL.match(norm, head.end() if head else 0) and "benefit" not in found:
        return "requirement"
    if (
        "weak_benefit" in found
        and not found & {"requirement", "duty"}
        and "weak_benefit" in _CUES.kinds_in(_PARENTHESES.sub(" ", norm))
    ):
        found.add("benefit")
    for kind in _CUE_ORDER:
        if kind in found:
            return kind
    return "other" if has_sections else "duty"


# --- Entry point ------------------------------------------------------------------------------


def segment(description: str) -> list[Unit]:
    """Split a posting description into units with offsets into the original text."""
    if not description or description.isspace():
        return []
    is_html = _HTML_TAG.search(description) is not None
    run = _html_run(description) if is_html else _plain_run(description)
    drafts: list[tuple[str, int, int, str | None, str | None]] = []
    section: str | None = None
    section_kind: str | None = None
    has_sections = False
    for line in _lines(run):
        marker = _MARKER.match(line.text)
        content = line if marker is None else line.slice(marker.end(), len(line.text))
        if not is_html:
            content = _strip_markdown(content)
        heading = _heading(content, None if marker is None else marker.lastgroup)
        if heading is not None:
            section, resume = heading
            section_kind = _section_kind(section)
            has_sections = True
            content = content.slice(resume, len(content.text))
        for a, b in _spans(content):
            start, end = content.starts[a], content.ends[b - 1]
            drafts.append((" ".join(content.text[a:b].split()), start, end, section, section_kind))
    units = []
    last_end = 0
    for text, start, end, unit_section, unit_section_kind in drafts:
        # Guard the contract even if an entity expanded to several characters across a cut.
        start = max(start, last_end)
        if start >= end:
            continue
        kind = _classify(text, unit_section_kind, has_sections)
        units.append(Unit(text, start, end, kind, unit_section))
        last_end = end
    return units
