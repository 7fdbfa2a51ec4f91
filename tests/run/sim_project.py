"""A small copy of the quickstart (the simulated model, no key, no network) in a directory of
its own, for tests of where a run's files and cache go."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def sim_project(directory: Path, rows: int = 60, budget: int = 600, **changes) -> Path:
    """``directory/quickstart.yaml`` on the first ``rows`` rows of the bundled dataset
    (copied to ``directory/data/``), with the default cache_dir and output (both relative to
    the config file) and ``changes`` applied to the top level; returns the config's path."""
    (directory / "data").mkdir(parents=True, exist_ok=True)
    lines = (ROOT / "configs" / "data" / "arithmetic.jsonl").read_text().splitlines()
    (directory / "data" / "arithmetic.jsonl").write_text("\n".join(lines[:rows]) + "\n")
    config = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
    config["backend"].pop("cache_dir", None)  # the repository's own settings stay out of tests
    config.pop("output", None)
    config.update(budget=budget, **changes)
    path = directory / "quickstart.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
