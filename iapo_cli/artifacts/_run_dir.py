"""The run directory: resolved config, trimming log, policy and summary."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

RUN_FILES = ("config.yaml", "trimming_log.csv", "estimates.csv", "policy.json", "policy.csv",
             "summary.json", "split.json")


def new_run_dir(output: str | Path, name: str, now: datetime | None = None) -> Path:
    """``<output>/<name>-<UTC timestamp>/``, made fresh (a suffix avoids collisions)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = Path(output) / f"{name}-{stamp}"
    path, i = base, 1
    while True:
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            i += 1
            path = base.with_name(f"{base.name}-{i}")


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
    _atomic_write(path, json.dumps(data, indent=2, default=_plain, allow_nan=False) + "\n")


def write_config(run_dir: Path, config: dict) -> None:
    _atomic_write(run_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))


def write_table(path: Path, frame: pd.DataFrame) -> None:
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def policy_records(policy_frame: pd.DataFrame, weights: list[dict], probabilities) -> list[dict]:
    records = []
    for row, w, p in zip(policy_frame.to_dict("records"), weights, probabilities, strict=True):
        clean = {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                 for k, v in row.items()}
        records.append({**clean, "weights": w, "probability": float(p)})
    return records
