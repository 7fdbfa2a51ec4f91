"""``iapo bench``: studies of algorithms across budgets in the paper's protocol (the work
is ``iapo_cli.run.run_bench``; this module reads flags and prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._render import console, progress, table


def bench_command(
    env: Annotated[str, typer.Option(help="PATH.npz (a categorical env or an iapo replay "
                                     "file) or synthetic:NAME (bernoulli-mv, bon-grid).")],
    out: Annotated[Path, typer.Option(help="Directory for results.csv and summary.csv.")],
    algorithms: Annotated[str, typer.Option(
        help="Comma-separated algorithms, each NAME or NAME(key=value,...), e.g. "
             "psst,psst_topk(k=3),ucb(c=0.2).")] =
        "psst,psst_topk,uniform",
    budgets: Annotated[str, typer.Option(help="Comma-separated budgets.")] = "1000,2000,5000",
    runs: Annotated[int, typer.Option(help="Random 80/20 splits per budget.")] = 200,
    seed: Annotated[int, typer.Option(help="Study seed.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Processes (default: all cores).")] = None,
    budget_unit: Annotated[str, typer.Option(
        help="What --budgets count: completions, or cost (the environment's per-completion "
             "costs, e.g. tokens; budgets may then be fractional).")] = "completions",
) -> None:
    """Compare algorithms on an offline environment with exact test values."""
    from ..artifacts import StudyDir
    from ..run import run_bench

    with progress("runs", runs) as update:
        outcome = run_bench(env, algorithms, budgets, runs, seed=seed, workers=workers,
                            out=out, progress=lambda done, total: update(done, total),
                            budget_unit=budget_unit)
    summary, reference = outcome.summary, outcome.reference
    shown = summary[["algorithm", "budget", "mean_acr", "sem_acr", "mean_regret", "mean_spent",
                     "median_seconds", f"p_vs_{reference}"]]
    console.print(table(shown, f"{outcome.environment.name}: {runs} runs"))
    console.print(f"wrote {outcome.out.file(StudyDir.RESULTS)} and "
                  f"{outcome.out.file(StudyDir.SUMMARY)}")
