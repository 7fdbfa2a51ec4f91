"""Terminal output: rich on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

console = Console()
if not console.is_terminal:  # logs and pipes: do not squeeze tables into 80 columns
    console = Console(width=160)
err_console = Console(stderr=True, width=10_000)


def is_terminal() -> bool:
    return console.is_terminal


def table(frame: pd.DataFrame, title: str, floats: str = "{:.4f}") -> Table:
    out = Table(title=title)
    for col in frame.columns:
        out.add_column(str(col), justify="right" if frame[col].dtype.kind in "fiu" else "left")
    for row in frame.itertuples(index=False):
        out.add_row(*[floats.format(v) if isinstance(v, float) else str(v) for v in row])
    return out


@contextmanager
def progress(label: str, total: int):
    """Yields ``update(done, total, text)``: a live bar on a terminal, else plain lines."""
    if is_terminal():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task(label, total=total)

            def update(done: int, total_: int, text: str = "") -> None:
                bar.update(task, completed=done, total=total_,
                           description=f"{label} {text}".strip())

            yield update
    else:
        def update(done: int, total_: int, text: str = "") -> None:
            print(f"{label}: {done}/{total_} {text}".rstrip(), file=sys.stdout, flush=True)

        yield update


def health_lines(summary: dict | None, limit: int = 8) -> list[str]:
    """Lines for a person when not every completion of a run was answered (``summary``:
    summary.json's ``answer_health``): per model, then the arms with the largest share not
    answered (at most ``limit``); none when all were."""
    if not summary:
        return []
    out = []
    for model, counts in summary["models"].items():
        total = counts["completions"]
        missing = total - counts["answered"]
        if total and missing:
            parts = ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in summary["outcomes"][1:]
                              if counts[k])
            out.append(f"{model}: {missing} of {total} completions not answered ({parts})")
    if not out:
        return []
    arms = sorted((a for a in summary["arms"] if a["completions"] > a["answered"]),
                  key=lambda a: -(a["completions"] - a["answered"]) / a["completions"])
    for arm in arms[:limit]:
        share = (arm["completions"] - arm["answered"]) / arm["completions"]
        out.append(f"  {arm['arm']}: {share:.0%} of {arm['completions']} not answered")
    return out


def parse_budget(text: str | None, flag: str = "--budget") -> int | float | None:
    """A budget given on the command line: an integer as written (exactly, however large),
    else a decimal number (a budget in USD or cost units); anything else a ConfigError
    naming ``flag``."""
    from ..errors import ConfigError

    if text is None:
        return None
    value = text.strip()
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{text!r} is not a number", field=flag) from None
