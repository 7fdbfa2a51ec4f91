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
    return live_config(tmp_path / "live.yaml", loopback.url, data, transport="litellm"), \
        loopback


# pulls of 8 votes: a quarter of the requests of PSST's default 2, for the tests about
# stopping and resuming (what they check does not depend on the allocation)
EIGHT_VOTES = "algorithm: {name: psst, params: {votes: 8}}\n"


# iapo's own http transport: what these tests check (stopping, resuming, processes sharing
# a cache) is the client's, whatever the transport, and LiteLLM's import and per-request
# CPU made them the slowest of the suite
@pytest.fixture
def setup8(tmp_path, loopback, api_key):
    data = write_sums(tmp_path / "sums.jsonl", count=40)
    return live_config(tmp_path / "live.yaml", loopback.url, data, extra=EIGHT_VOTES), \
        loopback


@pytest.fixture
def setup_http(tmp_path, loopback, api_key):
    """``setup`` through the http transport, for tests of what resume checks."""
    data = write_sums(tmp_path / "sums.jsonl", count=40)
    return live_config(tmp_path / "live.yaml", loopback.url, data), loopback


def test_budget_600_six_prompts_meets_the_bars(setup, tmp_path):
    config, server = setup
    outcome = optimize(config, out=tmp_path / "run1")
    assert outcome.result.spent == 600
    assert server.completions <= 600
    # n batching: pooled rounds pull two completions per (prompt, query), one request
    assert server.requests <= server.completions / 2
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
    config.write_text(config.read_text().replace("budget: 600", "budget: 120"))
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


def test_exhausted_retries_stop_the_run_and_resume_finishes(setup8, tmp_path):
    config, server = setup8
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


def test_resume_refuses_a_different_config(setup_http, tmp_path):
    config, _ = setup_http
    optimize(config, out=tmp_path / "run")
    config.write_text(config.read_text().replace("budget: 600", "budget: 500"))
    with pytest.raises(ConfigError, match="differs from the run being resumed in 'budget'"):
        optimize(config, resume=tmp_path / "run")


def test_resume_accepts_a_run_stored_before_newer_backend_fields(setup_http, tmp_path):
    """A run directory written before backend.retry_max_delay and backend.max_n existed
    (its config.yaml lacks them) resumes: those keys take their defaults."""
    import yaml

    config, server = setup_http
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
def test_killed_run_resumes_without_paying_twice(setup8, tmp_path, sig):
    config, server = setup8
    server.latency = 0.02
    run = tmp_path / "run"
    first = _cli(["optimize", config, "--out", run])
    _stop_midway(first, server, sig)
    server.latency = 0.0  # it only had to keep the first run going until the signal
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
        # ... but not from the accounts: they were on record before they were sent
        unreceived = summary["usage"]["possibly_billed_not_received"]
        received = summary["usage"]["all_attempts"]["completion"]["completions"]
        assert received + unreceived.get("completion", {}).get("completions", 0) >= \
            server.completions
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
        "budget: 600", "budget: 100")
    config.write_text(text)
    outcome = optimize(config, out=tmp_path / "run")
    usage = outcome.usage["this_attempt"]
    assert outcome.result.spent == 100
    assert usage["completion"]["completions"] == 100
    assert usage["judge"]["completions"] == 100  # one rating per completion
    frame = outcome.result.policy.frame()
    assert frame["estimated_utility"].between(0, 1.5).all()
    again = optimize(config, out=tmp_path / "run2")
    assert again.usage["this_attempt"]["judge"]["cached"] == 100


def test_two_processes_sharing_a_cache_pay_once_and_agree(setup8, tmp_path):
    """Issue 10, item 4: two `iapo optimize` of one config at the same time on one cache."""
    config, server = setup8
    config.write_text(config.read_text().replace("budget: 600", "budget: 120"))
    server.latency = 0.01
    runs = [tmp_path / "run-a", tmp_path / "run-b"]
    procs = [_cli(["optimize", config, "--out", run]) for run in runs]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    served = server.completions
    assert served <= 120 + 4 * 8  # budget + concurrency x n_max (2 x 120 paid before claims)
    policies = [(run / "policy.csv").read_text() for run in runs]
    assert policies[0] == policies[1]
    # a single run on the same cache pays nothing and reproduces that policy
    code, _, err = run_cli("optimize", config, "--out", tmp_path / "run-c")
    assert code == 0, err
    assert server.completions == served
    assert (tmp_path / "run-c" / "policy.csv").read_text() == policies[0]


