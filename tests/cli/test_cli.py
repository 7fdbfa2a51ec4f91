"""The command line end to end, in subprocesses as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import SMALL_SYNTHETIC, write_config

ROOT = Path(__file__).resolve().parents[2]


def iapo(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "iapo_cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)


def test_optimize_end_to_end(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    proc = iapo("optimize", config, "--out", tmp_path / "run", "--budget", "800")
    assert proc.returncode == 0, proc.stderr
    assert "spent 800/800 completions" in proc.stdout
    assert "training: " in proc.stdout  # plain progress lines when not a terminal
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["spent"] == 800


def test_quickstart_config_runs(tmp_path):
    # the simulated model through LiteLLM: no key, no network; the cache lands in cwd
    proc = iapo("optimize", ROOT / "configs" / "quickstart.yaml", "--out", tmp_path / "q",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "q" / "policy.csv").is_file()
    summary = json.loads((tmp_path / "q" / "summary.json").read_text())
    assert summary["spent"] == 4000 and summary["usage"]["model"] == "iapo-sim/arith"
    assert (tmp_path / ".iapo-cache").is_dir()


def test_bad_input_is_one_line_exit_2(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC + "colour: red\n")
    for args in (("optimize", config), ("validate", config)):
        proc = iapo(*args)
        assert proc.returncode == 2
        assert proc.stderr == f"error: {config}: colour: unknown key\n"
        assert "Traceback" not in proc.stderr
        assert not (tmp_path / "runs").exists()


def test_usage_errors_exit_2():
    proc = iapo("optimize")
    assert proc.returncode == 2 and "Missing argument" in proc.stderr


def test_validate_ok(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    proc = iapo("validate", config)
    assert proc.returncode == 0
    assert "ok — 6 prompts, 8 scales, 2 contexts, budget 600" in proc.stdout


def test_bench_small_study(tmp_path, tiny_npz):
    out = tmp_path / "bench"
    proc = iapo("bench", "--env", tiny_npz, "--algorithms", "psst,uniform,triple_n1",
                "--budgets", "100,300", "--runs", "4", "--out", out)
    assert proc.returncode == 0, proc.stderr
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns) == ["algorithm", "budget", "run", "acr", "oracle", "regret",
                                     "spent", "seconds"]
    assert len(results) == 3 * 2 * 4 and (results.spent <= results.budget).all()
    summary = pd.read_csv(out / "summary.csv")
    assert {"mean_acr", "sem_acr", "mean_regret", "mean_spent", "p_vs_psst"} <= set(summary)


def test_bench_bad_input(tmp_path):
    proc = iapo("bench", "--env", "synthetic:bernoulli-mv", "--algorithms", "psst,magic",
                "--out", tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --algorithms: unknown algorithm 'magic'")
    proc = iapo("bench", "--env", tmp_path / "none.npz", "--out", tmp_path)
    assert proc.returncode == 2 and "file not found" in proc.stderr


def test_cli_import_does_not_load_litellm():
    code = "import sys, iapo_cli.cli; print('litellm' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.strip() == "False"
