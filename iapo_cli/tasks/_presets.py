"""Answer presets: where real completions state their answer, without a regular expression.

Each preset finds the answer as written (the last one the completion gives: models revise),
trims its markup (markdown bold and italics, ``$...$`` and ``\\(...\\)`` delimiters, a
whole-answer ``\\boxed{}``, trailing punctuation) and normalises it as ``AnswerExtractor``
does. ``build_extractor`` turns a config's ``answer`` section into an extractor.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ._answers import AnswerExtractor
from ._math import math_available, math_canonical

ANSWER_PRESETS = ("auto", "answer_line", "boxed", "answer_is", "last_number", "choice",
                  "math")
"""The presets' names; 'auto' is the default of a config that gives no ``pattern``."""

_DESCRIPTIONS = {
    "auto": "\\boxed{}, an 'Answer:' line, 'the answer is', else the last number",
    "answer_line": "the last 'Answer:' line",
    "boxed": "the last \\boxed{}",
    "answer_is": "the last 'the answer is ...'",
    "last_number": "the last number",
    "choice": "a choice letter A-E",
    "math": "as 'auto', then compared by math-verify",
}

# -- trimming -------------------------------------------------------------------------------

# (opening, closing) markup around a whole answer, longest first
_WRAPPERS = (("**", "**"), ("__", "__"), ("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"),
             ("*", "*"), ("_", "_"), ("$", "$"), ("`", "`"))
_BOLD_SPAN = re.compile(r"\*\*(.+?)\*\*")
_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*\{")


def _closing_brace(text: str, start: int) -> int | None:
    """The index of the brace closing the one opened just before ``start``; None if the
    text ends first (a completion cut inside a box)."""
    depth, i = 1, start
    while i < len(text):
        char = text[i]
        if char == "\\":  # an escaped character (\{, \}, \\) groups nothing
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _unbox(text: str) -> str:
    """The content of a ``\\boxed{}`` that is the whole of ``text``; ``text`` otherwise."""
    match = _BOX_START.match(text)
    if match:
        end = _closing_brace(text, match.end())
        if end == len(text) - 1:
            return text[match.end():end]
    return text


def trim(answer: str) -> str:
    """``answer`` without markup that is no part of it: bold spans unbolded, then
    repeatedly surrounding space, trailing punctuation, a pair of markdown or math
    delimiters and a whole-answer ``\\boxed{}`` removed (``**$\\boxed{7}$**.`` -> ``7``)."""
    s = _BOLD_SPAN.sub(r"\1", answer)
    while True:
        before = s
        s = s.strip().rstrip(".,;:!").rstrip()
        for left, right in _WRAPPERS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                inner = s[len(left):len(s) - len(right)]
                if left not in inner and right not in inner:  # not '$x$ + $y$'
                    s = inner
                    break
        s = _unbox(s)
        if s == before:
            return s


def _last(candidates) -> str | None:
    """The last candidate that is not empty once trimmed (a completion cut right after
    'Answer:' still has the answer it gave before)."""
    for candidate in reversed(list(candidates)):
        if candidate is not None and trim(candidate):
            return candidate
    return None


# -- the finders: text -> the answer as written, or None --------------------------------------

# 'Answer:' anywhere in a line, with markdown around the keyword ('**Answer:**',
# '**Final Answer**:', '*Answer:*'); an empty rest of line takes the next non-empty line
_ANSWER_LINE = re.compile(
    r"(?i)\banswer[ \t]*(?:\*{1,2}|_{1,2})?[ \t]*[:：][ \t]*(?:\*{1,2}|_{1,2})?[ \t]*(?:\n\s*)?"
    r"(?P<x>[^\n]*)")
# what follows 'answer is', up to the end of the sentence (. ! or ? before a space or the
# end: '3.5' goes on) or of the line
_ANSWER_IS = re.compile(
    r"(?im)\banswer\s+is\b[ \t]*:?[ \t]*(?P<x>.+?)(?=[.!?](?:\s|$)|$)")
# 1,000 (groups of three) or 1000, decimals, a fraction 3/4, a sign; not the tail of a
# word or a longer number ('x2', '.5' of '1.5')
_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:/\d+)?")


