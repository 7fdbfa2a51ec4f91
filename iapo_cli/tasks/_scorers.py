"""Scorers: each scores a batch of completions on one objective and declares its range.

Built-in: ``exact_match``, ``numeric_match``, ``regex_match``, ``contains``, ``length``,
``llm_judge``; and ``python:module:function`` for a user's own scorer (imported only because
the config names it). Objectives are normalised to [0, 1] by their range before weighting.
"""

from __future__ import annotations

import importlib
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IapoError
from ._answers import AnswerExtractor, canonical_number


class ScoringError(IapoError):
    """A scorer could not score a completion (runtime, exit 1)."""


@dataclass(frozen=True)
class Sample:
    """What a scorer sees of one completion."""

    text: str
    row: dict  # the dataset row
    target: str | None
    prompt: str  # the rendered user message
    completion_tokens: float


class Scorer:
    name: str = ""
    range: tuple[float, float] = (0.0, 1.0)

    def score(self, samples: list[Sample]) -> np.ndarray:
        raise NotImplementedError


class ExactMatch(Scorer):
    """1 when the extracted answer (the whole text without an ``answer`` pattern) equals
    the target after normalisation."""

    name = "exact_match"

    def __init__(self, extractor: AnswerExtractor | None):
        self.extractor = extractor or AnswerExtractor(r"(?s)(.*)", numeric=False)

    def score(self, samples):
        out = np.zeros(len(samples))
        for i, s in enumerate(samples):
            want = self.extractor.normalize(s.target)
            out[i] = float(want is not None and self.extractor.extract(s.text) == want)
        return out


class NumericMatch(Scorer):
    """1 when the extracted answer and the target are numbers within ``tolerance``."""

    name = "numeric_match"

    def __init__(self, extractor: AnswerExtractor | None, tolerance: float = 1e-6):
        self.extractor = extractor or AnswerExtractor(r"(-?[\d,]*\.?\d+)(?!.*\d)")
        self.tolerance = float(tolerance)

    @staticmethod
    def _value(text: str | None) -> float | None:
        number = canonical_number(text) if text is not None else None
        if number is None:
            return None
        num, _, den = number.partition("/")
        return float(num) / float(den) if den else float(num)

    def score(self, samples):
        out = np.zeros(len(samples))
        for i, s in enumerate(samples):
            got = self._value(self.extractor.extract(s.text))
            want = self._value(s.target)
            out[i] = float(got is not None and want is not None
                           and abs(got - want) <= self.tolerance)
        return out


class RegexMatch(Scorer):
    """1 when ``pattern`` matches somewhere in the completion."""

    name = "regex_match"

    def __init__(self, pattern: str):
        self.regex = re.compile(pattern)

    def score(self, samples):
        return np.array([float(self.regex.search(s.text) is not None) for s in samples])


class Contains(Scorer):
    """1 when the completion contains ``text`` (default: the target), case-insensitively
    unless ``case_sensitive``."""

    name = "contains"

    def __init__(self, text: str | None = None, case_sensitive: bool = False):
        self.text, self.case_sensitive = text, case_sensitive

    def score(self, samples):
        out = np.zeros(len(samples))
        for i, s in enumerate(samples):
            needle = self.text if self.text is not None else s.target
            if not needle:
                continue
            hay = s.text if self.case_sensitive else s.text.lower()
            out[i] = float((needle if self.case_sensitive else needle.lower()) in hay)
        return out


class Length(Scorer):
    """Completion tokens (range [0, ``max_tokens``]; give it a negative weight to prefer
    short answers)."""

    name = "length"

    def __init__(self, max_tokens: float = 1024):
        self.range = (0.0, float(max_tokens))

    def score(self, samples):
        return np.array([s.completion_tokens for s in samples], dtype=float)


_RATING = re.compile(r"(?i)rating\s*[:=]\s*\**\s*(-?\d+(?:\.\d+)?)")


