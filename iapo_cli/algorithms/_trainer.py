"""The trainer: the one object algorithms talk to, over the meter, the sampler, the
estimates and the policy's assembly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._assembly import PolicyAssembly
from ._estimates import Estimates
from ._meter import BudgetMeter
from ._problem import Problem
from ._results import Observer, Policy, TrainingResult, TrimmingLog
from ._sampler import MAX_BATCH, Recorder, Sampler

if TYPE_CHECKING:
    import pandas as pd


class Trainer:
    """One run's training state, behind the narrow interface algorithms use.

    Its parts, each with its own contract (imports point one way, from the later to the
    earlier): ``meter`` (``BudgetMeter``: prices and charges, serves nothing),
    ``estimates`` (``Estimates``: statistics only), ``sampler`` (``Sampler``: serves pulls,
    charges the meter, feeds the estimates), ``assembly`` (``PolicyAssembly``: reads
    estimates and prices) and ``log`` (``TrimmingLog``). The trainer itself adds what needs
    several of them: the price probe and the spending of what a metered budget has left
    (they pull by price), the rounds, the observer and the result.

    The budget is a hard ceiling: every completion goes through ``pull_many``,
    ``pull_fresh`` or ``pull_paired``. Memory does not depend on the budget (statistics
    are sums; pulls are served in batches of at most ``MAX_BATCH`` completions). A problem
    without train queries is refused (``NoTrainingQueries``), a unit the backend cannot
    meter too (``ValueError``).
    """

    def __init__(self, problem: Problem, budget: float, rng: np.random.Generator,
                 observer: Observer | None = None, unit: str = "completions"):
        self.problem, self.rng, self.observer = problem, rng, observer
        self.meter = BudgetMeter(problem, budget, unit)
        self.estimates = Estimates(problem)
        self.sampler = Sampler(problem, rng, self.meter, self.estimates)
        self.assembly = PolicyAssembly(problem, self.estimates, self.meter)
        self.log = TrimmingLog()
        self.notes: dict = {}  # facts an algorithm reports about its run (e.g. screened)

    # -- the budget ----------------------------------------------------------------------

    @property
    def unit(self) -> str:
        return self.meter.unit

    @property
    def metered(self) -> bool:
        """Whether the budget is metered (tokens, USD, cost) rather than counted."""
        return self.meter.metered

    @property
    def budget(self) -> float:
        return self.meter.budget

    @property
    def spent(self) -> float:
        return self.meter.spent

    @property
    def remaining(self) -> float:
        return self.meter.remaining

    @property
    def price(self) -> np.ndarray:
        """(P, n_max) planning price of one query of arm p at scale k (``BudgetMeter``)."""
        return self.meter.price

    def worst_prices(self) -> np.ndarray:
        return self.meter.worst_prices()

    def usd_per_query(self, bound: float = 0.0) -> np.ndarray:
        return self.meter.usd_per_query(bound)

    # -- pulling -------------------------------------------------------------------------

    @property
    def queries(self):
        """The train query stream (``QueryStream``): ``draw(count)``."""
        return self.sampler.queries

    @property
    def recorder(self) -> Recorder | None:
        """Told ``(round, prompt, pull, usage, queries)`` of every pull served."""
        return self.sampler.recorder

    @recorder.setter
    def recorder(self, recorder: Recorder | None) -> None:
        self.sampler.recorder = recorder

    @property
    def completions(self) -> int:
        return self.sampler.completions

    @property
    def pulls(self) -> int:
        return self.sampler.pulls

    def pull(self, prompt: int, queries: np.ndarray, n: int) -> None:
        self.sampler.pull_many([(prompt, queries, n)])

    def pull_many(self, pulls) -> None:
        """Pulls ``(prompt, queries, n)`` served together (``Sampler.pull_many``)."""
        self.sampler.pull_many(pulls)

    def pull_fresh(self, pulls) -> None:
        """Pulls ``(prompt, count, n)`` on fresh queries (``Sampler.pull_fresh``)."""
        self.sampler.pull_fresh(pulls)

    def pull_paired(self, arms, count: int) -> None:
        """Every arm ``(prompt, n)`` on the same ``count`` fresh queries
        (``Sampler.pull_paired``)."""
        self.sampler.pull_paired(arms, count)

    def probe_prices(self) -> None:
        """Metered units: one query of every prompt at the grid's smallest scale (the same
        query for all, as far as the budget allows at worst case), so that ``price`` rests
        on usage from the start; the pulls feed the estimates like any other. Completions
        (priced exactly) and prompts that already have data: nothing."""
        if not self.metered:
            return
        unseen = np.nonzero(self.meter.served_completions == 0)[0]
        if unseen.size == 0:
            return
        queries = self.queries.draw(1)
        n = int(self.problem.scales[0])
        self.pull_many([(p, queries, n) for p in unseen])

    def spend_rest(self, candidates: np.ndarray | None = None) -> None:
        """Metered units: spend what is left on the prompts of ``candidates`` (C, P, S),
        each at its largest candidate scale whose worst case still fits (else the largest
        of the grid that does), in batches sent together: each prompt gets an equal share
        of what is left, counted at its expected price (``price``), and what does not fit
        at worst case waits for the next batch; until no query of any of them fits.
        Exact units: nothing."""
        if not self.metered:
            return
        scales = self.problem.scales
        mask = np.ones((1, self.problem.n_prompts, len(scales)), bool) \
            if candidates is None else candidates
        any_ctx = mask.any(axis=0)  # (P, S)
        prompts = np.nonzero(any_ctx.any(axis=1))[0]
        if prompts.size == 0:
            return
        worst = self.meter.worst_prices()
        while True:
            before = self.spent
            price = self.price
            pulls = []
            for p in prompts:
                fits = [s for s in np.nonzero(any_ctx[p])[0][::-1]
                        if worst[p, scales[s] - 1] <= self.remaining]
                if not fits:
                    fits = [s for s in range(len(scales))[::-1]
                            if worst[p, scales[s] - 1] <= self.remaining]
                if not fits:
                    continue
                n = int(scales[fits[0]])
                count = max(1, int(self.remaining / len(prompts) // price[p, n - 1]))
                pulls.append((p, self.queries.draw(min(count, MAX_BATCH)), n))
            if not pulls:
                return
            self.pull_many(pulls)
            if self.spent <= before:  # nothing fitted any more: progress guard
                return

    # -- estimates -----------------------------------------------------------------------

    @property
    def stats(self):
        """The unbiased sums (``ArmStatistics``) behind the estimates."""
        return self.estimates.stats

    @property
    def profiles(self):
        """The pooled vote profiles (``VoteProfiles``), None before ``pool_votes``."""
        return self.estimates.profiles

    def pool_votes(self, alpha: float) -> None:
        """Estimate with pooled votes from now on (``Estimates.pool_votes``)."""
        self.estimates.pool_votes(alpha)

    def task_and_cost(self, prompts: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(C, P, n_max) task utility and (P, n_max) cost (``Estimates.task_and_cost``)."""
        return self.estimates.task_and_cost(prompts)

    def grid_utility(self, prompts: np.ndarray | None = None) -> np.ndarray:
        """(C, P, S) estimated utility on the scale grid, NaN without data."""
        return self.estimates.grid_utility(prompts)

    def grid_samples(self) -> np.ndarray:
        """(P, S) pulls behind each estimate on the grid."""
        return self.estimates.grid_samples()

    def reported_utility(self, prompts: np.ndarray | None = None) -> np.ndarray:
        """(C, P, S) utility as the run's files report it (``Estimates``)."""
        return self.estimates.reported_utility(prompts)

    def allowed(self, final: bool = False) -> np.ndarray:
        """(C, P, S) the arms each context's caps allow (``PolicyAssembly.allowed``)."""
        return self.assembly.allowed(final)

    def arm_estimates(self) -> pd.DataFrame:
        """Every arm's final estimate (``PolicyAssembly.arm_estimates``)."""
        return self.assembly.arm_estimates()

    # -- rounds and results --------------------------------------------------------------

    @property
    def rounds(self) -> int:
        """Rounds ended so far (``end_round``)."""
        return self.sampler.round

    def end_round(self, considered: np.ndarray, kept: np.ndarray) -> None:
        """Log a round's (C, P, S) ``considered`` and ``kept`` arms and start the next."""
        self.log.record(self.rounds, self.problem, considered, kept,
                        self.reported_utility(considered.any(axis=(0, 2))),
                        self.grid_samples())
        self.sampler.round += 1

    def notify(self, round_: int, rounds: int) -> None:
        if self.observer is not None:
            self.observer(round_, rounds, self.spent, self.budget)

    def policy(self, candidates: np.ndarray | None = None) -> Policy:
        """Each context's best estimated arm among ``candidates`` within its caps
        (``PolicyAssembly.policy``). Spends nothing: a run stopped by Ctrl-C or a failure
        is written from it."""
        return self.assembly.policy(candidates)

    def final_policy(self, candidates: np.ndarray | None = None) -> Policy:
        """What an algorithm returns at its end: a metered budget first spends what is
        left on the ``candidates`` (``spend_rest``), then ``policy(candidates)``."""
        self.spend_rest(candidates)
        return self.policy(candidates)

    def result(self, policy: Policy) -> TrainingResult:
        return TrainingResult(policy, self.log, self.budget, self.spent, self.pulls,
                              self.rounds, dict(self.notes), self.completions)
