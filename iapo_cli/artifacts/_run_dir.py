"""Run and study directories: the one place their file names are spelled, and every
artifact read or written through them.

Writes are atomic (a temp file, then a rename), so a killed process leaves the previous
version of a file or the new one, never half of it. Reads follow one rule: a missing file is
a ``ConfigError`` naming the directory (and the flag or argument that named it), a file that
cannot be parsed or lacks what iapo wrote into it is a ``ConfigError`` naming the file and
what is wrong (the CLI exits 2 for both).

pandas is imported where a table is read, so importing this module stays cheap; the tables
written are pandas DataFrames.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import yaml

from ..errors import ConfigError
from ._ledger import LEDGER, UsageLedger, read_ledger
from ._pulls import PULLS, PullRecorder, RecordedPull, read_pulls

if TYPE_CHECKING:
    import pandas as pd


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def write_json(path: Path, data) -> None:
    """``data`` as indented JSON (numpy scalars and arrays as plain values, NaN as null)."""
    _atomic_write(path, json.dumps(data, indent=2, default=_plain, allow_nan=False) + "\n")


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """``frame`` as CSV without its index."""
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def policy_records(policy_frame: pd.DataFrame, weights: list[dict], probabilities) -> list[dict]:
    """policy.json's per-context records: the policy table's row (NaN as None), the
    context's weights and its probability."""
    records = []
    for row, w, p in zip(policy_frame.to_dict("records"), weights, probabilities, strict=True):
        clean = {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                 for k, v in row.items()}
        records.append({**clean, "weights": w, "probability": float(p)})
    return records


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"not valid JSON ({exc.msg}, line {exc.lineno} column "
                          f"{exc.colno})") from None


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: ~10x faster
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _parse_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise _Unreadable(f"not valid YAML ({problem}{where})") from None


def make_directory(path: Path, field: str | None, source: str | None = None) -> None:
    """``path`` and its parents, created if needed; a file in the way (or no permission) is
    a ConfigError naming ``field`` (the flag or config key that gave the path)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the directory {path} "
                          f"({exc.strerror or type(exc).__name__})", source=source,
                          field=field) from None


def check_writable(directory: Path, field: str | None, source: str | None = None) -> None:
    """A ConfigError naming ``field`` unless a file can be created in the existing
    ``directory`` (a probe file is made and removed at once: permission bits say nothing
    to root, and /proc or a read-only mount refuse what the bits allow)."""
    try:
        handle, probe = tempfile.mkstemp(prefix=".iapo-probe-", dir=directory)
    except OSError as exc:
        raise ConfigError(f"cannot write into {directory} "
                          f"({exc.strerror or type(exc).__name__})", source=source,
                          field=field) from None
    os.close(handle)
    os.unlink(probe)


def check_creatable(directory: Path, field: str | None, source: str | None = None) -> None:
    """Before anything is paid: ``directory`` is, or can become, a writable directory (the
    nearest existing one of it and its parents is a directory that takes files; nothing is
    created). A ConfigError naming ``field`` otherwise."""
    for existing in (directory, *directory.parents):
        if existing.exists():
            if not existing.is_dir():
                raise ConfigError(f"cannot create the directory {directory} ({existing} is a "
                                  f"file)", source=source, field=field)
            check_writable(existing, field, source)
            return


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Unreadable(Exception):
    """What is wrong with a file's contents (becomes a ConfigError naming the file)."""


