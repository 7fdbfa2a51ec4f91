"""``iapo samples``: what the model said, from a run's cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ._render import console


def samples_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory of a live model "
                                            "(iapo optimize).")],
    context: Annotated[str | None, typer.Option(
        help="Only the arm the policy deploys for this context.")] = None,
    arm: Annotated[str | None, typer.Option(
        help="Only this arm: a prompt id (prompt@model with several models).")] = None,
    query: Annotated[str | None, typer.Option(
        help="Only this query (its dataset id).")] = None,
    unparsed: Annotated[bool, typer.Option(
        "--unparsed", help="Only completions without an answer (none found, empty, or cut "
                           "at max_tokens).")] = False,
    wrong: Annotated[bool, typer.Option(
        "--wrong", help="Only completions whose answer is not the gold (with --unparsed: "
                        "either).")] = False,
    split: Annotated[str | None, typer.Option(
        help="Only the train or the test split's queries.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 20,
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per line (prompt, model, query, split, slot, text, "
                       "answer, gold, verdict, outcome, finish_reason).")] = False,
) -> None:
    """Print completions a live run paid for, from its cache (nothing is sent), with the
    answer extracted, the gold and the verdict."""
    from ..run import samples

    records = samples(run_dir, context=context, arm=arm, query=query, unparsed=unparsed,
                      wrong=wrong, split=split, limit=limit)
    if as_json:
        for record in records:
            print(json.dumps(record.as_dict(), ensure_ascii=False))
        return
    if not records:
        console.print("no cached completion matches", soft_wrap=True)
        return
    for record in records:
        arm_id = record.prompt if record.model is None else f"{record.prompt}@{record.model}"
        finish = f", finish {record.finish_reason}" if record.finish_reason not in (
            None, "stop") else ""
        console.print(f"── {arm_id} · query {record.query} ({record.split}) · slot "
                      f"{record.slot} · answer {record.answer!r} · gold {record.gold!r} · "
                      f"{record.verdict} ({record.outcome.replace('_', ' ')}{finish})",
                      markup=False, highlight=False, soft_wrap=True)
        console.print(record.text if record.text.strip() else "(empty)", markup=False,
                      highlight=False, soft_wrap=True)
    more = "" if len(records) < limit else f" (the first {limit}; --limit shows more)"
    console.print(f"{len(records)} completion(s){more}", soft_wrap=True)
