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
from ..algorithms import cap_mask
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
    PerQueryValues,
    best_model_choice,
    cheapest_near_best,
    comparison_choices,
    gain_captured,
    oracle_choice,
    score_choice,
)
from ..llm import LLMError
from ..strategies import utility
from ._health import health_summary
from ._optimize import client_usage, with_recorded_cache
from ._resolve import ResolvedRun, resolve

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ArmMap", "BelowMinimum", "Evaluation", "EvaluationInterrupted", "evaluate",
           "reopen_run", "write_evaluation"]


@dataclass(frozen=True)
class ArmMap:
    """The one place that maps a run directory's (prompt, model) rows to the backend's arm
    indices and back. A multi-model backend has ``arm_models``/``arm_prompts`` (its arm
    ids are "prompt@model"); a run directory written on one has a ``model`` column with
    ``prompt`` the prompt id. Single-model runs: ``models`` is None and a row's prompt is
    the arm id itself."""

    ids: tuple[str, ...]  # (P,) the backend's arm ids
    prompts: tuple[str, ...]  # (P,) prompt id of each arm
    models: tuple[str, ...] | None  # (P,) model id of each arm; None: one model

    @classmethod
    def of(cls, backend, multi_model: bool = False) -> ArmMap:
        """``backend``'s arms; ``multi_model``: the run directory has a ``model`` column
        (a backend without ``arm_models`` then has ids "prompt@model", split at the last
        '@')."""
        ids = tuple(str(i) for i in backend.prompt_ids)
        models = getattr(backend, "arm_models", None)
        if models is not None:
            return cls(ids, tuple(str(p) for p in backend.arm_prompts),
                       tuple(str(m) for m in models))
        if multi_model:
            split = [i.rpartition("@") if "@" in i else (i, "", "") for i in ids]
            return cls(ids, tuple(p for p, _, _ in split), tuple(m for _, _, m in split))
        return cls(ids, ids, None)

    @property
    def several_models(self) -> bool:
        return self.models is not None and len(set(self.models)) > 1

    def index(self, prompts, models=None) -> np.ndarray:
        """(K,) the arm index of each row (``prompts[k]``, ``models[k]``); -1 where the
        backend has no such arm. ``models`` None (or a row without one): the prompt is
        the arm id."""
        by_id = {arm: p for p, arm in enumerate(self.ids)}
        by_pair = ({} if self.models is None else
                   {pair: p for p, pair in enumerate(zip(self.prompts, self.models,
                                                         strict=True))})
        out = np.full(len(prompts), -1, dtype=np.int64)
        for k, prompt in enumerate(prompts):
            model = None if models is None else models[k]
            if model is None or (isinstance(model, float) and math.isnan(model)):
                out[k] = by_id.get(str(prompt), -1)
            else:
                out[k] = by_pair.get((str(prompt), str(model)),
                                     by_id.get(f"{prompt}@{model}", -1))
        return out

    def label(self, p: int) -> dict:
        """The keys a person reads for arm ``p``: ``prompt`` and, with models, ``model``."""
        if self.models is None:
            return {"prompt": self.ids[p]}
        return {"prompt": self.prompts[p], "model": self.models[p]}


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
    scales: np.ndarray  # (S,) the run's N grid
    strategy: str = "majority_vote"  # the strategy the values are for
    run_status: str = "complete"  # summary.json's status of the trained run
    run_spent: int | None = None  # training completions the run spent (summary.json)
    run_budget: int | None = None  # and its budget
    arms: ArmMap | None = None  # prompt/model labels of prompt_ids (None: the ids)
    usd_per_query: np.ndarray | None = None  # (C, P, S) training estimate; None: not known
    # what became of the completions (summary.json's ``answer_health`` layout) of training
    # (the run's own summary) and of this evaluation's test completions (sampled only);
    # None offline
    answer_health: dict | None = None
    test_answer_health: dict | None = None

    def _label(self, p: int) -> dict:
        return (self.arms.label(p) if self.arms is not None else
                {"prompt": self.prompt_ids[p]})

    def usd_per_1k(self, name: str) -> tuple[list[float | None], float | None] | None:
        """Comparison ``name``'s estimated USD per 1000 queries per context (None where
        unpriced) and over the context mix (None unless every context is priced); None
        when the run records no USD estimates."""
        if self.usd_per_query is None:
            return None
        choice = self.score(name).choice
        index = np.searchsorted(self.scales, choice.scale)
        usd = self.usd_per_query[np.arange(len(self.contexts)), choice.prompt, index] * 1000
        cells = [float(u) if np.isfinite(u) else None for u in usd]
        total = (float(self.probabilities @ usd) if np.isfinite(usd).all() else None)
        return cells, total

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
            usd = self.usd_per_1k(s.choice.name)
            for c, name in enumerate(self.contexts):
                rows.append({"comparison": s.choice.name, "context": name,
                             **self._label(s.choice.prompt[c]),
                             "n": int(s.choice.scale[c]), "value": float(s.value[c]),
                             "sem": float(s.sem[c]), "regret": float(
                                 oracle.value[c] - s.value[c]) if oracle else np.nan,
                             "gain_captured": np.nan,
                             **({} if usd is None else {"usd_per_1k_queries": np.nan
                                                        if usd[0][c] is None else usd[0][c]})})
            blank = {k: "" for k in self._label(0)}
            rows.append({"comparison": s.choice.name, "context": "ACR", **blank,
                         "n": np.nan, "value": s.acr, "sem": s.acr_sem,
                         "regret": oracle.acr - s.acr if oracle else np.nan,
                         "gain_captured": self.gain(s.choice.name),
                         **({} if usd is None else {"usd_per_1k_queries": np.nan
                                                    if usd[1] is None else usd[1]})})
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
            "comparisons": [self._comparison(s, oracle, clean) for s in self.scores],
            "skipped": self.skipped,
            "spent": self.spent,
            "budget": self.budget,
            "usage": self.usage,
            **({"answer_health": {"training": self.answer_health,
                                  "test": self.test_answer_health}}
               if self.answer_health is not None or self.test_answer_health is not None
               else {}),
        }

    def _comparison(self, s: ChoiceScore, oracle: ChoiceScore | None,
                    clean: Callable[[float], float | None]) -> dict:
        """evaluation.json's entry of one comparison; ``usd_per_1k_queries`` keys only when
        the run records USD estimates (null where an arm is unpriced)."""
        usd = self.usd_per_1k(s.choice.name)
        contexts = []
        for c, (name, p) in enumerate(zip(self.contexts, self.probabilities,
                                          strict=True)):
            item = {"context": name, "probability": float(p),
                    **self._label(s.choice.prompt[c]), "n": int(s.choice.scale[c]),
                    "value": float(s.value[c]), "sem": float(s.sem[c])}
            if usd is not None:
                item["usd_per_1k_queries"] = usd[0][c]
            contexts.append(item)
        out = {"name": s.choice.name, "description": DESCRIPTIONS[s.choice.name],
               "acr": s.acr, "acr_sem": s.acr_sem,
               "regret": clean(oracle.acr - s.acr) if oracle else None,
               "gain_captured": clean(self.gain(s.choice.name))}
        if usd is not None:
            out["usd_per_1k_queries"] = usd[1]
        out["contexts"] = contexts
        return out


