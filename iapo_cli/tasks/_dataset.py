"""Datasets (JSONL, CSV, Parquet, Hugging Face datasets) and prompt templates that fill
fields without ever interpreting the data."""

from __future__ import annotations

import contextlib
import csv
import datetime
import decimal
import io
import json
import re
import string
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

PARQUET_SUFFIXES = (".parquet", ".pq")
_SAVED_DATASET = "state.json"  # what Dataset.save_to_disk writes next to its arrow files
_SAVED_DATASET_DICT = "dataset_dict.json"  # DatasetDict.save_to_disk: one directory a split


@dataclass(frozen=True)
class Dataset:
    rows: tuple[dict, ...]
    ids: tuple[str, ...]
    fields: frozenset[str]  # fields present in every row

    def __len__(self) -> int:
        return len(self.rows)


def load_dataset(path: str | Path, id_field: str | None = None, source: str | None = None,
                 field: str = "dataset.path", min_rows: int = 5,
                 split: str | None = None) -> Dataset:
    """Rows of a ``.jsonl``/``.ndjson`` (one JSON object per line), ``.csv`` (header row) or
    ``.parquet``/``.pq`` file, or of a directory written by a Hugging Face dataset's
    ``save_to_disk``. Values are kept as strings (see ``_text``: JSON numbers, lists and
    objects are written back as JSON text, null is empty).

    JSONL and CSV are read as UTF-8 with or without a byte-order mark. JSONL lines end at
    ``\n`` only (a U+2028 inside a string is text); CSV is read by the csv module, so a quoted
    field may hold newlines; a CSV row with more or fewer fields than the header, or a
    header naming a field twice, is a ConfigError naming the line. Parquet and saved
    datasets are read with pyarrow and ``datasets`` (imported only then): every column is
    a field of every row, a null is empty text like a JSONL null, pandas' unnamed index
    columns (``__index_level_0__``) are left out. A saved ``DatasetDict`` needs ``split``;
    a ``split`` given for a file, or naming no split of the directory, is a ConfigError at
    ``dataset.split`` (at ``field`` when that is not ``dataset.path``: a flag has no split).
    Errors name ``field`` (the config key or flag the file came from); fewer than
    ``min_rows`` rows is one. Nothing is written.
    """
    path = Path(path)
    where = source or str(path)
    split_field = "dataset.split" if field == "dataset.path" else field
    if path.is_dir():
        if not ((path / _SAVED_DATASET).is_file() or (path / _SAVED_DATASET_DICT).is_file()):
            raise ConfigError(f"file not found: {path} is a directory, and no Hugging Face "
                              f"dataset's save_to_disk wrote it (it has no "
                              f"{_SAVED_DATASET_DICT} or {_SAVED_DATASET})", source=where,
                              field=field)
        rows, label = _saved_rows(path, split, where, field, split_field)
        return _collect(rows, label, id_field, where, field, min_rows)
    if not path.is_file():
        raise ConfigError(f"file not found: {path}", source=where, field=field)
    if split is not None:
        raise ConfigError(f"a split applies to a Hugging Face dataset (a directory written by "
                          f"save_to_disk, or dataset.hf), not to the file {path}",
                          source=where, field=split_field)
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return _collect(_parquet_rows(path, where, field), str(path), id_field, where, field,
                        min_rows)
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
        raise ConfigError(f"{path}: use a .jsonl or .csv file (or .ndjson, .parquet, .pq, or "
                          f"a directory written by a Hugging Face dataset's save_to_disk)",
                          source=where, field=field)
    return _collect(rows, str(path), id_field, where, field, min_rows)


