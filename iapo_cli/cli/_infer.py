"""``iapo infer``: answer the rows of a file with the arm a trained run chose."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ._render import err_console, is_terminal, progress


def parse_weights(text: str, flag: str = "--weights") -> dict[str, float]:
    """'correct=1,cost=0.2' as {'correct': 1.0, 'cost': 0.2}; anything else is a
    ConfigError naming ``flag``."""
    weights: dict[str, float] = {}
    for item in text.split(","):
        name, equals, value = item.partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not equals or not name or not math.isfinite(number):
            raise ConfigError(f"'{item.strip()}' is not name=number (e.g. "
                              f"correct=1,cost=0.2)", field=flag)
        if name in weights:
            raise ConfigError(f"'{name}' is given twice", field=flag)
        weights[name] = number
    return weights


def infer_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by iapo optimize.")],
    input_path: Annotated[Path, typer.Option(
        "--input", help="Rows to answer: .jsonl or .csv with the fields the prompt's "
                        "template names (an 'id' field, if every row has one, names the "
                        "row in the output).")],
    context: Annotated[str | None, typer.Option(
        help="The trained context whose choice answers.")] = None,
    weights: Annotated[str | None, typer.Option(
        help="Instead of --context: weights of a context that was not trained, e.g. "
             "correct=1,cost=0.2 (chosen from the run's pulls).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write the JSON lines here (default: stdout).")] = None,
    max_usd: Annotated[float | None, typer.Option(
        help="Pay at most this many USD (checked at worst case before sending; needs "
             "prices and max_tokens).")] = None,
    max_completions: Annotated[int | None, typer.Option(
        help="Pay for at most this many completions (cached ones are free).")] = None,
    concurrency: Annotated[int | None, typer.Option(
        help="Requests in flight at once (default: the run's config).")] = None,
    completions: Annotated[bool, typer.Option(
        "--completions", help="Include the N completion texts in each line.")] = False,
) -> None:
    """Answer every row of --input with the (prompt, model, N, strategy) a trained run
    deploys for a context: one JSON line per row (id, answer, vote_share or score, tied,
    n, cached, tokens, usd). Resumable: completions come from the run's cache, so a rerun
    (after Ctrl-C or a cap) pays only for what it has not received.

    Exit codes: 0 every row answered, 1 a cap or a provider failure stopped it (the rows
    answered are written), 2 bad input (nothing sent), 130 interrupted.
    """
    from ..run import infer

    if (context is None) == (weights is None):
        raise ConfigError("give --context or --weights (one of them)", field="--context")
    parsed = None if weights is None else parse_weights(weights)
    to_stdout = out is None
    with progress("rows", 1) as update:
        shown = [-1]

        def advance(done: int, total: int) -> None:
            step = done * 10 // max(total, 1)  # plain output: one line per 10 %
            if to_stdout and not is_terminal():
                return  # stdout carries the answers
            if is_terminal() or step != shown[0]:
                shown[0] = step
                update(done, total)

        try:
            outcome = infer(run_dir, input_path, context=context, weights=parsed, out=out,
                            max_usd=max_usd, max_completions=max_completions,
                            concurrency=concurrency, with_completions=completions,
                            progress=advance)
        except Exception as exc:
            if to_stdout:  # the rows answered before a cap or Ctrl-C stopped it
                _print_lines(getattr(exc, "lines", None) or [])
            raise
    if to_stdout:
        _print_lines(outcome.lines)
    arm = outcome.arm
    usd = "unpriced" if outcome.usd is None else f"${outcome.usd:.4g}"
    where = f"; wrote {outcome.out}" if outcome.out is not None else ""
    none = f" ({outcome.unanswered} without an answer: no completion held one the run's " \
        f"extractor finds)" if outcome.unanswered else ""
    err_console.print(
        f"answered {outcome.answered}/{outcome.rows} rows{none} with {arm.arm} at N={arm.n} "
        f"({arm.strategy}, context {arm.context}, {arm.samples} training samples behind "
        f"it): {outcome.fresh} completions paid, "
        f"{outcome.cached} from the cache, {usd}{where}", markup=False, highlight=False,
        soft_wrap=True)


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
