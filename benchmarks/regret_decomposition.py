"""Where an algorithm's regret comes from on the MATH env (issue 13): the prompt or the N.

For each run (the study's splits and random streams, seed 0) and context, the chosen arm
(p, N) is compared with the test oracle's arm:
  * prompt error: best test value of any arm minus the best test value of prompt p at any N;
  * N error: the best test value of prompt p minus the chosen arm's test value;
  * floor: the regret of the arm that is best on the training queries' exact values (what
    an infinite budget would pick; the split's own noise).
Regret = prompt error + N error; all are averaged over contexts (by their probabilities)
and runs. A reference table follows: the regret of the arm best on *exact* values of k
random training queries (no sampling noise), for several k.

Usage: python benchmarks/regret_decomposition.py [--algorithms psst,psst_topk]
       [--budgets 1000,2000,5000,10000] [--runs 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iapo_cli.algorithms import Problem, Trainer, train  # noqa: E402
from iapo_cli.evaluation import ExactTable, split_queries  # noqa: E402
from iapo_cli.run._study import load_env, parse_algorithms  # noqa: E402

ENV = ROOT.parent / "shared" / "envs" / "math-llama33-70b.npz"


def decompose(env, table: ExactTable, spec, budget: int, runs: int) -> dict:
    scales = np.arange(1, env.backend.n_max + 1)
    weights = env.contexts.probabilities
    sums = np.zeros(4)
    for run in range(runs):
        train_queries, test = split_queries(env.backend.n_queries, 0, run)
        problem = Problem(env.backend, train_queries, scales, env.contexts)
        rng = np.random.default_rng([0, run, 1, budget])  # the study's stream
        policy = train(spec.build(), Trainer(problem, budget, rng)).policy
        q_test, q_train = table.q(test), table.q(train_queries)  # (C, P, n_max)
        ctx = np.arange(q_test.shape[0])
        flat = q_test.reshape(len(ctx), -1)
        best = flat.max(axis=1)
        chosen = q_test[ctx, policy.prompt, policy.scale - 1]
        best_of_prompt = q_test[ctx, policy.prompt].max(axis=1)
        floor = flat[ctx, q_train.reshape(len(ctx), -1).argmax(axis=1)]
        sums += [weights @ (best - chosen), weights @ (best - best_of_prompt),
                 weights @ (best_of_prompt - chosen), weights @ (best - floor)]
    return dict(zip(("regret", "prompt error", "N error", "floor"), sums / runs, strict=True))


def exact_reference(env, table: ExactTable, sizes: list[int], runs: int) -> list[float]:
    """Mean regret of picking each context's arm from exact per-query values on ``k``
    random training queries shared by every arm (infinite samples per query), for each k
    of ``sizes``: how many noise-free queries a given regret asks for."""
    weights = env.contexts.probabilities
    out = []
    for k in sizes:
        total = 0.0
        for run in range(runs):
            train_queries, test = split_queries(env.backend.n_queries, 0, run)
            rng = np.random.default_rng(run)
            seen = rng.choice(train_queries, size=min(k, len(train_queries)), replace=False)
            q_test, q_seen = table.q(test), table.q(seen)
            ctx = np.arange(q_test.shape[0])
            flat = q_test.reshape(len(ctx), -1)
            pick = q_seen.reshape(len(ctx), -1).argmax(axis=1)
            total += weights @ (flat.max(axis=1) - flat[ctx, pick])
        out.append(total / runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", default="psst,psst_topk")
    parser.add_argument("--budgets", default="1000,2000,5000,10000")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out",
                        default=str(ROOT / "benchmarks/results/regret_decomposition.md"))
    args = parser.parse_args()
    env = load_env(ENV)
    table = ExactTable(env.backend, env.contexts)
    lines = [f"# Regret decomposition on the MATH env ({args.runs} runs, seed 0)", "",
             f"Command: `python benchmarks/regret_decomposition.py --algorithms "
             f"{args.algorithms} --budgets {args.budgets} --runs {args.runs}`", "",
             "| algorithm | T | regret | prompt error | N error | floor |",
             "|---|---|---|---|---|---|"]
    for spec in parse_algorithms(args.algorithms):
        for budget in (int(b) for b in args.budgets.split(",")):
            parts = decompose(env, table, spec, budget, args.runs)
            lines.append(f"| {spec.label} | {budget} | " + " | ".join(
                f"{parts[k]:.4f}" for k in ("regret", "prompt error", "N error", "floor"))
                + " |")
            print(lines[-1], flush=True)
    sizes = [10, 25, 50, 100, 150, 253]
    lines += ["", "Reference: the arm best on exact values of k random training queries "
              "(no sampling noise), scored on the test split.", "",
              "| k queries | " + " | ".join(map(str, sizes)) + " |",
              "|---|" + "---|" * len(sizes),
              "| mean regret | " + " | ".join(
                  f"{r:.4f}" for r in exact_reference(env, table, sizes, args.runs)) + " |"]
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
