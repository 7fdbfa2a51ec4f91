"""pulls.npys: every pull a run's training served, in order, for choosing arms for contexts
that were not trained (``Policy.arm(weights=...)``).

The file is a plain sequence of ``.npy`` arrays (``numpy.save`` one after another, read
back with ``numpy.load(..., allow_pickle=False)`` until the end):

* first, the names of the pull's array fields (a str array, e.g. ``counts gold cost`` for
  vote pulls, ``scores cost`` for score pulls);
* then per pull: a header ``[round, prompt, n, has_usage, has_queries]`` (int64), the
  pull's fields in that order, when ``has_usage`` the per-query ``request_cost`` and
  ``requests`` of its usage (``PullUsage``): the prompt part of the cost, billed once per
  request, and when ``has_queries`` the train query index of each row (pooled estimates
  pool the prompts' votes per query). Files written before queries were kept have a
  four-value header.

It is written while training runs (to ``pulls.npys.part``, renamed when the run's files
are written), so memory does not grow with the budget; a resumed run replays training from
the start and writes it afresh.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

PULLS = "pulls.npys"


@dataclass(frozen=True)
class RecordedPull:
    """One pull as training served it: in trimming round ``round`` (0-based, the
    trainer's round counter when it was served), prompt (arm) index ``prompt`` at scale
    ``n``; ``fields`` the pull's arrays by name; ``request_cost`` and ``requests`` (B,) the
    per-request part of its usage (None when the backend reports no usage)."""

    round: int
    prompt: int
    n: int
    fields: dict[str, np.ndarray]
    request_cost: np.ndarray | None
    requests: np.ndarray | None
    queries: np.ndarray | None = None  # (B,) query index of each row; None in old files


class PullRecorder:
    """Appends pulls to ``path`` (see the module docstring); ``finish`` makes the file
    visible under its name. Called by the trainer as ``recorder(round, prompt, pull,
    usage, queries)``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._part = self.path.with_name(self.path.name + ".part")
        self._file = open(self._part, "wb")  # kept open for the run
        self._names: tuple[str, ...] | None = None

    def __call__(self, round_: int, prompt: int, pull: Any, usage: Any,
                 queries: np.ndarray | None = None) -> None:
        if self._file is None:
            return
        if self._names is None:
            self._names = tuple(f.name for f in fields(pull) if f.name != "n")
            np.save(self._file, np.array(self._names, dtype=str))
        np.save(self._file, np.array([round_, prompt, pull.n, usage is not None,
                                      queries is not None], dtype=np.int64))
        for name in self._names:
            np.save(self._file, np.asarray(getattr(pull, name)))
        if usage is not None:
            np.save(self._file, np.asarray(usage.request_cost, dtype=float))
            np.save(self._file, np.asarray(usage.requests, dtype=float))
        if queries is not None:
            np.save(self._file, np.asarray(queries, dtype=np.int64))

    def finish(self) -> None:
        """Close the file and give it its name (idempotent)."""
        if self._file is None:
            return
        self._file.close()
        self._file = None
        os.replace(self._part, self.path)


def read_pulls(path: Path) -> Iterator[RecordedPull]:
    """The pulls of a pulls.npys file, in the order training served them. A truncated or
    foreign file is a ConfigError naming it."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size == 0:
                return
            names = [str(n) for n in np.load(file, allow_pickle=False)]
            while file.tell() < size:
                header = [int(v) for v in np.load(file, allow_pickle=False)]
                round_, prompt, n, has_usage = header[:4]
                has_queries = len(header) > 4 and header[4]
                arrays = {name: np.load(file, allow_pickle=False) for name in names}
                request_cost = requests = None
                if has_usage:
                    request_cost = np.load(file, allow_pickle=False)
                    requests = np.load(file, allow_pickle=False)
                queries = np.load(file, allow_pickle=False) if has_queries else None
                yield RecordedPull(round_, prompt, n, arrays, request_cost, requests,
                                   queries)
    except FileNotFoundError:
        raise ConfigError("the run records no pulls (it was written by a version of iapo "
                          "before they were kept), so it can only deploy its trained "
                          "contexts; run optimize again to choose for others (its "
                          "completions come from the cache)", source=str(path)) from None
    except (ValueError, EOFError, OSError) as exc:
        raise ConfigError(f"is not a readable pull record ({exc})", source=str(path)) from None
