"""Issue 22, item 5: ``iapo samples`` shows what the model said, from the run's cache,
sending nothing: on a quickstart run, a two-model run, and a run the early check stopped."""

import json

import pytest

from iapo_cli import optimize
from iapo_cli.run import samples

from ..conftest import live_config, run_cli, write_sums
from ..loopback import LoopbackServer
from .sim_project import sim_project
from .test_live_models import two_models_project


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """A finished quickstart run (simulated model) and its config."""
    root = tmp_path_factory.mktemp("samples")
    config = sim_project(root / "p", budget=400)
    outcome = optimize(config, out=root / "run")
    return outcome


def _cache_size(outcome) -> int:
    import diskcache

    with diskcache.Cache(outcome.resolved.problem.backend.client.cache.directory) as cache:
        return len(cache)


def test_samples_read_the_cache_with_answers_gold_and_verdicts(quick_run):
    before = _cache_size(quick_run)
    records = samples(quick_run.run_dir, limit=None, split="train")
    assert _cache_size(quick_run) == before  # nothing sent, nothing stored
    assert len(records) == quick_run.result.completions  # every paid completion, once
    verdicts = {r.verdict for r in records}
    assert {"correct", "wrong", "no answer"} <= verdicts
    for r in records[:50]:
        assert (r.verdict == "correct") == (r.answer is not None and r.answer == r.gold)
        assert (r.answer is None) == (r.outcome == "no_answer")
    assert samples(quick_run.run_dir, split="test") == []  # evaluate has not sampled yet


def test_filters_by_context_arm_query_and_outcome(quick_run):
    run = quick_run.run_dir
    policy = json.loads((run / "policy.json").read_text())["contexts"][0]
    by_context = samples(run, context=policy["context"], limit=30)
    assert by_context and {r.prompt for r in by_context} == {policy["prompt"]}
    unparsed = samples(run, arm="no-format", unparsed=True, limit=10)
    assert len(unparsed) == 10 and all(r.prompt == "no-format" and r.answer is None
                                       for r in unparsed)
    wrong = samples(run, wrong=True, limit=10)
    assert all(r.verdict == "wrong" and r.answer != r.gold for r in wrong)
    one = samples(run, query=wrong[0].query, limit=None)
    assert {r.query for r in one} == {wrong[0].query} and len(one) > 1


def test_the_command_prints_blocks_or_json_and_refuses_bad_filters(quick_run):
    run = quick_run.run_dir
    code, out, err = run_cli("samples", run, "--unparsed", "--limit", "2")
    assert code == 0, err
    assert out.count("── ") == 2 and "no answer" in out and "gold '" in out
    code, out, _ = run_cli("samples", run, "--wrong", "--json", "--limit", "3")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3 and all(r["verdict"] == "wrong" for r in rows)
    assert set(rows[0]) == {"prompt", "model", "query", "split", "slot", "text", "answer",
                            "gold", "verdict", "outcome", "finish_reason"}
    for args, field in ((("--arm", "nope"), "--arm"), (("--context", "nope"), "--context"),
                        (("--query", "zzz"), "--query"), (("--limit", "0"), "--limit"),
                        (("--split", "dev"), "--split")):
        code, _, err = run_cli("samples", run, *args)
        assert code == 2 and err.count("\n") == 1 and f"error: {field}: " in err, err


def test_an_offline_run_has_no_completions_to_show(tmp_path, tiny_npz):
    from ..conftest import write_config

    config = write_config(tmp_path / "c.yaml", f"""\
name: offline
backend: {{kind: categorical, path: {tiny_npz}}}
budget: 200
""")
    optimize(config, out=tmp_path / "run")
    code, _, err = run_cli("samples", tmp_path / "run")
    assert code == 2 and "not a live model" in err and err.count("\n") == 1


def test_a_two_model_run_names_each_arms_model(tmp_path):
    config = two_models_project(tmp_path, rows=20, budget=200)
    run = optimize(config, out=tmp_path / "run").run_dir
    records = samples(run, limit=None, split="train")
    models = {r.model for r in records}
    assert len(models) == 2 and None not in models
    prompt = records[0].prompt
    with pytest.raises(Exception, match="names several arms"):
        samples(run, arm=prompt)
    only = samples(run, arm=f"{prompt}@{records[0].model}", limit=5)
    assert {(r.prompt, r.model) for r in only} == {(prompt, records[0].model)}


def test_a_run_the_early_check_stopped_shows_what_it_paid_for(tmp_path, api_key):
    data = write_sums(tmp_path / "sums.jsonl", count=60)
    with LoopbackServer(seed=0, inline=True) as server:
        config = live_config(tmp_path / "live.yaml", server.url, data, budget=1000,
                             extra="answer: {pattern: '(?im)^\\s*answer\\s*:\\s*(.+?)\\s*$'}\n")
        code, _, _ = run_cli("optimize", config, "--out", tmp_path / "run")
        paid = server.completions
        requests = server.requests
        records = samples(tmp_path / "run", unparsed=True, limit=None)
        assert server.requests == requests  # sends nothing, even with the server up
    assert code == 1
    assert len(records) == paid and all(r.outcome == "no_answer" for r in records)
    assert all("Answer: " in r.text for r in records)


def test_evaluate_reports_training_and_test_answer_health(quick_run):
    """Runs last in this module: it samples the test split into the shared run's cache."""
    run = quick_run.run_dir
    code, out, err = run_cli("evaluate", run)
    assert code == 0, err
    assert "answer health (training): iapo-sim/arith: " in out
    assert "answer health (test): iapo-sim/arith: " in out
    data = json.loads((run / "evaluation.json").read_text())
    training, test = data["answer_health"]["training"], data["answer_health"]["test"]
    assert training["models"]["iapo-sim/arith"]["completions"] == 400
    assert test["models"]["iapo-sim/arith"]["completions"] == data["spent"]
    tested = samples(run, split="test", limit=None)
    assert len(tested) == data["spent"]  # the test completions are in the cache now
