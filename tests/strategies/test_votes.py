import itertools
import math

import numpy as np
import pytest

from iapo_cli.strategies import _votes, credit_table, exact_majority_vote, subset_credit


def exact_dp(counts, gold):
    """The exact subset program, without a table."""
    n_gold, others = _votes._split_gold(counts, gold)
    return _votes._subset_credit_dp(n_gold, others, int(counts.sum(axis=1).max()))


def credit(counts, gold):
    top = max(counts)
    if gold < 0 or counts[gold] != top:
        return 0.0
    return 1.0 / sum(1 for c in counts if c == top)


def brute_subsets(counts, gold):
    labels = [a for a, n in enumerate(counts) for _ in range(n)]
    out = []
    for k in range(1, len(labels) + 1):
        values = []
        for sub in itertools.combinations(range(len(labels)), k):
            c = [0] * len(counts)
            for i in sub:
                c[labels[i]] += 1
            values.append(credit(c, gold))
        out.append(np.mean(values))
    return np.array(out)


def brute_multinomial(p, gold, n):
    total = 0.0
    for c in itertools.product(range(n + 1), repeat=len(p)):
        if sum(c) != n:
            continue
        prob = math.factorial(n)
        for a, m in enumerate(c):
            prob *= p[a] ** m / math.factorial(m)
        total += prob * credit(list(c), gold)
    return total


@pytest.mark.parametrize("seed", range(25))
def test_subset_credit_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    answers, n = int(rng.integers(1, 5)), int(rng.integers(1, 10))
    counts = rng.multinomial(n, rng.dirichlet(np.ones(answers)))
    gold = int(rng.integers(-1, answers))
    got = subset_credit(counts[None], np.array([gold]))[0]
    np.testing.assert_allclose(got, brute_subsets(list(counts), gold), atol=1e-12)


def test_ties_are_credited_one_over_t():
    # two votes, one each for gold and another answer: a size-2 subset ties 1:1
    got = subset_credit(np.array([[1, 1]]), np.array([0]))[0]
    np.testing.assert_allclose(got, [0.5, 0.5])
    # three-way tie at size 3
    got = subset_credit(np.array([[1, 1, 1]]), np.array([2]))[0]
    assert got[2] == pytest.approx(1 / 3)


def test_no_gold_never_earns_credit():
    assert not subset_credit(np.array([[3, 2]]), np.array([-1])).any()


@pytest.mark.parametrize("seed", range(15))
def test_exact_majority_vote_equals_enumeration(seed):
    rng = np.random.default_rng(100 + seed)
    answers = int(rng.integers(1, 5))
    p = rng.dirichlet(np.ones(answers))
    gold = int(rng.integers(-1, answers))
    got = exact_majority_vote(p[None], np.array([gold]), 7)[0]
    want = [brute_multinomial(p, gold, n) for n in range(1, 8)]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_exact_majority_vote_matches_monte_carlo():
    rng = np.random.default_rng(7)
    p = np.array([0.45, 0.3, 0.15, 0.1])
    draws = 200_000
    for n in (3, 8, 15):
        counts = rng.multinomial(n, p, size=draws)
        top = counts.max(axis=1)
        ties = (counts == top[:, None]).sum(axis=1)
        mc = np.where(counts[:, 0] == top, 1.0 / ties, 0.0)
        exact = exact_majority_vote(p[None], np.array([0]), n)[0, n - 1]
        assert abs(mc.mean() - exact) < 4 * mc.std() / np.sqrt(draws)


def test_majority_vote_facts():
    p = np.random.default_rng(1).dirichlet(np.ones(4), 20)
    gold = np.arange(20) % 4
    mv = exact_majority_vote(p, gold, 9)
    np.testing.assert_allclose(mv[:, 1], mv[:, 0], atol=1e-12)  # MV@2 == MV@1
    two = np.column_stack([p[:, 0], 1 - p[:, 0]])
    mv2 = exact_majority_vote(two, np.zeros(20, dtype=int), 9)
    for even in (2, 4, 6, 8):  # with two outcomes even N equals the odd N below
        np.testing.assert_allclose(mv2[:, even - 1], mv2[:, even - 2], atol=1e-12)


def test_subset_estimator_is_unbiased_for_the_multinomial_value():
    rng = np.random.default_rng(3)
    p = np.array([0.4, 0.35, 0.25])
    n, draws = 9, 40_000
    counts = rng.multinomial(n, p, size=draws)
    est = subset_credit(counts, np.ones(draws, dtype=int))  # gold = the middle answer
    exact = exact_majority_vote(p[None], np.array([1]), n)[0]
    sem = est.std(axis=0) / np.sqrt(draws)
    assert np.all(np.abs(est.mean(axis=0) - exact) < 4 * sem + 1e-12)


