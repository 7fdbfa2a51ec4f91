"""``iapo bench``: studies of algorithms across budgets in the paper's protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..algorithms import ALGORITHMS
from ..artifacts import write_table
from ..backends import load_environment, synthetic
from ..errors import ConfigError
from ..evaluation import AlgorithmSpec, StudyInterrupted, run_study, summarize
from ..run import Interrupted
from ._render import console, progress, table


def _parse_ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"expected comma-separated integers, got {text!r}", field=flag
                          ) from None
    if not values or min(values) <= 0:
        raise ConfigError("needs at least one value, all > 0", field=flag)
    return values


def load_env(spec: str):
    if spec.startswith("synthetic:"):
        try:
            return synthetic(spec.removeprefix("synthetic:"))
        except ConfigError as exc:
            raise ConfigError(exc.detail, field="--env") from None
    return load_environment(spec)


def bench_command(
    env: Annotated[str, typer.Option(help="PATH.npz (a categorical env or an iapo replay "
                                     "file) or synthetic:NAME (bernoulli-mv, bon-grid).")],
    out: Annotated[Path, typer.Option(help="Directory for results.csv and summary.csv.")],
    algorithms: Annotated[str, typer.Option(help="Comma-separated algorithm names.")] =
        "psst,psst_topk,uniform",
    budgets: Annotated[str, typer.Option(help="Comma-separated budgets.")] = "1000,2000,5000",
    runs: Annotated[int, typer.Option(help="Random 80/20 splits per budget.")] = 200,
    seed: Annotated[int, typer.Option(help="Study seed.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Processes (default: all cores).")] = None,
) -> None:
    """Compare algorithms on an offline environment with exact test values."""
    names = [a.strip() for a in algorithms.split(",") if a.strip()]
    unknown = [a for a in names if a not in ALGORITHMS]
    if not names or unknown:
        raise ConfigError(f"unknown algorithm {unknown[0]!r} (known: {', '.join(ALGORITHMS)})"
                          if unknown else "needs at least one algorithm", field="--algorithms")
    budget_list = _parse_ints(budgets, "--budgets")
    if runs < 2:
        raise ConfigError("needs at least 2 runs", field="--runs")
    environment = load_env(env)
    smallest = len(environment.backend.prompt_ids)
    if min(budget_list) < smallest:
        raise ConfigError(f"{min(budget_list)} is smaller than one pull at N=1 per prompt "
                          f"({smallest} prompts)", field="--budgets")
    out.mkdir(parents=True, exist_ok=True)
    reference = "psst" if "psst" in names else names[0]
    try:
        with progress("runs", runs) as update:
            results = run_study(environment, [AlgorithmSpec(n) for n in names], budget_list,
                                runs, seed=seed, workers=workers,
                                progress=lambda done, total: update(done, total))
    except StudyInterrupted as exc:  # keep the finished runs, then exit 130
        write_table(out / "results.csv", exc.partial)
        raise Interrupted(out) from None
    summary = summarize(results, reference=reference)
    write_table(out / "results.csv", results)
    write_table(out / "summary.csv", summary)
    shown = summary[["algorithm", "budget", "mean_acr", "sem_acr", "mean_regret", "mean_spent",
                     "median_seconds", f"p_vs_{reference}"]]
    console.print(table(shown, f"{environment.name}: {runs} runs"))
    console.print(f"wrote {out / 'results.csv'} and {out / 'summary.csv'}")
