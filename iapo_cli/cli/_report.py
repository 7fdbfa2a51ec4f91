"""``iapo report``: figures and report.md for a run or a study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._render import console


def report_command(
    path: Annotated[Path, typer.Argument(help="A run directory (iapo optimize) or a bench "
                                         "directory (iapo bench --out).")],
) -> None:
    """Write PNG figures and a report.md that embeds them."""
    from ..report import write_report

    report = write_report(path)
    for figure in report.figures:
        console.print(f"wrote {figure}")
    console.print(f"wrote {report.path}")