def find_boxed(text: str) -> str | None:
    """The content of the last complete ``\\boxed{...}`` (or ``\\fbox{...}``), nested
    braces included (``\\boxed{\\frac{1}{2}}`` -> ``\\frac{1}{2}``)."""
    contents = []
    for match in _BOX_START.finditer(text):
        end = _closing_brace(text, match.end())
        if end is not None:
            contents.append(text[match.end():end])
    return _last(contents)


def find_answer_line(text: str) -> str | None:
    """The rest of the line after the last 'Answer:' (any case, anywhere in a line,
    'Final answer:', '**Answer:**', '**Answer**:')."""
    return _last(match.group("x") for match in _ANSWER_LINE.finditer(text))


def find_answer_is(text: str) -> str | None:
    """What follows the last 'the answer is' ('the final answer is', 'my answer is: '),
    up to the end of its sentence or line."""
    return _last(match.group("x") for match in _ANSWER_IS.finditer(text))


def find_last_number(text: str) -> str | None:
    """The last number: an integer, a decimal, a negative, ``1,000``, a fraction ``3/4``."""
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


# -- multiple choice ------------------------------------------------------------------------

_LETTER = "[A-E]"
# a statement naming a letter: 'Answer: (B)', 'The answer is C.', 'correct option is **D**';
# a bare letter must end there (punctuation, line end, a '(' or dash, 'because') so that
# 'the answer is A bit more' is no choice
_CHOICE_STATEMENT = re.compile(
    r"(?i:\b(?P<keyword>answer|option|choice)\b)(?:\s+(?i:is))?[ \t]*[:：]?[ \t]*"
    r"(?:\*\*|__)?[ \t]*(?:\\text\{)?"
    rf"(?:\((?P<a>{_LETTER})\)|(?P<b>{_LETTER})(?=(?:\}})?(?:\*\*|__)"
    r"|[.,;:!)]|[ \t]*(?:$|\n)|[ \t]+(?:[(\[\-–—]|(?:because|since|as)\b)))",
    re.MULTILINE)
_CHOICE_BOLD = re.compile(rf"\*\*\(?({_LETTER})\)?[.):]?\*\*")
_CHOICE_LINE = re.compile(rf"^\(?({_LETTER})(?:[).:\]]|$)")
_CHOICE_ALONE = re.compile(rf"^\(?({_LETTER})\)?$")
_CHOICE_PAREN = re.compile(rf"\(({_LETTER})\)")
_TEXT_WRAPPER = re.compile(r"^\\(?:text|textbf|mathrm|mathbf)\s*\{(.*)\}$")


def find_choice(text: str) -> str | None:
    """A multiple-choice letter A-E, in order of trust: a ``\\boxed{}`` letter, the last
    answer statement ('Answer: (B)', 'The answer is C.'; else the last 'the correct option
    is D'), the last bold letter (``**B**``), else a letter opening the last non-empty line
    ('B) 42', '(C)') or the last one in parentheses there ("I'd pick (E)"). Only capitals
    count: 'a' in prose is no choice."""
    boxed = find_boxed(text)
    if boxed is not None:
        inner = trim(boxed)
        wrapped = _TEXT_WRAPPER.match(inner)
        alone = _CHOICE_ALONE.match(trim(wrapped.group(1)) if wrapped else inner)
        if alone:
            return alone.group(1)
    # an 'answer' statement outranks a later mention of an option ('Option (A) was a trap')
    statements = sorted(_CHOICE_STATEMENT.finditer(text),
                        key=lambda m: (m.group("keyword").lower() == "answer", m.start()))
    if statements:
        return statements[-1].group("a") or statements[-1].group("b")
    bold = _CHOICE_BOLD.findall(text)
    if bold:
        return bold[-1]
    lines = [line.strip().lstrip("#>*- \t") for line in text.splitlines()]
    lines = [line for line in lines if line]
    if lines:
        match = _CHOICE_LINE.match(lines[-1])
        if match:
            return match.group(1)
        parenthesised = _CHOICE_PAREN.findall(lines[-1])
        if parenthesised:
            return parenthesised[-1]
    return None


