"""Issue 11's money bars over many seeds: one loopback server answering as two models of
different accuracy, price and ``n`` support (``tests/run/money_project.py``), a budget in
USD, and per seed a fresh server and cache (nothing comes from an earlier seed).

Per seed: what the server billed (its metered tokens x the configured prices) against the
budget, the engine's own ``spent``, the completions, each context's chosen (model, N) and
its exact regret (from the server's answer model). Then ``iapo plan --pilot 3`` against
what the run billed, on the same project with a completion budget and with the USD budget.

Prints markdown tables and writes them to benchmarks/results/money_budget.md.

Usage: python benchmarks/money_budget.py [--seeds 20] [--budget 0.05] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iapo_cli.report import markdown_table as markdown  # noqa: E402
from iapo_cli.run import optimize, plan  # noqa: E402
from tests.loopback import LoopbackServer  # noqa: E402
from tests.run.money_project import (  # noqa: E402
    CONTEXTS,
    MODELS,
    best,
    exact_arms,
    money_config,
    regret,
    server_usd,
)


def one_seed(seed: int, budget: float, directory: Path) -> dict:
    truth = exact_arms()
    with LoopbackServer(seed=seed, models=MODELS) as server:
        config = money_config(directory / "c.yaml", server.url, budget={"usd": budget},
                              seed=seed)
        start = time.perf_counter()
        outcome = optimize(config, out=directory / "run")
        seconds = time.perf_counter() - start
        billed = server_usd(server.served)
    table = outcome.policy_table
    row = {"seed": seed, "billed_usd": billed, "billed/budget": billed / budget,
           "engine_spent": outcome.result.spent, "completions": outcome.result.completions,
           "requests": server.requests, "seconds": round(seconds, 1)}
    for context, model, n in zip(table.context, table.model, table.n, strict=True):
        row[context] = f"{model}@{int(n)}"
        row[f"regret {context}"] = regret(truth[context], (model, int(n)))
    return row


def plan_check(budget, directory: Path) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    with LoopbackServer(seed=100, models=MODELS) as server:
        config = money_config(directory / "c.yaml", server.url, budget=budget)
        plan(config)
        silent = server.requests
        planned = plan(config, pilot=3)
        outcome = optimize(config, out=directory / "run")
        billed = server_usd(server.served)
    return {"budget": str(budget), "requests without --pilot": silent,
            "planned completions": planned.completions,
            "run completions": outcome.result.completions,
            "planned usd": planned.usd["expected"], "billed usd (pilot included)": billed,
            "usd error": planned.usd["expected"] / billed - 1}


def _fmt(value):
    return f"{value:.5g}" if isinstance(value, float) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                        "money_budget.md")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-a-key")  # the loopback's
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            directory = Path(tmp) / f"seed{seed}"
            directory.mkdir()
            rows.append(one_seed(seed, args.budget, directory))
            print(f"seed {seed}: billed ${rows[-1]['billed_usd']:.5f}", file=sys.stderr)
        plans = [plan_check(budget, Path(tmp) / f"plan{i}")
                 for i, budget in enumerate((900, {"usd": args.budget}))]
    frame = pd.DataFrame(rows)
    truth = exact_arms()
    names = [c["name"] for c in CONTEXTS]
    summary = {
        "seeds": len(frame),
        "max billed/budget": frame["billed/budget"].max(),
        "min billed/budget": frame["billed/budget"].min(),
        "max |engine spent - billed|": (frame.engine_spent - frame.billed_usd).abs().max(),
        **{f"{c}: exact best": "{}@{}".format(*best(truth[c])[0]) for c in names},
        **{f"{c}: picks the best": int((frame[c] == "{}@{}".format(*best(truth[c])[0]))
                                       .sum()) for c in names},
        "frugal: small model at N>1": int(frame.frugal.map(
            lambda a: a.startswith("small@") and int(a.split("@")[1]) > 1).sum()),
        **{f"{c}: mean regret": frame[f"regret {c}"].mean() for c in names},
    }
    text = [f"# Money budget on two loopback models (${args.budget:g}, {args.seeds} seeds)",
            "", "Command: `python benchmarks/money_budget.py --seeds "
            f"{args.seeds} --budget {args.budget:g}`", "",
            markdown(pd.DataFrame({"figure": list(summary),
                                   "value": [str(_fmt(v)) for v in summary.values()]})),
            "", markdown(frame, "{:.5g}"), "", "## Plan (--pilot 3)", "",
            markdown(pd.DataFrame(plans), "{:.5g}"), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text), encoding="utf-8")
    print("\n".join(text))


if __name__ == "__main__":
    main()
