"""Live runs end to end: LiteLLM against the loopback server, in-process and as a user runs
the CLI (killed, failed, resumed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iapo_cli.errors import ConfigError
from iapo_cli.run import RunFailed, optimize, validate
from tests.conftest import SECRET, live_config, run_cli, write_sums

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup(tmp_path, loopback, api_key):
    data = write_sums(tmp_path / "sums.jsonl", count=40)
    return live_config(tmp_path / "live.yaml", loopback.url, data), loopback


def test_budget_600_six_prompts_meets_the_bars(setup, tmp_path):
    config, server = setup
    outcome = optimize(config, out=tmp_path / "run1")
    assert outcome.result.spent == 600
    assert server.completions <= 600
    assert server.requests < server.completions / 2  # n batching
    usage = outcome.usage
    assert usage["this_attempt"]["completion"]["fresh"] == server.completions
    assert usage["all_attempts"]["completion"]["completions"] == server.completions
    requests = server.requests
    again = optimize(config, out=tmp_path / "run2")
    assert server.requests == requests  # an identical rerun makes zero requests
    assert again.usage["this_attempt"]["completion"]["cached"] == 600
    assert again.result.policy.frame().equals(outcome.result.policy.frame())


def test_secrets_never_reach_a_written_file(setup, tmp_path):
    config, server = setup
    optimize(config, out=tmp_path / "run")
    assert server.auth_headers[0] == f"Bearer {SECRET}"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.parent.name == "cache" for p in written)
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path
        assert b"DoNotLeak" not in path.read_bytes(), path


def test_template_with_missing_field_fails_before_any_call(setup, tmp_path):
    config, server = setup
    text = config.read_text().replace("{question}", "{question} {missing}", 1)
    config.write_text(text)
    with pytest.raises(ConfigError, match="names field 'missing'"):
        optimize(config, out=tmp_path / "run")
    assert server.requests == 0


@pytest.mark.parametrize("old, new, message", [
    ("  n_max: 8\n", "  n_max: 8\n  params: {api_key: sk-x}\n",
     "live.yaml: backend: 'params.api_key' looks like a secret"),
    ("strategy: majority_vote\n", "strategy: majority_vote\ncost: {measure: money}\n",
     "live.yaml: cost.measure: LiteLLM has no price for 'openai/loopback'"),
    ("target_field: answer, ", "", "live.yaml: dataset.target_field: majority voting needs"),
    ("Answer: <n>", "Answer: <n> {x.y}", "live.yaml: prompts[0].template: placeholder {x.y}"),
    ("strategy: majority_vote\n", "strategy: best_of_n\n",
     "live.yaml: objectives: Best-of-N needs objectives"),
])
def test_live_config_errors(setup, old, new, message):
    config, server = setup
    config.write_text(config.read_text().replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        validate(config)
    assert message in str(info.value)
    assert server.requests == 0


def test_exhausted_retries_stop_the_run_and_resume_finishes(setup, tmp_path):
    config, server = setup
    server.fail(*[None] * 5)
    server.fail_always = "500"
    with pytest.raises(RunFailed, match="after 3 attempts.*--resume"):
        optimize(config, out=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and "InternalServerError" in summary["error"]
    served = server.completions
    assert served > 0
    server.fail_always = None
    outcome = optimize(config, resume=tmp_path / "run")
    assert outcome.result.spent == 600 and server.completions <= 600
    usage = outcome.usage
    assert usage["attempt"] == 2
    assert usage["all_attempts"]["completion"]["completions"] == server.completions
    assert usage["this_attempt"]["completion"]["cached"] >= served


def test_resume_refuses_a_different_config(setup, tmp_path):
    config, _ = setup
    optimize(config, out=tmp_path / "run")
    config.write_text(config.read_text().replace("budget: 600", "budget: 500"))
    with pytest.raises(ConfigError, match="differs from the run being resumed in 'budget'"):
        optimize(config, resume=tmp_path / "run")


def test_resume_accepts_a_run_stored_before_newer_backend_fields(setup, tmp_path):
    """A run directory written before backend.retry_max_delay and backend.max_n existed
    (its config.yaml lacks them) resumes: those keys take their defaults."""
    import yaml

    config, server = setup
    optimize(config, out=tmp_path / "run")
    stored = tmp_path / "run" / "config.yaml"
    data = yaml.safe_load(stored.read_text())
    for key in ("retry_max_delay", "max_n"):
        del data["backend"][key]
    stored.write_text(yaml.safe_dump(data, sort_keys=False))
    requests = server.requests
    outcome = optimize(config, resume=tmp_path / "run")
    assert outcome.usage["attempt"] == 2 and server.requests == requests
    # a stored value that differs is still refused when it shapes the run (issue 10: a
    # transport setting such as max_n may change, see test_resume_after_a_restart_...)
    data["backend"]["n_max"] = 4
    stored.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError,
                       match="differs from the run being resumed in 'backend.n_max'"):
        optimize(config, resume=tmp_path / "run")


def _cli(args, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "iapo_cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _stop_midway(proc, server, sig) -> None:
    deadline = time.monotonic() + 120
    while server.completions < 200 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(sig)
    proc.wait(60)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_killed_run_resumes_without_paying_twice(setup, tmp_path, sig):
    config, server = setup
    server.latency = 0.02
    run = tmp_path / "run"
    first = _cli(["optimize", config, "--out", run])
    _stop_midway(first, server, sig)
    served_first = server.completions
    assert served_first < 600
    if sig != signal.SIGKILL:
        assert first.returncode == 130
        assert "--resume" in first.stderr.read()
        assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    # the resume needs no signal: in this process (a subprocess would import LiteLLM again)
    code, _, err = run_cli("optimize", config, "--resume", run)
    assert code == 0, err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["spent"] == 600
    assert summary["usage"]["all_attempts"]["completion"]["completions"] <= server.completions
    if sig == signal.SIGKILL:
        # a hard kill loses the answers in flight (at most concurrency x n_max)
        assert server.completions <= 600 + 4 * 8
    else:
        assert server.completions <= 600  # graceful stop: in-flight answers were cached
        assert summary["usage"]["all_attempts"]["completion"]["completions"] == \
            server.completions


def test_best_of_n_with_scorers_and_a_judge(setup, tmp_path):
    config, server = setup
    text = config.read_text().replace("strategy: majority_vote\n", f"""\
strategy: best_of_n
objectives:
  - {{name: correct, scorer: numeric_match}}
  - {{name: quality, scorer: llm_judge, params: {{model: openai/judge, api_base: {server.url}}}}}
""").replace("correct: 1.0, cost: 0.0", "correct: 1.0, quality: 0.5, cost: 0.0").replace(
        "correct: 1.0, cost: 0.02", "correct: 1.0, quality: 0.0, cost: 0.02").replace(
        "budget: 600", "budget: 200")
    config.write_text(text)
    outcome = optimize(config, out=tmp_path / "run")
    usage = outcome.usage["this_attempt"]
    assert outcome.result.spent == 200
    assert usage["completion"]["completions"] == 200
    assert usage["judge"]["completions"] == 200  # one rating per completion
    frame = outcome.result.policy.frame()
    assert frame["estimated_utility"].between(0, 1.5).all()
    again = optimize(config, out=tmp_path / "run2")
    assert again.usage["this_attempt"]["judge"]["cached"] == 200
