"""``plan``: the run's cost before its first call, measured against the run it predicts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from iapo_cli.algorithms import Trainer, train
from iapo_cli.run import optimize, plan, validate
from iapo_cli.run._plan import pilot_queries, psst_schedule, schedule_for
from tests.conftest import SMALL_SYNTHETIC, live_config, write_config, write_sums
from tests.run.sim_project import sim_project

REASONING_PROMPTS = [
    {"id": "step-by-step",
     "template": "{question}\nThink step by step, then finish with 'Answer: <number>'."},
    {"id": "show-work",
     "template": "{question}\nShow your work, then finish with 'Answer: <number>'."},
    {"id": "reason", "system": "You are an expert.",
     "template": "{question}\nReason it out, then finish with 'Answer: <number>'."},
    {"id": "brainstorm", "decoding": {"temperature": 1.2},
     "template": "{question}\nBrainstorm step by step, then finish with 'Answer: <number>'."},
]
"""Prompts whose answers have alike lengths: which of them survive the trimming rounds
then hardly moves the run's tokens, so the plan's error is the pilot's (see the README)."""


def _round_one(run: Path, screened: bool, top: int) -> dict[str, int]:
    """Queries each prompt was pulled on at N=top in the first trimming round, from the
    run's trimming log (rounds counted from 0, the screening round first)."""
    log = pd.read_csv(run / "trimming_log.csv")
    first = log[(log["round"] == int(screened)) & (log["n"] == top)]
    return first.groupby("prompt", sort=False)["samples"].first().to_dict()


