"""Measure issue 22's first bar on the loopback OpenAI-compatible server (tests/loopback.py).

A model that writes its answer inside a line ("Working: step step. Answer: 223"), a config
whose answer pattern is anchored at the start of a line (it matches nothing), budget 4000:
  1. `iapo optimize` (a subprocess, as a user runs it): exit code, the error line, and the
     completions the server served before the run stopped;
  2. the fixed pattern and `--resume`: exit code, completions the server served, and
     whether any completion was served twice (first + resumed = the budget);
  3. the same with each preset the README names as the default (`auto`), from scratch.

Prints a markdown table and writes it to benchmarks/results/first_contact.md.

Usage: python benchmarks/first_contact.py [--budget 4000] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import live_config, write_sums  # noqa: E402
from tests.loopback import LoopbackServer  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-bench-not-a-real-key"}
LINE_START = r"(?im)^\s*answer\s*:\s*(.+?)\s*$"


def cli(*args) -> tuple[int, str, str, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "iapo_cli", *map(str, args)], env=ENV,
                          capture_output=True, text=True, timeout=1800)
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start


def config_for(tmp: Path, url: str, budget: int, answer: dict | None) -> Path:
    data = write_sums(tmp / "sums.jsonl", count=120)
    path = live_config(tmp / "live.yaml", url, data, budget=budget)
    config = yaml.safe_load(path.read_text())
    config["backend"]["transport"] = "http"
    config["backend"]["concurrency"] = 8
    config["dataset"]["duplicates"] = "drop"
    if answer is not None:
        config["answer"] = answer
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=4000)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/first_contact.md"))
    args = parser.parse_args()
    budget = args.budget
    tmp = Path(tempfile.mkdtemp(prefix="iapo-first-contact-"))
    rows = []
    with LoopbackServer(seed=0, inline=True, seed_by_content=True) as server:
        config = config_for(tmp, server.url, budget, {"pattern": LINE_START})
        code, _, err, seconds = cli("optimize", config, "--out", tmp / "run")
        first = server.completions
        if not (tmp / "run" / "summary.json").exists():
            raise SystemExit(f"the first run wrote no run directory (exit {code}): {err}")
        rows.append(("pattern anchored at line start (matches nothing)", code, first,
                     f"{first / budget:.1%}", f"{seconds:.1f}", err.strip()))
        fixed = yaml.safe_load(config.read_text())
        fixed["answer"] = {"pattern": r"(?i)answer\s*:\s*(-?\d+)"}
        config.write_text(yaml.safe_dump(fixed, sort_keys=False))
        code, out, err, seconds = cli("optimize", config, "--resume", tmp / "run")
        second = server.completions - first
        if code != 0:
            raise SystemExit(f"the resumed run failed (exit {code}): {err}")
        summary = json.loads((tmp / "run" / "summary.json").read_text())
        rows.append(("fixed pattern, --resume", code, second, f"{second / budget:.1%}",
                     f"{seconds:.1f}", f"status {summary['status']}, spent "
                     f"{summary['spent']}; served in all {first + second} = budget: "
                     f"{first + second == budget} (nothing served twice)"))
    with LoopbackServer(seed=0, inline=True, seed_by_content=True) as server:
        auto = tmp / "auto"
        auto.mkdir()
        config = config_for(auto, server.url, budget, None)
        code, out, err, seconds = cli("optimize", config, "--out", auto / "run")
        summary = json.loads((auto / "run" / "summary.json").read_text())
        counts = summary["answer_health"]["models"]["openai/loopback"]
        rows.append(("default extraction (preset auto), from scratch", code,
                     server.completions, f"{server.completions / budget:.1%}",
                     f"{seconds:.1f}", f"answered {counts['answered']} of "
                     f"{counts['completions']}"))
    lines = [
        "# First contact: an answer pattern that matches nothing (issue 22)",
        "",
        f"Command: `python benchmarks/first_contact.py --budget {budget}` (loopback server "
        f"of tests/loopback.py answering '...step. Answer: N' on one line; 6 prompts, "
        f"majority voting, N <= 8, `transport: http`, concurrency 8).",
        "",
        "| step | exit | completions served | share of budget | seconds | outcome |",
        "|---|---|---|---|---|---|",
        *(f"| {step} | {code} | {served} | {share} | {seconds} | "
          f"{text.replace('|', '/')} |" for step, code, served, share, seconds, text in rows),
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
