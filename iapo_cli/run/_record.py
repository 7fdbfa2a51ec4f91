"""``record``: M completions for every (prompt, train query) into a replay file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import errors
from ..artifacts import check_creatable
from ..backends import completion_cost, write_replay
from ..errors import ConfigError
from ._backends import config_path as config_relative
from ._optimize import validate


class RecordInterrupted(errors.Interrupted):
    """Recording stopped early (exit 130); what was served is cached, so the same command
    resumes."""


@dataclass
class RecordOutcome:
    path: Path
    completions: int
    usage: dict


def _check_writable(path: Path, field: str, source: str | None) -> None:
    """Before any completion is paid: ``path`` can become a file (it is not a directory, not
    another existing file than a replay file, and no file stands where a parent directory
    must be)."""
    if path.is_dir():
        raise ConfigError(f"{path} is a directory, not a replay file name", source=source,
                          field=field)
    if path.exists() and path.suffix != ".npz":  # rerunning record replaces its own file
        raise ConfigError(f"{path} exists and is not a replay file (.npz); it would be "
                          f"overwritten", source=source, field=field)
    check_creatable(path.parent, field, source)  # e.g. /proc, a read-only mount


def record(config_path: str | Path, samples: int, out: str | Path | None = None,
           progress: Callable[[int], None] | None = None,
           on_total: Callable[[int], None] | None = None) -> RecordOutcome:
    """Draw ``samples`` completions (slots 0..M-1, shared with ``optimize``'s cache) for
    every prompt on every train query and write them, scored, as a replay file."""
    resolved = validate(config_path)
    config = resolved.config
    if config.backend.kind != "live":
        raise ConfigError("iapo record needs a live backend", source=resolved.source,
                          field="backend.kind")
    if samples < 1:
        raise ConfigError("must be at least 1", field="--samples")
    path = Path(out) if out is not None else (config_relative(resolved.source, config.output)
                                              / f"{config.name}.replay.npz")
    _check_writable(path, "--out" if out is not None else "output",
                    None if out is not None else resolved.source)
    backend = resolved.problem.backend
    backend.progress = progress
    queries = np.asarray(resolved.problem.train)
    if on_total is not None:
        on_total(len(backend.prompt_ids) * len(queries) * samples)
    try:
        grid = backend.record(queries, samples)  # [prompt][query] -> completions
    except KeyboardInterrupt:
        raise RecordInterrupted("interrupted; completions served so far are cached, run the "
                                "same command to continue") from None
    n_prompts, n_queries = len(grid), len(queries)
    shape = (n_prompts, n_queries, samples)
    flat = [c for per_prompt in grid for row in per_prompt for c in row]
    p, x, m = (a.ravel() for a in np.indices(shape))
    measure, scale = config.cost.measure, config.cost.scale
    columns = {
        "query_ids": np.array([backend.dataset.ids[int(q)] for q in queries], dtype=str),
        "prompt": p.astype(np.int32), "query": x.astype(np.int32), "slot": m.astype(np.int32),
        "text": np.array([c.text for c in flat], dtype=str),
        "cost": np.array([completion_cost(c, measure) for c in flat]) * scale,
        "prompt_tokens": np.array([c.prompt_tokens for c in flat]),
        "completion_tokens": np.array([c.completion_tokens for c in flat]),
        "money": np.array([np.nan if c.cost is None else c.cost for c in flat]),
        "latency": np.array([c.latency for c in flat]),
    }
    columns.update(backend.strategy.replay_columns(backend, queries, flat, shape))
    meta = {"name": config.name, "strategy": backend.strategy.name,
            "objectives": list(backend.strategy.objectives), "prompt_ids":
            list(backend.prompt_ids), "samples": samples, "model": config.model_label(),
            "n_max": backend.n_max, "cost_measure": measure, "cost_scale": scale}
    write_replay(path, meta, columns)
    usage = {kind: u.as_dict() for client in backend.clients for kind, u in client.usage.items()}
    return RecordOutcome(path, len(flat), usage)