def load_hub_dataset(name: str, split: str, config: str | None = None,
                     revision: str | None = None, id_field: str | None = None,
                     source: str | None = None, min_rows: int = 5) -> Dataset:
    """The rows of split ``split`` of the Hugging Face Hub dataset ``name`` (configuration
    ``config``, git ``revision``), loaded as ``datasets.load_dataset(name, config,
    split=split, revision=revision)`` does: downloaded into the Hugging Face cache
    (``HF_HOME``, ``HF_DATASETS_CACHE``) the first time, read from there after, and only
    from there when ``HF_HUB_OFFLINE`` (or ``HF_DATASETS_OFFLINE``) is set. Values become
    text as a Parquet file's do (``load_dataset``).

    Every failure is one ConfigError at ``dataset.hf`` (``dataset.split``,
    ``dataset.config`` or ``dataset.revision`` when the library's message is about that):
    the hub unreachable and the dataset not cached says so; any other error of the
    library (unknown dataset, configuration or split, gated, a damaged cache) carries its
    message on one line. ``datasets`` prints nothing meanwhile (its progress bars and log
    lines are off while it loads, then restored).
    """
    where = source or name
    label = f"{name} ({', '.join(p for p in (config, split) if p)})"
    datasets = _import_datasets(where, "dataset.hf")
    with _quiet(datasets):
        try:
            loaded = datasets.load_dataset(name, config, split=split, revision=revision)
            table = loaded.with_format("arrow")[:]
        except ConnectionError as exc:  # datasets' own (OfflineModeIsEnabled is one)
            why = ("offline mode is on (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE)"
                   if datasets.config.HF_HUB_OFFLINE else _one_line(exc))
            raise ConfigError(f"cannot reach the Hugging Face Hub for '{name}' ({why}), and it "
                              f"is not in the local cache {datasets.config.HF_DATASETS_CACHE}",
                              source=where, field="dataset.hf") from None
        except Exception as exc:  # the library has no error type for bad input
            raise ConfigError(f"cannot load '{name}': {_one_line(exc)}", source=where,
                              field=_hub_field(exc)) from None
    return _collect(_arrow_rows(table, label, where, "dataset.hf"), label, id_field, where,
                    "dataset.hf", min_rows)


def _collect(rows: list[dict], label: str, id_field: str | None, where: str, field: str,
             min_rows: int) -> Dataset:
    """``rows`` as a Dataset: at least ``min_rows`` of them, ids from ``id_field`` (present in
    every row, never repeated) or the row numbers."""
    if len(rows) < min_rows:
        message = (f"{label} has {len(rows)} rows; at least {min_rows} are needed"
                   if min_rows > 1 else f"{label} has no rows")
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


def _parquet_rows(path: Path, where: str, field: str) -> list[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable Parquet file ({_one_line(exc)})",
                          source=where, field=field) from None
    return _arrow_rows(table, str(path), where, field)


def _saved_rows(path: Path, split: str | None, where: str, field: str,
                split_field: str) -> tuple[list[dict], str]:
    """The rows of the directory ``path`` written by ``save_to_disk`` (of the split ``split``
    of a DatasetDict) and the label errors name them by."""
    datasets = _import_datasets(where, field)
    with _quiet(datasets):
        try:
            loaded = datasets.load_from_disk(str(path))
        except Exception as exc:  # a damaged directory fails in many ways
            raise ConfigError(f"{path}: not a readable saved dataset ({_one_line(exc)})",
                              source=where, field=field) from None
    if isinstance(loaded, datasets.DatasetDict):
        names = ", ".join(loaded)
        if split is None:
            hint = ("name one in dataset.split" if split_field == "dataset.split" else
                    f"give one split's directory, e.g. {path / next(iter(loaded), '')}")
            raise ConfigError(f"{path} holds the splits {names}: {hint}", source=where,
                              field=split_field)
        if split not in loaded:
            raise ConfigError(f"unknown split '{split}' of {path} (its splits: {names})",
                              source=where, field=split_field)
        loaded = loaded[split]
    elif split is not None and str(loaded.split) != split:
        own = "" if loaded.split is None else f" (split {loaded.split})"
        raise ConfigError(f"{path} holds one dataset{own}, not a DatasetDict to choose a split "
                          f"from: leave the split out", source=where, field=split_field)
    label = str(path) if split is None else f"{path} (split {split})"
    try:
        table = loaded.with_format("arrow")[:]
    except Exception as exc:  # arrow files cut short or damaged
        raise ConfigError(f"{label}: not a readable saved dataset ({_one_line(exc)})",
                          source=where, field=field) from None
    return _arrow_rows(table, label, where, field), label


