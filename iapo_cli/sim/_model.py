"""A simulated chat model for arithmetic word problems (a simulator, not an LLM).

It recognises the bank's questions inside the messages and answers in ordinary text with an
``Answer: <number>`` line. Its accuracy depends on the question (more steps are harder) and
on cues in the prompt around the question; its errors and its length depend on the prompt
too, so that the best prompt at N=1 is not the best under majority voting:

* "step by step" / "show your work": more accurate, long answers, errors spread over many
  values (voting fixes them);
* "only the final answer" / "just the number": short and cheap, errors concentrated on the
  question's typical slip (voting cannot fix them);
* "expert" / "double-check": a little more accurate, errors concentrated;
* "brainstorm" / "explore": less accurate per sample, errors very spread;
* temperature (decoding): higher spreads errors and costs accuracy; 0 is deterministic;
* a small fixed offset per prompt wording; without "Answer:" in the prompt the answer line
  is often missing.

Noise is seeded by (prompt, question, temperature, sample slot): slot i of a request always
gives the same text, distinct slots are independent draws.

Several simulated models (``SKILLS``) differ in skill (a logit offset) and length (a weaker
model writes fewer reasoning lines); the default one (``arith``) is the original model,
answer for answer.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from ._problems import Problem, generate_problems

_CUES = {
    "reason": ("step by step", "show your work", "reason it out"),
    "brief": ("only the final answer", "just the number", "no explanation"),
    "careful": ("expert", "double-check", "double check"),
    "explore": ("brainstorm", "explore"),
}


@dataclass(frozen=True)
class Skill:
    """A simulated model: ``logit`` is added to every answer's log-odds of being right;
    ``extra_checks`` caps the "Checking the arithmetic" lines of a reasoned answer (2: the
    original model's 0..2; 0: none, shorter answers); ``name`` (unless the default) seeds
    its noise, so that two models' samples are independent."""

    name: str
    logit: float = 0.0
    extra_checks: int = 2


SKILLS = {
    "arith": Skill("arith"),
    "arith-small": Skill("arith-small", logit=-0.9, extra_checks=0),
    "arith-large": Skill("arith-large", logit=1.2, extra_checks=2),
}
"""The simulated models by the name after ``iapo-sim/`` (other names: ``arith``)."""

DEFAULT_SKILL = SKILLS["arith"]


def _has(text: str, cue: str) -> bool:
    return any(phrase in text for phrase in _CUES[cue])


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "little")


class SimulatedModel:
    """``respond(messages, temperature, slot, n)`` -> n texts. Deterministic per slot."""

    def __init__(self, problems: list[Problem] | None = None):
        self.problems = problems or generate_problems()
        self._by_text = {p.question: p for p in self.problems}

    def find(self, text: str) -> Problem | None:
        for question, problem in self._by_text.items():
            if question in text:
                return problem
        return None

    def respond(self, messages: list[dict], temperature: float = 1.0, slot: int = 0,
                n: int = 1, skill: Skill = DEFAULT_SKILL) -> list[str]:
        text = "\n".join(str(m.get("content") or "") for m in messages)
        problem = self.find(text)
        prompt = text.replace(problem.question, "{question}") if problem else text
        cue_text = prompt.lower()
        model = () if skill == DEFAULT_SKILL else (skill.name,)  # the default: as it was
        base = _seed(prompt, problem.id if problem else "", f"{temperature:.3f}", *model)
        slots = [0] * n if temperature <= 0 else range(slot, slot + n)
        return [self._one(cue_text, problem, temperature, np.random.default_rng([base, s]),
                          skill)
                for s in slots]

    def _one(self, cues: str, problem: Problem | None, temperature: float,
             rng: np.random.Generator, skill: Skill = DEFAULT_SKILL) -> str:
        if problem is None:
            return f"I am not sure.\nAnswer: {int(rng.integers(0, 100))}"
        reason, brief = _has(cues, "reason"), _has(cues, "brief")
        careful, explore = _has(cues, "careful"), _has(cues, "explore")
        offset = (_seed(cues) % 1000) / 1000 * 0.5 - 0.25
        heat = max(temperature, 0.0)
        logit = (1.3 + 0.9 * reason - 0.3 * brief + 0.5 * careful - 0.6 * explore + offset
                 - 1.0 * (problem.steps - 1) - 0.8 * max(heat - 1.0, 0.0) + skill.logit)
        correct = rng.random() < 1 / (1 + math.exp(-logit))
        if correct:
            value = problem.answer
        else:
            # how often an error is the question's typical slip (errors voting cannot fix)
            slip = 0.1 if explore else 0.8 if brief or careful else 0.35
            if heat > 1.0:
                slip /= heat
            if rng.random() < slip:
                value = problem.trap
            else:
                spread = int(3 + 6 * heat + 10 * explore)
                step = int(rng.integers(1, spread))
                value = problem.answer + step * (1 if problem.answer < step else
                                                 int(rng.choice([-1, 1])))
        lines = []
        if reason or explore:
            lines.append("Let's work through this step by step.")
            for step in range(problem.steps):
                filler = " ".join(["we", "carefully", "combine", "the", "numbers"][
                    : int(rng.integers(2, 6))])
                lines.append(f"Step {step + 1}: {filler} from the question.")
            checks = int(rng.integers(0, 3))  # drawn for every model: the noise stays aligned
            lines.extend(["Checking the arithmetic once more."] * min(checks,
                                                                     skill.extra_checks))
        elif not brief:
            lines.append("Here is the result.")
        asks_format = "answer:" in cues
        if asks_format and rng.random() < 0.97 or not asks_format and rng.random() < 0.4:
            lines.append(f"Answer: {value}")
        else:
            lines.append(f"I get {value}.")
        return "\n".join(lines)


def token_count(text: str) -> int:
    """The simulator's tokenizer: roughly 4/3 tokens per word."""
    return math.ceil(len(text.split()) * 4 / 3)


def truncate(text: str, max_tokens: int) -> str:
    """``text`` cut to its longest prefix of whole words whose ``token_count`` is at most
    ``max_tokens`` (the text itself when it fits; a cut text's words are joined by
    single spaces), as a provider stops a completion at max_tokens."""
    if token_count(text) <= max_tokens:
        return text
    words = text.split()
    keep = max_tokens * 3 // 4
    while keep > 0 and token_count(" ".join(words[:keep])) > max_tokens:
        keep -= 1
    return " ".join(words[:keep])
