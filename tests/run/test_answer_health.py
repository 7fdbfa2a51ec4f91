"""Issue 22: a run whose answer extraction matches nothing stops before its budget goes,
and the fixed extraction resumes it from the cache, paying nothing twice; every
completion's outcome is counted per arm in the run's files."""

import json

import pandas as pd
import yaml

from iapo_cli import optimize
from iapo_cli.run._health import HEALTH_COLUMNS

from ..conftest import live_config, run_cli, write_sums
from ..loopback import LoopbackServer

LINE_START = r"(?im)^\s*answer\s*:\s*(.+?)\s*$"  # misses '...step. Answer: 7' mid-line


def _config(tmp_path, url, budget, pattern=LINE_START, extra=""):
    """A live config against the loopback server (iapo's own http transport: fast)."""
    data = write_sums(tmp_path / "sums.jsonl", count=60)
    answer = f"answer: {{pattern: '{pattern}'}}\n" if pattern else ""
    path = live_config(tmp_path / "live.yaml", url, data, budget=budget,
                       extra=answer + extra)
    return path


def test_a_pattern_that_matches_nothing_stops_early_and_the_fix_resumes_for_free(tmp_path,
                                                                                  api_key):
    budget = 1000
    with LoopbackServer(seed=0, inline=True, seed_by_content=True) as server:
        config = _config(tmp_path, server.url, budget)
        code, out, err = run_cli("optimize", config, "--out", tmp_path / "run")
        served_first = server.completions
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: openai/loopback: "), err
    assert "have no answer" in err and LINE_START in err and "Answer: " in err
    assert "--resume" in err and "answer_health.stop_early: false" in err
    assert 0 < served_first <= 0.05 * budget  # the server's own count
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and "have no answer" in summary["error"]
    health = summary["answer_health"]
    assert health["models"]["openai/loopback"]["no_answer"] > 0

    fixed = yaml.safe_load(config.read_text())
    fixed["answer"] = {"pattern": r"(?i)answer\s*:\s*(-?\d+)"}
    with LoopbackServer(seed=0, inline=True, seed_by_content=True) as server:
        fixed["backend"]["api_base"] = server.url  # the endpoint may change on resume
        config.write_text(yaml.safe_dump(fixed, sort_keys=False))
        outcome = optimize(config, resume=tmp_path / "run")
        served_second = server.completions
    assert outcome.result.spent == budget
    assert served_first + served_second == budget  # no completion served twice
    assert outcome.usage["this_attempt"]["completion"]["cached"] == served_first
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "complete"
    counts = summary["answer_health"]["models"]["openai/loopback"]
    assert counts["completions"] == budget and counts["answered"] == budget
    estimates = pd.read_csv(tmp_path / "run" / "estimates.csv")
    assert set(HEALTH_COLUMNS) <= set(estimates.columns)
    assert (estimates.health_answered > 0).all()
    assert outcome.policy_table["estimated_utility"].max() > 0.3


def test_the_check_can_be_turned_off_and_the_outcomes_are_still_counted(tmp_path, api_key):
    rows = tmp_path / "rows.jsonl"
    with LoopbackServer(seed=0, inline=True) as server:
        config = _config(tmp_path, server.url, 300,
                         extra="answer_health: {stop_early: false}\n")
        code, out, err = run_cli("optimize", config, "--out", tmp_path / "run")
        assert code == 0, err
        # deploying it answers nothing, and says so (it said "answered 5/5 rows")
        rows.write_text("".join(line + "\n" for line in
                                (tmp_path / "sums.jsonl").read_text().splitlines()[:5]))
        code, lines, infer_err = run_cli("infer", tmp_path / "run", "--context", "free",
                                         "--input", rows, "--max-completions", "100")
    assert "answer health: openai/loopback: 300 of 300 completions not answered (300 no " \
        "answer)" in out
    assert f"iapo samples {tmp_path / 'run'} --unparsed" in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    counts = summary["answer_health"]["models"]["openai/loopback"]
    assert counts == {"completions": 300, "answered": 0, "no_answer": 300, "truncated": 0,
                      "empty": 0, "scorer_failed": 0}
    per_arm = {a["arm"]: a for a in summary["answer_health"]["arms"]}
    assert set(per_arm) == {f"p{i}" for i in range(6)}
    assert sum(a["no_answer"] for a in per_arm.values()) == 300
    assert code == 0, infer_err
    assert "answered 5/5 rows (5 without an answer: " in infer_err
    assert all(json.loads(line)["answer"] is None for line in lines.splitlines())


def test_completions_cut_at_max_tokens_stop_the_run(tmp_path, api_key):
    with LoopbackServer(seed=0) as server:
        config = _config(tmp_path, server.url, 1000, pattern=None)
        text = config.read_text().replace("  timeout: 5\n",
                                          "  timeout: 5\n  params: {max_tokens: 3}\n")
        config.write_text(text)
        code, _, err = run_cli("optimize", config, "--out", tmp_path / "run")
        served = server.completions
    assert code == 1 and err.count("\n") == 1, err
    assert "were cut at max_tokens" in err and "raise max_tokens" in err
    assert served <= 50


def test_a_healthy_run_has_every_completion_answered(tmp_path, api_key):
    with LoopbackServer(seed=0) as server:
        config = _config(tmp_path, server.url, 300, pattern=None)
        code, out, err = run_cli("optimize", config, "--out", tmp_path / "run")
    assert code == 0, err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    counts = summary["answer_health"]["models"]["openai/loopback"]
    assert counts["answered"] == counts["completions"] == 300
    assert "not answered" not in out


def test_plan_pilot_reports_answer_shares_and_an_example_per_model(tmp_path, api_key):
    with LoopbackServer(seed=0, inline=True) as server:
        config = _config(tmp_path, server.url, 1000)
        code, out, err = run_cli("plan", config, "--pilot", "3")
        assert code == 0, err
        code, raw, err = run_cli("plan", config, "--pilot", "3", "--json")
    assert "pilot answers: openai/loopback: 0 of 18 answered (0%) by pattern " in out
    assert "18 no answer" in out
    assert "Answer: " in out and "-> answer None, gold '" in out and "(no answer)" in out
    health = json.loads(raw)["health"]["models"]["openai/loopback"]
    assert health["completions"] == 18 and health["no_answer"] == 18
    example = health["example"]
    assert example["answer"] is None and example["gold"] and "Answer: " in example["text"]
