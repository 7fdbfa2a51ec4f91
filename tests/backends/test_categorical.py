import json

import numpy as np
import pytest

from iapo_cli.backends import load_npz, synthetic
from iapo_cli.errors import ConfigError
from tests.conftest import write_npz


def test_loads_and_converts_cost_weights(tiny_npz):
    env = load_npz(tiny_npz)
    assert env.contexts.names == ("low", "high")
    np.testing.assert_allclose(env.contexts.cost_weights, [0.0, 1.0])  # meta -1 -> weight 1
    assert env.backend.n_max == 8
    assert len(env.backend.prompt_ids) == 4


def test_sample_shapes_and_cost(tiny_npz):
    env = load_npz(tiny_npz)
    pull = env.backend.sample(1, np.array([0, 3, 5]), 6, np.random.default_rng(0))
    assert pull.counts.shape == (3, 3)
    assert (pull.counts.sum(axis=1) == 6).all()
    np.testing.assert_allclose(pull.cost, 6 * env.backend.cost[1])


@pytest.mark.parametrize("override, message", [
    ({"probs": np.full((4, 40, 3), 0.5)},
     "probs: rows must sum to 1 (prompt 0, query 0 sums to 1.5)"),
    ({"probs": np.full((4, 40), 0.5)}, "probs: must have shape (P, X, C), got (4, 40)"),
    ({"answers": np.zeros(39, dtype=int)}, "answers: must have shape (40,), got (39,)"),
    ({"cost": np.ones(3)}, "cost: must have shape (4,), got (3,)"),
    ({"answers": np.full(40, 7)}, "answers: gold indices must lie in -1..2"),
    ({"meta": np.array("{not json")}, "meta: is not JSON"),
])
def test_bad_files_name_the_array(tmp_path, override, message):
    path = write_npz(tmp_path / "bad.npz", **override)
    with pytest.raises(ConfigError) as err:
        load_npz(path)
    assert str(err.value) == f"{path}: {message}"


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_npz(tmp_path / "none.npz")
    junk = tmp_path / "junk.npz"
    junk.write_text("hello")
    with pytest.raises(ConfigError, match="not a readable .npz archive"):
        load_npz(junk)
    path = tmp_path / "nometa.npz"
    np.savez(path, probs=np.ones((1, 1, 1)), answers=np.zeros(1, int), cost=np.ones(1))
    with pytest.raises(ConfigError, match="meta: missing array"):
        load_npz(path)
    path = tmp_path / "bon.npz"
    write_npz(path, meta=np.array(json.dumps({"strategy": "best_of_n"})))
    with pytest.raises(ConfigError, match="only 'majority_vote'"):
        load_npz(path)


def test_synthetic_families_have_paper_sizes():
    mv = synthetic("bernoulli-mv")
    assert (len(mv.backend.prompt_ids), mv.backend.n_max, len(mv.contexts)) == (32, 32, 3)
    bon = synthetic("bon-grid", queries=20)
    assert (len(bon.backend.prompt_ids), bon.backend.n_max, len(bon.contexts)) == (32, 32, 27)
    pull = bon.backend.sample(0, np.arange(5), 4, np.random.default_rng(0))
    assert pull.scores.shape == (5, 4, 2) and pull.cost.shape == (5, 4)
    with pytest.raises(ConfigError, match="unknown synthetic family 'x'"):
        synthetic("x")


def test_synthetic_is_seeded():
    a = synthetic("bernoulli-mv", prompts=4, queries=10, seed=1).backend.probs
    b = synthetic("bernoulli-mv", prompts=4, queries=10, seed=1).backend.probs
    c = synthetic("bernoulli-mv", prompts=4, queries=10, seed=2).backend.probs
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_categorical_scores_sample_follows_probabilities():
    env = synthetic("bon-grid", prompts=2, queries=3, seed=0)
    backend = env.backend
    pull = backend.sample(0, np.zeros(20_000, dtype=int), 1, np.random.default_rng(0))
    expected = backend.probs[0, 0] @ backend.values[0, 0]
    got = pull.scores[:, 0, :].mean(axis=0)
    np.testing.assert_allclose(got, expected, atol=0.01)
