"""Datasets (JSONL or CSV) and prompt templates that fill fields without ever
interpreting the data."""

from __future__ import annotations

import csv
import io
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError


@dataclass(frozen=True)
class Dataset:
    rows: tuple[dict, ...]
    ids: tuple[str, ...]
    fields: frozenset[str]  # fields present in every row

    def __len__(self) -> int:
        return len(self.rows)


def load_dataset(path: str | Path, id_field: str | None = None, source: str | None = None,
                 field: str = "dataset.path", min_rows: int = 5) -> Dataset:
    """Rows of a ``.jsonl`` (one JSON object per line) or ``.csv`` (header row) file.
    Values are kept as strings (JSON numbers are written back as text).

    Both are read as UTF-8 with or without a byte-order mark. JSONL lines end at ``\n``
    only (a U+2028 inside a string is text); CSV is read by the csv module, so a quoted
    field may hold newlines; a CSV row with more or fewer fields than the header, or a
    header naming a field twice, is a ConfigError naming the line. Errors name ``field``
    (the config key or flag the file came from); fewer than ``min_rows`` rows is one.
    """
    path = Path(path)
    where = source or str(path)
    if not path.is_file():
        raise ConfigError(f"file not found: {path}", source=where, field=field)
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")  # an editor's byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path} ({type(exc).__name__})", source=where,
                          field=field) from None
    rows: list[dict] = []
    if suffix in (".jsonl", ".ndjson"):
        # not str.splitlines: it also splits at U+2028, U+0085 and others JSON keeps in text
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path} line {number}: not JSON ({exc.msg})", source=where,
                                  field=field) from None
            if not isinstance(row, dict):
                raise ConfigError(f"{path} line {number}: must be a JSON object",
                                  source=where, field=field)
            rows.append({str(k): _text(v) for k, v in row.items()})
    elif suffix == ".csv":
        rows = _csv_rows(text, path, where, field)
    else:
        raise ConfigError(f"{path}: use a .jsonl or .csv file", source=where,
                          field=field)
    if len(rows) < min_rows:
        message = (f"{path} has {len(rows)} rows; at least {min_rows} are needed"
                   if min_rows > 1 else f"{path} has no rows")
        raise ConfigError(message, source=where, field=field)
    fields = frozenset.intersection(*(frozenset(r) for r in rows))
    if id_field is not None:
        if id_field not in fields:
            raise ConfigError(f"'{id_field}' is not a field of every row", source=where,
                              field="dataset.id_field")
        ids = tuple(r[id_field] for r in rows)
        if len(set(ids)) != len(ids):
            raise ConfigError(f"'{id_field}' values repeat", source=where,
                              field="dataset.id_field")
    else:
        ids = tuple(str(i) for i in range(len(rows)))
    return Dataset(tuple(rows), ids, fields)


DUPLICATE_POLICIES = ("error", "drop", "keep")


def handle_duplicates(dataset: Dataset, fields: Sequence[str], policy: str,
                      source: str | None = None) -> Dataset:
    """``dataset`` after applying ``policy`` to rows that repeat an earlier row in every one
    of ``fields`` (the fields the prompts show the model): ``keep`` returns it unchanged,
    ``drop`` keeps the first row of each repeated question (ids stay attached to their
    rows), ``error`` raises a ConfigError (field ``dataset.duplicates``) naming how many
    rows repeat and the first of them. Dropping below 5 rows is a ConfigError too."""
    if policy not in DUPLICATE_POLICIES:
        raise ValueError(f"unknown duplicates policy {policy!r}")
    first: dict[tuple, int] = {}
    repeats: list[tuple[int, int]] = []  # (row, the earlier row it repeats)
    for i, row in enumerate(dataset.rows):
        key = tuple(row.get(name) for name in fields)
        if key in first:
            repeats.append((i, first[key]))
        else:
            first[key] = i
    if not repeats or policy == "keep":
        return dataset
    shown = ", ".join(fields) or "no field at all"
    if policy == "error":
        row, earlier = repeats[0]
        raise ConfigError(
            f"{len(repeats)} of {len(dataset)} rows repeat an earlier row in what the prompts "
            f"show ({shown}), e.g. row {dataset.ids[row]!r} repeats {dataset.ids[earlier]!r}; "
            f"set it to drop (use the first of each) or keep (each row its own samples)",
            source=source, field="dataset.duplicates")
    kept = sorted(first.values())
    if len(kept) < 5:
        raise ConfigError(f"{len(kept)} distinct rows remain in what the prompts show "
                          f"({shown}); at least 5 are needed", source=source,
                          field="dataset.duplicates")
    return Dataset(tuple(dataset.rows[i] for i in kept), tuple(dataset.ids[i] for i in kept),
                   dataset.fields)


def _csv_rows(text: str, path: Path, where: str, field: str) -> list[dict]:
    """The rows of a CSV text with a header; quoted fields may span lines. Strict: an
    unclosed quote is an error, not a field that swallows the rest of the file."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return []
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise ConfigError(f"{path} line 1: the header names '{repeated[0]}' twice",
                              source=where, field=field)
        rows = []
        for values in reader:
            if not values:  # a blank line
                continue
            if len(values) != len(header):
                raise ConfigError(f"{path} line {reader.line_num}: {len(values)} fields, the "
                                  f"header has {len(header)}", source=where,
                                  field=field)
            rows.append(dict(zip(header, values, strict=True)))
    except csv.Error as exc:
        raise ConfigError(f"{path} line {reader.line_num}: not CSV ({exc})", source=where,
                          field=field) from None
    return rows


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


class Template:
    """A prompt template with ``{field}`` placeholders (``{{`` and ``}}`` for braces).

    Rendering joins literal text and field values, so braces inside the data are never
    read as placeholders. Only plain field names are allowed (no ``{a.b}``, ``{a!r}``).
    """

    def __init__(self, text: str):
        self.text = text
        self._parts: list[tuple[str, str | None]] = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise ValueError(f"malformed template ({exc}); write {{{{ and }}}} for braces"
                             ) from None
        for literal, name, spec, conversion in parsed:
            if name == "":
                raise ValueError("empty placeholder {}; write {{}} for literal braces")
            if name is not None and (not name.isidentifier() or spec or conversion):
                raise ValueError(f"placeholder {{{name}}} must be a plain field name")
            self._parts.append((literal, name))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for _, n in self._parts if n is not None))

    def render(self, row: dict) -> str:
        return "".join(literal + (str(row[name]) if name is not None else "")
                       for literal, name in self._parts)
