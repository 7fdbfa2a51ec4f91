"""``evaluate``: score a run's policy on its test split, next to the usual recipes.

Backends that know their distributions (categorical, synthetic, replay) are scored exactly.
A live run samples: every prompt a comparison needs is pulled on every test query at the
largest N any comparison deploys it at, and every comparison is read from those same
completions with the all-subsets estimators (unbiased at every smaller N). Test queries
were never pulled in training, so their sample slots are fresh, and a rerun is served from
the cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import errors
from ..artifacts import RunDir, ranking_column
from ..backends import ExactBackend
from ..config import config_from_mapping
from ..errors import BelowMinimum, ConfigError, IapoError
from ..evaluation import (
    AGNOSTIC,
    DESCRIPTIONS,
    ORACLE,
    POLICY,
    Choice,
    ChoiceScore,
    ExactTable,
    comparison_choices,
    gain_captured,
    oracle_choice,
    score_choice,
)
from ..llm import LLMError
from ..strategies import utility
from ._optimize import client_usage, with_recorded_cache
from ._resolve import ResolvedRun, resolve

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BelowMinimum", "Evaluation", "EvaluationInterrupted", "evaluate", "reopen_run",
           "write_evaluation"]


class EvaluationInterrupted(errors.Interrupted):
    """Ctrl-C while sampling test completions (exit 130); those already received are
    cached."""

    def __init__(self, run_dir: Path):
        super().__init__(f"evaluation interrupted; completions received so far are cached, "
                         f"so rerunning 'iapo evaluate {run_dir}' continues for free")


@dataclass
class Evaluation:
    run_dir: Path
    method: str  # "exact" or "sampled"
    contexts: tuple[str, ...]
    probabilities: np.ndarray
    prompt_ids: tuple[str, ...]
    test_queries: int
    scores: list[ChoiceScore]
    skipped: list[str]  # comparisons the budget did not cover
    spent: int  # completions requested (live)
    budget: int | None
    usage: dict | None
    strategy: str = "majority_vote"  # the strategy the values are for
    run_status: str = "complete"  # summary.json's status of the trained run
    run_spent: int | None = None  # training completions the run spent (summary.json)
    run_budget: int | None = None  # and its budget

    @property
    def partial(self) -> bool:
        """The run did not finish (interrupted, failed, or still marked running): its
        policy rests on part of its budget."""
        return self.run_status != "complete"

    def partial_note(self) -> str | None:
        """One sentence saying the run is partial (None for a complete run)."""
        if not self.partial:
            return None
        spent = ("" if self.run_spent is None or self.run_budget is None else
                 f", {self.run_spent} of {self.run_budget} training completions spent")
        return (f"the run is {self.run_status}, not complete (summary.json{spent}): its "
                "policy rests on part of the budget")

    def min_acr_failure(self, min_acr: float | None, allow_partial: bool = False
                        ) -> str | None:
        """Why the policy fails ``--min-acr`` (None when it passes or no minimum is set):
        its test ACR is below ``min_acr``, or the run is partial and ``allow_partial`` is
        not given (a CI gate must not pass a policy trained on part of its budget)."""
        if min_acr is None:
            return None
        if self.policy.acr < min_acr:
            return f"policy ACR {self.policy.acr:.4f} is below --min-acr {min_acr:g}"
        if self.partial and not allow_partial:
            return (f"{self.partial_note()}; --min-acr fails a partial run unless "
                    "--allow-partial is given")
        return None

    def score(self, name: str) -> ChoiceScore | None:
        return next((s for s in self.scores if s.choice.name == name), None)

    @property
    def policy(self) -> ChoiceScore:
        return self.scores[0]

    def gain(self, name: str) -> float:
        agnostic, oracle = self.score(AGNOSTIC), self.score(ORACLE)
        if agnostic is None or oracle is None:
            return float("nan")
        return gain_captured(self.score(name).acr, agnostic.acr, oracle.acr)

    def frame(self) -> pd.DataFrame:
        """One row per (comparison, context), then one 'ACR' row per comparison."""
        import pandas as pd

        rows = []
        oracle = self.score(ORACLE)
        for s in self.scores:
            for c, name in enumerate(self.contexts):
                rows.append({"comparison": s.choice.name, "context": name,
                             "prompt": self.prompt_ids[s.choice.prompt[c]],
                             "n": int(s.choice.scale[c]), "value": float(s.value[c]),
                             "sem": float(s.sem[c]), "regret": float(
                                 oracle.value[c] - s.value[c]) if oracle else np.nan,
                             "gain_captured": np.nan})
            rows.append({"comparison": s.choice.name, "context": "ACR", "prompt": "",
                         "n": np.nan, "value": s.acr, "sem": s.acr_sem,
                         "regret": oracle.acr - s.acr if oracle else np.nan,
                         "gain_captured": self.gain(s.choice.name)})
        return pd.DataFrame(rows)

    def as_dict(self, min_acr: float | None = None, allow_partial: bool = False) -> dict:
        """evaluation.json's data. ``meets_min_acr`` agrees with ``evaluate --min-acr``'s
        exit code: false when the ACR is below ``min_acr`` or when the run is partial and
        ``allow_partial`` is not set."""
        def clean(v: float) -> float | None:
            return None if not np.isfinite(v) else float(v)

        oracle = self.score(ORACLE)
        return {
            "run_dir": str(self.run_dir),
            "method": self.method,
            "strategy": self.strategy,
            "run_status": self.run_status,
            "partial": self.partial,
            "partial_note": self.partial_note(),
            "run_spent": self.run_spent,
            "run_budget": self.run_budget,
            "test_queries": self.test_queries,
            "policy_acr": self.policy.acr,
            "policy_acr_sem": self.policy.acr_sem,
            "min_acr": min_acr,
            "allow_partial": allow_partial,
            "meets_min_acr": None if min_acr is None else
            self.min_acr_failure(min_acr, allow_partial) is None,
            "gain_captured": clean(self.gain(POLICY)),
            "gain_captured_means": "(policy - inference-agnostic) / (oracle - inference-agnostic)",
            "comparisons": [{
                "name": s.choice.name,
                "description": DESCRIPTIONS[s.choice.name],
                "acr": s.acr, "acr_sem": s.acr_sem,
                "regret": clean(oracle.acr - s.acr) if oracle else None,
                "gain_captured": clean(self.gain(s.choice.name)),
                "contexts": [{"context": name, "probability": float(p),
                              "prompt": self.prompt_ids[s.choice.prompt[c]],
                              "n": int(s.choice.scale[c]), "value": float(s.value[c]),
                              "sem": float(s.sem[c])}
                             for c, (name, p) in enumerate(zip(self.contexts,
                                                               self.probabilities,
                                                               strict=True))],
            } for s in self.scores],
            "skipped": self.skipped,
            "spent": self.spent,
            "budget": self.budget,
            "usage": self.usage,
        }


def reopen_run(run_dir: Path | RunDir) -> tuple[ResolvedRun, dict, dict]:
    """The run's resolved setup (relative paths as in the original config), its split and
    its policy file. Raises ConfigError (naming ``RUN_DIR``) for a missing or unreadable
    file."""
    files = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir, flag="RUN_DIR")
    data = files.read_config()
    summary = files.read_summary()
    split = files.read_split()
    policy = files.read_policy()
    stored = str(files.file(RunDir.CONFIG))
    source = summary.get("config_path") or stored
    config = with_recorded_cache(config_from_mapping(data, stored), summary)
    resolved = resolve(config, source)
    return resolved, split, policy


def _policy_choice(resolved: ResolvedRun, policy: dict, source: Path) -> Choice:
    ids = resolved.problem.backend.prompt_ids
    names = resolved.problem.contexts.names
    rows = {r.get("context"): r for r in policy.get("contexts", [])}
    prompt, scale = [], []
    for name in names:
        row = rows.get(name)
        if row is None or row.get("prompt") not in ids:
            raise ConfigError(f"has no usable arm for context '{name}'", source=str(source))
        prompt.append(ids.index(row["prompt"]))
        scale.append(int(row["n"]))
    return Choice(POLICY, np.array(prompt), np.array(scale))


def _train_estimates(resolved: ResolvedRun, files: RunDir) -> np.ndarray:
    """(C, P, S) training estimates from estimates.csv (NaN where the run had none), the
    unbiased ones when the run wrote them (comparisons rank arms as the algorithms did;
    the clipped ``utility`` would tie arms at the range's bound)."""
    import pandas as pd

    if not files.has(RunDir.ESTIMATES):  # say why, not just that the run is incomplete
        raise ConfigError(f"{files.path} has no {RunDir.ESTIMATES} (written by iapo optimize "
                          "since version 0.3); rerun optimize", field=files.flag)
    frame = files.read_estimates(["context", "prompt", "n", "utility"])
    column = ranking_column(frame)
    problem = resolved.problem
    out = np.full((len(problem.contexts), problem.n_prompts, len(problem.scales)), np.nan)
    c = pd.Index(problem.contexts.names).get_indexer(frame.context.astype(str))
    p = pd.Index(problem.backend.prompt_ids).get_indexer(frame.prompt.astype(str))
    s = pd.Index(problem.scales).get_indexer(frame.n)
    ok = (c >= 0) & (p >= 0) & (s >= 0)
    out[c[ok], p[ok], s[ok]] = frame[column].to_numpy(dtype=float)[ok]
    return out


def _sampled(resolved: ResolvedRun, test: np.ndarray, need: np.ndarray,
             progress: Callable[[int, int], None] | None) -> np.ndarray:
    """(C, P, X, S) per-query utility estimates from pulling prompt p at ``need[p]`` on
    every test query (NaN for scales above it)."""
    problem = resolved.problem
    backend = problem.backend
    contexts = problem.contexts
    out = np.full((len(contexts), problem.n_prompts, len(test), len(problem.scales)), np.nan)
    pulls = [(p, test, int(n)) for p, n in enumerate(need) if n > 0]
    total, done = int(need.sum()) * len(test), [0]

    def advance(count: int) -> None:
        done[0] += count
        progress(done[0], total)

    backend.progress = advance if progress is not None else None
    samples = backend.sample_many(pulls, np.random.default_rng(0))
    for (p, _, n), sample in zip(pulls, samples, strict=True):
        est = backend.strategy.estimate(sample, contexts.task_weights)
        util = utility(est.task, est.cost, contexts.cost_weights)  # (X, C, n)
        cols = problem.scales <= n
        view = out[:, p]  # (C, X, S), a view
        view[:, :, cols] = util[:, :, problem.scales[cols] - 1].transpose(1, 0, 2)
    return out


def _usage(resolved: ResolvedRun) -> dict | None:
    usage = client_usage(resolved)
    return None if usage is None else {"model": resolved.config.model_label(), **usage}


def evaluation_cost(resolved: ResolvedRun, choices: list[Choice]) -> np.ndarray:
    """(P,) the N each prompt must be sampled at so that every choice can be read."""
    need = np.zeros(resolved.problem.n_prompts, dtype=np.int64)
    for choice in choices:
        np.maximum.at(need, choice.prompt, choice.scale)
    return need


def evaluate(run_dir: str | Path, budget: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> Evaluation:
    """Score the run in ``run_dir`` on its test split (``write_evaluation`` then writes
    evaluation.json/.csv). A missing or unreadable file of the run is a ConfigError.

    ``budget`` caps the completions a live evaluation may request (cached ones included).
    Default: enough for the policy and the comparisons once per test query; the oracle is
    added when the budget also covers every prompt at the grid's largest N.
    ``progress(done, total)`` follows the live completions. Raises
    ConfigError when the budget cannot cover the policy itself.
    """
    run_dir = Path(run_dir)
    files = RunDir(run_dir, flag="RUN_DIR")
    resolved, split, policy_file = reopen_run(files)
    files.check_evaluation_writable()  # before anything is drawn
    summary = files.read_summary()
    problem = resolved.problem
    test = np.asarray(split.get("test", []), dtype=np.int64)
    if test.size == 0:
        raise ConfigError("the run has no test queries (split.test_fraction is 0)",
                          source=str(files.file(RunDir.SPLIT)))
    if test.max() >= problem.backend.n_queries:
        raise ConfigError("names queries the backend does not have",
                          source=str(files.file(RunDir.SPLIT)))
    if budget is not None and budget <= 0:
        raise ConfigError("must be > 0", field="--budget")
    policy = _policy_choice(resolved, policy_file, files.file(RunDir.POLICY))
    if not np.isin(policy.scale, problem.scales).all():
        raise ConfigError("deploys an N outside the run's scale grid",
                          source=str(files.file(RunDir.POLICY)))
    train = _train_estimates(resolved, files)
    probabilities = problem.contexts.probabilities
    choices = comparison_choices(train, problem.scales, probabilities, policy)
    backend = problem.backend
    skipped: list[str] = []
    spent = 0
    if isinstance(backend, ExactBackend):
        method = "exact"
        table = ExactTable(backend, problem.contexts)
        values = table.per_query(test)[:, :, :, problem.scales - 1]
    else:
        method = "sampled"
        n_test = len(test)
        need = evaluation_cost(resolved, choices)
        full = np.full(problem.n_prompts, int(problem.scales[-1]))
        if budget is None:
            budget = int(need.sum()) * n_test
        least = int(evaluation_cost(resolved, choices[:1]).sum()) * n_test
        if least > budget:
            raise ConfigError(f"{budget} completions cannot sample the policy once per test "
                              f"query ({least} needed)", field="--budget")
        if int(full.sum()) * n_test <= budget:
            need = full
        else:
            kept = [choices[0]]
            for choice in choices[1:]:
                trial = evaluation_cost(resolved, [*kept, choice])
                if int(trial.sum()) * n_test <= budget:
                    kept.append(choice)
                else:
                    skipped.append(choice.name)
            choices = kept
            need = evaluation_cost(resolved, choices)
            skipped.append(ORACLE)
        try:
            values = _sampled(resolved, test, need, progress)
        except KeyboardInterrupt:
            raise EvaluationInterrupted(run_dir) from None
        except LLMError as exc:
            raise IapoError(f"evaluation failed: {exc}; completions received so far are "
                            "cached") from None
        spent = int(need.sum()) * n_test
    if ORACLE not in skipped:
        choices = [*choices, oracle_choice(values, problem.scales)]
    scores = [score_choice(values, problem.scales, probabilities, c) for c in choices]
    evaluation = Evaluation(run_dir, method, problem.contexts.names, probabilities,
                            problem.backend.prompt_ids, len(test), scores, skipped, spent,
                            budget if method == "sampled" else None, _usage(resolved),
                            problem.backend.strategy.name, *_run_state(summary))
    return evaluation


def _run_state(summary: dict) -> tuple[str, int | None, int | None]:
    """(status, spent, budget) of the trained run from its summary.json; a summary without
    a status (none is written so) counts as not complete."""
    status = summary.get("status")
    spent, budget = summary.get("spent"), summary.get("budget")
    return (str(status) if status else "unknown",
            spent if isinstance(spent, int) else None,
            budget if isinstance(budget, int) else None)


def write_evaluation(evaluation: Evaluation, min_acr: float | None = None,
                     allow_partial: bool = False) -> dict:
    """evaluation.json and evaluation.csv in the run directory; returns the JSON data
    (``Evaluation.as_dict``)."""
    if min_acr is not None and not math.isfinite(min_acr):
        raise ConfigError(f"must be a finite number, got {min_acr}", field="--min-acr")
    data = evaluation.as_dict(min_acr, allow_partial)
    RunDir(evaluation.run_dir).write_evaluation(data, evaluation.frame())
    return data
