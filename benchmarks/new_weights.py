"""Issue 12's bar for ``Policy.arm(weights=...)`` on the MATH environment.

Per run (seed): ``optimize`` configs/math-llama.yaml (PSST, T=5000) into a temporary
directory, then

* for each trained context, ``arm(weights=<its weights>)`` must give the trained choice;
* for ``--weights`` random weight vectors (``correct`` 1, ``cost`` uniform in [0, 1.5]:
  the trained contexts have 0, 0.2 and 1), the exact test utility of the chosen arm
  against the test oracle over the same grid (regret), next to the trained contexts'
  exact regrets, and what deploying the nearest trained context's arm would give; choices
  the data cannot support are counted.

Prints markdown tables and writes them to benchmarks/results/new_weights.md.

Usage: python benchmarks/new_weights.py [--runs 10] [--weights 20] [--budget 5000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iapo_cli.backends import Contexts  # noqa: E402
from iapo_cli.evaluation import ExactTable  # noqa: E402
from iapo_cli.report import markdown_table as markdown  # noqa: E402
from iapo_cli.run import Policy, optimize  # noqa: E402
from iapo_cli.run._reweigh import UnsupportedWeights  # noqa: E402


def exact_regret(policy: Policy, weights: dict, prompt: int, n: int) -> float:
    """Exact test regret of deploying (prompt, n) for ``weights``: the test oracle over the
    run's grid minus the arm's exact test utility."""
    resolved = policy._resolved
    problem = resolved.problem
    contexts = Contexts(("w",), np.array([[weights["correct"]]]), np.array([weights["cost"]]),
                        np.ones(1))
    q = ExactTable(problem.backend, contexts).q(resolved.test)[0][:, problem.scales - 1]
    return float(q.max() - q[prompt, np.searchsorted(problem.scales, n)])


def one_run(seed: int, n_weights: int, budget: int, work: Path) -> tuple[list, list]:
    config = work / "math-llama.yaml"
    run = optimize(config, out=work / f"run-{seed}", budget=budget, seed=seed)
    policy = Policy.load(run.run_dir)
    rows, trained = [], []
    for name in policy.contexts:
        arm = policy.arm(name)
        again = policy.arm(weights=arm.weights)
        trained.append({"seed": seed, "context": name, "arm": f"{arm.prompt}@{arm.n}",
                        "same_choice": (again.arm, again.n) == (arm.arm, arm.n),
                        "regret": exact_regret(policy, arm.weights,
                                               policy._arm_map.ids.index(arm.arm), arm.n)})
    rng = np.random.default_rng(1000 + seed)
    for _ in range(n_weights):
        weights = {"correct": 1.0, "cost": float(rng.uniform(0.0, 1.5))}
        start = time.perf_counter()
        try:
            arm = policy.arm(weights=weights)
        except UnsupportedWeights:
            rows.append({"seed": seed, "cost": weights["cost"], "refused": True})
            continue
        seconds = time.perf_counter() - start
        index = policy._arm_map.ids.index(arm.arm)
        # what deploying the nearest trained context's arm would give instead
        near = min((policy.arm(c) for c in policy.contexts),
                   key=lambda a: abs(a.weights["cost"] - weights["cost"]))
        rows.append({"seed": seed, "cost": weights["cost"], "refused": False,
                     "arm": f"{arm.prompt}@{arm.n}", "samples": arm.samples,
                     "regret": exact_regret(policy, weights, index, arm.n),
                     "nearest_regret": exact_regret(policy, weights,
                                                    policy._arm_map.ids.index(near.arm),
                                                    near.n),
                     "seconds": seconds})
    return rows, trained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--weights", type=int, default=20)
    parser.add_argument("--budget", type=int, default=5000)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/new_weights.md"))
    args = parser.parse_args()
    rows, trained = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = yaml.safe_load((ROOT / "configs/math-llama.yaml").read_text())
        config["backend"]["path"] = str((ROOT / "configs" / config["backend"]["path"])
                                        .resolve())
        (work / "math-llama.yaml").write_text(yaml.safe_dump(config))
        for seed in range(args.runs):
            r, t = one_run(seed, args.weights, args.budget, work)
            rows += r
            trained += t
    new = pd.DataFrame(rows)
    old = pd.DataFrame(trained)
    served = new[~new.refused]
    per_seed = pd.DataFrame({
        "seed": sorted(new.seed.unique()),
    })
    per_seed["trained choices reproduced"] = [
        f"{int(g.same_choice.sum())}/{len(g)}" for _, g in old.groupby("seed")]
    per_seed["trained mean regret"] = [g.regret.mean() for _, g in old.groupby("seed")]
    per_seed["trained max regret"] = [g.regret.max() for _, g in old.groupby("seed")]
    per_seed["new: refused"] = [int(g.refused.sum()) for _, g in new.groupby("seed")]
    per_seed["new mean regret"] = [g[~g.refused].regret.mean() for _, g in new.groupby("seed")]
    per_seed["new max regret"] = [g[~g.refused].regret.max() for _, g in new.groupby("seed")]
    per_seed["new within trained max"] = [
        f"{int((g[~g.refused].regret <= old[old.seed == s].regret.max() + 1e-12).sum())}"
        f"/{int((~g.refused).sum())}" for s, g in new.groupby("seed")]
    total = pd.DataFrame([{
        "runs": args.runs, "weights per run": args.weights,
        "trained reproduced": f"{int(old.same_choice.sum())}/{len(old)}",
        "trained mean regret": old.regret.mean(),
        "new refused": f"{int(new.refused.sum())}/{len(new)}",
        "new mean regret": served.regret.mean(),
        "nearest trained context's arm, mean regret": served.nearest_regret.mean(),
        "new min samples": int(served.samples.min()),
        "new median seconds": served.seconds.median(),
    }])
    text = (f"# Policy.arm(weights=...) on the MATH env (T={args.budget})\n\n"
            f"Command: `python benchmarks/new_weights.py --runs {args.runs} "
            f"--weights {args.weights} --budget {args.budget}`\n\n"
            + markdown(total) + "\n\n" + markdown(per_seed) + "\n")
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