def test_credit_table_lookup_equals_dynamic_program():
    rng = np.random.default_rng(5)
    table = credit_table(12, 3)
    for n in (1, 5, 12):
        counts = rng.multinomial(n, rng.dirichlet(np.ones(4)), size=300)
        gold = rng.integers(-1, 4, 300)
        assert table.covers(counts, gold)
        np.testing.assert_allclose(table.lookup(counts, gold),
                                   exact_dp(counts, gold), atol=1e-12)


def test_many_distinct_answers_are_exact():
    counts = np.ones((2, 16), dtype=np.int64)  # 16 distinct answers, one vote each
    counts[:, 0] = 3
    gold = np.array([0, 5])
    got = subset_credit(counts, gold)
    # size 1: gold is the one vote drawn; 3 of 18 votes are gold in row 0, 1 in row 1
    assert got[:, 0] == pytest.approx([3 / 18, 1 / 18])
    assert got[0, -1] == 1.0 and got[1, -1] == 0.0  # all 18 votes: answer 0 wins
    brute = [np.mean([credit(np.bincount(np.repeat(np.arange(16), counts[1])[list(s)],
                                         minlength=16), 5)
                      for s in itertools.combinations(range(18), 2)])]
    assert got[1, 1] == pytest.approx(brute[0])


@pytest.mark.parametrize(("n_max", "n_wrong"), [(64, 4), (20, 15)])
def test_a_large_table_fills_only_the_keys_pulls_touch(n_max, n_wrong):
    """Above PREBUILD_KEYS keys the table is lazy: exact, and as big as what it has seen
    (64 votes over 5 answers would be 580,404 keys; 16 answers need wide keys)."""
    rng = np.random.default_rng(9)
    table = _votes.VoteCreditTable(n_max, n_wrong)
    assert len(table) == 0
    seen = set()
    for n in (1, 7, n_max):
        counts = rng.multinomial(n, rng.dirichlet(np.ones(n_wrong + 1) * 0.5), size=200)
        gold = rng.integers(-1, n_wrong + 1, 200)
        np.testing.assert_allclose(table.lookup(counts, gold), exact_dp(counts, gold),
                                   atol=1e-12)
        seen |= {tuple(k) for k in table._canonical(counts, gold)}
        assert len(table) == len(seen) <= 600
        again = table.lookup(counts, gold)  # served from the table: nothing added
        assert len(table) == len(seen)
        np.testing.assert_array_equal(again, table.lookup(counts, gold))


def test_programs_run_in_row_chunks_with_the_same_values(monkeypatch):
    """Exact values of a big environment go through the program in chunks of rows, so
    memory is bounded (issue 14: 36.6 GiB for 1.2M rows at N_max 64); the values are the
    same as in one piece."""
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(5), 300)
    gold = rng.integers(-1, 5, 300)
    whole = exact_majority_vote(probs, gold, 16)
    monkeypatch.setattr(_votes, "MAX_PROGRAM_ELEMENTS", 17 * 17 * 7)  # 7 rows a chunk
    np.testing.assert_array_equal(exact_majority_vote(probs, gold, 16), whole)


def test_prepare_fills_the_table_for_all_pulls_in_one_program(monkeypatch):
    """A lazy fill's few keys of different totals share one program (issue 14: the
    Python steps per program dominate with many answers); the credits are exact."""
    from iapo_cli.strategies import MajorityVote, VotePull

    rng = np.random.default_rng(6)
    strategy = MajorityVote(table=(70, 4))  # 70 votes: a lazy table
    pulls = []
    for n in (3, 3, 9, 9, 9):
        counts = rng.multinomial(n, rng.dirichlet(np.ones(5)), size=40)
        pulls.append(VotePull(counts, rng.integers(-1, 5, 40), np.zeros(40), n))
    programs = []
    original = _votes._subset_credit_dp
    monkeypatch.setattr(_votes, "_subset_credit_dp",
                        lambda g, o, n: programs.append(n) or original(g, o, n))
    strategy.prepare(pulls)
    assert programs == [9]
    credits = [strategy.subset_credit(pull) for pull in pulls]  # look-ups only
    assert programs == [9]
    monkeypatch.undo()
    for pull, credit in zip(pulls, credits, strict=True):  # and exact
        np.testing.assert_allclose(credit, exact_dp(pull.counts, pull.gold), atol=1e-12)
