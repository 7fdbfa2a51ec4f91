"""Figures and report.md: files, and the data on their axes."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from iapo_cli.artifacts import trimmed_rounds
from iapo_cli.backends import synthetic
from iapo_cli.errors import ConfigError
from iapo_cli.evaluation import AlgorithmSpec, run_study, summarize
from iapo_cli.report import (
    pareto_front,
    regret_vs_budget,
    trimming,
    utility_vs_cost,
    utility_vs_n,
    write_report,
)
from iapo_cli.run import optimize
from tests.conftest import SMALL_SYNTHETIC, run_cli, write_config


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
    rows = estimates[(estimates.context == "free") & (estimates.prompt == "p0")].dropna(
        subset=["utility"])  # trimmed_in_round is empty for the surviving arm
    assert np.allclose(lines["p0"].get_xdata(), rows.n)
    assert np.allclose(lines["p0"].get_ydata(), rows.utility)
    chosen = policy.set_index("context").loc["free"]
    star = next(v for k, v in lines.items() if k.startswith("chosen"))
    assert list(star.get_xdata()) == [chosen.n]
    assert np.isclose(star.get_ydata()[0], chosen.estimated_utility)
    assert ax.get_xlabel().startswith("N")


def test_a_run_without_trimmed_in_round_is_reported_from_its_log(run_dir, tmp_path):
    # runs written before the column: the report derives it from trimming_log.csv
    import shutil

    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    estimates = pd.read_csv(old / "estimates.csv")
    expected = estimates.pop("trimmed_in_round")
    estimates.to_csv(old / "estimates.csv", index=False)
    log = pd.read_csv(old / "trimming_log.csv")
    assert np.allclose(trimmed_rounds(estimates, log), expected, equal_nan=True)
    assert len(write_report(old).figures) == 3


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


def many_frames(contexts: int = 27, prompts: int = 20, scales=(1, 2, 4, 8), seed: int = 0):
    """estimates, policy and trimming-log frames as a run with ``contexts`` x ``prompts``
    writes them: every context trims alike (identical counts), round 0 keeps the first
    half of the prompts, round 1 a quarter, round 2 the arm (p0, N max); the last prompt's
    N=1 arm, cut in round 0, is estimated above the chosen arm."""
    rng = np.random.default_rng(seed)
    names = [f"heavy-user-{c:02d}" for c in range(contexts)]
    ids = [f"p{p}" for p in range(prompts)]
    arms = pd.DataFrame([(c, p, n) for c in names for p in ids for n in scales],
                        columns=["context", "prompt", "n"])
    rounds = []
    for r, keep in enumerate((prompts // 2, prompts // 4, 0)):
        alive = ids[: (prompts // 2, prompts // 4, 1)[r - 1]] if r else ids
        part = arms[arms.prompt.isin(alive)].assign(round=r)
        part["kept"] = part.prompt.isin(ids[:keep]) if r < 2 else (
            (part.prompt == "p0") & (part.n == scales[-1]))
        rounds.append(part)
    log = pd.concat(rounds, ignore_index=True)
    estimates = arms.assign(utility=rng.uniform(0.2, 0.6, len(arms)),
                            task_utility=rng.uniform(0.2, 0.6, len(arms)),
                            cost=arms.n * 0.01, samples=8)
    chosen = (estimates.prompt == "p0") & (estimates.n == scales[-1])
    estimates.loc[chosen, "utility"] = 0.7
    estimates.loc[(estimates.prompt == ids[-1]) & (estimates.n == 1), "utility"] = 0.9
    estimates["trimmed_in_round"] = trimmed_rounds(estimates, log)
    policy = pd.DataFrame({"context": names, "prompt": "p0", "n": scales[-1],
                           "estimated_utility": 0.7})
    return names, estimates, policy, log


def _pairs(handles) -> list[tuple]:
    return [(to_hex(h.get_color()), h.get_marker()) for h in handles]


def _legend_clear_of_panels(fig) -> None:
    renderer = fig.canvas.get_renderer()  # positions only: no need to draw every panel
    assert len(fig.legends) == 1
    box = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        if ax.get_visible():
            assert ax.get_legend() is None
            assert not box.overlaps(ax.get_window_extent(renderer))


def _integer_ticks(axis) -> None:
    ticks = axis.get_majorticklocs()
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks


@pytest.fixture(scope="module")
def many():
    return many_frames()


def test_utility_vs_n_scales_to_27_contexts_and_20_prompts(many, tmp_path):
    names, estimates, policy, _ = many
    fig = utility_vs_n(estimates, policy, names)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == names  # a facet per context, none left out
    ids = [f"p{p}" for p in range(20)]
    styles = None
    for ax in panels:
        lines = {line.get_label(): line for line in ax.lines}
        pairs = [(to_hex(lines[p].get_color()), lines[p].get_marker()) for p in ids]
        assert len(set(pairs)) == 20  # no two prompts look alike
        assert styles in (None, pairs)  # and a prompt looks the same in every facet
        styles = pairs
        _integer_ticks(ax.xaxis)
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()][:20] == ids
    assert len(set(_pairs(legend.legend_handles[:20]))) == 20
    _legend_clear_of_panels(fig)
    fig.savefig(tmp_path / "n.png")
    assert (tmp_path / "n.png").stat().st_size > 5000


def test_utility_vs_n_marks_trimmed_arms(many):
    # the issue: arms above the chosen one carried no mark that they were cut early
    names, estimates, policy, _ = many
    fig = utility_vs_n(estimates, policy, names[:1])
    ax = fig.axes[0]
    hollow = {line.get_label(): line for line in ax.lines
              if line.get_label().endswith(" trimmed")}
    part = estimates[estimates.context == names[0]]
    early = part[part.trimmed_in_round < 2]  # cut before the last round (2)
    assert sorted(hollow) == sorted(f"_{p} trimmed" for p in early.prompt.unique())
    for label, line in hollow.items():
        rows = early[early.prompt == label[1:].removesuffix(" trimmed")].sort_values("n")
        assert np.allclose(line.get_xdata(), rows.n)
        assert line.get_markerfacecolor() == "white" and line.get_linestyle() == "None"
    # the arm estimated above the chosen one says which round cut it
    assert [t.get_text() for t in ax.texts] == ["r0"]
    assert ax.texts[0].xy == (1, 0.9)
    # finalists keep filled markers on their line: p0's line marks every N
    p0 = next(line for line in ax.lines if line.get_label() == "p0")
    assert list(p0.get_markevery()) == [0, 1, 2, 3]
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.startswith("hollow: trimmed before the last round") for t in texts)


def test_utility_vs_cost_scales(many):
    names, estimates, policy, _ = many
    fig = utility_vs_cost(estimates, policy, names)
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == names
    legend = fig.legends[0]
    assert len(set(_pairs(legend.legend_handles[:20]))) == 20
    _legend_clear_of_panels(fig)


def test_trimming_shows_every_context_with_identical_counts(many):
    names, _, _, log = many
    fig = trimming(log, names)
    arms_ax, prompts_ax = fig.axes
    lines = [line for line in arms_ax.lines if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == names
    counts = [tuple(line.get_ydata()) for line in lines]
    assert len(set(counts)) == 1  # identical counts (80, 40, 20, 1) in every context ...
    assert counts[0] == (80, 40, 20, 1)
    xs = [tuple(np.round(line.get_xdata(), 9)) for line in lines]
    assert len(set(xs)) == 27  # ... yet each context is drawn at its own place
    assert all(np.allclose(np.round(x), [0, 1, 2, 3]) for x in xs)  # beside its round
    assert len(set(_pairs(lines))) == 27
    for ax in (arms_ax, prompts_ax):
        _integer_ticks(ax.xaxis)
    _legend_clear_of_panels(fig)


# --- frontier in dollars across models (issue 11) ------------------------------------------

PRICE = {"tiny": 0.0001, "small": 0.0005, "large": 0.004}  # USD per completion


def money_frames(contexts: int = 27, prompts: int = 20, scales=(1, 2, 4, 8), seed: int = 1):
    """estimates and policy as the engine writes them on a multi-model backend: a
    ``model`` column, ``usd_per_query`` (the "large" model unpriced for one prompt), and
    per context a chosen (prompt, model, N)."""
    rng = np.random.default_rng(seed)
    names = [f"ctx-{c:02d}" for c in range(contexts)]
    rows = [(c, f"p{p}", m, n) for c in names for p in range(prompts) for m in PRICE
            for n in scales]
    estimates = pd.DataFrame(rows, columns=["context", "prompt", "model", "n"])
    estimates["task_utility"] = rng.uniform(0.2, 0.9, len(estimates))
    estimates["utility"] = estimates.task_utility
    estimates["cost"] = estimates.n * 30.0
    estimates["usd_per_query"] = estimates.model.map(PRICE) * estimates.n
    estimates.loc[(estimates.model == "large") & (estimates.prompt == "p3"),
                  "usd_per_query"] = np.nan
    picks = estimates.groupby("context").task_utility.idxmax()
    policy = estimates.loc[picks, ["context", "prompt", "model", "n"]].reset_index(drop=True)
    return names, estimates, policy


def test_frontier_colours_arms_by_model_in_dollars_and_marks_the_chosen_arm():
    from iapo_cli.report import frontier

    names, estimates, policy = money_frames()
    fig = frontier(estimates, policy, names)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == names  # a facet per context
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()][:3] == list(PRICE)
    colours = [to_hex(h.get_color()) for h in legend.legend_handles[:3]]
    assert len(set(colours)) == 3
    for ax, name in zip(panels[:3], names, strict=False):
        assert ax.get_xlabel() == "USD per 1000 queries (expected)"
        assert ax.get_xscale() == "log"  # 0.1 .. 32 dollars: a factor of 320
        part = estimates[(estimates.context == name)].dropna(subset=["usd_per_query"])
        for collection, model, colour in zip(ax.collections, PRICE, colours, strict=True):
            arms = part[part.model == model]
            xy = collection.get_offsets()
            assert len(xy) == len(arms)  # every priced arm of the model, one colour
            assert {to_hex(c) for c in collection.get_facecolor()} == {colour}
            assert np.allclose(np.sort(xy[:, 0]), np.sort(1000 * arms.usd_per_query))
        pick = policy.set_index("context").loc[name]
        star = next(line for line in ax.lines if line.get_label() == "chosen arm")
        arm = part[(part.prompt == pick.prompt) & (part.model == pick.model)
                   & (part.n == pick.n)]
        if len(arm):
            assert np.isclose(star.get_xdata()[0], 1000 * arm.usd_per_query.iloc[0])
            assert np.isclose(star.get_ydata()[0], arm.task_utility.iloc[0])
        step = next(line for line in ax.lines if line.get_label() == "frontier")
        front = pareto_front(1000 * part.usd_per_query.to_numpy(),
                             part.task_utility.to_numpy())
        assert np.allclose(step.get_ydata(), part.task_utility.to_numpy()[front])
    _legend_clear_of_panels(fig)


def test_frontier_without_prices_uses_cost_units_and_one_model():
    from iapo_cli.report import frontier

    names, estimates, policy = money_frames(contexts=2, prompts=3)
    plain = estimates[estimates.model == "small"].drop(columns=["model", "usd_per_query"])
    fig = frontier(plain, policy.drop(columns=["model"]), names)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("expected cost per query (cost units")
    assert len(ax.collections) == 1  # one model, one colour
    assert [t.get_text() for t in fig.legends[0].get_texts()][0] == "the run's model"


def test_a_multi_model_priced_run_reports_dollars_and_the_frontier(tmp_path):
    from tests.run.test_evaluate import _multi_model_run

    run, _ = _multi_model_run(tmp_path)
    code, _, err = run_cli("evaluate", run)
    assert code == 0, err
    report = write_report(run)
    names = sorted(p.name for p in report.figures)
    assert names == ["frontier.png", "trimming.png", "utility_vs_cost.png",
                     "utility_vs_n.png"]
    text = report.path.read_text()
    assert "## Frontier: task utility against dollars" in text
    assert "(frontier.png)" in text
    assert "| context | prompt | model | n | estimated_utility |" in text
    assert "USD / 1k queries" in text and "best single model at N=1" in text
    assert "$" in text


def test_a_run_without_models_or_prices_reports_as_before(run_dir):
    text = write_report(run_dir).path.read_text()
    assert "Frontier" not in text and "$" not in text and "model" not in text.lower()
    assert not (run_dir / "frontier.png").exists()


def test_per_prompt_figures_keep_models_apart(tmp_path):
    from tests.run.test_evaluate import ARM_IDS, _multi_model_run

    run, _ = _multi_model_run(tmp_path)
    from iapo_cli.report._report import _per_arm

    estimates = pd.read_csv(run / "estimates.csv")
    assert sorted(_per_arm(estimates).prompt.unique()) == sorted(ARM_IDS)
    fig = utility_vs_n(_per_arm(estimates), _per_arm(pd.read_csv(run / "policy.csv")),
                       ["free"])
    labels = {line.get_label() for line in fig.axes[0].lines}
    assert set(ARM_IDS) <= labels  # one series per (prompt, model), none merged
