"""Answer extraction and normalisation for majority voting."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

DEFAULT_PATTERN = r"(?im)^\s*answer\s*:\s*(.+?)\s*$"

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
    (``numeric``). No match, or an empty answer, is ``None`` ("no answer")."""

    def __init__(self, pattern: str = DEFAULT_PATTERN, lowercase: bool = True,
                 numeric: bool = True):
        self.regex = re.compile(pattern)
        if self.regex.groups < 1:
            raise ValueError("the pattern needs a capture group (the answer is group 1)")
        self.lowercase, self.numeric = lowercase, numeric

    def normalize(self, answer: str | None) -> str | None:
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
        matches = list(self.regex.finditer(text or ""))
        if not matches:
            return None
        return self.normalize(matches[-1].group(1))