class _Directory:
    """Reading and writing named files in one directory (see the module docstring)."""

    kind = "directory"
    MARKER = ""  # the file whose absence means "not this kind of directory at all"

    def __init__(self, path: str | Path, flag: str | None = None):
        self.path = Path(path)
        self.flag = flag

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    @classmethod
    def make(cls, path: str | Path) -> Self:
        """The directory at ``path``, created if needed (``optimize --out``, ``bench
        --out``; a file in the way or a directory that takes no files is a ConfigError
        naming ``--out``)."""
        made = cls(path)
        make_directory(made.path, "--out")
        check_writable(made.path, "--out")
        return made

    def file(self, name: str) -> Path:
        """The path of one of this directory's files."""
        return self.path / name

    def has(self, name: str) -> bool:
        return self.file(name).is_file()

    def missing(self, name: str) -> ConfigError:
        """The error for a file this directory should hold but does not."""
        what = "" if name == self.MARKER else "complete "
        return ConfigError(f"{self.path} is not a {what}{self.kind} (no {name})",
                           field=self.flag)

    def _read(self, name: str, parse: Callable[[str], Any]) -> Any:
        path = self.file(name)
        if not path.is_file():
            raise self.missing(name)
        try:
            return parse(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ConfigError("cannot read (not UTF-8 text)", source=str(path)) from None
        except OSError as exc:
            raise ConfigError(f"cannot read ({exc.strerror or type(exc).__name__})",
                              source=str(path)) from None
        except _Unreadable as exc:
            raise ConfigError(str(exc), source=str(path)) from None

    def _read_json(self, name: str, keys: Iterable[str] = ()) -> dict:
        data = self._read(name, _parse_json)
        return self._object(name, data, "a JSON object", keys)

    def _object(self, name: str, data: Any, what: str, keys: Iterable[str]) -> dict:
        if not isinstance(data, dict):
            raise ConfigError(f"is not {what}", source=str(self.file(name)))
        for key in keys:
            if key not in data:
                raise ConfigError(f"lacks the key '{key}'", source=str(self.file(name)))
        return data

    def _read_table(self, name: str, columns: Iterable[str] = (),
                    numeric: Iterable[str] = ()) -> pd.DataFrame:
        """The CSV table ``name``; each of ``columns`` must be there, and every column of
        ``numeric`` it has must hold numbers (or nothing)."""
        import pandas as pd

        path = self.file(name)
        if not path.is_file():
            raise self.missing(name)
        try:
            frame = pd.read_csv(path)
        except UnicodeDecodeError:
            raise ConfigError("cannot read (not UTF-8 text)", source=str(path)) from None
        except OSError as exc:
            raise ConfigError(f"cannot read ({exc.strerror or type(exc).__name__})",
                              source=str(path)) from None
        except (ValueError, pd.errors.ParserError) as exc:  # EmptyDataError is a ValueError
            raise ConfigError(f"not a readable CSV table ({_first_line(exc)})",
                              source=str(path)) from None
        columns = list(columns)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ConfigError(f"lacks the column '{missing[0]}'", source=str(path))
        # every numeric column the file has, asked for or not: a caller may read one it
        # did not name (e.g. unbiased_utility, used when present)
        for column in (c for c in numeric if c in frame.columns):
            if frame.empty:  # no value to check (read as text); the caller says if rows are due
                break
            if not pd.api.types.is_numeric_dtype(frame[column]):
                bad = pd.to_numeric(frame[column], errors="coerce").isna() & frame[column].notna()
                value = frame[column][bad].iloc[0]
                raise ConfigError(f"column '{column}' holds a non-number ({value!r})",
                                  source=str(path))
        return frame

    def _write_text(self, name: str, text: str) -> Path:
        path = self.file(name)
        _atomic_write(path, text)
        return path


class RunDir(_Directory):
    """The directory ``iapo optimize`` writes and ``evaluate``/``report`` read.

    ``flag`` names the argument the user gave the directory with (``RUN_DIR``,
    ``--resume``, ``PATH``); errors about a missing file name it.
    """

    kind = "run directory"
    CONFIG = "config.yaml"  # the resolved config, with budget and seed
    SPLIT = "split.json"  # {"train": [query index, ...], "test": [...]}
    TRIMMING_LOG = "trimming_log.csv"
    ESTIMATES = "estimates.csv"  # final training estimate of every (context, prompt, N)
    POLICY = "policy.json"
    POLICY_TABLE = "policy.csv"
    SUMMARY = "summary.json"
    LEDGER = LEDGER  # usage.jsonl, live runs only
    PULLS = PULLS  # every pull training served (Policy.arm for untrained weights)
    EVALUATION = "evaluation.json"
    EVALUATION_TABLE = "evaluation.csv"
    REPORT = "report.md"
    REPORT_HTML = "report.html"  # the same report as one self-contained page
    FIGURES = ("utility_vs_n.png", "utility_vs_cost.png", "trimming.png")
    FRONTIER = "frontier.png"  # runs with models or prices: utility against dollars
    MARKER = CONFIG
    FILES = (CONFIG, TRIMMING_LOG, ESTIMATES, POLICY, POLICY_TABLE, SUMMARY, SPLIT, PULLS)
    """What an offline ``optimize`` writes."""

    @classmethod
    def make(cls, path: str | Path) -> Self:
        """A fresh run directory at ``path`` (``optimize --out``): created if needed, or an
        existing empty directory. A directory that holds anything (an earlier run: its
        evaluation.json and figures would mix with this run's) is a ConfigError naming
        ``--out``, as is a path that cannot become a writable directory."""
        path = Path(path)
        if path.is_dir() and any(path.iterdir()):
            held = sorted(p.name for p in path.iterdir())
            shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
            hint = (" (continue an interrupted or failed run with --resume)"
                    if (path / cls.CONFIG).is_file() else "")
            raise ConfigError(f"{path} is not empty (it holds {shown}); give a new or empty "
                              f"directory{hint}", field="--out")
        return super().make(path)

    @classmethod
    def create(cls, output: str | Path, name: str, now: datetime | None = None,
               source: str | None = None) -> RunDir:
        """``<output>/<name>-<UTC timestamp>/``, made fresh (a suffix avoids collisions).
        An ``output`` that cannot be a directory is a ConfigError naming the config key
        ``output`` (in ``source``)."""
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        make_directory(Path(output), "output", source)
        check_writable(Path(output), "output", source)
        base = Path(output) / f"{name}-{stamp}"
        path, i = base, 1
        while True:
            try:
                path.mkdir(parents=True, exist_ok=False)
                return cls(path)
            except FileExistsError:
                i += 1
                path = base.with_name(f"{base.name}-{i}")
            except OSError as exc:
                raise ConfigError(f"cannot create the directory {path} "
                                  f"({exc.strerror or type(exc).__name__})", source=source,
                                  field="output") from None

    # --- writing ---------------------------------------------------------------------
    def write_config(self, config: dict) -> None:
        self._write_text(self.CONFIG, yaml.dump(config, Dumper=_SafeDumper, sort_keys=False))

    def write_split(self, train: Iterable[int], test: Iterable[int]) -> None:
        write_json(self.file(self.SPLIT), {"train": list(train), "test": list(test)})

    def write_summary(self, summary: dict) -> None:
        write_json(self.file(self.SUMMARY), summary)

    def write_policy(self, policy: dict, table: pd.DataFrame) -> None:
        """policy.csv (the table) and policy.json (status, strategy, per-context records)."""
        write_table(self.file(self.POLICY_TABLE), table)
        write_json(self.file(self.POLICY), policy)

    def write_trimming_log(self, frame: pd.DataFrame) -> None:
        write_table(self.file(self.TRIMMING_LOG), frame)

    def write_estimates(self, frame: pd.DataFrame) -> None:
        write_table(self.file(self.ESTIMATES), frame)

    def check_evaluation_writable(self) -> None:
        """Before an evaluation draws anything: its files can be written (each is a file or
        absent, and the directory takes files). A ConfigError naming the file otherwise."""
        for name in (self.EVALUATION, self.EVALUATION_TABLE):
            path = self.file(name)
            if path.exists() and not path.is_file():
                raise ConfigError("is in the way of the evaluation's results (not a file)",
                                  source=str(path))
        check_writable(self.path, self.flag)

    def write_evaluation(self, data: dict, frame: pd.DataFrame) -> None:
        write_json(self.file(self.EVALUATION), data)
        write_table(self.file(self.EVALUATION_TABLE), frame)

    def write_report(self, text: str) -> Path:
        return self._write_text(self.REPORT, text)

    def write_report_html(self, text: str) -> Path:
        return self._write_text(self.REPORT_HTML, text)

    def pull_recorder(self) -> PullRecorder:
        """A recorder of the pulls training serves (pulls.npys, written as they come)."""
        return PullRecorder(self.file(self.PULLS))

    def read_pulls(self) -> Iterator[RecordedPull]:
        """The pulls training served, in order (a ConfigError if the file is missing or
        unreadable)."""
        return read_pulls(self.file(self.PULLS))

    def ledger(self, attempt: int) -> UsageLedger:
        """The append-only usage ledger, stamping lines with ``attempt``."""
        return UsageLedger(self.path, attempt)

    # --- reading ---------------------------------------------------------------------
    def read_config(self) -> dict:
        """config.yaml as a mapping (its absence means: not a run directory)."""
        return self._object(self.CONFIG, self._read(self.CONFIG, _parse_yaml),
                            "a YAML mapping", ())

    def read_summary(self) -> dict:
        """summary.json; ``config_path`` and ``status`` are texts and ``attempt`` an
        integer where given."""
        summary = self._read_json(self.SUMMARY)
        for key, kind, what in (("config_path", str, "a string"), ("status", str, "a string"),
                                ("attempt", int, "an integer")):
            value = summary.get(key)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise ConfigError(f"'{key}' must be {what}, got {value!r}",
                                  source=str(self.file(self.SUMMARY)))
        return summary

    def read_split(self) -> dict:
        """split.json: ``train`` and ``test``, each a list of query indices (ints >= 0)."""
        split = self._read_json(self.SPLIT, ("train", "test"))
        for key in ("train", "test"):
            indices = split[key]
            if not isinstance(indices, list) or not all(
                    _is_int(i) and i >= 0 for i in indices):
                raise ConfigError(f"'{key}' must be a list of query indices (integers >= 0)",
                                  source=str(self.file(self.SPLIT)))
        shared = sorted(set(split["train"]) & set(split["test"]))
        if shared:  # test samples must be fresh: a policy is never scored on its training
            raise ConfigError(f"'test' shares {len(shared)} queries with 'train' (e.g. "
                              f"{shared[0]})", source=str(self.file(self.SPLIT)))
        return split

    def read_policy(self) -> dict:
        """policy.json: ``contexts`` a list of records (objects), each ``n`` an integer >= 1
        where given."""
        policy = self._read_json(self.POLICY, ("contexts",))
        source = str(self.file(self.POLICY))
        records = policy["contexts"]
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ConfigError("'contexts' must be a list of JSON objects", source=source)
        for i, record in enumerate(records):
            n = record.get("n")
            if n is not None and not (_is_int(n) and n >= 1) and not (
                    isinstance(n, float) and n.is_integer() and n >= 1):
                raise ConfigError(f"contexts[{i}].n must be an integer >= 1, got {n!r}",
                                  source=source)
        return policy

    def read_evaluation(self) -> dict | None:
        """evaluation.json, or None before ``iapo evaluate`` has run."""
        if not self.has(self.EVALUATION):
            return None
        data = self._read_json(self.EVALUATION, ("comparisons", "test_queries", "method"))
        source = str(self.file(self.EVALUATION))
        comparisons = data["comparisons"]
        if not isinstance(comparisons, list) or not all(isinstance(c, dict)
                                                        for c in comparisons):
            raise ConfigError("'comparisons' must be a list of JSON objects", source=source)
        for i, item in enumerate(comparisons):
            for key in ("name", "acr", "acr_sem", "regret", "gain_captured"):
                if key not in item:
                    raise ConfigError(f"comparisons[{i}] lacks the key '{key}'", source=source)
                value = item[key]
                number = isinstance(value, int | float) and not isinstance(value, bool)
                if key != "name" and not number and not (value is None and key in (
                        "regret", "gain_captured")):
                    raise ConfigError(f"comparisons[{i}].{key} must be a number, got "
                                      f"{value!r}", source=source)
        return data

    def read_estimates(self, columns: Iterable[str] = ()) -> pd.DataFrame:
        """estimates.csv: one row per (context, prompt, N); a table without rows is bad."""
        frame = self._read_table(self.ESTIMATES, columns,
                                 ("n", "utility", "task_utility", "cost", "samples",
                                  "trimmed_in_round", "unbiased_utility", "usd_per_query"))
        if frame.empty:
            raise ConfigError("has no rows", source=str(self.file(self.ESTIMATES)))
        return frame

    def read_trimming_log(self, columns: Iterable[str] = ()) -> pd.DataFrame:
        return self._read_table(self.TRIMMING_LOG, columns,
                                ("round", "n", "estimate", "samples"))

    def read_ledger(self) -> list[dict]:
        """Every complete line of usage.jsonl ([] when there is none)."""
        return read_ledger(self.path)

    def last_attempt(self) -> int:
        """The highest attempt number the ledger or summary.json records (1 if none)."""
        attempts = [int(e.get("attempt", 1)) for e in self.read_ledger()]
        if self.has(self.SUMMARY):
            attempt = self.read_summary().get("attempt")
            if isinstance(attempt, int):
                attempts.append(attempt)
        return max(attempts, default=1)


class StudyDir(_Directory):
    """The directory ``iapo bench`` writes and ``report`` reads."""

    kind = "bench directory"
    RESULTS = "results.csv"  # one row per (algorithm, budget, run)
    SUMMARY = "summary.csv"  # one row per (algorithm, budget)
    REPORT = "report.md"
    REPORT_HTML = "report.html"
    FIGURES = ("acr_vs_budget.png", "regret_vs_budget.png")
    MARKER = SUMMARY

    def write_results(self, frame: pd.DataFrame) -> None:
        write_table(self.file(self.RESULTS), frame)

    def write_summary(self, frame: pd.DataFrame) -> None:
        write_table(self.file(self.SUMMARY), frame)

    def write_report(self, text: str) -> Path:
        return self._write_text(self.REPORT, text)

    def write_report_html(self, text: str) -> Path:
        return self._write_text(self.REPORT_HTML, text)

    def read_summary(self, columns: Iterable[str] = ()) -> pd.DataFrame:
        return self._read_table(self.SUMMARY, columns, (
            "budget", "runs", "mean_acr", "sem_acr", "mean_regret", "mean_spent", "max_spent",
            "median_seconds"))

    def read_results(self, columns: Iterable[str] = ()) -> pd.DataFrame:
        return self._read_table(self.RESULTS, columns,
                                ("budget", "run", "acr", "regret", "spent", "seconds"))


RUN_FILES = RunDir.FILES
