"""``Policy.arm(weights=...)``: choosing for contexts training did not have, from the pulls
the run recorded (pulls.npys) and its trimming rounds (issue 12)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import yaml

from iapo_cli.errors import ConfigError
from iapo_cli.run import Policy, optimize
from iapo_cli.run._reweigh import UnsupportedWeights
from tests.run.test_deploy import two_model_run  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parents[2]


def _bon_grid(tmp_path: Path, **changes) -> Path:
    config = yaml.safe_load((ROOT / "configs/bon-grid.yaml").read_text())
    config.update(changes)
    path = tmp_path / "bon.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.parametrize("algorithm", ["psst", "psst_topk", "ucb"])
def test_a_trained_contexts_weights_give_its_trained_choice(tmp_path, algorithm):
    path = _bon_grid(tmp_path, budget=2000, algorithm={"name": algorithm})
    run = optimize(path, out=tmp_path / "run")
    policy = Policy.load(run.run_dir)
    assert len(policy.contexts) == 27  # two objectives and cost, a 3 x 3 x 3 grid
    for name in policy.contexts:
        trained = policy.arm(name)
        again = policy.arm(weights=trained.weights)
        assert (again.arm, again.n, again.samples) == (trained.arm, trained.n, trained.samples)
        assert again.expected_utility == pytest.approx(trained.expected_utility, abs=1e-12)


def test_caps_are_followed_as_in_training(two_model_run):  # noqa: F811
    policy = Policy.load(two_model_run)
    capped = [policy.arm(name) for name in policy.contexts
              if policy.arm(name).max_usd or policy.arm(name).max_n]
    assert {(a.max_usd, a.max_n) for a in capped} == {(None, 4), (0.0002, None)}
    for trained in map(policy.arm, policy.contexts):
        again = policy.arm(weights=trained.weights, max_usd=trained.max_usd,
                           max_n=trained.max_n)
        assert (again.arm, again.n) == (trained.arm, trained.n)
        assert again.usd_per_query == pytest.approx(trained.usd_per_query)
    frugal = policy.arm("frugal")
    assert policy.arm(weights=frugal.weights, max_n=2).n <= 2


def test_new_weights_get_an_arm_with_the_samples_behind_it(tmp_path):
    run = optimize(_bon_grid(tmp_path, budget=2000), out=tmp_path / "run")
    policy = Policy.load(run.run_dir)
    arm = policy.arm(weights={"helpfulness": 0.4, "harmlessness": 0.8, "cost": 0.05})
    assert arm.context == "helpfulness=0.4,harmlessness=0.8,cost=0.05"
    assert arm.weights == {"helpfulness": 0.4, "harmlessness": 0.8, "cost": 0.05}
    assert arm.samples > 0 and math.isfinite(arm.expected_utility)
    assert arm.n in (1, 2, 4, 8, 16, 32) and arm.strategy == "best_of_n"
    # scaling every weight alike changes the utility's scale, not the choice
    double = policy.arm(weights={"helpfulness": 0.8, "harmlessness": 1.6, "cost": 0.1})
    assert (double.arm, double.n) == (arm.arm, arm.n)
    assert double.expected_utility == pytest.approx(2 * arm.expected_utility)


def test_weights_the_data_cannot_support_are_refused(tmp_path):
    # trained for helpfulness only: prompts good at harmlessness are trimmed early
    contexts = [{"name": "helpful", "weights": {"helpfulness": 1.0}},
                {"name": "helpful2", "weights": {"helpfulness": 1.0, "harmlessness": 0.1}}]
    run = optimize(_bon_grid(tmp_path, budget=8000, contexts=contexts), out=tmp_path / "run")
    policy = Policy.load(run.run_dir)
    with pytest.raises(UnsupportedWeights) as caught:
        policy.arm(weights={"helpfulness": 0.5, "harmlessness": 1.0})
    assert str(caught.value) == (
        "weights: the training data cannot support a choice for these weights: their best "
        "arm (p12 at N=32) has 28 samples, against at least 89 behind every trained "
        "context's choice; add the context to the config and run optimize again")
    assert caught.value.exit_code == 2


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("small")
    return optimize(_bon_grid(directory, budget=500), out=directory / "run").run_dir


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "context: give a context name or weights, not both or neither"),
    ({"context": "x", "weights": {"helpfulness": 1}},
     "context: give a context name or weights, not both or neither"),
    ({"weights": {}}, "weights: weights must map objective names (or 'cost') to finite numbers"),
    ({"weights": {"helpfulness": "a"}},
     "weights: weights must map objective names (or 'cost') to finite numbers"),
    ({"weights": {"helpfulness": float("nan")}},
     "weights: weights must map objective names (or 'cost') to finite numbers"),
    ({"weights": {"kindness": 1.0}},
     "weights: unknown objective 'kindness' (objectives: helpfulness, harmlessness, cost)"),
    ({"weights": {"helpfulness": 1.0, "cost": -1}},
     "weights.cost: the cost weight must be >= 0 (it multiplies O_cost = -cost)"),
    ({"weights": {"helpfulness": 0.0}},
     "weights: has every weight 0, so every arm is worth 0; give an objective or cost a "
     "weight"),
    ({"weights": {"helpfulness": 1.0}, "max_n": 0}, "max_n: must be an integer >= 1, got 0"),
    ({"weights": {"helpfulness": 1.0}, "max_usd": 0.01},
     "max_usd: a cap in USD needs a run whose models all have prices"),
])
def test_bad_weights_and_caps_are_one_line_errors(small_run, kwargs, message):
    with pytest.raises(ConfigError) as caught:
        Policy.load(small_run).arm(**kwargs)
    assert str(caught.value) == message


def test_a_run_without_recorded_pulls_says_to_rerun(tmp_path):
    run = optimize(_bon_grid(tmp_path, budget=500), out=tmp_path / "run")
    (run.run_dir / "pulls.npys").unlink()
    policy = Policy.load(run.run_dir)  # the trained contexts still load
    assert policy.arm(policy.contexts[0]).samples > 0
    with pytest.raises(ConfigError, match="pulls.npys: the run records no pulls \\(it was "
                                          "written by a version of iapo before they were "
                                          "kept\\)"):
        policy.arm(weights={"helpfulness": 1.0})
    (run.run_dir / "pulls.npys").write_bytes(b"not numpy")
    with pytest.raises(ConfigError, match="pulls.npys: is not a readable pull record"):
        Policy.load(run.run_dir).arm(weights={"helpfulness": 1.0})


def test_a_resumed_run_records_its_pulls_afresh(tmp_path):
    run = optimize(_bon_grid(tmp_path, budget=500), out=tmp_path / "run")
    first = (run.run_dir / "pulls.npys").read_bytes()
    shutil.copy(run.run_dir / "pulls.npys", tmp_path / "kept.npys")
    optimize(_bon_grid(tmp_path, budget=500), resume=run.run_dir)
    assert (run.run_dir / "pulls.npys").read_bytes() == first  # replayed, not appended
    assert not (run.run_dir / "pulls.npys.part").exists()