class LLMJudge(Scorer):
    """A second model rates each completion on ``scale`` ([low, high]); cached like any
    completion (one judgement per distinct completion). An unreadable rating is asked again
    (next sample slot) up to ``attempts`` times, then the run stops."""

    name = "llm_judge"

    def __init__(self, client, scale: tuple[float, float] = (1, 10),
                 criteria: str = "correctness and helpfulness", attempts: int = 3,
                 decoding: dict | None = None):
        self.client = client
        self.range = (float(scale[0]), float(scale[1]))
        self.criteria, self.attempts = criteria, int(attempts)
        self.decoding = {"temperature": 0} if decoding is None else dict(decoding)

    def messages(self, sample: Sample) -> list[dict]:
        low, high = (f"{v:g}" for v in self.range)
        reference = f"\n\n[Reference answer]\n{sample.target}" if sample.target else ""
        return [
            {"role": "system", "content": "You are a strict, fair grader."},
            {"role": "user", "content":
                f"Rate the response for {self.criteria} on a scale from {low} to {high}. "
                f"End with a line 'Rating: <number>'.\n\n[Question]\n{sample.prompt}"
                f"{reference}\n\n[Response]\n{sample.text}"},
        ]

    def score(self, samples):
        from ..llm import ChatRequest

        out = np.full(len(samples), np.nan)
        todo = list(range(len(samples)))
        for attempt in range(self.attempts):
            requests = [ChatRequest(self.messages(samples[i]), self.decoding, [attempt])
                        for i in todo]
            replies = self.client.complete(requests, kind="judge")
            left = []
            for i, reply in zip(todo, replies, strict=True):
                match = list(_RATING.finditer(reply[0].text))
                value = float(match[-1].group(1)) if match else math.nan
                if math.isnan(value) or not self.range[0] <= value <= self.range[1]:
                    left.append(i)
                else:
                    out[i] = value
            todo = left
            if not todo:
                return out
        raise ScoringError(f"llm_judge: no rating in {self.range[0]:g}..{self.range[1]:g} "
                           f"after {self.attempts} attempts for {len(todo)} completion(s)")


class PythonScorer(Scorer):
    """``function(text, row) -> float`` from ``module:function``, imported with the
    config's directory on ``sys.path``."""

    def __init__(self, target: str, base_dir: Path, value_range: tuple[float, float]):
        module_name, _, function = target.partition(":")
        if not module_name or not function:
            raise ValueError(f"'python:{target}' must name module:function")
        if str(base_dir) not in sys.path:
            sys.path.insert(0, str(base_dir))
        try:
            module = importlib.import_module(module_name)
        except (Exception, SystemExit) as exc:  # the user's module: any failure is bad input
            raise ValueError(f"cannot import '{module_name}' ({type(exc).__name__}: {exc})"
                             ) from None
        self.function: Callable = getattr(module, function, None)
        if not callable(self.function):
            raise ValueError(f"'{module_name}' has no function '{function}'")
        self.name, self.range = f"python:{target}", value_range

    def score(self, samples):
        """One finite number (or a bool, 0/1) per sample; anything else the user's function
        does (raise, return NaN, a string or None, call ``sys.exit``) is a ScoringError (a runtime
        failure: the run stops with status failed, its completions cached)."""
        out = np.zeros(len(samples))
        for i, s in enumerate(samples):
            try:
                value = self.function(s.text, s.row)
            except (Exception, SystemExit) as exc:  # the user's code; sys.exit is no exit
                raise ScoringError(f"{self.name} failed: {type(exc).__name__}: {exc}"
                                   ) from None
            if not isinstance(value, int | float | np.number | np.bool_):  # bool: 0 or 1
                raise ScoringError(f"{self.name} returned {type(value).__name__} "
                                   f"{str(value)[:40]!r}, not a number")
            if not math.isfinite(value):
                raise ScoringError(f"{self.name} returned {value}, not a finite number")
            out[i] = float(value)
        return out


SCORERS = ("exact_match", "numeric_match", "regex_match", "contains", "length", "llm_judge",
           "python:module:function")


def build_scorer(kind: str, params: dict, value_range: tuple[float, float] | None,
                 extractor: AnswerExtractor | None, base_dir: Path,
                 judge_client: Callable[[dict], object]) -> Scorer:
    """The scorer an objective names. Raises ValueError with a one-line reason."""
    params = dict(params)
    try:
        if kind.startswith("python:"):
            if value_range is None:
                raise ValueError("a python scorer needs 'range' on its objective")
            scorer: Scorer = PythonScorer(kind.removeprefix("python:").strip(), base_dir,
                                          value_range)
        elif kind == "exact_match":
            scorer = ExactMatch(extractor, **params)
        elif kind == "numeric_match":
            scorer = NumericMatch(extractor, **params)
        elif kind == "regex_match":
            scorer = RegexMatch(**params)
        elif kind == "contains":
            scorer = Contains(**params)
        elif kind == "length":
            scorer = Length(**params)
        elif kind == "llm_judge":
            settings = {k: params.pop(k) for k in list(params)
                        if k in ("model", "api_base", "timeout", "concurrency")}
            if "model" not in settings:
                raise ValueError("llm_judge needs params.model (a LiteLLM model string)")
            scorer = LLMJudge(judge_client(settings), **params)
        else:
            raise ValueError(f"unknown scorer '{kind}' (known: {', '.join(SCORERS)})")
    except TypeError as exc:
        raise ValueError(f"bad params for '{kind}': {exc}") from None
    except re.error as exc:
        raise ValueError(f"bad pattern for '{kind}': {exc}") from None
    if value_range is not None:
        scorer.range = tuple(value_range)
    return scorer


def normalise(raw: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Scores mapped from ``value_range`` to [0, 1] (clipped)."""
    low, high = value_range
    return np.clip((raw - low) / (high - low), 0.0, 1.0)
