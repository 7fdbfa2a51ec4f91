import pandas as pd
import pytest

from iapo_cli.backends import synthetic
from iapo_cli.errors import ConfigError, Interrupted
from iapo_cli.evaluation import AlgorithmSpec, run_study
from iapo_cli.run import BenchInterrupted, parse_algorithms, run_bench
from tests.conftest import write_replay_votes


def test_names_and_parameters():
    specs = parse_algorithms("psst, psst_topk(k=3,rho=0.1),ucb(c=0.3),psst(screen=never)")
    assert [s.label for s in specs] == ["psst", "psst_topk(k=3,rho=0.1)", "ucb(c=0.3)",
                                        "psst(screen=never)"]
    assert specs[1].params == (("k", 3), ("rho", 0.1))
    built = specs[1].build()
    assert (built.k, built.rho, built.screen) == (3, 0.1, "always")
    assert parse_algorithms("psst_topk(rho=5e-2)")[0].params == (("rho", 0.05),)


@pytest.mark.parametrize("text, message", [
    ("psst,magic", "unknown algorithm 'magic' (known: psst, psst_topk,"),
    ("psst(k=3", "unbalanced '(' in 'psst(k=3'"),
    ("psst)", "unbalanced ')' in 'psst)'"),
    ("psst(k)", "expected key=value in 'psst(k)', got 'k'"),
    ("psst_topk(k=0)", "psst_topk: k must be at least 1, got 0"),
    ("ucb(d=1)", "bad parameters for ucb: UCB.__init__() got an unexpected keyword argument"),
    ("psst(k=3)x", "expected NAME(key=value,...), got 'psst(k=3)x'"),
    ("psst,psst", "'psst' is listed twice"),
    (" , ", "needs at least one algorithm"),
    # a value of the wrong type is bad input too, never a crash (campaign)
    ("psst(rho=abc)", "psst: rho must be a number, got 'abc'"),
    ("psst(rho=)", "psst: rho must be a number, got None"),
    ("psst(rounds=1e9)", "psst: rounds must be an integer, got 1000000000.0"),
    ("psst(rounds=true)", "psst: rounds must be an integer, got True"),
    ("psst(k=1.5)", "psst: k must be an integer, got 1.5"),
    ("psst(rho=[1,2])", "expected key=value in 'psst(rho=[1,2])', got '2]'"),
    ("psst(rho=[1)", "psst: rho must be a number, got '[1'"),  # unreadable YAML: the text
    ("softmax(temperature=nan)", "softmax: temperature must be a finite number, got nan"),
    ("ucb(c=inf)", "ucb: c must be a finite number, got inf"),
])
def test_bad_input_names_the_flag(text, message):
    with pytest.raises(ConfigError) as err:
        parse_algorithms(text)
    assert err.value.field == "--algorithms"
    assert err.value.detail.startswith(message)


def test_run_bench_on_a_replay_file_writes_results_and_summary(tmp_path):
    # issue 9: `iapo bench --env FILE.replay.npz` crashed on a str path (path.stem)
    replay = write_replay_votes(tmp_path / "votes.replay.npz")
    outcome = run_bench(str(replay), "psst,uniform", "20,60", runs=3, seed=1, workers=1,
                        out=tmp_path / "bench")
    assert outcome.environment.name == "votes" and outcome.reference == "psst"
    results = pd.read_csv(tmp_path / "bench" / "results.csv")
    assert len(results) == 2 * 2 * 3 and (results.spent <= results.budget).all()
    assert results.equals(outcome.results)
    summary = pd.read_csv(tmp_path / "bench" / "summary.csv")
    assert sorted(set(summary.algorithm)) == ["psst", "uniform"]
    assert "p_vs_psst" in summary


def test_run_bench_from_python_matches_run_study(tmp_path):
    env = synthetic("bernoulli-mv", prompts=4, queries=30, n_max=4, seed=2)
    specs = [AlgorithmSpec("psst"), AlgorithmSpec("uniform")]
    outcome = run_bench(env, specs, [50, 100], runs=2, seed=3, workers=1, out=tmp_path)
    direct = run_study(env, specs, [50, 100], 2, seed=3, workers=1)
    assert outcome.results.drop(columns="seconds").equals(direct.drop(columns="seconds"))


