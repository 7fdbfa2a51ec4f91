"""Answer extraction and normalisation for majority voting: the regular-expression extractor
(``AnswerExtractor``) and the canonical form of numbers. The presets are in ``_presets``."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

DEFAULT_PATTERN = r"(?im)^\s*answer\s*:\s*(.+?)\s*$"
"""iapo's historical answer pattern (an 'Answer:' line at the start of a line):
``AnswerExtractor()``'s default. A config without ``answer.pattern`` uses preset 'auto'."""

_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")
_FRACTION = re.compile(r"^([-+]?\d+)\s*/\s*(\d+)$")


def canonical_number(text: str) -> str | None:
    """'1,000' -> '1000', '17.0' -> '17', '0.50' -> '0.5', '6/4' -> '3/2'; None if not a
    number."""
    s = text.strip().strip("$€£").rstrip(".").replace(" ", "")
    s = s.removesuffix("%")
    match = _FRACTION.match(s)
    if match:
        if int(match.group(2)) == 0:
            return None
        value = Fraction(int(match.group(1)), int(match.group(2)))
        return str(value.numerator) if value.denominator == 1 else str(value)
    if not s or not _NUMBER.match(s) or s in "+-.":
        return None
    try:
        value = Decimal(s.replace(",", ""))
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


class AnswerExtractor:
    """The first group of the last match of ``pattern``, normalised: surrounding space and
    trailing punctuation stripped, lower-cased (``lowercase``), numbers in canonical form
    (``numeric``). No match, or an empty answer, is ``None`` ("no answer").

    The base of every extractor: ``extract(text)`` is ``normalize`` of what ``_find``
    finds, ``normalize(answer)`` puts a gold answer in the same form (two answers are the
    same vote exactly when their normal forms are equal strings), ``describe()`` says
    what is looked for (for messages). A bad ``pattern`` (or one without a group) is a
    ``re.error`` / ``ValueError``."""

    def __init__(self, pattern: str = DEFAULT_PATTERN, lowercase: bool = True,
                 numeric: bool = True):
        self.regex = re.compile(pattern)
        if self.regex.groups < 1:
            raise ValueError("the pattern needs a capture group (the answer is group 1)")
        self.pattern = pattern
        self.lowercase, self.numeric = lowercase, numeric

    def describe(self) -> str:
        """What this extractor looks for, in a few words (e.g. ``pattern '...'``)."""
        return f"pattern '{self.pattern}'"

    def normalize(self, answer: str | None) -> str | None:
        """``answer`` (an extracted or a gold answer) in normal form; None for no answer."""
        if answer is None:
            return None
        s = " ".join(answer.split()).strip().rstrip(".,;:!")
        s = s.strip("*`\"' ")
        if self.numeric:
            number = canonical_number(s)
            if number is not None:
                return number
        if self.lowercase:
            s = s.lower()
        return s or None

    def extract(self, text: str) -> str | None:
        """The normalised answer of a completion ``text``; None when it gives none."""
        return self.normalize(self._find(text or ""))

    def _find(self, text: str) -> str | None:
        """The answer as written in ``text`` (before normalisation), None if none."""
        matches = list(self.regex.finditer(text))
        return matches[-1].group(1) if matches else None
