"""``iapo record``: completions for every (prompt, train query) into a replay file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._render import console, is_terminal, progress


def record_command(
    config: Annotated[Path, typer.Argument(help="Experiment config with a live backend.")],
    samples: Annotated[int, typer.Option(help="Completions per (prompt, train query).")],
    out: Annotated[Path | None, typer.Option(
        help="Replay file (default <output>/<name>.replay.npz).")] = None,
) -> None:
    """Record completions for offline studies (``backend: {kind: replay, path: ...}`` and
    ``iapo bench --env``). Cache-aware: an interrupted recording resumes where it stopped."""
    from ..run import record

    with progress("recording", 1) as update:
        state = {"done": 0, "shown": -1}

        def advance(count: int) -> None:
            state["done"] += count
            total = state.get("total", 0)
            if total == 0:
                return
            step = state["done"] * 10 // total  # plain output: one line per 10 %
            if is_terminal() or step != state["shown"]:
                state["shown"] = step
                update(state["done"], total, "completions")

        def set_total(total: int) -> None:
            state["total"] = total

        outcome = record(config, samples, out, advance, set_total)
    done = next(iter(outcome.usage.values()), {})
    console.print(f"recorded {outcome.completions} completions "
                  f"({done.get('cached', 0)} from cache, {done.get('requests', 0)} HTTP "
                  f"requests) into {outcome.path}")
