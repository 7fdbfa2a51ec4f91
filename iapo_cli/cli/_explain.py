"""``iapo explain``: the config's keys, types, defaults and docs, read from the schema."""

from __future__ import annotations

from typing import Annotated

import typer

from ._render import console


def explain_command(
    section: Annotated[str | None, typer.Argument(
        help="A config section, e.g. cost, dataset or backend.live (default: the top "
             "level; backend: every backend kind).")] = None,
) -> None:
    """Show each key of the config (or of one section): type, default and what it does."""
    from ..config import describe_fields  # pydantic and the schema: only when asked

    for i, doc in enumerate(describe_fields(section)):
        lines = [""] if i else []
        lines.append(f"{doc.path or 'config'}: {doc.summary}")
        for field in doc.fields:
            default = "required" if field.default is None else f"default {field.default}"
            see = f"; see `iapo explain {field.section}`" if field.section else ""
            lines.append(f"  {field.name}: {field.type}, {default}{see}")
            lines.append(f"      {field.doc}")
        for line in lines:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
