"""Issue 4's bar: every algorithm on the MATH environment through ``iapo bench``.

Runs ``iapo bench`` (all algorithms, T = 1000, 2000, 5000, 10000, 200 runs, every core) and
``iapo report`` on its output, times the whole study, and checks that PSST or PSST-TopK has
the lowest mean regret at every budget with Wilcoxon p < 0.05 against uniform, UCB and both
TRIPLE variants. Writes benchmarks/results/baselines.md (and the study, with its figures,
into benchmarks/results/baselines/).

Usage: python benchmarks/baselines.py [--runs 200] [--seed 0] [--name baselines] [--env PATH]

Other seeds or run counts check how robust the bar is; give them another ``--name`` so the
committed study is kept (``benchmarks/results/NAME.md`` and ``NAME/``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iapo_cli.report import markdown_table as markdown  # noqa: E402

DEFAULT_ENV = ROOT.parent / "shared" / "envs" / "math-llama33-70b.npz"
ALGORITHMS = ["psst", "psst_topk", "uniform", "triple_n1", "triple_random_n", "epsilon_greedy",
              "softmax", "ucb", "sequential_halving"]
BUDGETS = [1000, 2000, 5000, 10000]
MUST_BEAT = ["uniform", "ucb", "triple_n1", "triple_random_n"]
OURS = ["psst", "psst_topk"]



def pvalues(results: pd.DataFrame, ours: str, budget: int) -> dict[str, float]:
    from scipy.stats import wilcoxon

    ref = results[(results.algorithm == ours) & (results.budget == budget)].sort_values("run")
    out = {}
    for other in MUST_BEAT:
        part = results[(results.algorithm == other) & (results.budget == budget)]
        merged = ref.merge(part, on="run", suffixes=("", "_o"))
        out[other] = float(wilcoxon(merged.acr, merged.acr_o).pvalue)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="baselines")
    parser.add_argument("--env", type=Path, default=DEFAULT_ENV)
    args = parser.parse_args()
    out = ROOT / "benchmarks" / "results" / args.name
    cmd = [sys.executable, "-m", "iapo_cli", "bench", "--env", str(args.env), "--out",
           str(out), "--algorithms", ",".join(ALGORITHMS), "--budgets",
           ",".join(map(str, BUDGETS)), "--runs", str(args.runs), "--seed", str(args.seed)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    subprocess.run([sys.executable, "-m", "iapo_cli", "report", str(out)], check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)
    results = pd.read_csv(out / "results.csv")
    summary = pd.read_csv(out / "summary.csv")
    regret = summary.pivot(index="algorithm", columns="budget", values="mean_regret")
    rows = []
    for budget in BUDGETS:
        column = regret[budget]
        best = column.idxmin()
        ours = best if best in OURS else min(OURS, key=lambda a: column[a])
        p = pvalues(results, ours, budget)
        rows.append({"budget": budget, "lowest": best, "lowest_regret": float(column[best]),
                     "ours": ours, **{f"p_vs_{k}": v for k, v in p.items()},
                     "meets_bar": "yes" if best in OURS and max(p.values()) < 0.05
                     else "NO"})
    table = regret.reset_index()
    table.columns = [str(c) for c in table.columns]
    text = "\n\n".join([
        f"# All algorithms on {args.env.name} ({args.runs} runs, seed {args.seed})",
        f"`iapo bench` wall time on {__import__('os').cpu_count()} cores: **{wall:.0f} s** "
        "(bar: under 600 s).",
        "## Mean regret\n\n" + markdown(table),
        "## The bar: PSST or PSST-TopK lowest, Wilcoxon p < 0.05 against uniform, UCB and "
        "both TRIPLE variants\n\n" + markdown(pd.DataFrame(rows), "{:.3g}"),
        f"Figures and the full Wilcoxon table: `{args.name}/report.md`.",
    ]) + "\n"
    print(text)
    (ROOT / "benchmarks" / "results" / f"{args.name}.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
