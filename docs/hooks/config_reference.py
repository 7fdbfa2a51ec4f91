"""MkDocs hook: the configuration reference, written from the schema at build time.

``docs/reference/configuration.md`` holds a marker; this hook replaces it with every config
section's keys (type, limits, default, what the key does), read by the same function
``iapo explain`` prints (``iapo_cli.config.describe_fields``), so the page cannot drift
from what the schema validates. It also adds ARCHITECTURE.md and CHANGELOG.md from the
project root to the site as ``architecture.md`` and ``changelog.md``, so the site shows
the files the repository keeps there instead of copies.

Offline and fast: it imports the schema (pydantic) and nothing that reaches a network.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

from iapo_cli.config import SectionDoc, describe_fields

MARKER = "<!-- iapo:config-reference -->"
ROOT = Path(__file__).resolve().parents[2]
ROOT_PAGES = {"architecture.md": "ARCHITECTURE.md", "changelog.md": "CHANGELOG.md"}
_SPECIAL = "\\`*_[]|"


def on_files(files, config):
    for uri, name in ROOT_PAGES.items():
        files.append(File.generated(config, uri, abs_src_path=str(ROOT / name)))
    return files


def on_page_markdown(markdown, page, config, files):
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, config_reference())
    return markdown


def anchor(path: str) -> str:
    """The id of a section's heading: 'backend.live' -> 'backend-live'; '' -> 'config'."""
    return path.replace(".", "-") if path else "config"


def inline(text: str) -> str:
    """A docstring as markdown text: ``code`` spans kept as code, everything else escaped
    (a regular expression in a doc is text, not emphasis)."""
    out = []
    for i, part in enumerate(re.split(r"``(.+?)``", text)):
        if i % 2:
            out.append(f"`{part}`")
        else:
            for char in _SPECIAL:
                part = part.replace(char, "\\" + char)
            out.append(part.replace("<", "&lt;"))
    return "".join(out)


def _default(value: str | None, section: str | None) -> str:
    if value is None:
        return "required"
    if section is not None and not value.startswith(("{", "[", '"', "null")):
        return f"[its section's defaults](#{anchor(section)})"
    return f"`{value}`"


def _table(doc: SectionDoc) -> list[str]:
    lines = ["| key | type | default | what it does |", "|---|---|---|---|"]
    for field in doc.fields:
        what = inline(field.doc)
        if field.section:
            what += f" See [`{field.section}`](#{anchor(field.section)})."
        lines.append(f"| `{field.name}` | `{field.type}` | "
                     f"{_default(field.default, field.section)} | {what} |")
    return lines


def _render(path: str, seen: set[str], out: list[str], toc: list[str]) -> None:
    seen.add(path)
    docs = describe_fields(path)
    title = path or "top level"
    if len(docs) == 1:
        out += ["", f"### `{title}` {{#{anchor(path)}}}", "", inline(docs[0].summary), "",
                f"`{f'iapo explain {path}'.strip()}` prints this section.", "",
                *_table(docs[0])]
    else:  # several models at one path: the backend kinds, contexts as a list or a grid
        out += ["", f"### `{title}` {{#{anchor(path)}}}", "",
                f"`iapo explain {path}` prints these {len(docs)} forms."]
        for i, doc in enumerate(docs):
            name = doc.path if doc.path != path else f"{path} ({i + 1} of {len(docs)})"
            ident = anchor(doc.path) if doc.path != path else f"{anchor(path)}-{i + 1}"
            out += ["", f"#### `{name}` {{#{ident}}}", "", inline(doc.summary), "",
                    *_table(doc)]
    toc.append(f"* [`{title}`](#{anchor(path)})")
    for doc in docs:
        for field in doc.fields:
            if field.section and field.section not in seen:
                _render(field.section, seen, out, toc)


def config_reference() -> str:
    """Every config section, the top level first and each section after the one that
    names it, with an index of links at the top."""
    out: list[str] = []
    toc: list[str] = []
    _render("", set(), out, toc)
    return "\n".join(["Sections:", "", *toc, *out, ""])
