"""Text normalisation shared by training and scoring.

The model learns from O*NET task statements ("Translate documents ..."), but postings phrase the
same work as "You will be translating ...", "Need someone to translate ...". Normalising both to
the same stemmed, lower-cased tokens lets the statements' vocabulary carry over to postings.
"""

import re
from functools import lru_cache

import Stemmer

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


def strip_lead_in(text: str) -> str:
    """Remove a posting's lead-in phrase ("You will", "Need someone to") from a duty."""
    stripped = _LEAD_IN.sub("", text, count=1)
    return stripped if stripped.strip() else text


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def tokenize(text: str) -> list[str]:
    """Split text into lower-cased English word stems."""
    return [_stem(word) for word in _TOKEN.findall(strip_lead_in(text).lower())]
