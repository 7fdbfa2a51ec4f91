"""What training returns: the policy, the trimming log and the run's totals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ._problem import Problem, add_model_column, arm_names, pandas

if TYPE_CHECKING:
    import pandas as pd


Observer = Callable[[int, int, int, int], None]  # (round, rounds, spent, budget)


class TrimmingLog:
    """Per round, context and arm considered: the estimate and whether it survived."""

    columns = ("round", "context", "prompt", "n", "estimate", "samples", "kept")

    def __init__(self):
        self._parts: list[pd.DataFrame] = []  # one frame per round

    def record(self, round_: int, problem: Problem, considered: np.ndarray, kept: np.ndarray,
               estimate: np.ndarray, samples: np.ndarray) -> None:
        """considered/kept: (C, P, S) masks over the scale grid; estimate (C, P, S);
        samples (P, S) pulls behind each estimate."""
        c, p, s = np.nonzero(considered)
        part = pandas().DataFrame({
            "round": round_,
            "context": np.asarray(problem.contexts.names, dtype=object)[c],
            "prompt": arm_names(problem.backend)[p],
            "n": problem.scales[s],
            "estimate": estimate[c, p, s],
            "samples": samples[p, s],
            "kept": kept[c, p, s],
        })
        add_model_column(part, problem.backend, p)
        self._parts.append(part)

    def frame(self) -> pd.DataFrame:
        pd = pandas()
        if not self._parts:
            return pd.DataFrame(columns=list(self.columns))
        return pd.concat(self._parts, ignore_index=True)


@dataclass
class Policy:
    """Per context: the chosen arm, its estimated utility and the pulls behind it."""

    contexts: tuple[str, ...]
    prompt_ids: tuple[str, ...]
    prompt: np.ndarray  # (C,) prompt index
    scale: np.ndarray  # (C,) N
    estimate: np.ndarray  # (C,) as reported: task part clipped to its range (Estimates)
    samples: np.ndarray  # (C,)
    agnostic: np.ndarray | None = None  # (C,) the chosen prompt's task utility at N=1 (no cost)
    fallback: np.ndarray | None = None  # (C,) the algorithm's pick had no data: best estimated
    usd_per_query: np.ndarray | None = None  # (C,) expected USD per query; NaN unpriced
    over_cap: np.ndarray | None = None  # (C,) no arm met the context's caps: cheapest taken
    arm_models: tuple[str, ...] | None = None  # per arm: model id (multi-model backends)
    arm_prompts: tuple[str, ...] | None = None  # per arm: prompt id (with arm_models)

    def frame(self) -> pd.DataFrame:
        """One row per context. With ``arm_models``, ``prompt`` is the arm's prompt id and
        ``model`` its model id; ``usd_per_query`` only when some chosen arm is priced."""
        names = self.arm_prompts if self.arm_models is not None else self.prompt_ids
        out = pandas().DataFrame({
            "context": list(self.contexts),
            "prompt": [names[p] for p in self.prompt],
            "n": self.scale.astype(int),
            "estimated_utility": self.estimate,
            "samples": self.samples.astype(int),
        })
        if self.arm_models is not None:
            out.insert(2, "model", [self.arm_models[p] for p in self.prompt])
        if self.usd_per_query is not None and not np.isnan(self.usd_per_query).all():
            out["usd_per_query"] = self.usd_per_query
        if self.over_cap is not None and self.over_cap.any():
            out["over_cap"] = self.over_cap.astype(bool)
        if self.agnostic is not None:
            out["task_utility_n1"] = self.agnostic  # not comparable: cost left out
        if self.fallback is not None and self.fallback.any():  # only then: files unchanged
            out["fallback"] = self.fallback.astype(bool)
        return out


@dataclass
class TrainingResult:
    policy: Policy
    log: TrimmingLog
    budget: int
    spent: int
    pulls: int
    rounds: int
    extra: dict = field(default_factory=dict)
    completions: int = 0  # completions served, whatever the budget's unit