def reopen_run(run_dir: Path | RunDir, require_keys: bool = True
               ) -> tuple[ResolvedRun, dict, dict]:
    """The run's resolved setup (relative paths as in the original config), its split and
    its policy file. Raises ConfigError (naming ``RUN_DIR``) for a missing or unreadable
    file; a live model's missing key too unless ``require_keys`` is False."""
    files = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir, flag="RUN_DIR")
    data = files.read_config()
    summary = files.read_summary()
    split = files.read_split()
    policy = files.read_policy()
    stored = str(files.file(RunDir.CONFIG))
    source = summary.get("config_path") or stored
    config = with_recorded_cache(config_from_mapping(data, stored), summary)
    resolved = resolve(config, source, require_keys=require_keys)
    return resolved, split, policy


def _policy_choice(resolved: ResolvedRun, arms: ArmMap, policy: dict, source: Path
                   ) -> Choice:
    names = resolved.problem.contexts.names
    rows = {r.get("context"): r for r in policy.get("contexts", [])}
    prompt, scale = [], []
    for name in names:
        row = rows.get(name)
        p = -1 if row is None else int(arms.index([row.get("prompt")],
                                                  [row.get("model")])[0])
        if p < 0:
            raise ConfigError(f"has no usable arm for context '{name}'", source=str(source))
        prompt.append(p)
        scale.append(int(row["n"]))
    return Choice(POLICY, np.array(prompt), np.array(scale))