@pytest.mark.parametrize("kwargs, message", [
    ({"budgets": "10,x"}, "--budgets: expected comma-separated integers, got '10,x'"),
    ({"budgets": "0"}, "--budgets: needs at least one value, all > 0"),
    ({"runs": 1}, "--runs: needs at least 2 runs"),
    ({"budgets": "3"}, "--budgets: 3 is smaller than one pull at N=1 per prompt (32 prompts)"),
    ({"env": "synthetic:nope"}, "--env: unknown synthetic family"),
])
def test_run_bench_bad_input_writes_nothing(tmp_path, kwargs, message):
    args = {"env": "synthetic:bernoulli-mv", "algorithms": "psst", "budgets": "100",
            "runs": 2, "out": tmp_path / "bench", **kwargs}
    with pytest.raises(ConfigError) as err:
        run_bench(**args)
    assert str(err.value).startswith(message)
    assert not (tmp_path / "bench").exists()


@pytest.mark.parametrize("specs, message", [
    ([AlgorithmSpec("magic")], "--algorithms: unknown algorithm 'magic'"),
    ([AlgorithmSpec("psst_topk", (("k", 0),))], "--algorithms: psst_topk: k must be at least 1"),
    ([AlgorithmSpec("psst"), AlgorithmSpec("psst")], "--algorithms: 'psst' is listed twice"),
    ([], "--algorithms: needs at least one algorithm"),
])
def test_run_bench_checks_specs_from_python_before_writing(tmp_path, specs, message):
    with pytest.raises(ConfigError) as err:
        run_bench("synthetic:bernoulli-mv", specs, [100], runs=2, workers=1,
                  out=tmp_path / "bench")
    assert str(err.value).startswith(message)
    assert not (tmp_path / "bench").exists()


def test_interrupted_bench_keeps_the_finished_runs(tmp_path):
    def stop_after_two(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(BenchInterrupted) as err:
        run_bench("synthetic:bernoulli-mv", "psst,uniform", "100", runs=5, workers=1,
                  out=tmp_path, progress=stop_after_two)
    assert isinstance(err.value, Interrupted) and err.value.exit_code == 130
    assert str(err.value) == f"interrupted; partial results saved in {tmp_path}"
    results = pd.read_csv(tmp_path / "results.csv")
    assert sorted(results.run.unique()) == [0, 1] and len(results) == 2 * 2
    assert not (tmp_path / "summary.csv").exists()


@pytest.mark.parametrize("kwargs, field, message", [
    ({"budgets": "100,100"}, "--budgets", "100 is listed twice"),
    ({"budgets": [100, 200, 100]}, "--budgets", "100 is listed twice"),
    ({"workers": 0}, "--workers", "must be at least 1, got 0"),
    ({"workers": -1}, "--workers", "must be at least 1, got -1"),
])
def test_run_bench_rejects_repeated_budgets_and_no_workers(tmp_path, kwargs, field, message):
    # campaign: a repeated budget pooled its runs into one summary row (runs=4 of 2, pairing
    # broken); --workers 0 or -1 was silently read as "all cores" or "one"
    args = {"env": synthetic("bernoulli-mv", prompts=4, queries=30, n_max=4, seed=2),
            "algorithms": "psst", "budgets": "100", "runs": 2, "workers": 1,
            "out": tmp_path / "b", **kwargs}
    with pytest.raises(ConfigError) as err:
        run_bench(**args)
    assert (err.value.field, err.value.detail) == (field, message)
    assert not (tmp_path / "b").exists()


def test_run_bench_from_python_takes_algorithm_names_and_checks_budgets(tmp_path):
    # campaign: run_bench(algorithms=["psst"]) raised AttributeError, budgets=["a"] ValueError
    env = synthetic("bernoulli-mv", prompts=4, queries=30, n_max=4, seed=2)
    outcome = run_bench(env, ["psst", "ucb(c=0.2)"], [50], runs=2, workers=1,
                        out=tmp_path / "b")
    assert sorted(set(outcome.results.algorithm)) == ["psst", "ucb(c=0.2)"]
    with pytest.raises(ConfigError) as err:
        run_bench(env, ["psst"], ["a"], runs=2, workers=1, out=tmp_path / "c")
    assert err.value.field == "--budgets"
    with pytest.raises(ConfigError) as err:
        run_bench(env, ["psst(rho=2)"], [50], runs=2, workers=1, out=tmp_path / "c")
    assert err.value.field == "--algorithms"
    assert not (tmp_path / "c").exists()


def test_bench_takes_budgets_in_the_environments_cost_units(tmp_path):
    """``budget_unit="cost"``: fractional budgets, every run within [0.95 B, B]."""
    outcome = run_bench("synthetic:bernoulli-mv", "psst,uniform,ucb", "1.5,4", runs=2,
                        workers=1, out=tmp_path, budget_unit="cost")
    results = outcome.results
    assert sorted(results.budget.unique()) == [1.5, 4.0]
    assert (results.spent <= results.budget).all()
    assert (results.spent >= 0.95 * results.budget).all()
