"""Arithmetic word problems with gold answers: the simulator's question bank.

Generated from a seed, so the bundled file ``configs/data/arithmetic.jsonl`` can be
rebuilt (``python -m iapo_cli.sim``) and checked against this code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NAMES = ("Ava", "Ben", "Chloe", "Dev", "Elif", "Farid", "Gina", "Hugo", "Ines", "Jon")


@dataclass(frozen=True)
class Problem:
    id: str
    question: str
    answer: int
    steps: int  # operations needed (1..3): harder problems need more
    trap: int  # the answer a typical slip gives (a step left out)

    def row(self) -> dict:
        return {"id": self.id, "question": self.question, "answer": str(self.answer),
                "steps": self.steps}


def _one(kind: int, rng: np.random.Generator, index: int) -> Problem:
    name = NAMES[int(rng.integers(len(NAMES)))]
    a, b, c, d = (int(x) for x in rng.integers(2, 13, 4))
    if kind == 0:
        a, b = int(rng.integers(12, 90)), int(rng.integers(5, 60))
        q = f"{name} has {a} stickers and is given {b} more. How many stickers now?"
        answer, trap, steps = a + b, a + b + 10, 1
    elif kind == 1:
        q = f"A box holds {a} pencils. How many pencils are in {b} boxes?"
        answer, trap, steps = a * b, a + b, 1
    elif kind == 2:
        c = int(rng.integers(3, 30))
        q = (f"{name} reads {a} pages a day for {b} days, then {c} more pages. "
             f"How many pages did {name} read in total?")
        answer, trap, steps = a * b + c, a * b, 2
    elif kind == 3:
        c = int(rng.integers(1, a * b))
        q = (f"A baker bakes {a} trays of {b} muffins each and sells {c} muffins. "
             f"How many muffins are left?")
        answer, trap, steps = a * b - c, a * b, 2
    elif kind == 4:
        students = a * b
        q = (f"A class of {students} students splits into groups of {b}. Each group gets "
             f"{c} markers. How many markers are handed out?")
        answer, trap, steps = a * c, students * c, 2
    else:
        rest = d * int(rng.integers(2, 9))
        total = a * b + int(rng.integers(1, 40))
        spent = total - rest
        while spent < 0:
            a += 3
            total = a * b + 1
            rest = d * max(1, total // (2 * d))
            spent = total - rest
        q = (f"{name} earns {a} dollars an hour for {b} hours and gets a bonus of "
             f"{total - a * b} dollars, spends {spent} dollars, and shares the rest equally "
             f"among {d} friends. How many dollars does each friend get?")
        answer, trap, steps = rest // d, rest, 3
    return Problem(f"q{index:03d}", q, answer, steps, trap)


def generate_problems(count: int = 300, seed: int = 0) -> list[Problem]:
    """``count`` problems, kinds in rotation, numbers from ``seed``."""
    rng = np.random.default_rng(seed)
    return [_one(i % 6, rng, i) for i in range(count)]