def _without_api_base(config: Path) -> Path:
    text = "".join(line for line in config.read_text().splitlines(keepends=True)
                   if "api_base:" not in line)
    config.write_text(text.replace("openai/loopback", "openai/gpt-4o-mini"))
    return config


def test_a_missing_key_fails_at_once_with_exit_2(setup, tmp_path, monkeypatch):
    """Items 7 and 16: exit 2 naming the variable, before any request, in under 2 s; in a
    fresh process too, where the check must not pay LiteLLM's import (~3 s). ``validate``
    warns instead (a test in tests/cli pins that shipped configs validate without a key)."""
    config, server = setup
    _without_api_base(config)
    monkeypatch.delenv("OPENAI_API_KEY")
    expected = (f"error: {config}: backend.model: openai/gpt-4o-mini needs OPENAI_API_KEY in "
                "the environment, which is not set (or name the key's variable in "
                "backend.api_key_env)")
    for command in (["optimize"], ["record", "--samples", "2"]):
        start = time.perf_counter()
        code, _, err = run_cli(*command, config)
        assert time.perf_counter() - start < 2.0
        assert (code, err.strip()) == (2, expected)
    # validate judges the config (the shipped ones validate without a key) and warns
    code, out, _ = run_cli("validate", config)
    assert code == 0
    assert "warning: " + expected.removeprefix("error: ") in " ".join(out.split())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "iapo_cli", "optimize",
                           str(config)], capture_output=True, text=True, env=env, timeout=60)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and lines[-1] == expected
    imported = [line.rsplit("|", 1)[-1].strip() for line in lines[:-1]]
    assert "iapo_cli.llm._litellm" in imported  # the import log does list modules...
    assert not [name for name in imported if name.split(".")[0] == "litellm"]  # not LiteLLM
    assert server.requests == 0 and not (tmp_path / "runs").exists()


def test_validate_names_a_missing_key_variable_never_a_value(setup, monkeypatch):
    config, server = setup
    monkeypatch.delenv("MY_LOCAL_KEY", raising=False)
    config.write_text(config.read_text().replace("  n_max: 8\n",
                                                 "  n_max: 8\n  api_key_env: MY_LOCAL_KEY\n"))
    code, _, err = run_cli("optimize", config)
    assert code == 2
    assert err.strip() == (f"error: {config}: backend.api_key_env: the environment variable "
                           "MY_LOCAL_KEY (the API key of openai/loopback) is not set")
    with pytest.raises(ConfigError, match="MY_LOCAL_KEY"):
        validate(config)  # the library's validate is as strict as optimize
    monkeypatch.delenv("OPENAI_API_KEY")
    _without_api_base(config)
    config.write_text(config.read_text().replace("MY_LOCAL_KEY", SECRET))
    code, _, err = run_cli("validate", config)
    assert code == 2 and "backend.api_key_env: must name an environment variable" in err
    assert SECRET not in err and "DoNotLeak" not in err
    assert server.requests == 0


def test_the_key_variable_is_nameable_and_its_value_never_written(setup, tmp_path,
                                                                  monkeypatch):
    config, server = setup
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("LOCAL_SERVER_AUTH", SECRET)  # a name redact() would not suspect
    config.write_text(config.read_text().replace(
        "  n_max: 8\n", "  n_max: 8\n  api_key_env: LOCAL_SERVER_AUTH\n").replace(
        "budget: 600", "budget: 120"))
    server.fail("401")  # a careless server echoing the key: not retried, not leaked
    with pytest.raises(RunFailed, match="not retryable") as info:
        optimize(config, out=tmp_path / "run")
    assert "DoNotLeak" not in str(info.value)
    assert server.requests - server.served_requests == 1  # the 401 was not retried
    outcome = optimize(config, resume=tmp_path / "run")
    assert outcome.result.spent == 120
    assert set(server.auth_headers) == {f"Bearer {SECRET}"}
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        assert b"DoNotLeak" not in path.read_bytes(), path


