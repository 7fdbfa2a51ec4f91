"""Answer presets on completions written the way models write them, math equivalence through
math-verify, the config's choice between a pattern and a preset, and lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from iapo_cli.config import config_from_mapping, load_config
from iapo_cli.errors import ConfigError
from iapo_cli.run._live import _answer_extractor
from iapo_cli.tasks import (
    ANSWER_PRESETS,
    DEFAULT_PATTERN,
    AnswerExtractor,
    PresetExtractor,
    _presets,
    build_extractor,
)

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ("auto", "answer_line", "boxed", "answer_is", "last_number", "choice", "math")

# id, completion, then what each preset extracts, in the order of PRESETS
# (auto, answer_line, boxed, answer_is, last_number, choice, math); None: no answer
TABLE = [
    ("cot_then_answer_line",
     "Each box holds 4 apples and there are 3 boxes, so 3 × 4 = 12 apples.\nAnswer: 12",
     "12", "12", None, None, "12", None, "12"),
    ("answer_mid_line",
     "There are 120 red and 103 blue marbles, so we add them. Answer: 223",
     "223", "223", None, None, "223", None, "223"),
    ("bold_answer_colon_inside",
     "Adding the two amounts gives 7 dollars in total.\n\n**Answer:** 7",
     "7", "7", None, None, "7", None, "7"),
    ("bold_final_answer_colon_outside",
     "Step 1: 5 + 10 = 15\nStep 2: there is nothing left to add.\n\n**Final Answer**: 15",
     "15", "15", None, None, "15", None, "15"),
    ("italic_answer",
     "The remaining count is 20 - 3 = 17.\n\n*Answer:* _17_",
     "17", "17", None, None, "17", None, "17"),
    ("shouted_answer_in_dollars",
     "Let x be the number of cats. Then 2x + 1 = 15, so x = 7.\n\nANSWER: $7$",
     "7", "7", None, None, "7", None, "7"),
    ("final_answer_no_markup", "The final answer: 3.50",
     "3.5", "3.5", None, None, "3.5", None, "7/2"),
    ("answer_on_the_next_line",
     "Multiplying 5 by 5 we get the area.\n\n**Final Answer:**\n\n25",
     "25", "25", None, None, "25", None, "25"),
    ("revised_answer",
     "Answer: 14\n\nWait, I made an error: 6 × 3 = 18, not 14.\nAnswer: 18",
     "18", "18", None, None, "18", None, "18"),
    ("cut_right_after_answer_colon",
     "Answer: 5\nHmm, let me double-check that.\nAnswer:",
     "5", "5", None, None, "5", None, "5"),
    ("currency_with_thousands",
     "It earns $1,250 per day, so in 8 days 8 × 1,250 = $10,000.\nAnswer: $10,000",
     "10000", "10000", None, None, "10000", None, "10000"),
    ("negative_decimal",
     "The temperature drops from 3.5 to -2.25 degrees.\nAnswer: -2.25",
     "-2.25", "-2.25", None, None, "-2.25", None, "-9/4"),
    ("answer_with_unit_and_period",
     "Each of the 4 friends pays 15 dollars, so the total is 60 dollars.\n"
     "Answer: 60 dollars.",
     "60 dollars", "60 dollars", None, None, "60", None, "60"),
    ("boxed_fraction",
     "Simplifying, $\\frac{2}{4} = \\frac{1}{2}$.\n\n"
     "The final answer is $\\boxed{\\frac{1}{2}}$.",
     "\\frac{1}{2}", None, "\\frac{1}{2}", "\\frac{1}{2}", "2", None, "1/2"),
    ("boxed_then_a_box_cut_open",
     "So the area is \\boxed{12}. Actually, let me recompute: \\boxed{\\frac{25}{",
     "12", None, "12", None, "25", None, "12"),
    ("fbox", "Summing the series gives \\fbox{8}",
     "8", None, "8", None, "8", None, "8"),
    ("bare_number", "13", "13", None, None, None, "13", None, "13"),
    ("bare_equation", "4 + 8 = 12", "12", None, None, None, "12", None, "12"),
    ("two_equations", "2 + 3 = 5, 7 + 1 = 8.", "8", None, None, None, "8", None, "8"),
    ("answer_is_sentence",
     "First, 15% of 80 is 12. Then 80 - 12 = 68. The answer is 68. I hope this helps!",
     "68", None, None, "68", "68", None, "68"),
    ("answer_is_bold", "Putting it together, the answer is **42**.",
     "42", None, None, "42", "42", None, "42"),
    ("final_answer_is_boxed", "Therefore, the final answer is: $\\boxed{5}$",
     "5", None, "5", "5", "5", None, "5"),
    ("fraction_in_prose", "Three of the four outcomes win, so the probability is 3/4.",
     "3/4", None, None, None, "3/4", None, "3/4"),
    ("latex_sqrt_answer",
     "We have $x^2 = 4$ and $x > 0$, so $x = \\sqrt{4}$.\n\nAnswer: $\\sqrt{4}$",
     "\\sqrt{4}", "\\sqrt{4}", None, None, "4", None, "2"),
    ("decimal_answer", "Half of the pizza is left, i.e. 0.5 of it.\nAnswer: 0.5",
     "0.5", "0.5", None, None, "0.5", None, "1/2"),
    ("dfrac_answer",
     "Therefore the ratio is $\\dfrac12$.\n\nFinal answer: $\\dfrac12$",
     "\\dfrac12", "\\dfrac12", None, None, None, None, "1/2"),
    ("assignment_answer",
     "Solving $2x + 1 = 7$ gives $x = 3$.\n\n**Answer:** $x = 3$",
     "x = 3", "x = 3", None, None, "3", None, "3"),
    ("text_answer_starting_with_a_choice_letter",
     "The capital of Germany is Berlin.\nAnswer: Berlin",
     "berlin", "berlin", None, None, None, None, "berlin"),
    ("choice_answer_line",
     "Option (A) is too small and (C) ignores the tax.\nAnswer: (B)",
     "(b)", "(b)", None, None, None, "b", "b"),
    ("choice_answer_is",
     "Statement A contradicts the premise, and D ignores the second clue. "
     "Therefore the answer is (B).",
     "(b)", None, None, "(b)", None, "b", "b"),
    ("choice_answer_is_bare", "Comparing the options, the answer is C.",
     "c", None, None, "c", None, "c", "c"),
    ("choice_answer_then_an_option_mentioned",  # an answer line is the rest of its line
     "Answer: (B). Option (A) was a trap.",
     "(b). option (a) was a trap", "(b). option (a) was a trap", None, None, None, "b",
     "(b). option (a) was a trap"),
    ("choice_bold",
     "After eliminating the others, **B** is the only option consistent with the data.",
     None, None, None, None, None, "b", None),
    ("choice_last_line", "Let me look at each option in turn.\nB) 42",
     "42", None, None, None, "42", "b", "42"),
    ("choice_boxed", "The correct choice is therefore \\boxed{D}.",
     "d", None, "d", None, None, "d", "d"),
    ("choice_letter_then_a_word",
     "The answer is A bit tricky, so let me reason. Finally, the answer is E.",
     "e", None, None, "e", None, "e", "e"),
    ("lowercase_a_in_prose",
     "It takes a while, but a careful count gives a total of 9 sheep.",
     "9", None, None, None, "9", None, "9"),
    ("no_answer_at_all",
     "I'm sorry, but I can't determine that from the information given.",
     None, None, None, None, None, None, None),
    ("cut_mid_sentence_no_number",
     "To find the total, we first multiply the price by the quantity, which gives us",
     None, None, None, None, None, None, None),
    ("cut_mid_sentence_after_a_number",
     "First, 12 × 3 = 36. Next we subtract the",
     "36", None, None, None, "36", None, "36"),
    ("empty", "", None, None, None, None, None, None, None),
]

CELLS = [pytest.param(text, preset, expected, id=f"{row_id}-{preset}")
         for row_id, text, *expected_row in TABLE
         for preset, expected in zip(PRESETS, expected_row, strict=True)]


def test_the_table_is_large_and_covers_every_preset():
    assert PRESETS == ANSWER_PRESETS
    assert len(TABLE) >= 30 and all(len(row) == 2 + len(PRESETS) for row in TABLE)
    assert len({row[0] for row in TABLE}) == len(TABLE)


@pytest.mark.parametrize("text, preset, expected", CELLS)
def test_every_preset_on_real_looking_completions(text, preset, expected):
    assert build_extractor(preset=preset).extract(text) == expected


# -- options ----------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", [p for p in PRESETS if p != "choice"])
def test_lowercase_and_numeric_work_with_every_preset(preset):
    keep = build_extractor(preset=preset, lowercase=False, numeric=False)
    default = build_extractor(preset=preset)
    text = "\\boxed{Berlin}" if preset == "boxed" else "The answer is Berlin."
    if preset in ("answer_line", "auto", "math"):
        text = "Answer: Berlin"
    if preset != "last_number":
        assert keep.extract(text) == "Berlin" and default.extract(text) == "berlin"
    number = {"boxed": "\\boxed{1,000}", "answer_is": "the answer is 1,000."}.get(
        preset, "Answer: 1,000")
    expected = "1000" if preset == "math" else "1,000"  # math compares by value anyway
    assert keep.extract(number) == expected
    assert default.extract(number) == "1000"


def test_choice_keeps_the_letters_case_when_asked_and_reads_gold_letters():
    assert build_extractor(preset="choice", lowercase=False).extract("Answer: (B)") == "B"
    choice = build_extractor(preset="choice")
    assert {choice.normalize(gold) for gold in ("B", "(B)", "b", "B) 42", "\\boxed{B}")} == {"b"}


def test_numbers_keep_their_canonical_form():
    auto = build_extractor()
    assert [auto.extract(f"Answer: {x}") for x in ("1,000", "17.0", "0.50", "6/4")] == [
        "1000", "17", "0.5", "3/2"]


def test_normalize_trims_markup_from_gold_answers():
    auto = build_extractor()
    assert auto.normalize("$\\frac{1}{2}$") == "\\frac{1}{2}"
    assert auto.normalize("**42**.") == "42"
    assert auto.normalize("\\boxed{7}") == "7"
    assert auto.normalize(None) is None and auto.normalize("  ") is None
    assert auto.normalize("$x$ + $y$") == "$x$ + $y$"  # two formulas, not one in $...$


# -- math-verify ------------------------------------------------------------------------------

def _parsed(answer: str):
    from math_verify import parse

    return parse(f"${answer}$")


def test_equivalent_answers_are_one_vote():
    math = build_extractor(preset="math")
    halves = ["1/2", "0.5", "\\frac{1}{2}", "\\dfrac12", "$\\frac12$", "\\tfrac{1}{2}", "0.50"]
    assert {math.normalize(x) for x in halves} == {"1/2"}
    completions = ["So \\boxed{\\dfrac12}", "Answer: 0.5", "The answer is $\\frac{1}{2}$.",
                   "Half of it: 1/2"]
    assert {math.extract(text) for text in completions} == {"1/2"}


def test_sqrt_of_4_is_2_as_math_verify_says():
    from math_verify import verify

    assert verify(_parsed("2"), _parsed("\\sqrt{4}"))
    math = build_extractor(preset="math")
    assert math.normalize("\\sqrt{4}") == math.normalize("2") == "2"
    assert math.normalize("\\sqrt{8}") == math.normalize("2\\sqrt{2}") == "2*sqrt(2)"


def test_an_assignment_is_its_value_as_math_verify_treats_it():
    from math_verify import verify

    # math-verify accepts 'x = 3' for a gold 3, and 3 for a gold 'x = 3'
    assert verify(_parsed("3"), _parsed("x = 3")) and verify(_parsed("x = 3"), _parsed("3"))
    math = build_extractor(preset="math")
    assert math.normalize("x = 3") == math.normalize("3") == "3"
    assert math.extract("**Answer:** $x = 3$") == math.normalize("3")


def test_unreadable_answers_fall_back_to_plain_text():
    math = build_extractor(preset="math")
    assert math.normalize("Paris") == "paris"
    assert build_extractor(preset="math", lowercase=False).normalize("Paris") == "Paris"
    assert math.normalize("12 dollars") == "12"  # math-verify reads the number in prose
    assert math.normalize("") is None and math.extract("no idea") is None


def test_huge_powers_are_left_unevaluated():
    math = build_extractor(preset="math")
    assert math.extract("\\boxed{10^{10^{10}}}") == "10**(10**10)"


def test_math_works_off_the_main_thread():
    # math-verify's timeout is signal.alarm, which only the main thread may use; iapo serve
    # and Policy.answer_async extract in worker threads
    math = build_extractor(preset="math")
    out = []
    worker = threading.Thread(target=lambda: out.append(math.extract("Answer: \\dfrac{3}{6}")))
    worker.start()
    worker.join()
    assert out == ["1/2"]


def test_math_without_math_verify_is_a_config_error(monkeypatch):
    monkeypatch.setattr(_presets, "math_available", lambda: False)
    with pytest.raises(ValueError, match="math-verify"):
        build_extractor(preset="math")
    config = config_from_mapping({**_LIVE, "answer": {"preset": "math"}}, "c.yaml")
    with pytest.raises(ConfigError) as err:
        _answer_extractor(config, "c.yaml")
    assert err.value.field == "answer.preset" and "pip install math-verify" in str(err.value)


# -- the extractor's interface and the config -------------------------------------------------

def test_describe():
    assert build_extractor().describe() == (
        "preset 'auto' (\\boxed{}, an 'Answer:' line, 'the answer is', else the last number)")
    assert build_extractor(pattern=DEFAULT_PATTERN).describe() == f"pattern '{DEFAULT_PATTERN}'"
    assert all(build_extractor(preset=p).describe().startswith(f"preset '{p}' (")
               for p in PRESETS)


def test_build_extractor_picks_a_pattern_or_a_preset():
    assert type(build_extractor(pattern=DEFAULT_PATTERN)) is AnswerExtractor
    assert isinstance(build_extractor(), PresetExtractor)
    assert build_extractor().preset == "auto"
    with pytest.raises(ValueError, match="not both"):
        build_extractor(pattern=DEFAULT_PATTERN, preset="auto")
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        build_extractor(preset="nope")


def test_a_pattern_keeps_todays_behaviour():
    texts = ["Answer: 3\nwait\nAnswer:  1,024. ", "I think it is 5.", "x. Answer: 223",
             "**Answer:** 7", "ANSWER: **42**", ""]
    legacy, configured = AnswerExtractor(), build_extractor(pattern=DEFAULT_PATTERN)
    assert [configured.extract(t) for t in texts] == [legacy.extract(t) for t in texts] == [
        "1024", None, None, None, "42", None]


_LIVE = {"name": "t", "backend": {"kind": "live", "model": "m", "max_n": 4}, "budget": 10}


def test_the_bundled_quickstart_keeps_its_pattern():
    config = load_config(ROOT / "configs" / "quickstart.yaml")
    extractor = _answer_extractor(config, "quickstart.yaml")
    assert type(extractor) is AnswerExtractor and extractor.pattern == DEFAULT_PATTERN


def test_the_default_is_auto_and_is_stored():
    assert _answer_extractor(config_from_mapping(_LIVE, "c.yaml"), "c.yaml").preset == "auto"
    config = config_from_mapping({**_LIVE, "answer": {"lowercase": False}}, "c.yaml")
    assert config.stored()["answer"] == {"preset": "auto", "pattern": None,
                                         "lowercase": False, "numeric": True}
    given = config_from_mapping({**_LIVE, "answer": {"pattern": "x(.)"}}, "c.yaml")
    assert given.stored()["answer"]["preset"] is None
    assert config_from_mapping(given.stored(), "c.yaml").stored() == given.stored()


def test_pattern_and_preset_together_are_refused_in_one_line():
    with pytest.raises(ConfigError) as err:
        config_from_mapping({**_LIVE, "answer": {"pattern": "x(.)", "preset": "boxed"}},
                            "c.yaml")
    assert err.value.field == "answer.pattern" and len(err.value.errors) == 1
    assert str(err.value) == ("c.yaml: answer.pattern: give either a pattern or a preset "
                              "('boxed'), not both")


@pytest.mark.parametrize("answer, field", [
    ({"pattern": "("}, "answer.pattern"),
    ({"pattern": "answer"}, "answer.pattern"),  # no group
])
def test_a_bad_pattern_is_a_config_error_at_the_pattern(answer, field):
    config = config_from_mapping({**_LIVE, "answer": answer}, "c.yaml")
    with pytest.raises(ConfigError) as err:
        _answer_extractor(config, "c.yaml")
    assert err.value.field == field


def test_an_unknown_preset_is_refused_by_the_schema():
    with pytest.raises(ConfigError) as err:
        config_from_mapping({**_LIVE, "answer": {"preset": "boxes"}}, "c.yaml")
    assert err.value.field == "answer.preset"


# -- imports ----------------------------------------------------------------------------------

def _modules_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    return {name.split(".")[0] for name in json.loads(out)}


def test_other_presets_import_neither_math_verify_nor_sympy():
    loaded = _modules_after(
        "import iapo_cli.tasks as tasks\n"
        "from iapo_cli.config import config_from_mapping\n"
        "for preset in tasks.ANSWER_PRESETS:\n"
        "    extractor = tasks.build_extractor(preset=preset)\n"
        "    if preset != 'math':\n"
        "        extractor.extract('So \\\\boxed{\\\\frac{1}{2}}. Answer: (B) 12')\n"
        "        extractor.normalize('0.5')")
    assert not loaded & {"math_verify", "sympy", "latex2sympy2_extended", "mpmath"}
    used = _modules_after("import iapo_cli.tasks as tasks\n"
                          "tasks.build_extractor(preset='math').extract('Answer: 0.5')")
    assert {"math_verify", "sympy"} <= used
