"""Shared fixtures: small environments built by the tests themselves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def write_npz(path: Path, prompts: int = 4, queries: int = 40, n_answers: int = 3, n_max: int = 8,
              seed: int = 0, **overrides) -> Path:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(n_answers), (prompts, queries))
    arrays = {
        "probs": probs,
        "answers": rng.integers(0, n_answers, queries),
        "cost": rng.uniform(0.5, 1.5, prompts) * 0.01,
        "meta": np.array(json.dumps({
            "name": "tiny", "strategy": "majority_vote", "n_max": n_max,
            "contexts": {"low": {"correct": 1.0, "cost": -0.0},
                         "high": {"correct": 1.0, "cost": -1.0}},
            "context_distribution": [0.5, 0.5],
        })),
    }
    arrays.update(overrides)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def tiny_npz(tmp_path: Path) -> Path:
    return write_npz(tmp_path / "tiny.npz")


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


SMALL_SYNTHETIC = """\
name: small
backend: {kind: synthetic, family: bernoulli-mv, prompts: 6, queries: 60, n_max: 8, seed: 3}
contexts:
  - {name: free, weights: {correct: 1.0, cost: 0.0}}
  - {name: costly, weights: {correct: 1.0, cost: 2.0}}
budget: 600
seed: 1
"""
