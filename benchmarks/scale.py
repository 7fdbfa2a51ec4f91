"""Issue 14's scale table: ``iapo bench`` on generated categorical environments, one
factor at a time from a base point (25 prompts, N_max 32, 316 queries, 5 answer
categories, 3 contexts, T = 20000), plus the "big user" point with ``optimize``.

Each point runs in a fresh process under ``/usr/bin/time`` (its own peak resident
memory): wall time, peak memory, and PSST's median training seconds per run from
results.csv (``bench``) or the training seconds of summary.json (``optimize``).

Environments are generated here, seeded: per (prompt, query) the gold answer's
probability is a logistic of prompt skill minus query difficulty, the rest spread over
the wrong answers by a Dirichlet; each prompt's completion cost differs.

Usage: python benchmarks/scale.py [--points base,nmax64,...] [--runs 20] [--out FILE]
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

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iapo_cli.report import markdown_table as markdown  # noqa: E402

BASE = {"prompts": 25, "n_max": 32, "queries": 316, "answers": 5, "contexts": 3,
        "budget": 20000}
POINTS = {
    "base": {},
    "N_max 64": {"n_max": 64},
    "N_max 128": {"n_max": 128},
    "20 answer categories": {"answers": 20},
    "200 contexts": {"contexts": 200},
    "400 prompts": {"prompts": 400},
    "1000 prompts": {"prompts": 1000},
    "3000 queries": {"queries": 3000},
    "big user (optimize)": {"prompts": 400, "n_max": 64, "queries": 3000, "contexts": 27,
                            "budget": 200000, "optimize": True},
    "400 prompts x 200 contexts (evaluate)": {"prompts": 400, "contexts": 200,
                                              "optimize": True, "evaluate": True},
}


def make_env(path: Path, prompts: int, n_max: int, queries: int, answers: int,
             contexts: int, seed: int = 0, **_) -> Path:
    rng = np.random.default_rng(seed)
    skill = rng.normal(0.0, 0.6, prompts)
    difficulty = rng.normal(-0.8, 1.5, queries)
    p_gold = 1 / (1 + np.exp(-(skill[:, None] - difficulty[None, :])))  # (P, X)
    wrong = rng.dirichlet(np.full(answers - 1, 0.6), size=(prompts, queries))
    gold = rng.integers(0, answers, queries)
    probs = np.empty((prompts, queries, answers))
    for x in range(queries):
        others = [a for a in range(answers) if a != gold[x]]
        probs[:, x, gold[x]] = p_gold[:, x]
        probs[:, x, others] = (1 - p_gold[:, x])[:, None] * wrong[:, x, :]
    cost = rng.uniform(0.003, 0.012, prompts)
    weights = np.linspace(0.0, 1.0, contexts)
    meta = {"name": path.stem, "strategy": "majority_vote", "n_max": n_max,
            "contexts": {f"c{i}": {"correct": 1.0, "cost": -float(w)}
                         for i, w in enumerate(weights)}}
    np.savez(path, probs=probs, answers=gold, cost=cost, meta=json.dumps(meta))
    return path


def run_point(name: str, spec: dict, runs: int, work: Path) -> dict:
    params = {**BASE, **spec}
    env = make_env(work / f"{name.replace(' ', '_')}.npz", **params)
    iapo = [sys.executable, "-m", "iapo_cli"]
    if params.get("optimize"):
        config = work / "big.yaml"
        config.write_text(f"name: big\nbackend: {{kind: categorical, path: {env}}}\n"
                          f"budget: {params['budget']}\nseed: 0\n")
        run_dir = work / "big-run"
        if run_dir.exists():  # an earlier point's
            import shutil

            shutil.rmtree(run_dir)
        command = [*iapo, "optimize", str(config), "--out", str(run_dir)]
    else:
        command = [*iapo, "bench", "--env", str(env), "--algorithms", "psst",
                   "--budgets", str(params["budget"]), "--runs", str(runs), "--workers", "1",
                   "--out", str(work / name.replace(" ", "_"))]
    peak_file = work / "peak.txt"
    if params.get("evaluate"):  # the point measures evaluate, after an optimize
        subprocess.run(command, check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        command = [*iapo, "evaluate", str(work / "big-run")]
    start = time.perf_counter()
    # /usr/bin/time reports this point's own peak resident memory (KB)
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(peak_file), *command],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - start
    peak_kb = int(peak_file.read_text().split()[-1])
    row = {"point": name, **{k: params[k] for k in BASE},
           "wall s": f"{wall:.1f}", "peak MB": round(peak_kb / 1024),
           "status": "ok" if proc.returncode == 0 else
           (proc.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    if proc.returncode == 0 and params.get("evaluate"):
        row["PSST per run s"] = None  # wall and peak are evaluate's
    elif proc.returncode == 0 and params.get("optimize"):
        summary = json.loads((work / "big-run" / "summary.json").read_text())
        row["PSST per run s"] = f"{summary['seconds']:.3f}"
    elif proc.returncode == 0:
        results = pd.read_csv(work / name.replace(" ", "_") / "results.csv")
        row["PSST per run s"] = f"{float(results['seconds'].median()):.4f}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default=",".join(POINTS))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/scale.md"))
    args = parser.parse_args()
    names = [n.strip() for n in args.points.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows.append(run_point(name, POINTS[name], args.runs, Path(tmp)))
            print(rows[-1], flush=True)
    text = (f"# Scale points ({args.runs} runs per bench point, 1 worker)\n\n"
            f"Command: `python benchmarks/scale.py --points '{args.points}' --runs "
            f"{args.runs}`\n\n" + markdown(pd.DataFrame(rows)) + "\n")
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
