"""``iapo evaluate``: the policy on held-out queries, next to the usual recipes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

from ..errors import BelowMinimum
from ._render import console, is_terminal, progress, table


def _arm(prompt: str, n: int) -> str:
    return f"{prompt}@{n}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.0f}%"


def evaluate_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by iapo optimize.")],
    budget: Annotated[int | None, typer.Option(
        help="Live runs: most completions to request (cached ones count too). Default: the "
             "policy and the comparisons once per test query.")] = None,
    min_acr: Annotated[float | None, typer.Option(
        help="Exit with code 3 when the policy's test ACR is below this.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON (for scripts).")]
        = False,
) -> None:
    """Score the run's policy on its test queries, per context and as ACR, next to the
    inference-agnostic choice, its best fixed N, the best single arm and the oracle.

    Exit codes: 0 done (and the policy meets --min-acr), 3 the policy is below --min-acr,
    1 runtime failure, 2 bad input, 130 interrupted.
    """
    import math

    import pandas as pd

    from ..artifacts import RunDir
    from ..errors import ConfigError
    from ..evaluation import ORACLE, POLICY
    from ..run import evaluate, write_evaluation

    if min_acr is not None and not math.isfinite(min_acr):  # before any completion
        raise ConfigError(f"must be a finite number, got {min_acr}", field="--min-acr")

    if as_json:
        outcome = evaluate(run_dir, budget)
    else:
        with progress("test completions", 1) as update:
            shown = [-1]

            def advance(done: int, total: int) -> None:
                step = done * 10 // max(total, 1)  # plain output: one line per 10 %
                if is_terminal() or step != shown[0]:
                    shown[0] = step
                    update(done, total)

            outcome = evaluate(run_dir, budget, advance)
    data = write_evaluation(outcome, min_acr)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        rows = []
        oracle = outcome.score(ORACLE) is not None
        for item in data["comparisons"]:
            row = {"comparison": item["name"]}
            for ctx in item["contexts"]:
                row[ctx["context"]] = f"{_arm(ctx['prompt'], ctx['n'])}  {ctx['value']:.4f}"
            row["ACR ± sem"] = f"{item['acr']:.4f} ± {item['acr_sem']:.4f}"
            if oracle:
                row["regret"] = f"{item['regret']:.4f}"
                row["oracle gain"] = _percent(item["gain_captured"])
            rows.append(row)
        how = ("exact expected values" if outcome.method == "exact" else
               f"sampled, {outcome.spent} completions")
        console.print(table(pd.DataFrame(rows), f"test split: {outcome.test_queries} queries, "
                                                 f"{how}"))
        if outcome.skipped:
            console.print(f"not evaluated (budget {outcome.budget}): "
                          f"{', '.join(outcome.skipped)}; raise --budget to include them")
        if outcome.score(ORACLE) is not None:
            console.print(f"{POLICY} captures {_percent(outcome.gain(POLICY))} of the "
                          "oracle's gain over the inference-agnostic choice")
        files = RunDir(outcome.run_dir)
        console.print(f"wrote {files.file(RunDir.EVALUATION)} and "
                      f"{files.file(RunDir.EVALUATION_TABLE)}")
    if min_acr is not None and outcome.policy.acr < min_acr:
        raise BelowMinimum(f"policy ACR {outcome.policy.acr:.4f} is below --min-acr "
                           f"{min_acr:g}")
