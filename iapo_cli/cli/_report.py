"""``iapo report``: figures, report.md and report.html for a run or a study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._render import console


def report_command(
    path: Annotated[Path, typer.Argument(help="A run directory (iapo optimize) or a bench "
                                         "directory (iapo bench --out).")],
) -> None:
    """Write PNG figures, a report.md that embeds them and report.html: one self-contained
    page (figures inline, loads nothing) with, for a live run, completions per arm from its
    cache (nothing is sent)."""
    from ..run import build_report

    report = build_report(path)
    for figure in report.figures:
        console.print(f"wrote {figure}")
    console.print(f"wrote {report.path}")
    if report.html is not None:
        console.print(f"wrote {report.html}")