def _arrow_rows(table, label: str, where: str, field: str) -> list[dict]:
    """The rows of a pyarrow Table, every value as text (``_column_texts``); a column named
    twice, or a value with no text form, is a ConfigError naming the column."""
    names = table.column_names
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"{label}: the column '{repeated[0]}' appears twice", source=where,
                          field=field)
    index = _pandas_index_columns(table)
    columns: dict[str, list[str]] = {}
    for name in names:
        if name in index:
            continue
        try:
            columns[name] = _column_texts(table.column(name))
        except ValueError as exc:
            raise ConfigError(f"{label}: column '{name}' {exc}", source=where,
                              field=field) from None
    if not columns:  # rows without fields, as a JSONL file of {} lines gives
        return [{} for _ in range(table.num_rows)]
    return [dict(zip(columns, values, strict=True))
            for values in zip(*columns.values(), strict=True)]


def _pandas_index_columns(table) -> set[str]:
    """The columns pandas' ``to_parquet`` (or ``datasets``' ``from_pandas``) stored an
    unnamed index in: bookkeeping, not data. A named index is data and stays a field."""
    try:
        metadata = table.schema.pandas_metadata or {}
    except ValueError:  # metadata that is not JSON: no index to leave out
        return set()
    return {name for name in metadata.get("index_columns", ())
            if isinstance(name, str) and re.fullmatch(r"__index_level_\d+__", name)}


def _column_texts(column) -> list[str]:
    """A pyarrow column's values as text (``_text``). Raises ValueError naming the row of a
    value with no text form (bytes that are not UTF-8, for one)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(column.type) and column.type.bit_width < 64:
        # Arrow writes a float32 as its shortest decimal (0.1); as a Python float it would
        # read 0.10000000149011612. Parsed back, JSON writes it as a float64 column's value.
        values = [None if v is None else float(v)
                  for v in pc.cast(column, pa.string()).to_pylist()]
    else:
        values = column.to_pylist()
    texts = []
    for row, value in enumerate(values):
        try:
            texts.append(_text(value))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"row {row}: {exc}") from None
    return texts


def _import_datasets(where: str, field: str):
    try:
        import datasets
    except ImportError:  # a dependency, but an environment may have dropped it
        raise ConfigError("reading a Hugging Face dataset needs the datasets package "
                          "(pip install datasets)", source=where, field=field) from None
    return datasets


@contextlib.contextmanager
def _quiet(datasets) -> Iterator[None]:
    """``datasets`` and ``huggingface_hub`` without progress bars or log lines below errors
    (the library never prints), their settings as found restored after."""
    import huggingface_hub.utils as hub
    from datasets.utils import logging as data_logging

    levels = data_logging.get_verbosity(), hub.logging.get_verbosity()
    bars = not datasets.utils.are_progress_bars_disabled()
    hub_bars = not hub.are_progress_bars_disabled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an environment variable may pin the bars on
        if bars:
            datasets.utils.disable_progress_bars()
        if hub_bars:
            hub.disable_progress_bars()
    data_logging.set_verbosity(data_logging.ERROR)
    hub.logging.set_verbosity(hub.logging.ERROR)
    try:
        yield
    finally:
        data_logging.set_verbosity(levels[0])
        hub.logging.set_verbosity(levels[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if hub_bars:
                hub.enable_progress_bars()
            if bars:
                datasets.utils.enable_progress_bars()


def _hub_field(exc: Exception) -> str:
    """The config field a ``datasets.load_dataset`` error is about, read from its message
    (the library has no error type per cause): the split, the configuration, the
    revision, else the dataset's name."""
    message = str(exc).lower()
    for word, name in (("split", "split"), ("config", "config"), ("revision", "revision")):
        if word in message:
            return f"dataset.{name}"
    return "dataset.hf"


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (the libraries' span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


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
    """A field's value as the text templates show: a string as it is, null as empty text,
    numbers, booleans, lists and objects as JSON writes them (``2``, ``2.5``, ``true``,
    ``["a", 1]``); what JSON has no type for (Parquet's and Arrow's dates, times,
    durations, decimals, bytes) as its plain text (``_plain``), also inside lists and
    objects. Raises TypeError or ValueError for a value with no text form."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool | int | float | list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=_plain)
    return _plain(value)


def _plain(value) -> str:
    """A value JSON cannot write as text: ISO 8601 for dates and times (a datetime is a
    date), ``str`` for durations and decimals (every digit kept), UTF-8 bytes decoded."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta | decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("holds bytes that are not UTF-8 text") from None
    raise TypeError(f"holds a {type(value).__name__}, which has no text form")


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
