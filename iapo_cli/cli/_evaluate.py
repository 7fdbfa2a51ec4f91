"""``iapo evaluate``: the policy on held-out queries, next to the usual recipes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.table import Table

from ..errors import BelowMinimum
from ._render import console, health_lines, is_terminal, progress


def _arm(ctx: dict) -> str:
    """'prompt@N', or 'prompt/model@N' on a run with several models."""
    model = f"/{ctx['model']}" if ctx.get("model") is not None else ""
    return f"{ctx['prompt']}{model}@{ctx['n']}"


def _dollars(value: float | None) -> str:
    """USD per 1000 queries ('n/a' when unpriced)."""
    return "n/a" if value is None else f"${value:.4g}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.0f}%"


def _cell(ctx: dict) -> str:
    usd = (f" {_dollars(ctx['usd_per_1k_queries'])}/1k" if "usd_per_1k_queries" in ctx
           else "")
    return f"{_arm(ctx)} {ctx['value']:.4f}{usd}"


def _summary_rows(comparisons: list[dict]) -> list[tuple[str, list[str]]]:
    """(label, one cell per comparison): ACR ± sem, and regret and oracle gain when the
    oracle was evaluated."""
    rows = [("ACR ± sem", [f"{c['acr']:.4f} ± {c['acr_sem']:.4f}" for c in comparisons])]
    if any("usd_per_1k_queries" in c for c in comparisons):  # the run records USD
        rows.append(("USD / 1k queries", [_dollars(c.get("usd_per_1k_queries"))
                                          for c in comparisons]))
    if any(c["regret"] is not None for c in comparisons):
        rows.append(("regret", ["n/a" if c["regret"] is None else f"{c['regret']:.4f}"
                                for c in comparisons]))
        rows.append(("oracle gain", [_percent(c["gain_captured"]) for c in comparisons]))
    return rows


def _wide_table(data: dict, title: str) -> Table:
    comparisons = data["comparisons"]
    out = Table(title=title)
    out.add_column("context", overflow="fold")
    for item in comparisons:
        out.add_column(item["name"], overflow="fold")
    for c, ctx in enumerate(comparisons[0]["contexts"]):
        out.add_row(str(ctx["context"]), *[_cell(item["contexts"][c]) for item in comparisons])
    out.add_section()
    for label, cells in _summary_rows(comparisons):
        out.add_row(label, *cells)
    return out


def _long_tables(data: dict, title: str) -> Group:
    """For a console too narrow for one column per comparison: per context a block of
    rows (comparison, arm, value), then the summary with comparisons as rows."""
    comparisons = data["comparisons"]
    per_context = Table(title=title)
    priced = "usd_per_1k_queries" in comparisons[0]["contexts"][0]
    for name in ("context", "comparison", "arm", "test utility",
                 *(["USD / 1k queries"] if priced else [])):
        per_context.add_column(name, overflow="fold")
    for c, first in enumerate(comparisons[0]["contexts"]):
        for i, item in enumerate(comparisons):
            ctx = item["contexts"][c]
            usd = [_dollars(ctx["usd_per_1k_queries"])] if priced else []
            per_context.add_row(str(first["context"]) if i == 0 else "", item["name"],
                                _arm(ctx), f"{ctx['value']:.4f}", *usd,
                                end_section=i == len(comparisons) - 1)
    summary = Table()
    summary.add_column("comparison", overflow="fold")
    rows = _summary_rows(comparisons)
    for label, _ in rows:
        summary.add_column(label, overflow="fold")
    for i, item in enumerate(comparisons):
        summary.add_row(item["name"], *[cells[i] for _, cells in rows])
    return Group(per_context, summary)


def evaluation_table(data: dict, title: str, width: int | None = None) -> Table | Group:
    """evaluation.json's ``data`` with one row per context (any number of them): one
    column per comparison, each cell the arm deployed and its mean test utility (and its
    estimated USD per 1000 queries when the run records prices), then summary rows (ACR ±
    sem; USD per 1000 queries over the context mix when priced; regret and oracle gain
    when the oracle was evaluated). When
    that does not fit in ``width`` columns, per context one row per comparison instead,
    and the summary as its own table. Cells fold rather than truncate: no name is cut."""
    wide = _wide_table(data, title)
    if width is None or Console(width=100_000).measure(wide).maximum <= width:
        return wide
    return _long_tables(data, title)


def evaluate_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by iapo optimize.")],
    budget: Annotated[int | None, typer.Option(
        help="Live runs: most completions to request (cached ones count too). Default: the "
             "policy and the comparisons once per test query.")] = None,
    min_acr: Annotated[float | None, typer.Option(
        help="Exit with code 3 when the policy's test ACR is below this.")] = None,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", help="Let --min-acr pass a run that did not complete "
                                "(interrupted or failed); by default such a run fails it.")]
        = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON (for scripts).")]
        = False,
) -> None:
    """Score the run's policy on its test queries, per context and as ACR, next to the
    inference-agnostic choice, its best fixed N, the best single arm and the oracle (and,
    on runs with several models or prices, the best single model at N=1 and the cheapest
    arm within 1 point of the best), with USD per 1000 queries when the run is priced.
    A run that did not complete (interrupted, failed) is evaluated and said to be partial.

    Exit codes: 0 done (and the policy meets --min-acr), 3 the policy is below --min-acr
    or, with --min-acr, the run is partial and --allow-partial is not given, 1 runtime
    failure, 2 bad input, 130 interrupted.
    """
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
    data = write_evaluation(outcome, min_acr, allow_partial)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        how = ("exact expected values" if outcome.method == "exact" else
               f"sampled, {outcome.spent} completions")
        partial = f"; PARTIAL RUN ({outcome.run_status})" if outcome.partial else ""
        console.print(evaluation_table(data, f"test split: {outcome.test_queries} queries, "
                                             f"{how}; per context: arm, mean test utility"
                                             f"{partial}", console.width))
        if outcome.partial:  # in the title and again below a table that may be long
            console.print(f"warning: {outcome.partial_note()}", markup=False,
                          highlight=False)
        if outcome.skipped:
            console.print(f"not evaluated (budget {outcome.budget}): "
                          f"{', '.join(outcome.skipped)}; raise --budget to include them")
        if outcome.score(ORACLE) is not None:
            console.print(f"{POLICY} captures {_percent(outcome.gain(POLICY))} of the "
                          "oracle's gain over the inference-agnostic choice")
        for what, health in (("training", outcome.answer_health),
                             ("test", outcome.test_answer_health)):
            lines = health_lines(health)
            if lines:
                console.print(f"answer health ({what}): {lines[0]}", soft_wrap=True)
                for line in lines[1:]:
                    console.print(line, soft_wrap=True)
        files = RunDir(outcome.run_dir)
        console.print(f"wrote {files.file(RunDir.EVALUATION)} and "
                      f"{files.file(RunDir.EVALUATION_TABLE)}")
    failure = outcome.min_acr_failure(min_acr, allow_partial)
    if failure is not None:
        raise BelowMinimum(failure)
