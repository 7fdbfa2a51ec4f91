"""Peak memory of `optimize` against the budget: the traced peak (tracemalloc: numpy and
Python allocations) of one `optimize` call on a synthetic environment at budgets 1e5, 1e6
and 1e7, each in a fresh process after a warm-up run. The bar (ARCHITECTURE.md, "memory
does not grow with the budget"): 1e7 within 20% (or 256 KB) of 1e5.
`tests/algorithms/test_memory.py` checks 1e5 against 1e6 on every test run.

Usage: python benchmarks/memory_budget.py [--budgets 100000,1000000,10000000] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
name: memory
backend: {kind: synthetic, family: bernoulli-mv, prompts: 2, queries: 40, n_max: 32, seed: 1}
scales: [8, 32]
budget: 100000
seed: 0
"""

CHILD = """
import json, sys, time, tracemalloc
from iapo_cli import optimize
config, out, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
optimize(config, out=out + "-warm", budget=1000)
tracemalloc.start()
start = time.perf_counter()
outcome = optimize(config, out=out, budget=budget)
seconds = time.perf_counter() - start
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"peak": peak, "seconds": seconds, "spent": outcome.result.spent}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budgets", default="100000,1000000,10000000")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/memory_budget.md"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="iapo-memory-"))
    config = tmp / "memory.yaml"
    config.write_text(CONFIG)
    rows = []
    for budget in (int(b) for b in args.budgets.split(",")):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, str(config), str(tmp / str(budget)),
                               str(budget)], capture_output=True, text=True, check=True,
                              cwd=ROOT)
        data = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((budget, data["spent"], data["peak"] / 2**20, data["seconds"],
                     time.perf_counter() - start))
    base = rows[0][2]
    lines = ["# Peak memory of optimize against the budget", "",
             f"Command: `python benchmarks/memory_budget.py --budgets {args.budgets}` "
             "(synthetic bernoulli-mv, 2 prompts, N in {8, 32}, PSST's default; tracemalloc's "
             "traced peak during one optimize call, each budget in a fresh process)", "",
             "| budget | spent | traced peak (MiB) | vs the first | optimize seconds "
             "(traced) |", "|---|---|---|---|---|",
             *(f"| {b:.0e} | {s} | {p:.2f} | {p / base:.2f}x | {t:.1f} |"
               for b, s, p, t, _ in rows)]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
