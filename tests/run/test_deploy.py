"""``Policy.load(run_dir)``: what each context deploys, read back from a run directory
without sending anything (issue 12, first part)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import iapo_cli
from iapo_cli.errors import ConfigError
from iapo_cli.run import Policy, optimize
from tests.conftest import SMALL_SYNTHETIC, write_config
from tests.run.test_live_models import two_models_project


@pytest.fixture(scope="session")
def two_model_run(tmp_path_factory):
    """A two-model run with a USD budget, built once per test process: the tests using it
    (here and in test_reweigh.py) only read it."""
    directory = tmp_path_factory.mktemp("deploy")
    path = two_models_project(directory, rows=60, budget={"usd": 0.05})
    optimize(path, out=directory / "run")
    return directory / "run"


def test_each_context_deploys_what_policy_json_says(two_model_run, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # loading needs no key
    policy = iapo_cli.Policy.load(two_model_run)
    rows = json.loads((two_model_run / "policy.json").read_text())["contexts"]
    assert policy.contexts == tuple(r["context"] for r in rows)
    for row in rows:
        arm = policy.arm(row["context"])
        assert (arm.prompt, arm.model, arm.n) == (row["prompt"], row["model"], row["n"])
        assert arm.arm == f"{row['prompt']}@{row['model']}"
        assert arm.expected_utility == pytest.approx(row["estimated_utility"])
        assert arm.usd_per_query == pytest.approx(row["usd_per_query"])
        assert arm.samples == row["samples"] and arm.strategy == "majority_vote"
        assert arm.decoding["max_tokens"] == 256  # the model's params
        assert arm.weights == row["weights"]


def test_messages_render_a_new_row_as_training_did(two_model_run):
    policy = Policy.load(two_model_run)
    arm = policy.arm(policy.contexts[0])
    messages = arm.messages({"question": "What is 2 + 3?"})
    assert messages[-1]["role"] == "user" and "What is 2 + 3?" in messages[-1]["content"]
    backend = arm._backend  # the same rendering as the run's own requests
    row = backend.dataset.rows[0]
    assert arm.messages(row) == backend.messages(arm._index, 0)
    with pytest.raises(ConfigError, match="cannot render the template"):
        arm.messages({"nothing": 1})


def test_unknown_context_and_offline_runs(two_model_run, tmp_path):
    policy = Policy.load(two_model_run)
    with pytest.raises(ConfigError, match="unknown context 'nope' \\(the run has: "
                                          "accuracy-first, frugal, capped, cheap\\)"):
        policy.arm("nope")
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    optimize(config, out=tmp_path / "syn")
    offline = Policy.load(tmp_path / "syn")
    table = pd.read_csv(tmp_path / "syn" / "policy.csv")
    arm = offline.arm("costly")
    assert (arm.prompt, arm.n) == (table.prompt[1], table.n[1]) and arm.model is None
    with pytest.raises(ConfigError, match="offline"):
        arm.messages({})
    with pytest.raises(ConfigError, match="offline"):
        arm.answer({})
    with pytest.raises(ConfigError, match="not a run directory"):
        Policy.load(tmp_path)


def test_answer_votes_over_fresh_samples_through_the_runs_cache(tmp_path, monkeypatch):
    """N completions for a new row, the majority of their answers; a dataset row is
    sampled afresh (deployment samples never reuse training or test ones); asking again
    pays nothing."""
    from collections import Counter

    from tests.loopback import LoopbackServer
    from tests.run.money_project import MODELS, money_config

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    with LoopbackServer(seed=3, models=MODELS, seed_by_content=True) as server:
        config = money_config(tmp_path / "c.yaml", server.url, budget=200)
        run = optimize(config, out=tmp_path / "run")
        policy = Policy.load(run.run_dir)
        arm = policy.arm("frugal")
        before = server.completions
        answer = arm.answer({"question": "What is 20 + 22?"})
        assert server.completions == before + arm.n and answer.cached == 0
        assert len(answer.completions) == arm.n
        votes = Counter(arm._backend.answers(
            [type("C", (), {"text": t})() for t in answer.completions]))
        assert answer.answer == votes.most_common(1)[0][0]
        assert answer.vote_share == votes[answer.answer] / arm.n
        assert answer.usd is not None and answer.usd > 0
        again = arm.answer({"question": "What is 20 + 22?"})
        assert server.completions == before + arm.n and again.cached == arm.n
        assert again.completions == answer.completions
        row = arm._backend.dataset.rows[0]  # trained on: still fresh samples
        arm.answer(row)
        assert server.completions == before + 2 * arm.n


def test_best_of_n_answers_with_the_completion_its_weights_score_highest(tmp_path,
                                                                        loopback, api_key):
    import numpy as np

    from tests.conftest import live_config, write_sums

    config = live_config(tmp_path / "live.yaml", loopback.url,
                         write_sums(tmp_path / "sums.jsonl", count=40))
    text = config.read_text().replace("strategy: majority_vote\n", """\
strategy: best_of_n
objectives:
  - {name: correct, scorer: numeric_match}
  - {name: short, scorer: length, params: {max_tokens: 40}}
""").replace("correct: 1.0, cost: 0.0", "correct: 1.0, short: 0.3, cost: 0.0").replace(
        "correct: 1.0, cost: 0.02", "correct: 1.0, short: 0.0, cost: 0.02").replace(
        "budget: 600", "budget: 200")
    config.write_text(text)
    run = optimize(config, out=tmp_path / "run")
    policy = Policy.load(run.run_dir)
    arm = policy.arm(policy.contexts[0])
    assert arm.strategy == "best_of_n"
    answer = arm.answer({"question": "What is 20 + 22?", "answer": "42"})
    weights = np.array([arm.weights.get("correct", 0.0), arm.weights.get("short", 0.0)])
    weighted = np.array(answer.scores) @ weights
    assert len(answer.completions) == arm.n and answer.vote_share is None
    assert answer.score == pytest.approx(weighted.max())
    assert answer.answer == answer.completions[int(np.argmax(weighted))]
    # without a target the reference-based objective scores 0: the choice rests on the rest
    blind = arm.answer({"question": "What is 20 + 22?"})
    assert all(s[0] == 0.0 for s in blind.scores)


def test_batch_answers_send_together_and_the_async_form_agrees(tmp_path, monkeypatch):
    import asyncio

    from tests.loopback import LoopbackServer
    from tests.run.money_project import MODELS, money_config

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    with LoopbackServer(seed=3, models=MODELS, seed_by_content=True) as server:
        config = money_config(tmp_path / "c.yaml", server.url, budget=200)
        run = optimize(config, out=tmp_path / "run")
        arm = Policy.load(run.run_dir).arm("frugal")
        rows = [{"question": f"What is {i} + {i}?"} for i in range(12)]
        before = server.completions
        answers = arm.answer_many(rows)
        assert server.completions == before + 12 * arm.n
        assert [a.cached for a in answers] == [0] * 12

        async def both():
            return await asyncio.gather(arm.answer_many_async(rows[:6]),
                                        arm.answer_many_async(rows[6:]))

        first, second = asyncio.run(both())
        assert server.completions == before + 12 * arm.n  # all from the cache
        assert [a.answer for a in first + second] == [a.answer for a in answers]
        with pytest.raises(ConfigError, match="cannot render the template"):
            arm.answer_many([{"nothing": 1}])
