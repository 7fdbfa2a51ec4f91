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
