"""``iapo bench --workers K`` wall time on the MATH study (200 runs × 4 budgets).

Runs the same study with each worker count, alternating, ``--repeats`` times, in fresh
processes (start-up, exact values and credit tables included: what a user waits for),
and prints the median wall time and the speed-up over one worker. Checks that every
worker count gives the same results.csv (apart from the timing column).

Usage: python benchmarks/bench_workers.py [--workers 1,2] [--repeats 3] [--runs 200]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT.parent / "shared" / "envs" / "math-llama33-70b.npz"
IAPO = Path(sys.executable).with_name("iapo")


def run_once(workers: int, runs: int, budgets: str, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(IAPO), "bench", "--env", str(ENV), "--budgets", budgets,
                    "--runs", str(runs), "--workers", str(workers), "--out", str(out)],
                   check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--budgets", default="1000,2000,5000,10000")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    walls: dict[int, list[float]] = {w: [] for w in counts}
    results: dict[int, pd.DataFrame] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for workers in counts:
                out = Path(tmp) / f"w{workers}-{repeat}"
                walls[workers].append(run_once(workers, args.runs, args.budgets, out))
                results[workers] = pd.read_csv(out / "results.csv").drop(columns="seconds")
    first = results[counts[0]]
    same = all(results[w].equals(first) for w in counts)
    base = float(np.median(walls[counts[0]]))
    print(f"MATH study, {args.runs} runs x budgets {args.budgets}, default algorithms, "
          f"{args.repeats} alternating repeats")
    print()
    print("| workers | wall s (median) | all walls | speed-up |")
    print("|---|---|---|---|")
    for workers in counts:
        median = float(np.median(walls[workers]))
        print(f"| {workers} | {median:.1f} | "
              f"{', '.join(f'{w:.1f}' for w in walls[workers])} | {base / median:.2f}x |")
    print()
    print(f"results identical across worker counts: {same}")


if __name__ == "__main__":
    main()
