"""Answer health: what became of each completion (answered, no answer, cut at max_tokens,
empty, scorer failure), counted per arm, and the early check that stops a run whose
model's first completions mostly give nothing to score."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import IapoError

OUTCOMES = ("answered", "no_answer", "truncated", "empty", "scorer_failed")
"""What became of a completion, in order of precedence: ``empty`` (no text), ``truncated``
(the provider cut it at max_tokens: finish reason ``length``), ``no_answer`` (the answer
extractor found nothing), ``answered``; ``scorer_failed`` (a scorer could not score it;
the run then stops)."""

ANSWERED, NO_ANSWER, TRUNCATED, EMPTY, SCORER_FAILED = range(len(OUTCOMES))


def outcome_of(text: str, finish_reason: str | None, answer: str | None,
               extracts: bool) -> int:
    """The outcome (an index into ``OUTCOMES``) of a completion with ``text`` and
    ``finish_reason``, whose extracted ``answer`` (when the run ``extracts`` answers) is
    ``answer`` (None: nothing found)."""
    if not text.strip():
        return EMPTY
    if finish_reason == "length":
        return TRUNCATED
    if extracts and answer is None:
        return NO_ANSWER
    return ANSWERED


class AnswerHealth:
    """Outcome counts per arm: ``counts`` (P, len(OUTCOMES)) int64, a fixed size whatever
    the budget."""

    def __init__(self, n_arms: int):
        self.counts = np.zeros((n_arms, len(OUTCOMES)), dtype=np.int64)

    def add(self, arm: int, outcome: int) -> None:
        self.counts[arm, outcome] += 1

    def fail(self, arm: int) -> None:
        """One completion of ``arm`` that counted as answered could not be scored."""
        if self.counts[arm, ANSWERED] > 0:
            self.counts[arm, ANSWERED] -= 1
        self.counts[arm, SCORER_FAILED] += 1

    @property
    def completions(self) -> np.ndarray:
        """(P,) completions counted per arm."""
        return self.counts.sum(axis=1)

    def all_answered(self) -> bool:
        return bool((self.counts[:, 1:] == 0).all())

    def records(self, arm_ids: Sequence[str], arm_models: Sequence[str]) -> list[dict]:
        """One record per arm with completions: ``arm``, ``model``, ``completions`` and a
        count per outcome."""
        out = []
        for arm, (name, model) in enumerate(zip(arm_ids, arm_models, strict=True)):
            row = self.counts[arm]
            if row.sum() == 0:
                continue
            out.append({"arm": name, "model": model, "completions": int(row.sum()),
                        **{key: int(v) for key, v in zip(OUTCOMES, row, strict=True)}})
        return out

    def by_model(self, arm_models: Sequence[str]) -> dict[str, dict]:
        """Per model: completions and a count per outcome, summed over its arms."""
        out: dict[str, dict] = {}
        for arm, model in enumerate(arm_models):
            row = self.counts[arm]
            entry = out.setdefault(model, {"completions": 0, **dict.fromkeys(OUTCOMES, 0)})
            entry["completions"] += int(row.sum())
            for key, value in zip(OUTCOMES, row, strict=True):
                entry[key] += int(value)
        return out


@dataclass(frozen=True)
class HealthCheck:
    """When to stop a run early: once a model's first ``window`` completions (all its
    prompts together) are in, more than ``max_unanswered`` of them without an answer
    (none found, or empty) or more than ``max_truncated`` of them cut at max_tokens."""

    window: int = 20
    max_unanswered: float = 0.5
    max_truncated: float = 0.5


def check_window(budget: float, unit: str, given: int | None = None) -> int:
    """Completions per model the early check looks at: ``given``, else 1% of a budget in
    completions within 20..50, never more than 5% of it (at least 8); 20 for a budget in
    another unit."""
    if given is not None:
        return int(given)
    if unit != "completions":
        return 20
    window = min(max(20, math.ceil(0.01 * budget)), 50)
    return max(8, min(window, int(0.05 * budget)))


class AnswerHealthError(IapoError):
    """A model's first completions mostly gave nothing to score (runtime, exit 1): the run
    stops before its budget goes; what was paid stays in the cache and ``--resume`` with a
    fixed extraction reuses it."""

    exit_code = 1


class EarlyCheck:
    """Watches each model's first completions and returns an ``AnswerHealthError`` once
    they show that the run would learn nothing (``HealthCheck``). Memory: a few counters
    per model."""

    def __init__(self, check: HealthCheck, arm_models: Sequence[str], extractor: str,
                 hints: tuple[str, str]):
        """``hints``: what to do about completions without an answer, and about
        completions cut at max_tokens (the end of the error line)."""
        self.check = check
        self.arm_models = tuple(arm_models)
        self.extractor, self.hints = extractor, hints
        self._seen: dict[str, np.ndarray] = {}  # model -> counts per outcome
        self._examples: dict[str, dict[int, str]] = {}  # model -> outcome -> first text
        self._decided: set[str] = set()

    def observe(self, arm: int, outcome: int, text: str) -> AnswerHealthError | None:
        """Count a completion of ``arm``; the error that stops the run, or None."""
        model = self.arm_models[arm]
        if model in self._decided:
            return None
        seen = self._seen.setdefault(model, np.zeros(len(OUTCOMES), dtype=np.int64))
        seen[outcome] += 1
        if outcome != ANSWERED:
            self._examples.setdefault(model, {}).setdefault(outcome, text)
        total = int(seen.sum())
        if total < self.check.window:
            return None
        self._decided.add(model)
        unanswered = int(seen[NO_ANSWER] + seen[EMPTY])
        truncated = int(seen[TRUNCATED])
        if truncated > self.check.max_truncated * total:
            what = f"{truncated} of its first {total} completions were cut at max_tokens " \
                f"({truncated / total:.0%})"
            hint, kinds = self.hints[1], (TRUNCATED,)
        elif unanswered > self.check.max_unanswered * total:
            what = f"{unanswered} of its first {total} completions have no answer " \
                f"({unanswered / total:.0%}) for the extractor {self.extractor}"
            hint, kinds = self.hints[0], (NO_ANSWER, EMPTY)
        else:
            return None
        examples = self._examples.get(model, {})
        text = examples.get(kinds[0], examples.get(kinds[-1], ""))
        return AnswerHealthError(f"{model}: {what}; e.g. {excerpt(text)}; {hint}")


def excerpt(text: str, length: int = 80) -> str:
    """A short, one-line, redacted quote of ``text``: its end, where answers are."""
    from ..llm import redact

    flat = " ".join(text.split())
    if not flat:
        return "an empty completion"
    quoted = flat if len(flat) <= length else "…" + flat[-(length - 1):]
    return repr(redact(quoted))
