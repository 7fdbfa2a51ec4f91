"""Budgets in tokens, USD and cost units (``Trainer(..., unit=)``): a hard ceiling that
every algorithm spends to at least 95%, allocation by price, and context caps.

``MeteredVotes`` plays a live backend offline: categorical votes plus usage per pull
(prompt tokens once per request, or once per completion for a model without ``n``
support; completion tokens drawn up to ``max_tokens``, so a pull may reach its worst case)
and its own meter of what was "billed", which the tests hold the trainer to."""

import numpy as np
import pytest

from iapo_cli.algorithms import ALGORITHMS, PSST, Problem, Trainer, make_algorithm, train
from iapo_cli.backends import CategoricalVotes, Contexts, PullUsage


class MeteredVotes:
    """A ``CategoricalVotes`` whose pulls report usage like a live backend.

    Arm p: ``prompt_tokens[p]`` per request, completion tokens uniform in
    ``[1, max_tokens]`` per completion, USD per token ``price_in[p]``/``price_out[p]``;
    ``supports_n[p]`` False sends one request per completion."""

    def __init__(self, base, prompt_tokens, price_in, price_out, max_tokens, supports_n,
                 seed=0):
        self.base, self.strategy = base, base.strategy
        self.prompt_ids, self.n_max, self.n_queries = base.prompt_ids, base.n_max, \
            base.n_queries
        self.prompt_tokens = np.asarray(prompt_tokens, float)
        self.price_in, self.price_out = np.asarray(price_in, float), np.asarray(price_out,
                                                                                float)
        self.max_tokens, self.supports_n = max_tokens, np.asarray(supports_n, bool)
        self.usd_known = True
        self.meter = {"usd": 0.0, "tokens": 0.0, "completions": 0}
        self._rng = np.random.default_rng(seed)
        self._usage: list[PullUsage] = []

    def requests_for(self, prompt: int, n: int) -> int:
        return 1 if self.supports_n[prompt] else n

    @property
    def requests_per_scale(self) -> np.ndarray:
        return np.array([[self.requests_for(p, k) for k in range(1, self.n_max + 1)]
                         for p in range(len(self.prompt_ids))])

    def _usage_of(self, prompt, count, n, prompt_tokens, completion_tokens) -> PullUsage:
        usd_prompt = prompt_tokens * self.price_in[prompt]
        usd = usd_prompt + completion_tokens * self.price_out[prompt]
        return PullUsage(np.full(count, float(n)),
                         np.full(count, float(self.requests_for(prompt, n))),
                         prompt_tokens, completion_tokens, usd, usd_prompt, np.zeros(count))

    def sample(self, prompt, queries, n, rng):
        pull = self.base.sample(prompt, queries, n, rng)
        count = len(queries)
        prompt_tokens = np.full(count, self.prompt_tokens[prompt]
                                * self.requests_for(prompt, n))
        completion = self._rng.integers(1, self.max_tokens + 1, size=(count, n)).sum(axis=1)
        usage = self._usage_of(prompt, count, n, prompt_tokens, completion.astype(float))
        self._usage.append(usage)
        self.meter["usd"] += float(usage.usd.sum())
        self.meter["tokens"] += float((usage.prompt_tokens + usage.completion_tokens).sum())
        self.meter["completions"] += count * n
        return pull

    def pop_usage(self) -> list[PullUsage]:
        out, self._usage = self._usage, []
        return out

    def worst_usage(self, prompt, queries, n) -> PullUsage:
        count = len(queries)
        return self._usage_of(
            prompt, count, n,
            np.full(count, self.prompt_tokens[prompt] * self.requests_for(prompt, n)),
            np.full(count, float(n * self.max_tokens)))


def votes(queries=40, costs=(0.01, 0.01, 0.01, 0.01), n_max=8):
    """Four prompts of accuracy 0.5..0.8 on three answers; per-completion ``costs``."""
    acc = np.array([0.5, 0.6, 0.8, 0.7])
    p = np.repeat(acc[:, None], queries, axis=1)
    probs = np.stack([p, (1 - p) * 0.6, (1 - p) * 0.4], axis=2)
    return CategoricalVotes(probs, np.zeros(queries, dtype=int), np.asarray(costs), n_max)


def two_models(seed=0):
    """Prompts 0, 1 on a cheap model with n support, 2, 3 on one 20x dearer without."""
    return MeteredVotes(votes(), prompt_tokens=[40, 60, 40, 60],
                        price_in=[0.15e-6, 0.15e-6, 3e-6, 3e-6],
                        price_out=[0.6e-6, 0.6e-6, 12e-6, 12e-6], max_tokens=64,
                        supports_n=[True, True, False, False], seed=seed)


