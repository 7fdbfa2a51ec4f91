"""Measure the live path's bars on the loopback OpenAI-compatible server (tests/loopback.py).

Prints a markdown table and writes it to benchmarks/results/live_loopback.md:
  1. a live `optimize`, budget 600, 6 prompts, majority voting (n batching on): completions
     and HTTP requests the server saw;
  2. the identical rerun (new run directory, same cache): requests it made;
  3. the same run stopped midway (SIGTERM, SIGINT, SIGKILL) and resumed with --resume:
     completions the server served in total;
  4. a run stopped midway and resumed against a server restarted on another port;
  5. two runs of one config started together on one cache;
  6. the quickstart on the simulated model (iapo-sim): wall time, requests, completions.

Usage: python benchmarks/live_loopback.py [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import live_config, write_sums  # noqa: E402
from tests.loopback import LoopbackServer  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-bench-not-a-real-key"}


def cli(*args, cwd=None):
    return subprocess.Popen([sys.executable, "-m", "iapo_cli", *map(str, args)], cwd=cwd,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def fresh_run():
    tmp = Path(tempfile.mkdtemp(prefix="iapo-bench-"))
    data = write_sums(tmp / "sums.jsonl", count=40)
    return tmp, data


def straight_and_rerun() -> list[str]:
    tmp, data = fresh_run()
    with LoopbackServer(seed=0) as server:
        config = live_config(tmp / "live.yaml", server.url, data)
        start = time.perf_counter()
        proc = cli("optimize", config, "--out", tmp / "run1")
        proc.communicate(timeout=600)
        seconds = time.perf_counter() - start
        completions, requests = server.completions, server.requests
        rerun = cli("optimize", config, "--out", tmp / "run2")
        rerun.communicate(timeout=600)
        again = server.requests - requests
    return [f"| budget 600, 6 prompts, n batching | {completions} | {requests} | "
            f"{requests / completions:.3f} | {seconds:.1f} s (CLI, incl. start-up) |",
            f"| identical rerun (same cache) | {server.completions - completions} | {again} | "
            f"– | – |"]


def stopped_midway(config: Path, run: Path, server: LoopbackServer, sig: signal.Signals
                   ) -> subprocess.Popen:
    """``iapo optimize config --out run``, sent ``sig`` once the server has served 200
    completions; returns the ended process."""
    proc = cli("optimize", config, "--out", run)
    while server.completions < 200:
        time.sleep(0.01)
    proc.send_signal(sig)
    proc.wait(60)
    return proc


def stopped_and_resumed(sig: signal.Signals) -> str:
    tmp, data = fresh_run()
    with LoopbackServer(seed=0, latency=0.02) as server:
        config = live_config(tmp / "live.yaml", server.url, data)
        first = stopped_midway(config, tmp / "run", server, sig)
        at_stop = server.completions
        second = cli("optimize", config, "--resume", tmp / "run")
        second.communicate(timeout=600)
        summary = json.loads((tmp / "run" / "summary.json").read_text())
    total = summary["usage"]["all_attempts"]["completion"]["completions"]
    unreceived = summary["usage"]["possibly_billed_not_received"].get("completion", {})
    return (f"| {sig.name} midway (exit {first.returncode}), then --resume (exit "
            f"{second.returncode}) | {server.completions} | {server.requests} | – | served "
            f"{at_stop} before the stop; ledger total {total} received + "
            f"{unreceived.get('completions', 0)} possibly billed, not received; spent "
            f"{summary['spent']} |")


def two_processes_one_cache() -> str:
    """Two runs of one config started together on one cache: slots are claimed across
    processes, so the server serves the budget once and both runs deploy the same policy."""
    tmp, data = fresh_run()
    with LoopbackServer(seed=0, latency=0.02) as server:
        config = live_config(tmp / "live.yaml", server.url, data)
        runs = [cli("optimize", config, "--out", tmp / f"run{i}") for i in (1, 2)]
        for proc in runs:
            proc.communicate(timeout=600)
        codes = [proc.returncode for proc in runs]
        policies = [(tmp / f"run{i}" / "policy.csv").read_text() for i in (1, 2)]
    same = "the same policy" if policies[0] == policies[1] else "DIFFERENT policies"
    return (f"| two processes at once on one cache, budget 600 each (exits {codes[0]}, "
            f"{codes[1]}) | {server.completions} | {server.requests} | – | {same}; bar: "
            f"≤ 600 + concurrency 4 × N_max 8 = 632 |")


def restarted_on_a_new_port() -> str:
    """A run that fails midway (the server goes away), resumed against a server restarted
    on another port (api_base changed): nothing is paid twice."""
    tmp, data = fresh_run()
    with LoopbackServer(seed=0, latency=0.02) as server:
        config = live_config(tmp / "live.yaml", server.url, data)
        stopped_midway(config, tmp / "run", server, signal.SIGTERM)
        served = server.completions
    with LoopbackServer(seed=0, latency=0.02) as restarted:
        text = config.read_text().replace(server.url, restarted.url)
        config.write_text(text, encoding="utf-8")
        second = cli("optimize", config, "--resume", tmp / "run")
        second.communicate(timeout=600)
        served2 = restarted.completions
    return (f"| stopped, then --resume against a server on a new port (exit "
            f"{second.returncode}) | {served} + {served2} = {served + served2} | – | – | "
            f"api_base changed on resume |")


def quickstart() -> str:
    tmp = Path(tempfile.mkdtemp(prefix="iapo-bench-"))
    # a copy whose cache is fresh: the shipped config's cache (relative to it) is the
    # project's own
    shutil.copytree(ROOT / "configs", tmp / "configs")
    start = time.perf_counter()
    proc = cli("optimize", tmp / "configs" / "quickstart.yaml", "--out", tmp / "q", cwd=tmp)
    proc.communicate(timeout=600)
    seconds = time.perf_counter() - start
    usage = json.loads((tmp / "q" / "summary.json").read_text())["usage"]["this_attempt"]
    done = usage["completion"]
    return (f"| quickstart on iapo-sim (budget 4000, fresh cache) | {done['fresh']} | "
            f"{done['requests']} | {done['requests'] / done['fresh']:.3f} | {seconds:.1f} s |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                        "live_loopback.md")
    args = parser.parse_args()
    lines = ["| case | completions served | HTTP requests | requests / completion | notes |",
             "|---|---|---|---|---|"]
    lines += straight_and_rerun()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
        lines.append(stopped_and_resumed(sig))
    lines.append(restarted_on_a_new_port())
    lines.append(two_processes_one_cache())
    lines.append(quickstart())
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("# Live path on the loopback server\n\n"
                        "Reproduce: `python benchmarks/live_loopback.py`\n\n" + text + "\n")


if __name__ == "__main__":
    main()
