"""The command line end to end. Exit codes, stdout and stderr are checked in this process
(``run_cli``: typer's CliRunner and the console script's own error mapping); subprocesses
only where a real process matters: signals, a fresh interpreter's imports, and one smoke
test of ``python -m iapo_cli``."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import (
    SECRET,
    SMALL_SYNTHETIC,
    run_cli,
    write_config,
    write_replay_votes,
)

ROOT = Path(__file__).resolve().parents[2]


class Result:
    """What a finished ``iapo`` command left: exit code, stdout and stderr."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def iapo(*args):
    return Result(*run_cli(*args))


def test_python_m_iapo_cli_smoke(tmp_path):
    """The console script's entry point, as a user runs it (the one subprocess smoke test)."""
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "iapo_cli", "validate", str(config)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "ok — 6 prompts, 8 scales, 2 contexts, budget 600" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "iapo_cli", "evaluate", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr == f"error: RUN_DIR: {tmp_path} is not a run directory (no config.yaml)\n"


def test_optimize_end_to_end(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    proc = iapo("optimize", config, "--out", tmp_path / "run", "--budget", "800")
    assert proc.returncode == 0, proc.stderr
    assert "spent 800/800 completions" in proc.stdout
    assert "training: " in proc.stdout  # plain progress lines when not a terminal
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["spent"] == 800
    # the terminal's policy table is policy.csv's comparable columns: the chosen arm and
    # the inference-agnostic one (prompt@N), both estimated in the same units
    policy = pd.read_csv(tmp_path / "run" / "policy.csv")
    header = next(line for line in proc.stdout.splitlines() if "context" in line)
    for column in ("prompt", "estimated_utility", "samples", "agnostic", "agnostic_utility"):
        assert column in header
    assert "task_utility_n1" not in proc.stdout
    row = policy.iloc[0]
    assert f"{row.agnostic_prompt}@{row.agnostic_n}" in proc.stdout


def test_quickstart_config_runs(tmp_path, monkeypatch):
    # the simulated model (its own transport): no key, no network; the cache lands where
    # the config says, relative to the config file (here a copy, so that the repository's
    # cache stays out of the test), not in the working directory
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path / "configs" / "data")
    proc = iapo("optimize", tmp_path / "configs" / "quickstart.yaml", "--out", tmp_path / "q")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "q" / "policy.csv").is_file()
    summary = json.loads((tmp_path / "q" / "summary.json").read_text())
    assert summary["spent"] == 4000 and summary["usage"]["model"] == "iapo-sim/arith"
    assert (tmp_path / ".iapo-cache").is_dir()

    # the bars: evaluate exits 0 with the inference-aware policy ahead of the
    # inference-agnostic choice on the simulated model; --min-acr 1.01 exits 3
    proc = iapo("evaluate", tmp_path / "q")
    assert proc.returncode == 0, proc.stderr
    assert "inference-aware policy" in proc.stdout
    data = json.loads((tmp_path / "q" / "evaluation.json").read_text())
    acr = {c["name"]: c["acr"] for c in data["comparisons"]}
    assert acr["inference-aware policy"] > acr["inference-agnostic choice"] + 0.05
    proc = iapo("evaluate", tmp_path / "q", "--min-acr", "1.01", "--json")
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["meets_min_acr"] is False  # stdout is only JSON
    assert proc.stderr.startswith("error: policy ACR ") and "Traceback" not in proc.stderr
    proc = iapo("report", tmp_path / "q")
    assert proc.returncode == 0, proc.stderr
    assert "Test evaluation" in (tmp_path / "q" / "report.md").read_text()


def test_evaluate_bad_run_directory_exit_2(tmp_path):
    proc = iapo("evaluate", tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == f"error: RUN_DIR: {tmp_path} is not a run directory (no config.yaml)\n"


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


def test_validate_checks_where_optimize_would_write(tmp_path):
    # issue 10: validate said ok and optimize then refused the output location
    (tmp_path / "afile").write_text("")
    for output, says in (("/proc/iapo-runs", "cannot write into /proc"),
                         ("afile/runs", "afile is a file")):
        config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC + f"output: {output}\n")
        code, out, err = run_cli("validate", config)
        assert code == 2 and out == "", err
        assert err.startswith(f"error: {config}: output: ") and says in err
        assert len(err.splitlines()) == 1


