"""Issue 11's money bars on one loopback server answering as two models of different
accuracy, price and ``n`` support (``tests/run/money_project.py``): a budget in USD is
never exceeded as the server bills it and is spent to >= 95%, and the frugal context picks
the cheap model at a larger N, which the server's answer model says is truly best.
``benchmarks/money_budget.py`` runs the same over 20 seeds."""

from __future__ import annotations

import json

import pytest

from iapo_cli.run import optimize, plan
from tests.loopback import LoopbackServer
from tests.run.money_project import (
    MODELS,
    best,
    exact_arms,
    money_config,
    regret,
    server_usd,
)

BUDGET = 0.03


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")


def test_the_truth_makes_the_cheap_model_at_large_n_best_for_the_frugal_context():
    arms = exact_arms()
    assert best(arms["frugal"])[0] == ("small", 8)
    assert best(arms["accuracy-first"])[0] == ("large", 8)
    assert best(arms["capped"])[0] == ("small", 6)  # small@7 costs more than the cap
    # by a margin no noise of a run closes: the large model's best is far behind
    large = max(v for (m, _), v in arms["frugal"].items() if m == "large")
    assert best(arms["frugal"])[1] - large > 0.15


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_usd_budget_is_a_ceiling_on_the_servers_bill_and_is_spent(tmp_path, api_key,
                                                                    seed):
    with LoopbackServer(seed=seed, models=MODELS, seed_by_content=True) as server:
        config = money_config(tmp_path / "c.yaml", server.url, budget={"usd": BUDGET},
                              seed=seed)
        outcome = optimize(config, out=tmp_path / "run")
        billed = server_usd(server.served)
    assert billed <= BUDGET
    assert billed >= 0.95 * BUDGET
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["budget_unit"] == "usd" and summary["budget"] == BUDGET
    assert summary["spent"] == pytest.approx(billed, rel=1e-9)  # nothing came from a cache
    assert summary["completions"] == sum(m["completions"] for m in server.served.values())
    # n support: the small model got one request per pull, the large one per completion
    large, small = server.served["large"], server.served["small"]
    assert small["requests"] < small["completions"]
    assert large["requests"] == large["completions"]
    table = outcome.policy_table
    chosen = {c: (m, int(n)) for c, m, n in zip(table.context, table.model, table.n,
                                                strict=True)}
    truth = exact_arms()
    assert chosen["frugal"][0] == "small" and chosen["frugal"][1] > 1
    assert regret(truth["frugal"], chosen["frugal"]) < 0.1
    assert chosen["capped"][0] == "small" and chosen["capped"] in truth["capped"]


def test_a_rerun_of_a_usd_run_pays_nothing_and_ends_alike(tmp_path, api_key):
    with LoopbackServer(seed=4, models=MODELS, seed_by_content=True) as server:
        config = money_config(tmp_path / "c.yaml", server.url, budget={"usd": 0.01})
        first = optimize(config, out=tmp_path / "one")
        requests = server.requests
        again = optimize(config, out=tmp_path / "two")
        assert server.requests == requests
    assert again.result.spent == pytest.approx(first.result.spent)
    assert (again.result.policy.prompt == first.result.policy.prompt).all()


@pytest.mark.parametrize("budget", [{"usd": BUDGET}, 300])
def test_plan_predicts_the_runs_spend_within_ten_percent(tmp_path, api_key, budget):
    """With a pilot of 3 per arm (through the run's cache) the plan's dollars are within
    10% of what the server then bills the run; with a completion budget its completions
    are exact; without a pilot it sends nothing."""
    with LoopbackServer(seed=5, models=MODELS, seed_by_content=True) as server:
        config = money_config(tmp_path / "c.yaml", server.url, budget=budget)
        plan(config)
        assert server.requests == 0
        planned = plan(config, pilot=3)
        outcome = optimize(config, out=tmp_path / "run")
        billed = server_usd(server.served)  # the pilot's completions included
    assert planned.usd["expected"] == pytest.approx(billed, rel=0.10)
    if isinstance(budget, int):
        assert planned.completions == outcome.result.completions == budget
    else:
        assert planned.usd["worst"] == BUDGET and planned.completions > 0


def test_a_usd_budget_refuses_a_model_priced_at_zero(tmp_path):
    """Nothing would ever be spent on a free model: the budget could not be kept as the
    run's end condition, so the config is refused (exit 2) before anything is sent."""
    import yaml

    from iapo_cli.errors import ConfigError
    from iapo_cli.run import validate

    config = money_config(tmp_path / "c.yaml", "http://127.0.0.1:9/v1")
    data = yaml.safe_load(config.read_text())
    data["models"][0]["price"] = {"input": 0, "output": 0}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError, match="a budget in usd needs every arm to cost "
                                          "something, but a@small costs 0"):
        validate(config, require_keys=False)


def test_a_token_budget_is_a_ceiling_on_the_tokens_the_server_bills(tmp_path, api_key):
    with LoopbackServer(seed=6, models=MODELS, seed_by_content=True) as server:
        config = money_config(tmp_path / "c.yaml", server.url, budget={"tokens": 6000})
        optimize(config, out=tmp_path / "run")
        billed = sum(m["prompt_tokens"] + m["completion_tokens"]
                     for m in server.served.values())
    assert 0.95 * 6000 <= billed <= 6000
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["budget_unit"] == "tokens" and summary["spent"] == pytest.approx(billed)


def test_the_command_line_budget_takes_dollars_for_a_usd_config(tmp_path):
    """``--budget`` is in the config's unit: a fraction of a dollar for a budget in USD
    (it was parsed as an integer, so a USD budget could not be overridden at all)."""
    from tests.conftest import run_cli

    config = money_config(tmp_path / "c.yaml", "http://127.0.0.1:9/v1")
    code, out, err = run_cli("plan", config, "--budget", "0.05", "--json")
    assert code == 0, err
    assert json.loads(out)["budget"] == {"unit": "usd", "amount": 0.05}
    code, _, err = run_cli("plan", config, "--budget", "1e-12")
    assert code == 2 and "--budget" in err and err.count("\n") == 1
