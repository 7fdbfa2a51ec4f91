"""Majority voting against adaptive majority voting (``adaptive_vote``) on the recorded MATH
environment (../shared/envs): same prompts, same contexts, same queries.

Adaptive voting answers exactly as majority voting at N but stops drawing once the vote is
decided, so every arm costs at most as much. This measures what that is worth:
  1. per context, the best arm on all queries (exact values) under each strategy: its N,
     the completions it draws per query on average, and its utility;
  2. PSST under each strategy (200 runs of the paper's protocol): mean test ACR, the test
     oracle's, and regret, at T = 2000 and 5000.

Writes benchmarks/results/strategies.md. Usage: python benchmarks/strategies.py [--runs 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iapo_cli.backends import load_npz  # noqa: E402
from iapo_cli.evaluation import AlgorithmSpec, ExactTable, run_study  # noqa: E402
from iapo_cli.report import markdown_table as markdown  # noqa: E402
from iapo_cli.strategies import strategy_like  # noqa: E402

DEFAULT_ENV = ROOT.parent / "shared" / "envs" / "math-llama33-70b.npz"
STRATEGIES = ("majority_vote", "adaptive_vote")
BUDGETS = [2000, 5000]


def best_arms(env, name: str) -> pd.DataFrame:
    """Per context, the best (prompt, N) on all queries under the backend's strategy."""
    table = ExactTable(env.backend, env.contexts)
    everything = np.arange(env.backend.n_queries)
    q = table.q(everything)  # (C, P, n_max)
    draws = env.backend.exact_draws()[:, everything].mean(axis=1)  # (P, n_max)
    rows = []
    for c, context in enumerate(env.contexts.names):
        p, k = np.unravel_index(np.argmax(q[c]), q[c].shape)
        rows.append({"strategy": name, "context": context, "prompt": env.backend.prompt_ids[p],
                     "n": int(k + 1), "completions_per_query": float(draws[p, k]),
                     "utility": float(q[c, p, k])})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--env", type=Path, default=DEFAULT_ENV)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "strategies.md")
    args = parser.parse_args()
    arms, studies = [], []
    for name in STRATEGIES:
        env = load_npz(args.env)
        env.backend.strategy = strategy_like(name, env.backend.strategy)
        start = time.perf_counter()
        arms.append(best_arms(env, name))
        results = run_study(env, [AlgorithmSpec("psst")], BUDGETS, args.runs, seed=0)
        wall = time.perf_counter() - start
        summary = results.groupby("budget").agg(
            mean_acr=("acr", "mean"), oracle_acr=("oracle", "mean"),
            mean_regret=("regret", "mean"), mean_spent=("spent", "mean")).reset_index()
        summary.insert(0, "strategy", name)
        summary["wall_s"] = round(wall, 1)
        studies.append(summary)
    text = "\n".join([
        f"# Majority voting vs adaptive voting ({args.env.name}, {args.runs} runs, seed 0)",
        "", "## 1. Best arm per context on all queries (exact values)", "",
        markdown(pd.concat(arms, ignore_index=True)), "",
        "## 2. PSST, paper protocol", "", markdown(pd.concat(studies, ignore_index=True)), ""])
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
