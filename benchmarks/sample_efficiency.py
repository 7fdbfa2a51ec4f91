"""Issue 13's bars: PSST's sample efficiency against the baselines and its previous default.

Runs ``iapo bench`` on the MATH env (every algorithm, PSST on unbiased estimates too,
T = 1000 / 2000 / 5000 / 10000, 400 runs, seed 0) and on both synthetic families
(T = 2000 / 5000 / 20000, 200 runs), then PSST alone at T = 20000 on MATH with one worker
(training time, median seconds per run). Writes one table per study: mean regret, and the
Wilcoxon p of each algorithm against ``psst`` (paired by run), plus what PSST spent.

Usage: python benchmarks/sample_efficiency.py [--runs 400] [--synthetic-runs 200]
       [--out FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT.parent / "shared" / "envs" / "math-llama33-70b.npz"
IAPO = [sys.executable, "-m", "iapo_cli"]
EVERY = ("psst,psst(estimator=unbiased),psst_topk,uniform,triple_n1,triple_random_n,"
         "epsilon_greedy,softmax,ucb,sequential_halving")
SYNTHETIC = "psst,psst(estimator=unbiased),psst_topk,uniform,triple_random_n,ucb"


def bench(env: str, algorithms: str, budgets: str, runs: int, out: Path,
          workers: int = 2) -> pd.DataFrame:
    subprocess.run([*IAPO, "bench", "--env", env, "--algorithms", algorithms, "--budgets",
                    budgets, "--runs", str(runs), "--workers", str(workers), "--out",
                    str(out)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return pd.read_csv(out / "results.csv")


def table(results: pd.DataFrame, title: str, command: str) -> list[str]:
    """Mean regret per (algorithm, budget), best first, with p against psst."""
    regret = results.pivot_table(index=["budget", "run"], columns="algorithm",
                                 values="regret")
    budgets = sorted(results.budget.unique())
    lines = [f"## {title}", "", f"Command: `{command}`", "",
             "| algorithm | " + " | ".join(f"T={b}" for b in budgets) + " |",
             "|---|" + "---|" * len(budgets)]
    for name in sorted(regret.columns, key=lambda a: regret[a].mean()):
        cells = []
        for b in budgets:
            mine, ref = regret.loc[b][name], regret.loc[b]["psst"]
            if name == "psst":
                p = ""
            elif np.array_equal(ref.to_numpy(), mine.to_numpy()):
                p = " (identical runs)"  # e.g. Best-of-N: PSST's estimator is unbiased
            else:
                p = f" (p={wilcoxon(ref, mine).pvalue:.1e})"
            cells.append(f"{mine.mean():.4f}{p}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    psst = results[results.algorithm == "psst"]
    spent = psst.groupby("budget").spent.agg(["min", "max", "mean"])
    sem = psst.groupby("budget").regret.agg(lambda r: r.std() / np.sqrt(len(r)))
    lines += ["", "psst: " + "; ".join(
        f"T={b}: ± {sem[b]:.4f} sem, spent {spent.loc[b, 'min']:.0f}–"
        f"{spent.loc[b, 'max']:.0f} (mean {spent.loc[b, 'mean']:.1f})" for b in budgets), ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--synthetic-runs", type=int, default=200)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/sample_efficiency.md"))
    args = parser.parse_args()
    lines = ["# Sample efficiency (issue 13)", ""]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        command = (f"iapo bench --env ../shared/envs/math-llama33-70b.npz --algorithms "
                   f"'{EVERY}' --budgets 1000,2000,5000,10000 --runs {args.runs} "
                   f"--workers 2 --out DIR")
        math = bench(str(ENV), EVERY, "1000,2000,5000,10000", args.runs, tmp / "math")
        lines += table(math, f"MATH env, {args.runs} runs, seed 0", command)
        for family in ("bernoulli-mv", "bon-grid"):
            command = (f"iapo bench --env synthetic:{family} --algorithms '{SYNTHETIC}' "
                       f"--budgets 2000,5000,20000 --runs {args.synthetic_runs} --workers 2 "
                       f"--out DIR")
            results = bench(f"synthetic:{family}", SYNTHETIC, "2000,5000,20000",
                            args.synthetic_runs, tmp / family)
            lines += table(results, f"synthetic:{family}, {args.synthetic_runs} runs",
                           command)
        timing = bench(str(ENV), "psst", "20000", 60, tmp / "timing", workers=1)
        seconds = timing.seconds.to_numpy()
        lines += ["## Training time", "",
                  "Command: `iapo bench --env ../shared/envs/math-llama33-70b.npz "
                  "--algorithms psst --budgets 20000 --runs 60 --workers 1 --out DIR`", "",
                  f"PSST at T=20000: median {1000 * np.median(seconds):.1f} ms per run "
                  f"(first run {1000 * seconds[0]:.0f} ms, max {1000 * seconds.max():.0f} "
                  f"ms; bar: 50 ms).", ""]
    text = "\n".join(lines)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
