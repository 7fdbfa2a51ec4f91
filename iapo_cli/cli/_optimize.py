"""``iapo optimize`` and ``iapo validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..run import optimize, validate
from ._render import console, progress, table


def optimize_command(
    config: Annotated[Path, typer.Argument(help="Experiment config (YAML).")],
    out: Annotated[Path | None, typer.Option(help="Run directory (default "
                                             "<output>/<name>-<UTC timestamp>/).")] = None,
    budget: Annotated[int | None, typer.Option(help="Override the config's budget "
                                               "(completions).")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the config's seed.")] = None,
) -> None:
    """Pick, for every context, the (prompt, N) to deploy, within the completion budget."""
    with progress("training", 1) as update:
        def observer(round_: int, rounds: int, spent: int, total: int) -> None:
            update(round_, rounds, f"round {round_}/{rounds}, spent {spent}/{total}")

        outcome = optimize(config, out, budget, seed, observer)
    frame = outcome.result.policy.frame()
    console.print(table(frame, f"policy ({outcome.resolved.problem.backend.strategy.name})"))
    result = outcome.result
    console.print(f"spent {result.spent}/{result.budget} completions in {result.pulls} pulls, "
                  f"{result.rounds} rounds, {outcome.seconds:.2f} s")
    console.print(f"run directory: {outcome.run_dir}")


def validate_command(
    config: Annotated[Path, typer.Argument(help="Experiment config (YAML).")],
) -> None:
    """Run every check on a config without drawing a completion."""
    resolved = validate(config)
    problem = resolved.problem
    console.print(
        f"{config}: ok — {len(problem.backend.prompt_ids)} prompts, "
        f"{len(problem.scales)} scales, {len(problem.contexts)} contexts, "
        f"budget {resolved.budget}, {problem.backend.strategy.name}, "
        f"algorithm {resolved.config.algorithm.name}"
    )
