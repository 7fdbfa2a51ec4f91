from __future__ import annotations

import pytest

from iapo_cli.tasks import AnswerExtractor, canonical_number


@pytest.mark.parametrize("text, expected", [
    ("1,000", "1000"), ("17.0", "17"), ("0.50", "0.5"), ("$12", "12"), ("-3", "-3"),
    ("6/4", "3/2"), ("8/4", "2"), ("12.", "12"), ("1/0", None), ("abc", None), ("1,00", None),
    ("", None), ("-", None),
])
def test_canonical_number(text, expected):
    assert canonical_number(text) == expected


def test_last_answer_line_wins_and_is_normalised():
    extract = AnswerExtractor().extract
    assert extract("Answer: 3\nwait\nAnswer:  1,024. ") == "1024"
    assert extract("answer: Paris") == "paris"
    assert extract("ANSWER: **42**") == "42"


def test_no_answer_is_none():
    extract = AnswerExtractor().extract
    assert extract("I think it is 5.") is None
    assert extract("Answer:   ") is None
    assert extract("") is None


def test_options_and_pattern_validation():
    keep_case = AnswerExtractor(r"=\s*(\S+)", lowercase=False, numeric=False)
    assert keep_case.extract("x = Paris") == "Paris"
    assert keep_case.extract("x = 3.0") == "3.0"
    with pytest.raises(ValueError, match="capture group"):
        AnswerExtractor(r"answer")
