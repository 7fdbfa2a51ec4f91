"""``iapo evaluate``'s output: partial runs said and gated, a table that scales."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from iapo_cli.cli._evaluate import evaluation_table
from iapo_cli.run import Interrupted, optimize
from tests.conftest import SMALL_SYNTHETIC, run_cli, write_config


def many_contexts_config(path, contexts: int = 27, prompts: int = 20):
    """A synthetic config with ``contexts`` named contexts (cost weight rising) and
    ``prompts`` prompts."""
    lines = [f"  - {{name: heavy-user-{i:02d}, weights: {{correct: 1.0, cost: {0.1 * i:.1f}}}}}"
             for i in range(contexts)]
    return write_config(path, (
        "name: many\n"
        f"backend: {{kind: synthetic, family: bernoulli-mv, prompts: {prompts}, queries: 100, "
        "n_max: 8, seed: 3}\n"
        "contexts:\n" + "\n".join(lines) + "\nbudget: 3000\nseed: 1\n"))


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """A run stopped (KeyboardInterrupt, as Ctrl-C) after its first round."""
    tmp = tmp_path_factory.mktemp("partial")
    config = write_config(tmp / "c.yaml", SMALL_SYNTHETIC)

    def stop(round_, rounds, spent, budget):
        raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        optimize(config, tmp / "run", observer=stop)
    run = tmp / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["spent"] < summary["budget"]
    return run, summary


def test_evaluate_says_a_run_is_partial(interrupted_run):
    run, summary = interrupted_run
    code, out, err = run_cli("evaluate", run)
    assert code == 0, err
    note = (f"the run is interrupted, not complete (summary.json, {summary['spent']} of "
            f"{summary['budget']} training completions spent): its policy rests on part of "
            "the budget")
    assert f"warning: {note}" in out
    assert "PARTIAL RUN (interrupted)" in out
    data = json.loads((run / "evaluation.json").read_text())
    assert (data["run_status"], data["partial"], data["partial_note"]) == (
        "interrupted", True, note)
    assert (data["run_spent"], data["run_budget"]) == (summary["spent"], summary["budget"])

    code, out, err = run_cli("evaluate", run, "--json")
    assert code == 0 and json.loads(out)["partial"] is True  # stdout is only JSON


def test_min_acr_fails_a_partial_run_unless_allowed(interrupted_run):
    run, _ = interrupted_run
    code, out, err = run_cli("evaluate", run, "--min-acr", "0", "--json")
    assert code == 3
    data = json.loads(out)
    assert data["meets_min_acr"] is False and data["policy_acr"] >= 0
    assert err.startswith("error: the run is interrupted, not complete") and err.endswith(
        "; --min-acr fails a partial run unless --allow-partial is given\n")
    assert err.count("\n") == 1 and "Traceback" not in err

    code, out, err = run_cli("evaluate", run, "--min-acr", "0", "--allow-partial", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["meets_min_acr"] is True and data["allow_partial"] is True
    # below the minimum stays the ACR message, partial or not
    code, out, err = run_cli("evaluate", run, "--min-acr", "1.01", "--allow-partial")
    assert code == 3 and err.startswith("error: policy ACR ")


def test_a_complete_run_is_not_partial(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    assert run_cli("optimize", config, "--out", tmp_path / "run")[0] == 0
    code, out, err = run_cli("evaluate", tmp_path / "run", "--min-acr", "0", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["run_status"], data["partial"], data["partial_note"]) == (
        "complete", False, None)
    assert data["meets_min_acr"] is True
    code, out, err = run_cli("evaluate", tmp_path / "run")
    assert "warning" not in out and "PARTIAL" not in out


@pytest.fixture(scope="module")
def many_contexts_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("many")
    config = many_contexts_config(tmp / "c.yaml")
    assert run_cli("optimize", config, "--out", tmp / "run")[0] == 0
    return tmp / "run"


def _render(table, width: int) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    console.file.close()
    return console.export_text()


def test_the_table_has_one_row_per_context_and_truncates_nothing(many_contexts_run):
    # the issue: with 27 contexts as columns every cell was cut to 'h…'
    code, out, err = run_cli("evaluate", many_contexts_run)
    assert code == 0, err
    data = json.loads((many_contexts_run / "evaluation.json").read_text())
    names = [c["context"] for c in data["comparisons"][0]["contexts"]]
    assert len(names) == 27
    assert "…" not in out
    rows = [line for line in out.splitlines() if line.startswith("│ heavy-user-")]
    assert [row.split("│")[1].strip() for row in rows] == names  # one row each, in order
    for item in data["comparisons"]:
        for ctx in item["contexts"]:
            assert f"{ctx['prompt']}@{ctx['n']} {ctx['value']:.4f}" in out
    assert any(line.startswith("│ ACR ± sem") for line in out.splitlines())

    table = evaluation_table(data, "t")
    wide = _render(table, 220)
    assert "…" not in wide
    for name in names:
        assert f"│ {name} " in wide
    narrow = _render(evaluation_table(data, "t", width=80), 80)
    assert "…" not in narrow and max(len(line) for line in narrow.splitlines()) <= 80
    for name in names:  # a console too narrow for the wide table: a row per comparison
        assert f"│ {name} " in narrow
    for item in data["comparisons"]:
        assert item["name"] in narrow
        assert f"{item['acr']:.4f} ± {item['acr_sem']:.4f}" in narrow
        for ctx in item["contexts"]:
            assert f"│ {ctx['prompt']}@{ctx['n']} " in narrow


def test_a_multi_model_priced_run_shows_models_and_dollars(tmp_path):
    from iapo_cli.evaluation import BEST_MODEL_N1, CHEAPEST_NEAR_BEST
    from tests.run.test_evaluate import _multi_model_run

    run, _ = _multi_model_run(tmp_path)
    code, out, err = run_cli("evaluate", run)
    assert code == 0, err
    data = json.loads((run / "evaluation.json").read_text())
    names = [c["name"] for c in data["comparisons"]]
    assert BEST_MODEL_N1 in names and CHEAPEST_NEAR_BEST in names
    text = " ".join(out.split())  # cells may fold across lines
    for item in data["comparisons"]:
        for ctx in item["contexts"]:
            usd = ctx["usd_per_1k_queries"]
            assert (f"{ctx['prompt']}/{ctx['model']}@{ctx['n']} {ctx['value']:.4f} "
                    f"${usd:.4g}/1k") in _render(evaluation_table(data, "t"), 400)
    assert "USD / 1k queries" in text
    narrow = _render(evaluation_table(data, "t", width=80), 80)
    assert "USD / 1k queries" in narrow and max(len(line) for line in narrow.splitlines()) <= 80


def test_an_unpriced_run_shows_no_dollars(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    run = optimize(config, tmp_path / "run").run_dir
    code, out, err = run_cli("evaluate", run)
    assert code == 0, err
    assert "USD" not in out and "$" not in out


def test_the_policy_table_shows_models_and_dollars_per_1000_queries():
    import pandas as pd

    from iapo_cli.cli._optimize import policy_view

    frame = pd.DataFrame({
        "context": ["free", "frugal"], "prompt": ["a", "b"], "model": ["large", "small"],
        "n": [1, 8], "estimated_utility": [0.9, 0.7], "samples": [40, 80],
        "agnostic_prompt": ["a", "a"], "agnostic_n": [1, 1], "agnostic_utility": [0.9, 0.6],
        "usd_per_query": [0.003, float("nan")]})
    view = policy_view(frame)
    assert list(view.columns[:6]) == ["context", "prompt", "model", "n", "estimated_utility",
                                      "usd_per_1k_queries"]
    assert list(view.usd_per_1k_queries) == ["$3", "n/a"]
    plain = policy_view(frame.drop(columns=["model", "usd_per_query"]))
    assert list(plain.columns) == ["context", "prompt", "n", "estimated_utility", "samples",
                                   "agnostic", "agnostic_utility"]
    unpriced = policy_view(frame.assign(usd_per_query=float("nan")))
    assert "usd_per_1k_queries" not in unpriced.columns
