"""Issue 11, several models: arms prompt x model on the simulator and on the loopback server
(one server answering as two models), their usage as billed, and its worst case."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from iapo_cli.config import load_config
from iapo_cli.run import optimize
from iapo_cli.run._backends import build_environment
from tests.conftest import write_sums
from tests.loopback import LoopbackModel, LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
PRICES = {"small": (0.2, 0.8), "large": (3.0, 12.0)}  # USD per million input, output tokens


def two_models_project(directory: Path, rows: int = 40, **changes) -> Path:
    """configs/two-models.yaml on the first ``rows`` bundled questions, in ``directory``
    (its own cache and runs), with ``changes`` applied to the top level."""
    (directory / "data").mkdir(parents=True, exist_ok=True)
    lines = (ROOT / "configs" / "data" / "arithmetic.jsonl").read_text().splitlines()
    (directory / "data" / "arithmetic.jsonl").write_text("\n".join(lines[:rows]) + "\n")
    config = yaml.safe_load((ROOT / "configs" / "two-models.yaml").read_text())
    config["backend"].pop("cache_dir")
    config.pop("output")
    config.update(changes)
    path = directory / "two-models.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def environment(path: Path):
    return build_environment(load_config(path), str(path))


def test_the_shipped_config_runs_offline_with_arms_across_models(tmp_path):
    path = two_models_project(tmp_path, budget=600)
    backend = environment(path).backend
    # concise-expert runs on the large model only
    assert backend.prompt_ids == ("direct@small", "direct@large", "step-by-step@small",
                                  "step-by-step@large", "concise-expert@large")
    assert backend.arm_models == ("small", "large", "small", "large", "large")
    assert backend.arm_prompts == ("direct", "direct", "step-by-step", "step-by-step",
                                   "concise-expert")
    assert backend.usd_known
    outcome = optimize(path, out=tmp_path / "run")
    summary = (tmp_path / "run" / "summary.json").read_text()
    assert '"model": "small,large"' in summary
    table = outcome.policy_table  # prompt and model apart, as the contract has them
    chosen = {f"{p}@{m}" for p, m in zip(table["prompt"], table["model"], strict=True)}
    assert chosen <= set(backend.prompt_ids)


def test_one_model_configs_keep_their_arms_and_report_no_models(tmp_path):
    from tests.run.sim_project import sim_project

    backend = environment(sim_project(tmp_path, rows=20)).backend
    assert backend.arm_models is None and backend.arm_prompts == backend.prompt_ids
    assert "@" not in "".join(backend.prompt_ids)


def test_skills_differ_and_the_default_model_is_unchanged():
    from iapo_cli.sim import SKILLS, SimulatedModel

    model = SimulatedModel()
    problems = model.problems[:120]
    accuracy = {}
    for name in ("arith-small", "arith", "arith-large"):
        right = 0
        for problem in problems:
            texts = model.respond([{"role": "user", "content": problem.question +
                                    "\nGive the result as 'Answer: <number>'."}],
                                  1.0, 0, 4, SKILLS[name])
            right += sum(f"Answer: {problem.answer}" == t.splitlines()[-1] for t in texts)
        accuracy[name] = right / (4 * len(problems))
    assert accuracy["arith-small"] + 0.1 < accuracy["arith"] < accuracy["arith-large"] - 0.05
    message = [{"role": "user", "content": problems[0].question}]
    assert model.respond(message, 1.0, 3, 2) == model.respond(message, 1.0, 3, 2,
                                                             SKILLS["arith"])


def _pull_all(backend, queries, scales=(1, 3)):
    """Every arm at every scale in ``scales`` in one batch: the pulls, their usage, and the
    worst cases asked for before."""
    pulls = [(p, queries, n) for p in range(len(backend.prompt_ids)) for n in scales]
    worst = [backend.worst_usage(p, q, n) for p, q, n in pulls]
    backend.sample_many(pulls, np.random.default_rng(0))
    return pulls, backend.pop_usage(), worst


def _assert_bounded(usages, worst):
    for used, bound in zip(usages, worst, strict=True):
        for name in ("completions", "requests", "prompt_tokens", "completion_tokens", "usd",
                     "usd_prompt", "request_cost"):
            assert np.all(getattr(used, name) <= getattr(bound, name) + 1e-12), name


def test_simulator_usage_is_bounded_by_its_worst_case_and_max_tokens_truncates(tmp_path):
    path = two_models_project(tmp_path)
    data = yaml.safe_load(path.read_text())
    for model in data["models"]:
        model["params"] = {"max_tokens": 12}  # step-by-step answers are longer: cut
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    backend = environment(path).backend
    pulls, usages, worst = _pull_all(backend, np.arange(10))
    assert backend.pop_usage() == []  # popped once
    _assert_bounded(usages, worst)
    assert any(np.any(u.completion_tokens == n * 12) for (_, _, n), u in zip(pulls, usages,
                                                                           strict=True))
    # the simulator's prompt count is exact, so the worst prompt tokens are the actual ones
    for used, bound in zip(usages, worst, strict=True):
        np.testing.assert_array_equal(used.prompt_tokens, bound.prompt_tokens)
    # money measure: the strategy's cost is the completion part, the prompt part per request
    small = PRICES_SHIPPED["small"]
    used = usages[0]
    np.testing.assert_allclose(used.usd, used.prompt_tokens * small[0] / 1e6
                               + used.completion_tokens * small[1] / 1e6)
    np.testing.assert_allclose(used.request_cost, used.usd_prompt * 1000)  # cost.scale


PRICES_SHIPPED = {"small": (0.05, 0.2), "large": (5.0, 15.0)}  # configs/two-models.yaml


def loopback_config(path: Path, url: str, data: Path, budget: int = 300,
                    max_tokens: int = 10, measure: str = "money") -> Path:
    models = [{"id": name, "model": f"openai/{name}", "api_base": url,
               "price": {"input": PRICES[name][0], "output": PRICES[name][1]},
               "params": {"max_tokens": max_tokens}, "concurrency": 1, "max_retries": 0,
               "timeout": 5, "transport": "http"}
              for name in ("small", "large")]
    config = {
        "name": "models", "backend": {"kind": "live", "n_max": 4,
                                      "cache_dir": str(path.parent / "cache")},
        "models": models,
        "dataset": {"path": str(data), "target_field": "answer", "id_field": "id"},
        "strategy": "majority_vote",
        "prompts": [{"id": "a", "template": "{question} Answer: <n>"},
                    {"id": "b", "system": "be brief", "template": "{question} Answer: <n>",
                     "models": ["small"]}],
        "cost": {"measure": measure},
        "contexts": [{"name": "any", "weights": {"correct": 1.0, "cost": 0.0}}],
        "budget": budget, "seed": 0,
        # max_tokens cuts most of the large model's answers (what the money tests need):
        # the early check would rightly stop such a run
        "answer_health": {"stop_early": False},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _two_model_server(monkeypatch, latency: float):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    models = {"small": LoopbackModel(0.55, (2, 6), supports_n=False),
              "large": LoopbackModel(0.9, (6, 14), supports_n=True)}
    with LoopbackServer(seed=1, latency=latency, models=models) as server:
        yield server


@pytest.fixture
def two_model_server(monkeypatch):
    """Two models on one loopback server; the latency makes requests overlap."""
    yield from _two_model_server(monkeypatch, latency=0.02)


@pytest.fixture
def quick_two_model_server(monkeypatch):
    """``two_model_server`` without its latency."""
    yield from _two_model_server(monkeypatch, latency=0.0)


def _set_supports_n(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    data["models"][0]["supports_n"] = False
    data["models"][1]["supports_n"] = True
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_loopback_usage_matches_the_server_meter_and_its_worst_case(two_model_server,
                                                                    tmp_path):
    server = two_model_server
    path = loopback_config(tmp_path / "c.yaml", server.url,
                           write_sums(tmp_path / "sums.jsonl", 12))
    _set_supports_n(path)
    backend = environment(path).backend
    assert backend.prompt_ids == ("a@small", "a@large", "b@small")
    assert backend.requests_per_scale.tolist() == [[1, 2, 3, 4], [1, 1, 1, 1], [1, 2, 3, 4]]
    pulls, usages, worst = _pull_all(backend, np.arange(6))
    _assert_bounded(usages, worst)
    for name in ("small", "large"):
        mine = [u for (p, _, _), u in zip(pulls, usages, strict=True)
                if backend.arm_models[p] == name]
        meter = server.served[name]
        assert sum(u.requests.sum() for u in mine) == meter["requests"]
        assert sum(u.completions.sum() for u in mine) == meter["completions"]
        assert sum(u.prompt_tokens.sum() for u in mine) == pytest.approx(
            meter["prompt_tokens"])
        assert sum(u.completion_tokens.sum() for u in mine) == pytest.approx(
            meter["completion_tokens"])
        server_usd = (meter["prompt_tokens"] * PRICES[name][0]
                      + meter["completion_tokens"] * PRICES[name][1]) / 1e6
        assert sum(u.usd.sum() for u in mine) == pytest.approx(server_usd)
    # n support: one request bills the prompt once; without it, once per completion
    by_arm = {(p, n): u for (p, _, n), u in zip(pulls, usages, strict=True)}
    np.testing.assert_allclose(by_arm[(0, 3)].prompt_tokens, 3 * by_arm[(0, 1)].prompt_tokens)
    np.testing.assert_allclose(by_arm[(1, 3)].prompt_tokens, by_arm[(1, 1)].prompt_tokens)
    # both models at once: each has concurrency 1, together two requests in flight
    assert server.max_in_flight == 2


def test_a_run_across_two_loopback_models_with_a_completion_budget(quick_two_model_server,
                                                                   tmp_path):
    server = quick_two_model_server
    path = loopback_config(tmp_path / "c.yaml", server.url,
                           write_sums(tmp_path / "sums.jsonl", 30), budget=240)
    outcome = optimize(path, out=tmp_path / "run")
    served = sum(m["completions"] for m in server.served.values())
    assert served == 240 and set(server.served) == {"small", "large"}
    policy = outcome.policy_table
    chosen = {f"{p}@{m}" for p, m in zip(policy["prompt"], policy["model"], strict=True)}
    assert chosen <= {"a@small", "a@large", "b@small"}
    spent = sum((m["prompt_tokens"] * PRICES[k][0] + m["completion_tokens"] * PRICES[k][1])
                / 1e6 for k, m in server.served.items())
    assert outcome.usage["this_attempt"]["completion"]["cost"] == pytest.approx(spent)
    # a rerun pays nothing (the cache keys hold the model)
    requests = server.requests
    optimize(path, out=tmp_path / "run2")
    assert server.requests == requests
    shutil.rmtree(tmp_path / "cache")


def test_resume_accepts_a_models_transport_change_and_refuses_another_model(tmp_path):
    from tests.conftest import run_cli

    path = two_models_project(tmp_path, rows=20, budget=200)
    optimize(path, out=tmp_path / "run")
    original = yaml.safe_load(path.read_text())
    data = yaml.safe_load(path.read_text())
    data["models"][0]["concurrency"] = 2
    data["models"][1]["timeout"] = 30
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code, _, err = run_cli("optimize", path, "--resume", tmp_path / "run")
    assert code == 0, err
    original["models"][1]["model"] = "iapo-sim/arith"
    path.write_text(yaml.safe_dump(original, sort_keys=False))
    code, _, err = run_cli("optimize", path, "--resume", tmp_path / "run")
    assert code == 2 and "models[1].model" in err, err


@pytest.mark.parametrize("measure, scale", [("money", 1000.0), ("total_tokens", 0.001)])
def test_a_pulls_cost_leaves_the_per_request_prompt_part_to_request_cost(tmp_path, measure,
                                                                         scale):
    path = two_models_project(tmp_path, rows=20, cost={"measure": measure, "scale": scale})
    backend = environment(path).backend
    pull = backend.sample(1, np.arange(5), 3, np.random.default_rng(0))  # direct@large
    (used,) = backend.pop_usage()
    price_in, price_out = (p / 1e6 for p in PRICES_SHIPPED["large"])
    if measure == "money":
        completion, prompt = used.completion_tokens * price_out, used.prompt_tokens * price_in
    else:
        completion, prompt = used.completion_tokens, used.prompt_tokens
    np.testing.assert_allclose(pull.cost, completion * scale)
    np.testing.assert_allclose(used.request_cost, prompt * scale)
    assert np.all(used.requests == 1)  # the simulator supports n: one request of 3