@dataclass(frozen=True)
class TrainEstimates:
    """The run's training estimates from estimates.csv as (C, P, S) arrays over the
    backend's arms and the run's N grid, NaN where the run had none."""

    utility: np.ndarray  # the unbiased one when the run wrote it (what arms are ranked by)
    task: np.ndarray | None  # task utility (None: the run has no such column)
    cost: np.ndarray | None  # expected cost per query in the strategy's cost units
    usd: np.ndarray | None  # expected USD per query (None: the run records no USD)

    @property
    def priced(self) -> bool:
        """Some arm has a USD estimate."""
        return self.usd is not None and bool(np.isfinite(self.usd).any())


def within_caps(contexts, scales: np.ndarray, usd: np.ndarray | None,
                shape: tuple[int, int, int]) -> np.ndarray | None:
    """(C, P, S) the arms each context's caps allow, for the recipes it is compared with
    and the oracle (a context cannot deploy what its caps rule out): ``cap_mask`` with the
    estimated USD per query ``usd`` (C, P, S; an arm without a USD estimate is not allowed
    under a USD cap). None when no context is capped; a context that no arm meets keeps
    every arm."""
    if contexts.max_n is None and contexts.max_usd is None:
        return None
    ok = cap_mask(contexts, scales, shape, usd)
    return np.where(ok.any(axis=(1, 2))[:, None, None], ok, True)


def _train_estimates(resolved: ResolvedRun, arms: ArmMap, files: RunDir) -> TrainEstimates:
    """The training estimates; ``utility`` the unbiased ones when the run wrote them
    (comparisons rank arms as the algorithms did; the clipped ``utility`` would tie arms
    at the range's bound)."""
    import pandas as pd

    if not files.has(RunDir.ESTIMATES):  # say why, not just that the run is incomplete
        raise ConfigError(f"{files.path} has no {RunDir.ESTIMATES} (written by iapo optimize "
                          "since version 0.3); rerun optimize", field=files.flag)
    frame = files.read_estimates(["context", "prompt", "n", "utility"])
    problem = resolved.problem
    c = pd.Index(problem.contexts.names).get_indexer(frame.context.astype(str))
    models = frame.model.tolist() if "model" in frame.columns else None
    p = arms.index(frame.prompt.tolist(), models)
    s = pd.Index(problem.scales).get_indexer(frame.n)
    ok = (c >= 0) & (p >= 0) & (s >= 0)

    def table(column: str) -> np.ndarray | None:
        if column not in frame.columns:
            return None
        out = np.full((len(problem.contexts), problem.n_prompts, len(problem.scales)), np.nan)
        out[c[ok], p[ok], s[ok]] = frame[column].to_numpy(dtype=float)[ok]
        return out

    return TrainEstimates(table(ranking_column(frame)), table("task_utility"), table("cost"),
                          table("usd_per_query"))


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
    pop_usage = getattr(backend, "pop_usage", None)
    usages = pop_usage() if pop_usage is not None else [None] * len(pulls)
    for (p, _, n), sample, usage in zip(pulls, samples, usages, strict=True):
        est = backend.strategy.estimate(sample, contexts.task_weights)
        cost = est.cost  # (X, n): the completions' part
        if usage is not None and np.any(usage.request_cost):
            # the part billed once per request (prompt tokens under money or total_tokens):
            # a deployment at scale k sends requests_per_scale[p, k-1] requests per query,
            # as training counts it (ArmStatistics.task_and_cost)
            per_request = np.asarray(usage.request_cost) / np.maximum(usage.requests, 1)
            requests = np.asarray(backend.requests_per_scale)[p, :n]
            cost = cost + per_request[:, None] * requests[None, :]
        util = utility(est.task, cost, contexts.cost_weights)  # (X, C, n)
        cols = problem.scales <= n
        view = out[:, p]  # (C, X, S), a view
        view[:, :, cols] = util[:, :, problem.scales[cols] - 1].transpose(1, 0, 2)
    return out


def _usage(resolved: ResolvedRun) -> dict | None:
    usage = client_usage(resolved)
    return None if usage is None else {"model": resolved.config.model_label(), **usage}