@pytest.mark.parametrize("budget, algorithm", [
    (600, {"name": "psst"}),  # pooled rounds (majority voting's default)
    (2000, {"name": "psst"}),
    # trimming rounds: screening (the budget cannot pay a sweep per round), and not
    (600, {"name": "psst", "params": {"estimator": "unbiased"}}),
    (2000, {"name": "psst", "params": {"estimator": "unbiased"}}),
    (1200, {"name": "psst", "params": {"rounds": 3, "schedule": "halving",
                                       "estimator": "unbiased"}}),
])
def test_the_schedule_is_the_one_the_simulator_run_follows(tmp_path, budget, algorithm):
    config = sim_project(tmp_path, rows=60, budget=budget, algorithm=algorithm)
    schedule = schedule_for(validate(config))
    optimize(config, out=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert schedule.completions == summary["spent"] == budget
    assert schedule.screened == summary["screened"]
    assert schedule.total_rounds == summary["rounds"]
    first = _round_one(tmp_path / "run", schedule.screened, 16)
    assert len(first) == schedule.round1_prompts
    assert set(first.values()) == {int(schedule.round1_queries.max())}
    if schedule.screened:
        log = pd.read_csv(tmp_path / "run" / "trimming_log.csv")
        screen = log[(log["round"] == 0) & (log["n"] == 1)]
        assert set(screen["samples"]) == {schedule.screen_queries}


@pytest.mark.parametrize("budget", [40, 60, 100, 200, 400, 600, 900, 1500, 3000])
@pytest.mark.parametrize("screen, rounds", [("never", None), ("always", None), ("never", 4)])
def test_the_schedule_matches_psst_on_a_synthetic_problem(tmp_path, budget, screen, rounds):
    """Rounds, screening and round-1 pulls of PSST itself, over budgets from one pull per
    prompt to many (4 rounds on a small budget: the rotating first round); k = 6 keeps
    every prompt, so the schedule is exact."""
    params = f"screen: {screen}, k: 6" + (f", rounds: {rounds}" if rounds else "")
    text = SMALL_SYNTHETIC + f"algorithm: {{name: psst, params: {{{params}}}}}\n"
    resolved = validate(write_config(tmp_path / "c.yaml", text), budget=budget)
    schedule = psst_schedule(resolved.problem, budget, algorithm=resolved.algorithm)
    assert schedule.exact
    trainer = Trainer(resolved.problem, budget, np.random.default_rng(0))
    train(resolved.algorithm, trainer)
    assert trainer.spent == schedule.completions == budget
    assert trainer.rounds == schedule.total_rounds
    log = trainer.log.frame()
    top = int(resolved.problem.scales[-1])
    first = log[(log["round"] == int(schedule.screened)) & (log["n"] == top)]
    pulled = first.groupby("prompt", sort=False)["samples"].first()
    if schedule.rounds > 1:  # a single round is also the last: it adds the closest races
        expected = dict(zip(resolved.problem.backend.prompt_ids,
                            schedule.round1_queries.tolist(), strict=True))
        assert pulled.reindex(list(expected), fill_value=0).to_dict() == expected


def _paid_tokens(usage: dict) -> int:
    done = usage["this_attempt"]["completion"]
    return done["prompt_tokens"] + done["completion_tokens"]


@pytest.mark.parametrize("rows, budget, seed", [(60, 600, 0), (120, 1000, 2), (60, 1200, 4)])
def test_a_pilot_of_3_predicts_the_runs_tokens_within_12_percent(tmp_path, rows, budget, seed):
    """The bar (in tokens: the simulator has no price): plan --pilot 3, then the run; what
    the pilot and the run paid together is close to the plan's expectation, and the run
    takes the pilot's completions from the cache.

    The prompt part is counted on the training queries (scaled to the pilot's billing).
    The completion part is the pilot's mean over its 12 queries, while
    PSST's pooled rounds spread the run over all the training queries: that sample is the
    error left (measured -1.3%, +10.8%, +0.6% in all; 10% held while PSST's trimming
    rounds pulled few queries, mostly the pilot's)."""
    config = sim_project(tmp_path, rows=rows, budget=budget, prompts=REASONING_PROMPTS,
                         seed=seed)
    planned = plan(config, pilot=3)
    assert planned.pilot["completions"] == 12 and planned.pilot["fresh"] == 12
    outcome = optimize(config, out=tmp_path / "run")
    paid = _paid_tokens(outcome.usage) + planned.pilot["prompt_tokens"] + \
        planned.pilot["completion_tokens"]
    assert abs(planned.tokens["expected"] - paid) <= 0.12 * paid, (planned.tokens, paid)
    assert planned.completions == outcome.result.spent == budget
    assert outcome.usage["this_attempt"]["completion"]["cached"] >= 10  # of the 12


def test_max_tokens_bounds_the_worst_case(tmp_path):
    config = sim_project(tmp_path, rows=60, budget=600, prompts=REASONING_PROMPTS)
    data = yaml.safe_load(config.read_text())
    data["backend"]["params"] = {"max_tokens": 200}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    planned = plan(config)
    assert all(arm.completion_from == "max_tokens" for arm in planned.arms)
    worst = planned.tokens["worst"]
    assert worst == 600 * (200 + max(arm.prompt_tokens_max for arm in planned.arms))
    assert planned.tokens["expected"] <= worst
    outcome = optimize(config, out=tmp_path / "run")
    assert _paid_tokens(outcome.usage) <= planned.tokens["expected"] <= worst


@pytest.fixture
def steady_loopback():
    """A loopback server whose answers do not depend on how concurrent requests
    interleave: which pilot slots the run reuses depends on which arms it keeps (with
    seed 4, all six: the run asks for every pilot slot)."""
    from tests.loopback import LoopbackServer

    with LoopbackServer(seed=4, seed_by_content=True) as server:
        yield server


def test_without_a_pilot_nothing_is_sent_and_a_later_plan_reads_the_pilot(
        tmp_path, steady_loopback, api_key):
    loopback = steady_loopback
    data = write_sums(tmp_path / "sums.jsonl", count=40)
    config = live_config(tmp_path / "live.yaml", loopback.url, data, prompts=3, budget=120,
                         transport="litellm")  # LiteLLM counts its prompt tokens
    planned = plan(config)
    assert loopback.requests == 0
    assert planned.tokens["expected"] is None and planned.tokens["worst"] is None
    assert all(arm.tokenizer.startswith("tiktoken") for arm in planned.arms)
    assert any("openai/loopback has no price" in w for w in planned.warnings)
    piloted = plan(config, pilot=2)
    assert loopback.completions == loopback.requests == 6  # 2 per arm, one request each
    again = plan(config)  # the pilot's completions are in the cache: free
    assert loopback.requests == 6
    assert [a.completion_tokens for a in again.arms] == \
        [a.completion_tokens for a in piloted.arms]
    assert {a.completion_from for a in again.arms} == {"cache"}
    outcome = optimize(config, out=tmp_path / "run")
    assert outcome.usage["this_attempt"]["completion"]["cached"] == 6  # reused by the run
    assert loopback.completions == 120


def test_pilot_slots_are_the_runs_first_queries(tmp_path):
    config = sim_project(tmp_path, rows=60, budget=600)
    resolved = validate(config)
    trainer = Trainer(resolved.problem, 600, np.random.default_rng(resolved.seed))
    first = trainer.queries.draw(12).tolist()
    arms = len(resolved.problem.backend.prompt_ids)
    picked = [pilot_queries(resolved, 2, a, arms) for a in range(arms)]
    assert sorted(x for arm in picked for x, slot in arm) == sorted(first)
    assert {slot for arm in picked for _, slot in arm} == {0}
