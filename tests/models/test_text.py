import pytest

from models.text import strip_lead_in, tokenize


@pytest.mark.parametrize(
    ("posting", "statement"),
    [
        ("You will write articles", "write articles"),
        ("You'll be responsible for translating manuals", "translating manuals"),
        ("Need someone to translate my manual", "translate my manual"),
        ("We are looking for someone to label images", "label images"),
        ("Responsible for answering customer emails", "answering customer emails"),
        ("The successful candidate will clean offices", "clean offices"),
    ],
)
def test_lead_ins_are_stripped_so_postings_read_like_task_statements(posting, statement):
    assert strip_lead_in(posting).lower() == statement


def test_a_text_that_is_only_a_lead_in_is_kept():
    assert strip_lead_in("You will") == "You will"


def test_tokens_are_stems_so_gerunds_match_verbs():
    assert tokenize("Translating documents") == tokenize("Translate document")
