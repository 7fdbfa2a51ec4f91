"""Issue 10, item 1's bar: at every budget from P x N_min upward, no algorithm returns a
policy that rests on an arm without data.

Every registered algorithm (default parameters) is trained on the recorded MATH env
(../shared/envs, 25 prompts, N <= 32) on its full grid 1..32 and on a grid starting above
N=1 (2, 4, ..., 32), and on the two synthetic families (32 prompts), at every budget from
P x N_min to about 8 x P x N_min and a few larger ones, over several splits and seeds. A
run counts as data-free when a context's chosen arm has no pull, a NaN estimate, or came
from the fallback (the algorithm's own pick had no data). Also checked: no run spends more
than its budget.

Prints a markdown table and writes it to benchmarks/results/data_free.md.

Usage: python benchmarks/data_free.py [--seeds 5] [--env PATH] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iapo_cli.algorithms import ALGORITHMS, Problem, make_algorithm  # noqa: E402
from iapo_cli.backends import load_npz, synthetic  # noqa: E402
from iapo_cli.evaluation import split_queries  # noqa: E402
from iapo_cli.report import markdown_table as markdown  # noqa: E402

DEFAULT_ENV = ROOT.parent / "shared" / "envs" / "math-llama33-70b.npz"


def budgets_from(smallest: int) -> list[int]:
    """Every multiple of ``smallest // 5`` (at least 1) from ``smallest`` to 8x it, plus
    three larger budgets."""
    step = max(1, smallest // 5)
    return [*range(smallest, 8 * smallest + 1, step), 1000, 2000, 5000]


def sweep(label: str, env, grid: np.ndarray, seeds: int) -> list[dict]:
    rows = []
    n_prompts = len(env.backend.prompt_ids)
    smallest = n_prompts * int(grid[0])
    budgets = budgets_from(smallest)
    for name in ALGORITHMS:
        runs = data_free = fallback = over = 0
        fewest = np.inf
        for seed in range(seeds):
            train, _ = split_queries(env.backend.n_queries, 0, seed)
            problem = Problem(env.backend, train, grid, env.contexts)
            for budget in budgets:
                result = make_algorithm(name).fit(problem, budget,
                                                  np.random.default_rng([seed, budget]))
                policy = result.policy
                runs += 1
                fell_back = policy.fallback is not None and bool(policy.fallback.any())
                no_data = bool((policy.samples == 0).any()
                               or not np.isfinite(policy.estimate).all())
                data_free += no_data or fell_back
                fallback += fell_back
                over += result.spent > budget
                fewest = min(fewest, int(policy.samples.min()))
        rows.append({"env": label, "grid": f"{int(grid[0])}..{int(grid[-1])}"
                     f" ({len(grid)} N)", "budgets": f"{budgets[0]}..{budgets[-1]}"
                     f" ({len(budgets)})", "algorithm": name, "runs": runs,
                     "data_free": data_free, "fallbacks": fallback,
                     "fewest_pulls_behind_a_pick": fewest, "over_budget": over})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--env", type=Path, default=DEFAULT_ENV)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "data_free.md")
    args = parser.parse_args()
    math_env = load_npz(args.env)
    rows = sweep("MATH", math_env, np.arange(1, 33), args.seeds)
    rows += sweep("MATH", math_env, np.arange(2, 33, 2), args.seeds)
    for family in ("bernoulli-mv", "bon-grid"):
        env = synthetic(family, queries=100)
        rows += sweep(family, env, np.array([1, 2, 4, 8, 16, 32]), max(1, args.seeds // 2))
    table = pd.DataFrame(rows)
    total = table[["runs", "data_free", "fallbacks", "over_budget"]].sum()
    text = (f"# Data-free policies (issue 10, item 1), {args.seeds} splits on MATH, "
            f"{max(1, args.seeds // 2)} on each synthetic family\n\n"
            f"{int(total.runs)} runs: {int(total.data_free)} data-free, "
            f"{int(total.fallbacks)} fallbacks, {int(total.over_budget)} over budget.\n\n"
            + markdown(table) + "\n")
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
