"""``iapo plan`` and the estimate ``iapo optimize`` prints, on the command line."""

from __future__ import annotations

import json

from tests.conftest import SMALL_SYNTHETIC, live_config, run_cli, write_config, write_sums
from tests.run.sim_project import sim_project


def test_plan_prints_the_arms_the_estimate_and_the_schedule(tmp_path):
    config = sim_project(tmp_path, rows=60, budget=2000)
    code, out, err = run_cli("plan", config, "--pilot", "3")
    assert code == 0, err
    text = " ".join(out.split())
    for arm in ("direct", "concise-expert", "step-by-step", "no-format"):
        assert arm in text
    assert "estimate: 2000 completions, " in text and "tokens expected" in text
    # 6 prompts: ceil(log2 6) - 1 = 2 pooled rounds, round 1 half the budget at N=2
    assert "psst: 2 pooled rounds; round 1 pulls 6 prompts 83 queries each at N=2" in text
    assert "pilot: 18 completions (0 from cache), 18 requests" in text
    assert "warning: iapo-sim/arith has no price" in text


def test_plan_prints_psst_s_trimming_schedule_on_unbiased_estimates(tmp_path):
    config = sim_project(tmp_path, rows=60, budget=2000,
                         algorithm={"name": "psst", "params": {"estimator": "unbiased"}})
    code, out, err = run_cli("plan", config)
    assert code == 0, err
    text = " ".join(out.split())
    assert "psst: 7 trimming rounds; round 1 pulls 6 prompts 2 queries each at N=16" in text


def test_plan_json_is_one_document(tmp_path):
    config = sim_project(tmp_path, rows=60, budget=600)
    code, out, err = run_cli("plan", config, "--json", "--pilot", "1")
    assert code == 0, err
    doc = json.loads(out)  # stdout is only JSON
    assert doc["completions"] == 600 and doc["completions_exact"] is True
    assert doc["budget"] == {"unit": "completions", "amount": 600}
    assert doc["schedule"]["screened"] is False and doc["schedule"]["total_rounds"] == 2
    assert doc["schedule"]["estimator"] == "pooled"
    assert doc["schedule"]["round1"][0] == {"arm": "direct", "n": 2, "queries": 25}
    assert [r["arm"] for r in doc["schedule"]["round1"]][:2] == ["direct", "concise-expert"]
    arm = doc["arms"][0]
    assert arm["tokenizer"] == "iapo-sim" and arm["completion_from"] == "pilot"
    assert [row["n"] for row in arm["per_n"]] == list(range(1, 17))
    assert arm["per_n"][15]["requests"] == 1 and arm["per_n"][0]["usd_per_query"] is None
    assert doc["tokens"]["expected"] > 0 and doc["tokens"]["worst"] is None
    assert doc["usd"] == {"expected": None, "worst": None}
    assert doc["pilot"]["completions"] == 6 and doc["wall_seconds"] is not None


def test_plan_offline_backend_gives_completions_and_rounds(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    code, out, err = run_cli("plan", config, "--budget", "800")
    assert code == 0, err
    assert "estimate: 800 completions\n" in out
    assert "warning: the synthetic backend is offline" in out


def test_bad_input_exits_2_before_anything_is_sent(tmp_path, loopback, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    data = write_sums(tmp_path / "sums.jsonl", count=40)
    config = live_config(tmp_path / "live.yaml", loopback.url, data, prompts=2,
                         model="openai/gpt-4o-mini", transport="litellm")
    config.write_text(config.read_text().replace(f"  api_base: {loopback.url}\n", ""))
    # no key: a plan without a pilot sends nothing and says so; a pilot needs the key
    code, out, err = run_cli("plan", config)
    assert code == 0, err
    assert "OPENAI_API_KEY" in " ".join(out.split())
    assert "gpt-4o-mini" in out and "$" in out  # LiteLLM's price table prices it
    code, out, err = run_cli("plan", config, "--pilot", "2")
    assert code == 2 and out == "" and err.startswith(f"error: {config}: backend.model: ")
    code, out, err = run_cli("plan", config, "--pilot", "-1")
    assert (code, out) == (2, "") and err == "error: --pilot: must be >= 0, got -1\n"
    config.write_text(config.read_text() + "colour: red\n")
    code, out, err = run_cli("plan", config)
    assert (code, out, err) == (2, "", f"error: {config}: colour: unknown key\n")
    assert loopback.requests == 0


def test_optimize_prints_the_estimate_before_training(tmp_path):
    config = sim_project(tmp_path, rows=60, budget=600)
    code, out, err = run_cli("optimize", config, "--out", tmp_path / "run")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("estimate: 600 completions, tokens unknown, unpriced")
    assert lines[1].startswith("training: ")
    # a second run reads the first one's completions at the pilot's slots from the cache
    code, out, err = run_cli("optimize", config, "--out", tmp_path / "again")
    assert code == 0, err
    assert out.startswith("estimate: 600 completions, ") and "tokens expected" in out