def find_auto(text: str) -> str | None:
    """The first of ``\\boxed{}``, an 'Answer:' line, 'the answer is', the last number
    that finds an answer."""
    for finder in (find_boxed, find_answer_line, find_answer_is, find_last_number):
        found = finder(text)
        if found is not None:
            return found
    return None


FINDERS: dict[str, Callable[[str], str | None]] = {
    "auto": find_auto,
    "answer_line": find_answer_line,
    "boxed": find_boxed,
    "answer_is": find_answer_is,
    "last_number": find_last_number,
    "choice": find_choice,
    "math": find_auto,
}


# -- the extractor --------------------------------------------------------------------------

class PresetExtractor(AnswerExtractor):
    """``AnswerExtractor`` with a preset's finder instead of a regular expression.

    ``extract(text)`` is the normalised answer the preset finds (None: none);
    ``normalize(answer)`` trims the answer's markup, then normalises as
    ``AnswerExtractor`` does (``lowercase``, ``numeric``: numbers in ``canonical_number``
    form). Two presets go further:

    * 'choice': an answer that states a letter ('(B)', 'B) 42', ``\\boxed{B}``) is that
      letter, so a gold '(B)' and an extracted 'B' agree;
    * 'math': the answer read by math-verify in canonical form (``math_canonical``: 1/2,
      0.5, ``\\frac{1}{2}`` all give '1/2'; ``x = 3`` gives '3'); only an answer it cannot
      read is normalised as plain text (where ``lowercase`` and ``numeric`` apply).

    An unknown preset, or 'math' without math-verify installed, is a ValueError."""

    def __init__(self, preset: str = "auto", lowercase: bool = True, numeric: bool = True):
        if preset not in FINDERS:
            raise ValueError(f"unknown preset '{preset}' (known: {', '.join(ANSWER_PRESETS)})")
        if preset == "math" and not math_available():
            raise ValueError("preset 'math' needs the math-verify package "
                             "(pip install math-verify)")
        self.preset, self.pattern, self.regex = preset, None, None
        self.lowercase, self.numeric = lowercase, numeric
        self._finder = FINDERS[preset]

    def describe(self) -> str:
        return f"preset '{self.preset}' ({_DESCRIPTIONS[self.preset]})"

    def normalize(self, answer: str | None) -> str | None:
        if answer is None:
            return None
        s = trim(answer)
        if self.preset == "choice":
            letter = find_choice(s)
            if letter is not None:
                s = letter
        elif self.preset == "math" and s:
            canonical = math_canonical(s)
            if canonical is not None:
                return canonical
        return super().normalize(s)

    def _find(self, text: str) -> str | None:
        return self._finder(text)


def build_extractor(pattern: str | None = None, preset: str | None = None,
                    lowercase: bool = True, numeric: bool = True) -> AnswerExtractor:
    """The extractor of a config's ``answer`` section: ``AnswerExtractor(pattern)`` when a
    pattern is given, else ``PresetExtractor(preset)``, preset 'auto' when neither is.
    Giving both, a bad pattern or an unknown preset is a ValueError (``re.error`` for a
    pattern that does not compile)."""
    if pattern is not None and preset is not None:
        raise ValueError("give either a pattern or a preset, not both")
    if pattern is not None:
        return AnswerExtractor(pattern, lowercase, numeric)
    return PresetExtractor(preset or "auto", lowercase, numeric)

