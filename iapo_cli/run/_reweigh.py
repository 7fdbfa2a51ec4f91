"""Choosing an arm for a context training did not have (``Policy.arm(weights=...)``).

A run keeps every pull its training served (pulls.npys) and its trimming rounds
(trimming_log.csv). For new weights the pulls are replayed through the strategy's
estimator with those weights — the estimates training computed: PSST's pooled estimates
for a run trained on them (the pulls keep their queries), else the unbiased all-subsets
ones, so for majority voting the per-arm accuracy and cost curves weighted anew, for
Best-of-N the subset maxima of the newly weighted score vectors — and the new context
follows the rounds as one more context would have: in each round it considers its arms
among those the round considered, keeps as many as the trained contexts kept (pooled
rounds: as many prompts), ranking by its own estimates as they stood at the end of that
round; the last pick is its best estimate among its survivors. The pulls themselves are
those the trained contexts asked for, so a context whose best arms were trimmed early by
every trained context has little data behind them: such a choice is refused
(``UnsupportedWeights``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ..algorithms import PSST, Estimates, Problem, cap_mask, keep_best
from ..artifacts import RunDir
from ..backends import Contexts
from ..errors import ConfigError
from ..strategies import VOTES, ScorePull, VotePull
from ._resolve import ResolvedRun

SUPPORT_FRACTION = 0.5
"""A choice for new weights needs at least this fraction of the samples behind the least
sampled choice of a trained context (``UnsupportedWeights`` otherwise)."""


class UnsupportedWeights(ConfigError):
    """The training data cannot support a choice for these weights: the arm they would
    deploy was trimmed early by every trained context, so few pulls stand behind it."""


@dataclass(frozen=True)
class WeightsChoice:
    """The arm chosen for new weights: arm index ``prompt`` at scale ``n``; its estimated
    utility (as reported: task part clipped to its range) and the unbiased one it was
    ranked by; the pulls behind it; ``fallback``: no survivor of its trimming path had data,
    so the best estimated arm of the grid was taken."""

    prompt: int
    n: int
    expected_utility: float
    unbiased_utility: float
    samples: int
    fallback: bool


class PullHistory:
    """A run's pulls and trimming rounds, read once; ``choose`` for any weights.

    resolved: the run's setup (``reopen_run``); ``arm_index(prompts, models)`` maps the
    trimming log's rows to arm indices (``ArmMap.index``); ``usd`` (P, S) the estimated
    USD per query of each arm (NaN: unknown) for USD caps; ``trained_samples`` (C,) the
    samples behind each trained context's choice.
    """

    def __init__(self, resolved: ResolvedRun, files: RunDir, arm_index,
                 usd: np.ndarray | None, trained_samples: np.ndarray):
        problem = resolved.problem
        self.problem = problem
        self.strategy = problem.backend.strategy
        self.records = list(files.read_pulls())
        algorithm = resolved.algorithm
        # a run trained on pooled estimates is replayed on them (its pulls keep queries)
        self.pooled_alpha = float(algorithm.alpha) if (
            isinstance(algorithm, PSST) and algorithm.pooled(problem)
            and all(r.queries is not None for r in self.records)) else None
        self.usd = usd
        self.trained_samples = np.asarray(trained_samples)
        log = files.read_trimming_log(["round", "context", "prompt", "n", "kept"])
        models = log.model.tolist() if "model" in log.columns else None
        arm = arm_index(log.prompt.tolist(), models)
        scale = np.searchsorted(problem.scales, log.n.to_numpy())
        kept = log.kept.astype(str).str.lower().isin(["true", "1"]).to_numpy()
        shape = (problem.n_prompts, len(problem.scales))
        # per round: the arms any context considered, how many arms a context kept at
        # most, and how many prompts (pooled rounds keep prompts)
        self.rounds: list[tuple[int, np.ndarray, int, int]] = []
        rounds = log["round"].to_numpy()
        contexts = log.context.astype(str).to_numpy()
        for r in np.unique(rounds):
            rows = rounds == r
            considered = np.zeros(shape, bool)
            considered[arm[rows], scale[rows]] = True
            per_context = {c: int(kept[rows & (contexts == c)].sum())
                           for c in np.unique(contexts[rows])}
            prompts_kept = max(np.unique(arm[rows & kept & (contexts == c)]).size
                               for c in np.unique(contexts[rows]))
            self.rounds.append((int(r), considered, max(per_context.values()), prompts_kept))

    def _replay(self, task_weights: np.ndarray, cost_weight: float
                ) -> tuple[dict[int, np.ndarray], Estimates]:
        """(round -> (P, S) utility at the end of that round, the final ``Estimates``) of
        one context with these weights: unbiased estimates, or pooled ones when the run
        trained on them."""
        problem = self.problem
        contexts = Contexts(("new",), task_weights[None], np.array([cost_weight]),
                            np.ones(1))
        estimates = Estimates(Problem(problem.backend, problem.train, problem.scales,
                                      contexts))
        if self.pooled_alpha is not None:
            estimates.pool_votes(self.pooled_alpha)
        make = VotePull if self.strategy.pull_kind == VOTES else ScorePull
        snapshots: dict[int, np.ndarray] = {}
        current = 0
        for record in self.records:
            while record.round > current:
                snapshots[current] = estimates.grid_utility()[0]
                current += 1
            usage = None if record.request_cost is None else SimpleNamespace(
                request_cost=record.request_cost, requests=record.requests)
            estimates.add([(record.prompt, record.queries, record.n)],
                          [make(**record.fields, n=record.n)], [usage])
        final = estimates.grid_utility()[0]
        for r, *_ in self.rounds:
            snapshots.setdefault(r, final)
        return snapshots, estimates

    def choose(self, task_weights: np.ndarray, cost_weight: float,
               max_usd: float | None = None, max_n: int | None = None) -> WeightsChoice:
        """The arm for a context with ``task_weights`` (K,) and ``cost_weight`` (>= 0), and
        optionally caps (USD per query, largest N). ``UnsupportedWeights`` when the
        choice has too few samples behind it (``SUPPORT_FRACTION``), a ConfigError when
        no arm has data at all."""
        problem = self.problem
        task_weights = np.asarray(task_weights, dtype=float)
        snapshots, estimates = self._replay(task_weights, cost_weight)
        pooled = estimates.pooled
        contexts = Contexts(("new",), task_weights[None], np.array([cost_weight]),
                            np.ones(1),
                            None if max_usd is None else np.array([max_usd], dtype=float),
                            None if max_n is None else np.array([max_n], dtype=np.int64))
        shape = (1, problem.n_prompts, len(problem.scales))
        usd = None if self.usd is None else self.usd[None]
        allowed = cap_mask(contexts, problem.scales, shape, usd)[0]
        active = allowed if allowed.any() else np.ones(shape[1:], bool)
        last = self.rounds[-1][0] if self.rounds else None
        for i, (r, considered, keep, prompts_kept) in enumerate(self.rounds):
            if pooled:  # pooled rounds keep prompts, the last one arm
                consider = active & considered.any(axis=1)[:, None]
                if not consider.any():
                    continue
                util = np.where(np.isnan(snapshots[r]), -np.inf, snapshots[r])
                if r == last:
                    active = keep_best(util[None], consider[None], np.ones(1, int))[0]
                    continue
                score = np.where(consider, util, -np.inf).max(axis=1)  # (P,)
                kept = keep_best(score[None, :, None], consider.any(axis=1)[None, :, None],
                                 np.array([max(prompts_kept, 1)]))[0, :, 0]
                active = consider & kept[:, None]
                continue
            # the arms the round looked at (a screening round: N=1 only); the context's
            # others follow their prompt: kept if one of its arms was, or if none was looked at
            consider = active & considered.any(axis=0)[None, :]
            if not consider.any():
                continue
            util = snapshots[r]
            if r == last:  # as in training: the last cut is among arms with data
                util = np.where(np.isnan(util), -np.inf, util)
            kept = keep_best(util[None], consider[None], np.array([max(keep, 1)]))[0]
            follow = kept.any(axis=1) | ~consider.any(axis=1)
            survivors = kept | (active & ~consider & follow[:, None])
            if i + 1 < len(self.rounds):
                # only arms the next round's pulls still reach (a prompt pulled at its
                # largest active N feeds every smaller N) get more data; the others keep
                # the estimate they had, which a new context must not ride to the end
                fed = _below_top(self.rounds[i + 1][1])
                if (survivors & fed).any():
                    survivors = survivors & fed
            active = survivors
        final = estimates.grid_utility()[0]
        has_data = ~np.isnan(final)
        if not has_data.any():
            raise ConfigError("the run has no estimate for any arm (it stopped before its "
                              "first pull)")
        pool = active & has_data & allowed
        fallback = not pool.any()
        if fallback:
            pool = has_data & allowed if (has_data & allowed).any() else has_data
        score = np.where(pool, final, -np.inf)
        p, s = np.unravel_index(int(np.argmax(score)), score.shape)
        # pooled: every pull of the prompt stands behind each of its N
        samples = int(estimates.grid_samples()[p, s])
        need = SUPPORT_FRACTION * float(self.trained_samples.min()) \
            if self.trained_samples.size else 0.0
        if samples < need:
            raise UnsupportedWeights(
                f"the training data cannot support a choice for these weights: their best "
                f"arm ({problem.backend.prompt_ids[p]} at N={problem.scales[s]}) has "
                f"{samples} samples, against at least {int(self.trained_samples.min())} "
                f"behind every trained context's choice; add the context to the config "
                f"and run optimize again", field="weights")
        reported = float(estimates.reported_utility()[0, p, s])
        return WeightsChoice(int(p), int(problem.scales[s]), reported, float(final[p, s]),
                             samples, fallback)


def _below_top(considered: np.ndarray) -> np.ndarray:
    """(P, S) the arms a round that considers ``considered`` (P, S) feeds with data: each
    prompt it pulls, at every scale up to its largest considered one."""
    scales = considered.shape[1]
    top = np.where(considered.any(axis=1),
                   scales - 1 - np.argmax(considered[:, ::-1], axis=1), -1)
    return np.arange(scales)[None, :] <= top[:, None]
