"""Figures and report.md: files, and the data on their axes."""

import numpy as np
import pandas as pd
import pytest

from iapo_cli.backends import synthetic
from iapo_cli.errors import ConfigError
from iapo_cli.evaluation import AlgorithmSpec, run_study, summarize
from iapo_cli.report import pareto_front, regret_vs_budget, utility_vs_n, write_report
from iapo_cli.run import optimize
from tests.conftest import SMALL_SYNTHETIC, write_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    return optimize(write_config(tmp / "c.yaml", SMALL_SYNTHETIC), tmp / "run").run_dir


def test_run_report_files(run_dir):
    report = write_report(run_dir)
    assert report.kind == "run"
    names = sorted(p.name for p in report.figures)
    assert names == ["trimming.png", "utility_vs_cost.png", "utility_vs_n.png"]
    for path in report.figures:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    text = report.path.read_text()
    for name in names:
        assert f"({name})" in text


def test_utility_curves_carry_the_estimates(run_dir):
    estimates = pd.read_csv(run_dir / "estimates.csv")
    policy = pd.read_csv(run_dir / "policy.csv")
    fig = utility_vs_n(estimates, policy, ["free", "costly"])
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    rows = estimates[(estimates.context == "free") & (estimates.prompt == "p0")].dropna()
    assert np.allclose(lines["p0"].get_xdata(), rows.n)
    assert np.allclose(lines["p0"].get_ydata(), rows.utility)
    chosen = policy.set_index("context").loc["free"]
    star = next(v for k, v in lines.items() if k.startswith("chosen"))
    assert list(star.get_xdata()) == [chosen.n]
    assert np.isclose(star.get_ydata()[0], chosen.estimated_utility)
    assert ax.get_xlabel().startswith("N")


def test_pareto_front():
    cost = np.array([1.0, 2.0, 3.0, 2.5])
    value = np.array([0.5, 0.7, 0.6, 0.9])
    assert pareto_front(cost, value).tolist() == [0, 1, 3]


def test_study_report(tmp_path):
    env = synthetic("bernoulli-mv", prompts=5, queries=50, n_max=8, seed=1)
    results = run_study(env, [AlgorithmSpec("psst"), AlgorithmSpec("uniform")], [100, 400],
                        runs=4, workers=1)
    summary = summarize(results)
    summary.to_csv(tmp_path / "summary.csv", index=False)
    report = write_report(tmp_path)
    assert report.kind == "study"
    assert sorted(p.name for p in report.figures) == ["acr_vs_budget.png",
                                                       "regret_vs_budget.png"]
    fig = regret_vs_budget(summary)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    line = next(line for line in ax.lines if line.get_label() == "uniform")
    expected = summary[summary.algorithm == "uniform"].sort_values("budget")
    assert np.allclose(line.get_xdata(), expected.budget)
    assert np.allclose(line.get_ydata(), expected.mean_regret)
    assert "Wilcoxon signed-rank p-values against psst" in report.path.read_text()


def test_neither_run_nor_study(tmp_path):
    with pytest.raises(ConfigError, match="is neither a run directory"):
        write_report(tmp_path)