CONTEXTS = Contexts(("accurate", "frugal"), np.ones((2, 1)), np.array([0.0, 2.0]),
                    np.array([0.5, 0.5]))


def problem_of(backend, contexts=CONTEXTS):
    return Problem(backend, np.arange(backend.n_queries), np.arange(1, backend.n_max + 1),
                   contexts)


@pytest.mark.parametrize("unit, budget", [("usd", 0.05), ("tokens", 60_000)])
@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_every_algorithm_keeps_a_metered_budget_as_a_hard_ceiling_and_spends_it(name, unit,
                                                                                  budget):
    for seed in range(4):
        backend = two_models(seed)
        trainer = Trainer(problem_of(backend), budget, np.random.default_rng(seed), unit=unit)
        result = train(make_algorithm(name), trainer)
        billed = backend.meter[unit]
        assert billed <= budget, (seed, billed)  # as metered on the "server" side
        assert result.spent == pytest.approx(billed, rel=1e-9)
        assert billed >= 0.95 * budget, (seed, billed / budget)
        assert result.completions == backend.meter["completions"]
        assert not np.isnan(result.policy.estimate).any()  # every choice rests on data


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_a_budget_in_cost_units_on_an_offline_env_with_prices_per_prompt(name):
    backend = votes(costs=(0.01, 0.05, 0.2, 0.02))
    for seed in range(3):
        trainer = Trainer(problem_of(backend), 60.0, np.random.default_rng(seed), unit="cost")
        result = train(make_algorithm(name), trainer)
        assert 0.95 * 60.0 <= result.spent <= 60.0


def test_psst_pays_each_round_by_price_not_by_completions():
    """Prompts 20x apart in price: each round's share (budget / rounds) is about what the
    round spends (prices are estimated from usage so far, so within 25%); planned in
    completions, round 1 would buy ``0.1 // 32`` = 0 paired queries."""
    spent_after = []
    backend = two_models()
    problem = problem_of(backend)
    trainer = Trainer(problem, 0.5, np.random.default_rng(0),
                      observer=lambda r, rounds, spent, budget: spent_after.append(spent),
                      unit="usd")
    result = train(PSST(screen="never", estimator="unbiased"), trainer)
    rounds = result.rounds
    share = 0.5 / rounds
    sweep = trainer.price[:, backend.n_max - 1].sum()  # round 1: every prompt at N=8
    assert rounds == 5
    assert 0.75 * share <= spent_after[0] <= 1.25 * share + sweep
    per_round = np.diff([0.0, *spent_after])
    assert (per_round[:-1] <= 1.25 * share + sweep).all()  # no round eats a later one's
    assert 0.95 * 0.5 <= result.spent <= 0.5


def test_metered_runs_start_with_a_probe_of_every_arm_at_the_smallest_scale():
    backend = two_models()
    trainer = Trainer(problem_of(backend), 0.05, np.random.default_rng(0), unit="usd")
    seen = []
    original = backend.sample
    backend.sample = lambda p, q, n, rng: seen.append((p, n, len(q))) or original(p, q, n, rng)
    trainer.probe_prices()
    assert seen == [(0, 1, 1), (1, 1, 1), (2, 1, 1), (3, 1, 1)]
    price = trainer.price  # now from usage: far below the worst case (max_tokens)
    assert (price < trainer.worst_prices()).all()


def test_completion_budgets_plan_with_n_and_probe_nothing():
    trainer = Trainer(problem_of(votes()), 500, np.random.default_rng(0))
    trainer.probe_prices()
    assert trainer.spent == 0
    assert (np.asarray(trainer.price) == np.arange(1, 9)[None]).all()


def test_caps_hold_while_trimming_and_in_the_final_choice():
    """max_n: no arm above it survives any round for that context; max_usd: the chosen
    arm's USD per query (upper bound) is within the cap."""
    contexts = Contexts(("free", "small-n", "cheap"), np.ones((3, 1)), np.zeros(3),
                        np.full(3, 1 / 3), max_usd=np.array([np.nan, np.nan, 0.0005]),
                        max_n=np.array([0, 2, 0]))
    for seed in range(3):
        backend = two_models(seed)
        trainer = Trainer(problem_of(backend, contexts), 0.5, np.random.default_rng(seed),
                          unit="usd")
        result = train(PSST(screen="never"), trainer)
        log = result.log.frame()
        capped = log[(log.context == "small-n") & log.kept]
        assert (capped.n <= 2).all()
        policy = result.policy
        assert policy.scale[1] <= 2
        bound = trainer.usd_per_query(bound=2.0)[policy.prompt[2], policy.scale[2] - 1]
        assert bound <= 0.0005 and not policy.over_cap.any()
        assert policy.scale[0] > 2  # the uncapped context is free to go larger