def test_a_local_server_needs_no_key(setup, tmp_path, monkeypatch):
    from iapo_cli.llm._litellm import PLACEHOLDER_KEY

    config, server = setup
    monkeypatch.delenv("OPENAI_API_KEY")
    config.write_text(config.read_text().replace("budget: 600", "budget: 120"))
    code, out, err = run_cli("optimize", config, "--out", tmp_path / "run")
    assert code == 0, err
    assert server.completions == 120
    assert set(server.auth_headers) == {f"Bearer {PLACEHOLDER_KEY}"}


def test_a_request_abandoned_on_timeout_is_reported_as_possibly_billed(setup, tmp_path):
    """Item 6: the server finished (and would bill) a request the client gave up on."""
    config, server = setup
    server.hang = 0.6
    server.fail("timeout")
    config.write_text(config.read_text().replace("timeout: 5", "timeout: 0.3").replace(
        "budget: 600", "budget: 120"))
    outcome = optimize(config, out=tmp_path / "run")
    deadline = time.monotonic() + 10
    while server.in_flight and time.monotonic() < deadline:  # the abandoned one finishes
        time.sleep(0.02)
    usage = json.loads((tmp_path / "run" / "summary.json").read_text())["usage"]
    assert usage == outcome.usage
    unreceived = usage["possibly_billed_not_received"]["completion"]
    received = usage["all_attempts"]["completion"]["completions"]
    assert unreceived["requests"] == 1 and received == 120
    assert server.completions == received + unreceived["completions"]


def test_a_server_ignoring_n_is_noticed_said_and_answered_concurrently(setup_http, tmp_path):
    """Item 17."""
    config, server = setup_http
    server.ignore_n, server.latency = True, 0.02
    config.write_text(config.read_text().replace("budget: 600", "budget: 120"))
    code, out, err = run_cli("optimize", config, "--out", tmp_path / "run")
    assert code == 0, err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    notes = summary["usage"]["notes"]
    assert len(notes) == 1 and "ignores n" in notes[0]
    assert "note: openai/loopback: the server answered 1 completion" in " ".join(out.split())
    assert server.completions == 120 and summary["spent"] == 120
    assert server.max_in_flight == 4  # the missing ones went out together (concurrency 4)


def test_params_that_change_the_text_are_part_of_the_cache_key(setup_http, tmp_path):
    """Item 15: a sampling option in backend.params asks again; a header does not."""
    config, server = setup_http
    config.write_text(config.read_text().replace("budget: 600", "budget: 120"))
    optimize(config, out=tmp_path / "run1")
    served = server.completions
    base = config.read_text()
    config.write_text(base.replace("  n_max: 8\n",
                                   "  n_max: 8\n  params: {extra_headers: {X-Trace: abc}}\n"))
    optimize(config, out=tmp_path / "run2")
    assert server.completions == served  # transport only: the cache still answers
    config.write_text(base.replace("  n_max: 8\n", "  n_max: 8\n  params: {top_p: 0.5}\n"))
    optimize(config, out=tmp_path / "run3")
    assert server.completions == served + 120
    assert server.bodies[-1]["top_p"] == 0.5


def test_http_transport_runs_without_litellm_and_shares_the_cache(setup, tmp_path):
    """``transport: http`` (issue 14): a live optimize as a fresh process never imports
    LiteLLM (its seconds of import and its CPU per request), pays the budget once, and a
    rerun through LiteLLM on the same cache makes no request."""
    config, server = setup
    text = config.read_text()
    config.write_text(text.replace("transport: litellm", "transport: http"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "iapo_cli", "optimize",
                           str(config), "--out", str(tmp_path / "run1")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")]
    assert "iapo_cli.llm._http" in imported
    assert not [name for name in imported if name.split(".")[0] == "litellm"]
    summary = json.loads((tmp_path / "run1" / "summary.json").read_text())
    assert summary["spent"] == 600 and server.completions == 600
    requests = server.requests
    config.write_text(text)  # LiteLLM again, same cache
    again = optimize(config, out=tmp_path / "run2")
    assert server.requests == requests
    assert again.usage["this_attempt"]["completion"]["cached"] == 600