def money_choices(arms: ArmMap, train: TrainEstimates, scales: np.ndarray,
                  probabilities: np.ndarray) -> list[Choice]:
    """The comparisons of runs that choose between models or price their arms (none for
    a run directory without a ``model`` column and without USD estimates, which evaluates
    as it always did): "the best single model at N=1" when the run has several models,
    "the cheapest arm within 1 point of the best" (task utility) when it has models or
    prices — cheapest in USD when every estimated arm is priced and some arm costs more
    than nothing, else in the strategy's cost units (estimates.csv's ``cost``)."""
    out: list[Choice] = []
    if arms.several_models:
        out.append(best_model_choice(train.utility, scales, probabilities, arms.models))
    if (arms.models is not None or train.priced) and train.task is not None:
        estimated = np.isfinite(train.task)
        usd_known = train.usd is not None and bool(np.isfinite(train.usd[estimated]).all())
        # a model priced at 0 (self-hosted) makes every arm free in USD: "cheapest" would
        # then pick the best task utility at any N; the cost units still tell arms apart
        free = usd_known and not bool((train.usd[estimated] > 0).any())
        price = train.usd if usd_known and not free else train.cost
        if price is not None:
            out.append(cheapest_near_best(train.task, price, scales))
    return out


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
    arms = ArmMap.of(problem.backend, any("model" in row
                                         for row in policy_file.get("contexts", [])))
    policy = _policy_choice(resolved, arms, policy_file, files.file(RunDir.POLICY))
    if not np.isin(policy.scale, problem.scales).all():
        raise ConfigError("deploys an N outside the run's scale grid",
                          source=str(files.file(RunDir.POLICY)))
    train = _train_estimates(resolved, arms, files)
    allowed = within_caps(problem.contexts, problem.scales, train.usd, train.utility.shape)
    compared = train if allowed is None else TrainEstimates(*(
        None if table is None else np.where(allowed, table, np.nan)
        for table in (train.utility, train.task, train.cost, train.usd)))
    probabilities = problem.contexts.probabilities
    choices = comparison_choices(compared.utility, problem.scales, probabilities, policy)
    choices += money_choices(arms, compared, problem.scales, probabilities)
    backend = problem.backend
    skipped: list[str] = []
    spent = 0
    if isinstance(backend, ExactBackend):
        method = "exact"
        # the test queries only, one context (or arm) at a time: memory for one context's
        # values, whatever the numbers of prompts and contexts
        table = ExactTable(backend, problem.contexts, queries=test)
        rows = np.arange(len(test))
        values = PerQueryValues(
            len(problem.contexts),
            lambda c: table.context_values(c, rows)[:, :, problem.scales - 1],
            per_arm=lambda c, p, s: table.arm_values(c, p, problem.scales[s] - 1, rows))
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
            values = PerQueryValues.of(_sampled(resolved, test, need, progress))
        except KeyboardInterrupt:
            raise EvaluationInterrupted(run_dir) from None
        except LLMError as exc:
            raise IapoError(f"evaluation failed: {exc}; completions received so far are "
                            "cached") from None
        spent = int(need.sum()) * n_test
    if ORACLE not in skipped:
        reachable = values.masked(allowed)
        choices = [*choices, oracle_choice(reachable, problem.scales)]
    scores = [score_choice(values, problem.scales, probabilities, c) for c in choices]
    evaluation = Evaluation(run_dir, method, problem.contexts.names, probabilities,
                            problem.backend.prompt_ids, len(test), scores, skipped, spent,
                            budget if method == "sampled" else None, _usage(resolved),
                            problem.scales, problem.backend.strategy.name,
                            *_run_state(summary), arms=arms,
                            usd_per_query=train.usd if train.priced else None,
                            answer_health=summary.get("answer_health"),
                            test_answer_health=health_summary(backend)
                            if method == "sampled" else None)
    return evaluation


def _run_state(summary: dict) -> tuple[str, float | None, float | None]:
    """(status, spent, budget) of the trained run from its summary.json; a summary without
    a status (none is written so) counts as not complete."""
    status = summary.get("status")
    spent, budget = summary.get("spent"), summary.get("budget")
    def amount(value):  # a number (a float for a budget in usd or cost), never a bool
        return value if isinstance(value, int | float) and not isinstance(value, bool) \
            else None

    return (str(status) if status else "unknown", amount(spent), amount(budget))


def write_evaluation(evaluation: Evaluation, min_acr: float | None = None,
                     allow_partial: bool = False) -> dict:
    """evaluation.json and evaluation.csv in the run directory; returns the JSON data
    (``Evaluation.as_dict``)."""
    if min_acr is not None and not math.isfinite(min_acr):
        raise ConfigError(f"must be a finite number, got {min_acr}", field="--min-acr")
    data = evaluation.as_dict(min_acr, allow_partial)
    RunDir(evaluation.run_dir).write_evaluation(data, evaluation.frame())
    return data