def test_bench_small_study(tmp_path, tiny_npz):
    out = tmp_path / "bench"
    proc = iapo("bench", "--env", tiny_npz, "--algorithms", "psst,uniform,triple_n1",
                "--budgets", "100,300", "--runs", "4", "--workers", "1", "--out", out)
    assert proc.returncode == 0, proc.stderr
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns) == ["algorithm", "budget", "run", "acr", "oracle", "regret",
                                     "spent", "seconds"]
    assert len(results) == 3 * 2 * 4 and (results.spent <= results.budget).all()
    summary = pd.read_csv(out / "summary.csv")
    assert {"mean_acr", "sem_acr", "mean_regret", "mean_spent", "p_vs_psst"} <= set(summary)


def test_bench_ctrl_c_keeps_finished_runs(tmp_path):
    """Ctrl-C at a terminal signals the whole process group: the workers too."""
    out = tmp_path / "bench"
    proc = subprocess.Popen(
        [sys.executable, "-m", "iapo_cli", "bench", "--env", "synthetic:bernoulli-mv",
         "--algorithms", "psst,uniform,ucb", "--budgets", "500,2000", "--runs", "5000",
         "--workers", "2", "--out", out],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        for line in proc.stdout:  # wait until some runs have finished
            if line.startswith("runs: 3/"):
                break
        os.killpg(proc.pid, signal.SIGINT)
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    assert err.strip().splitlines() == [f"error: interrupted; partial results saved in {out}"]
    results = pd.read_csv(out / "results.csv")
    assert 3 <= results.run.nunique() < 5000
    assert (results.groupby("run").size() == 6).all()  # only whole runs are kept


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


def test_cli_import_and_help_load_no_heavy_library():
    """issue 9: `iapo --help` must not pay for scipy (~1.9 s), matplotlib or pandas."""
    code = ("import sys, iapo_cli.cli\n"
            "heavy = ('scipy', 'matplotlib', 'pandas', 'litellm', 'numpy')\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n"
            "code = iapo_cli.cli.invoke(['--help'])\n"
            "print(code, sorted(m for m in heavy if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "[]" and lines[-1] == "0 []"


def test_shipped_live_configs_validate_without_a_key_or_network(tmp_path, monkeypatch):
    for key in [k for k in os.environ if "KEY" in k]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    for name in ("quickstart.yaml", "openai.yaml"):
        proc = iapo("validate", ROOT / "configs" / name)
        assert proc.returncode == 0, proc.stderr
        assert "6 prompts, 16 scales, 3 contexts" in proc.stdout
    assert not (tmp_path / ".iapo-cache").exists()  # validate sends and stores nothing


def test_record_command_and_resume_flags(tmp_path, monkeypatch):
    from tests.conftest import live_config, write_sums
    from tests.loopback import LoopbackServer

    data = write_sums(tmp_path / "sums.jsonl", count=20)
    with LoopbackServer() as server:
        config = live_config(tmp_path / "live.yaml", server.url, data, prompts=2)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-x-0123456789")
        proc = iapo("record", config, "--samples", "3", "--out", tmp_path / "r.npz")
        assert proc.returncode == 0, proc.stderr
        assert "recorded 96 completions (0 from cache, 32 HTTP requests)" in proc.stdout
        assert "recording: 96/96 completions" in proc.stdout
    proc = iapo("optimize", config, "--resume", tmp_path / "nowhere", "--out", tmp_path / "x")
    assert proc.returncode == 2 and proc.stderr.strip() == \
        "error: --out: use --resume or --out, not both"
    proc = iapo("optimize", config, "--resume", tmp_path / "nowhere")
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("is not a run directory (no config.yaml)")


def test_bench_on_a_replay_file(tmp_path):
    """issue 9: this crashed with AttributeError: 'str' object has no attribute 'stem'."""
    replay = write_replay_votes(tmp_path / "votes.replay.npz")
    out = tmp_path / "bench"
    proc = iapo("bench", "--env", replay, "--algorithms", "psst,uniform", "--budgets", "30",
                "--runs", "2", "--workers", "1", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "votes: 2 runs" in proc.stdout
    assert "results.csv and" in proc.stdout.replace("\n", " ")
    assert len(pd.read_csv(out / "results.csv")) == 2 * 2


def test_a_bug_is_one_line_and_a_hint_or_a_traceback_under_debug(tmp_path, monkeypatch):
    import iapo_cli.run

    def broken(*args, **kwargs):
        return {}["missing"]  # a bug: KeyError

    monkeypatch.setattr(iapo_cli.run, "validate", broken)
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    proc = iapo("validate", config)
    assert proc.returncode == 1
    assert proc.stderr == ("error: KeyError: 'missing'\n"
                           "(a bug in iapo: rerun with --debug for the traceback)\n")
    proc = iapo("--debug", "validate", config)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Traceback (most recent call last):")
    assert 'return {}["missing"]  # a bug: KeyError' in proc.stderr  # the location
    assert proc.stderr.rstrip().endswith("KeyError: 'missing'")
    assert "rerun with --debug" not in proc.stderr


def test_a_bug_message_never_shows_a_key(tmp_path, monkeypatch):
    import iapo_cli.run

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    def broken(*args, **kwargs):
        raise RuntimeError(f"header Authorization: Bearer {SECRET}")

    monkeypatch.setattr(iapo_cli.run, "validate", broken)
    proc = iapo("validate", write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC))
    assert proc.returncode == 1 and SECRET not in proc.stderr
    assert proc.stderr.startswith("error: RuntimeError: header Authorization: Bearer [redacted]")


def test_errors_map_to_their_exit_codes(tmp_path, monkeypatch):
    import iapo_cli.run
    from iapo_cli.errors import BudgetError, ConfigError, Interrupted

    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    for error, code in ((Interrupted("stopped"), 130), (BudgetError("overspent"), 1),
                        (ConfigError("bad", field="--x"), 2)):
        def raising(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(iapo_cli.run, "validate", raising)
        proc = iapo("--debug", "validate", config)
        assert (proc.returncode, proc.stderr) == (code, f"error: {error}\n")  # no traceback


def test_evaluate_and_report_reject_a_corrupt_file_alike(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    run = tmp_path / "run"
    assert iapo("optimize", config, "--out", run).returncode == 0
    (run / "policy.json").write_text('{"status": "complete", ', encoding="utf-8")
    expected = (f"error: {run / 'policy.json'}: not valid JSON (Expecting property name "
                "enclosed in double quotes, line 1 column 24)\n")
    for command in ("evaluate", "report"):
        proc = iapo(command, run)
        assert (proc.returncode, proc.stderr) == (2, expected)
    proc = iapo("optimize", config, "--resume", tmp_path)
    assert (proc.returncode, proc.stderr) == (
        2, f"error: --resume: {tmp_path} is not a run directory (no config.yaml)\n")


def test_an_out_path_in_the_way_of_a_directory_is_bad_input(tmp_path, tiny_npz):
    # campaign: --out naming a file (or a path under one) crashed with FileExistsError
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    for args in (["optimize", config, "--out", afile],
                 ["optimize", config, "--out", afile / "run"],
                 ["bench", "--env", tiny_npz, "--algorithms", "psst", "--budgets", "100",
                  "--runs", "2", "--workers", "1", "--out", afile]):
        code, out, err = run_cli(*args)
        assert code == 2, err
        assert err.startswith("error: --out: cannot create the directory ") and \
            err.count("\n") == 1, err
    stored = write_config(tmp_path / "o.yaml", SMALL_SYNTHETIC + f"output: {afile}\n")
    code, out, err = run_cli("optimize", stored)
    assert code == 2 and err.startswith(f"error: {stored}: output: cannot create"), err
    assert afile.read_text() == "x"


def test_a_negative_seed_is_bad_input(tmp_path, tiny_npz):
    # campaign: numpy's "expected non-negative integer" surfaced as a bug (exit 1)
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    code, out, err = run_cli("optimize", config, "--seed", "-1", "--out", tmp_path / "run")
    assert (code, err) == (2, f"error: {config}: --seed: must be >= 0, got -1\n")
    code, out, err = run_cli("bench", "--env", tiny_npz, "--algorithms", "psst", "--budgets",
                             "100", "--runs", "2", "--seed", "-1", "--out", tmp_path / "b")
    assert (code, err) == (2, "error: --seed: must be >= 0, got -1\n")
    assert not (tmp_path / "run").exists() and not (tmp_path / "b").exists()


def test_a_non_finite_min_acr_is_bad_input_before_anything_is_written(tmp_path):
    # campaign: --min-acr nan crashed in the JSON writer (exit 1)
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    assert run_cli("optimize", config, "--out", tmp_path / "run")[0] == 0
    code, out, err = run_cli("evaluate", tmp_path / "run", "--min-acr", "nan")
    assert (code, err) == (2, "error: --min-acr: must be a finite number, got nan\n")
    assert not (tmp_path / "run" / "evaluation.json").exists()
