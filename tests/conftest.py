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


SECRET = "sk-test-DoNotLeak0123456789"


@pytest.fixture
def loopback():
    """A loopback OpenAI-compatible server (see tests/loopback.py)."""
    from tests.loopback import LoopbackServer

    with LoopbackServer(seed=0) as server:
        yield server


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    return SECRET


def write_sums(path: Path, count: int = 40, seed: int = 0) -> Path:
    """A JSONL dataset of 'What is a + b?' questions with gold answers."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        a, b = (int(v) for v in rng.integers(1, 50, 2))
        rows.append({"id": f"s{i}", "question": f"What is {a} + {b}?", "answer": a + b})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def live_config(path: Path, url: str, data: Path, prompts: int = 6, budget: int = 600,
                extra: str = "", model: str = "openai/loopback",
                transport: str = "http") -> Path:
    """A live majority-vote config against the loopback server at ``url``, through iapo's
    own http transport unless ``transport`` is "litellm": LiteLLM costs seconds of import
    per process and milliseconds of CPU per request, so only the tests about LiteLLM's own
    path (tests/llm, and the end-to-end ones that name it) pay for it."""
    arms = "\n".join(
        f"  - {{id: p{i}, system: 'style {i}', template: \"{{question}} Answer: <n>\"}}"
        for i in range(prompts))
    text = f"""\
name: live
backend:
  kind: live
  model: {model}
  api_base: {url}
  n_max: 8
  concurrency: 4
  max_retries: 2
  retry_base_delay: 0.01
  timeout: 5
  transport: {transport}
  cache_dir: {path.parent / 'cache'}
dataset: {{path: {data}, target_field: answer, id_field: id}}
strategy: majority_vote
prompts:
{arms}
contexts:
  - {{name: free, weights: {{correct: 1.0, cost: 0.0}}}}
  - {{name: costly, weights: {{correct: 1.0, cost: 0.02}}}}
budget: {budget}
seed: 0
output: {path.parent / 'runs'}
{extra}"""
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(*args) -> tuple[int, str, str]:
    """``iapo ARGS`` in this process (typer's CliRunner isolation), through the same error
    mapping as the console script: (exit code, stdout, stderr)."""
    import sys

    from typer.testing import CliRunner

    from iapo_cli.cli import invoke

    with CliRunner().isolation() as (out, err, _):
        code = invoke([str(a) for a in args])
        sys.stdout.flush()
        sys.stderr.flush()
        return code, out.getvalue().decode(), err.getvalue().decode()


def write_replay_votes(path: Path, prompts: int = 3, queries: int = 20, samples: int = 4,
                       seed: int = 0, prompt_ids: list[str] | None = None) -> Path:
    """A majority-vote replay file (as ``iapo record`` writes): prompt p answers its query
    right with probability 0.3 + 0.2 p, else one of two wrong answers or nothing."""
    from iapo_cli.backends import write_replay

    rng = np.random.default_rng(seed)
    p, x, m = (a.ravel() for a in np.indices((prompts, queries, samples)))
    right = rng.random(len(p)) < 0.3 + 0.2 * p
    answer = np.where(right, "42", rng.choice(["41", "43"], len(p)))
    has = right | (rng.random(len(p)) < 0.9)
    columns = {
        "query_ids": np.array([f"q{i}" for i in range(queries)]),
        "target": np.full(queries, "42"),
        "prompt": p, "query": x, "slot": m,
        "text": np.array([f"Answer: {a}" for a in answer]), "answer": answer,
        "has_answer": has, "scores": np.zeros((len(p), 1)),
        "cost": 1.0 + 0.5 * p,
    }
    meta = {"name": "votes", "strategy": "majority_vote", "objectives": ["correct"],
            "prompt_ids": prompt_ids or [f"p{i}" for i in range(prompts)],
            "samples": samples}
    return write_replay(path, meta, columns)
