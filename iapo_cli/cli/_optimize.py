"""``iapo optimize`` and ``iapo validate``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ._render import console, health_lines, parse_budget, progress, table


def optimize_command(
    config: Annotated[Path, typer.Argument(help="Experiment config (YAML).")],
    out: Annotated[Path | None, typer.Option(help="Run directory (default "
                                             "<output>/<name>-<UTC timestamp>/).")] = None,
    budget: Annotated[str | None, typer.Option(
        help="Override the config's budget (in its unit: completions, tokens, USD, cost).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the config's seed.")] = None,
    resume: Annotated[Path | None, typer.Option(
        help="Continue an interrupted or failed run in this run directory (same config, "
             "budget and seed); completions it already paid for come from the cache.")] = None,
) -> None:
    """Pick, for every context, the (prompt, N) to deploy, within the completion budget."""
    from ..artifacts import spend_text
    from ..run import optimize, plan_estimate
    from ._plan import estimate_line

    if resume is not None and out is not None:
        raise ConfigError("use --resume or --out, not both", field="--out")
    with progress("training", 1) as update:
        def observer(round_: int, rounds: int, spent: float, total: float) -> None:
            shown = f"{spent}/{total}" if isinstance(total, int) else f"{spent:.4g}/{total:g}"
            update(round_, rounds, f"round {round_}/{rounds}, spent {shown}")

        outcome = optimize(config, out, parse_budget(budget), seed, observer, resume=resume,
                           on_start=lambda resolved: console.print(
                               estimate_line(plan_estimate(resolved)), soft_wrap=True))
    console.print(table(policy_view(outcome.policy_table),
                        f"policy ({outcome.resolved.problem.backend.strategy.name})"))
    result = outcome.result
    unit = outcome.resolved.budget_unit
    spent = f"{result.spent}/{result.budget} completions" if unit == "completions" else \
        f"{spend_text(result.spent, result.budget, unit)} ({result.completions} completions)"
    console.print(f"spent {spent} in {result.pulls} pulls, {result.rounds} rounds, "
                  f"{outcome.seconds:.2f} s")
    usage = outcome.usage
    if usage:
        console.print(usage_line(usage))
        for note in usage.get("notes") or []:
            console.print(f"note: {note}")
    unanswered = health_lines(outcome.answer_health)
    if unanswered:
        console.print("answer health: " + unanswered[0], soft_wrap=True)
        for line in unanswered[1:]:
            console.print(line, soft_wrap=True)
        console.print(f"see them: iapo samples {outcome.run_dir} --unparsed", soft_wrap=True)
    console.print(f"run directory: {outcome.run_dir}")


def policy_view(frame):
    """policy.csv's columns a person compares: the chosen arm (with its ``model`` on a
    run with several models) and its estimate, its expected USD per 1000 queries when the
    run is priced (``usd_per_query`` x 1000; 'n/a' for an unpriced arm), the samples behind
    it, the inference-agnostic choice with its estimate in the same units (cost included),
    and ``fallback`` when a context needed one."""
    arm = ["context", "prompt", *(["model"] if "model" in frame.columns else []), "n",
           "estimated_utility"]
    view = frame[arm].copy()
    if "usd_per_query" in frame.columns and frame["usd_per_query"].notna().any():
        view["usd_per_1k_queries"] = [
            "n/a" if math.isnan(u) else f"${1000 * u:.4g}" for u in frame["usd_per_query"]]
    view["samples"] = frame["samples"]
    view["agnostic"] = [f"{p}@{n}" for p, n in zip(frame["agnostic_prompt"],
                                                  frame["agnostic_n"], strict=True)]
    view["agnostic_utility"] = frame["agnostic_utility"]
    for flag in ("fallback", "over_cap"):  # over_cap: no arm within the context's caps
        if flag in frame.columns:
            view[flag] = frame[flag]
    return view


def usage_line(usage: dict) -> str:
    """'model: 412 HTTP requests, 3020 completions (980 from cache), tokens, money'."""
    done = usage["this_attempt"].get("completion", {})
    money = done.get("cost")
    text = (f"{usage['model']}: {done.get('requests', 0)} requests, "
            f"{done.get('completions', 0)} completions ({done.get('cached', 0)} from cache), "
            f"{done.get('prompt_tokens', 0)} prompt + {done.get('completion_tokens', 0)} "
            f"completion tokens billed")
    text += f", ${money:.4f}" if money is not None else ", price unknown"
    unreceived = sum(k["completions"]
                     for k in (usage.get("possibly_billed_not_received") or {}).values())
    if unreceived:
        text += f"; {unreceived} completions possibly billed, not received"
    if "judge" in usage["this_attempt"]:
        text += f"; judge: {usage['this_attempt']['judge']['requests']} requests"
    return text


def validate_command(
    config: Annotated[Path, typer.Argument(help="Experiment config (YAML).")],
) -> None:
    """Run every check on a config without drawing a completion (a key missing from the
    environment is a warning here; optimize, evaluate and record refuse to start)."""
    from ..run import validate

    resolved = validate(config, require_keys=False)
    problem = resolved.problem
    console.print(
        f"{config}: ok — {len(problem.backend.prompt_ids)} prompts, "
        f"{len(problem.scales)} scales, {len(problem.contexts)} contexts, "
        f"budget {resolved.budget}"
        f"{'' if resolved.budget_unit == 'completions' else ' ' + resolved.budget_unit}, "
        f"{problem.backend.strategy.name}, "
        f"algorithm {resolved.config.algorithm.name}"
    )
    for field, problem_text in resolved.env.info.get("missing_environment", ()):
        console.print(f"warning: {config}: {field}: {problem_text}; optimize, evaluate and "
                      f"record refuse to start until it is set", soft_wrap=True)
