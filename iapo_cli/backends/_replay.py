"""Replay files: completions recorded by ``iapo record``, resampled with no network.

Format (``.npz``, one row per recorded completion, columns of equal length R):

* ``meta``: JSON text ``{"format": "iapo-replay", "version": 1, "strategy", "objectives",
  "prompt_ids", "samples" (M per prompt and query), "model", "cost_measure", "cost_scale",
  "name"}``
* ``query_ids`` (X,) str: dataset ids of the recorded queries; ``target`` (X,) str: the
  normalised gold answer ("" when none)
* ``prompt`` (R,) int, ``query`` (R,) int (row in ``query_ids``), ``slot`` (R,) int
* ``text`` (R,) str: the completion; ``answer`` (R,) str: the extracted, normalised answer,
  ``has_answer`` (R,) bool (majority voting)
* ``scores`` (R, K) float in [0, 1]: the objectives, normalised (majority voting: K = 1,
  ``correct``)
* ``cost`` (R,) float: the cost objective's measure times its scale; and the raw
  ``prompt_tokens``, ``completion_tokens``, ``money`` (NaN when unknown), ``latency``

Every (prompt, query) has exactly M rows. Sampling N completions draws N of the M rows
uniformly with replacement; the empirical distribution makes the backend exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..strategies import STRATEGIES, VOTES, MajorityVote, Strategy, VotePull
from ._base import Contexts, Environment
from ._categorical import CategoricalScores, CategoricalVotes, load_npz, read_npz

FORMAT = "iapo-replay"
VERSION = 1
_NONE = "\x00none"  # "no answer": a vote of its own that never matches gold


def write_replay(path: str | Path, meta: dict, columns: dict[str, np.ndarray]) -> Path:
    """Write a replay file atomically (see the module docstring for the columns)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, meta=np.array(json.dumps({"format": FORMAT, "version": VERSION,
                                                       **meta})), **columns)
    tmp.replace(path)
    return path


def compact_votes(counts: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns reordered per row by votes (largest first) and empty trailing columns
    dropped, gold following its column; keeps subset-credit estimation exact and fast."""
    order = np.argsort(-counts, axis=1, kind="stable")
    packed = np.take_along_axis(counts, order, axis=1)
    width = max(int((packed > 0).sum(axis=1).max()), 1)
    new_gold = np.where(gold >= 0, (order == gold[:, None]).argmax(axis=1), -1)
    new_gold = np.where(new_gold < width, new_gold, -1)  # gold with no votes is absent
    return packed[:, :width], new_gold


class ReplayVotes:
    """Vote pulls over recorded answers: ``answers`` (P, X, M) per-query answer ids,
    ``gold`` (X,) id of the gold answer or -1, ``cost`` (P, X, M). Serves any ``votes``
    strategy (majority voting by default)."""

    def __init__(self, answers: np.ndarray, gold: np.ndarray, cost: np.ndarray, n_max: int,
                 prompt_ids: tuple[str, ...], strategy: Strategy | None = None):
        self.answers, self.gold, self.cost = answers, gold, cost
        self.n_max, self.prompt_ids = int(n_max), prompt_ids
        n_prompts, self.n_queries, self.samples = answers.shape
        self.n_answers = int(answers.max()) + 1
        self.strategy = MajorityVote() if strategy is None else strategy
        self._exact: CategoricalVotes | None = None

    def sample(self, prompt: int, queries: np.ndarray, n: int, rng: np.random.Generator
               ) -> VotePull:
        queries = np.asarray(queries)
        pick = rng.integers(self.samples, size=(len(queries), n))
        answers = self.answers[prompt, queries[:, None], pick]
        rows = np.repeat(np.arange(len(queries)), n)
        counts = np.bincount(rows * self.n_answers + answers.ravel(),
                             minlength=len(queries) * self.n_answers
                             ).reshape(len(queries), self.n_answers)
        counts, gold = compact_votes(counts, self.gold[queries])
        cost = self.cost[prompt, queries[:, None], pick].sum(axis=1)
        return VotePull(counts, gold, cost, n)

    def _categorical(self) -> CategoricalVotes:
        if self._exact is None:
            n_prompts = len(self.prompt_ids)
            probs = np.zeros((n_prompts, self.n_queries, self.n_answers))
            p, x, _ = np.indices(self.answers.shape)
            np.add.at(probs, (p, x, self.answers), 1.0 / self.samples)
            self._exact = CategoricalVotes(probs, self.gold, np.zeros(n_prompts), self.n_max,
                                           self.prompt_ids)
        self._exact.strategy = self.strategy  # the empirical law under this strategy
        return self._exact

    def exact_task(self, task_weights: np.ndarray) -> np.ndarray:
        return self._categorical().exact_task(task_weights)

    def exact_task_per_objective(self, queries: np.ndarray | None = None) -> np.ndarray:
        return self._categorical().exact_task_per_objective(queries)

    def exact_draws(self) -> np.ndarray:
        return self._categorical().exact_draws()

    def exact_cost(self) -> np.ndarray:
        return self.cost.mean(axis=2)


def _local_answer_ids(query: np.ndarray, answer: np.ndarray, target: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per-query answer ids 0..: (R,) for the rows, (X,) for the targets (-1 if no row of
    that query gave the target)."""
    vocab, inverse = np.unique(np.concatenate([answer, target]), return_inverse=True)
    row_ids, target_ids = inverse[: len(answer)], inverse[len(answer):]
    size = len(vocab)
    pairs, local_of = np.unique(query.astype(np.int64) * size + row_ids, return_inverse=True)
    pair_query = pairs // size
    local = np.arange(len(pairs)) - np.searchsorted(pair_query, pair_query, side="left")
    wanted = np.arange(len(target), dtype=np.int64) * size + target_ids
    at = np.searchsorted(pairs, wanted)
    found = (at < len(pairs)) & (pairs[np.minimum(at, len(pairs) - 1)] == wanted)
    found &= target != ""
    gold = np.where(found, local[np.minimum(at, len(pairs) - 1)], -1)
    return local[local_of], gold


def load_replay(path: str | Path, n_max: int | None = None) -> Environment:
    """A replay file as an exact backend for the strategy it was recorded with."""
    path = Path(path)
    src = str(path)
    arrays = read_npz(path)
    try:
        meta = json.loads(str(arrays["meta"]))
    except (KeyError, json.JSONDecodeError):
        meta = {}
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ConfigError(f"not an {FORMAT} file", source=src, field="meta.format")
    needed = ("query_ids", "target", "prompt", "query", "slot", "scores", "cost")
    for key in needed:
        if key not in arrays:
            raise ConfigError("missing column", source=src, field=key)
    prompt_ids = tuple(meta["prompt_ids"])
    samples = int(meta["samples"])
    n_prompts, n_queries = len(prompt_ids), len(arrays["query_ids"])
    prompt, query, slot = (arrays[k].astype(np.int64) for k in ("prompt", "query", "slot"))
    rows = len(prompt)
    if rows != n_prompts * n_queries * samples or not (
            0 <= prompt.min() and prompt.max() < n_prompts and 0 <= query.min()
            and query.max() < n_queries and 0 <= slot.min() and slot.max() < samples):
        raise ConfigError(f"needs exactly {samples} completions for each of {n_prompts} "
                          f"prompts x {n_queries} queries", source=src, field="prompt")
    flat = (prompt * n_queries + query) * samples + slot
    if len(np.unique(flat)) != rows:
        raise ConfigError("a (prompt, query, slot) appears twice", source=src, field="slot")
    order = np.argsort(flat)
    shape = (n_prompts, n_queries, samples)
    cost = arrays["cost"].astype(float)[order].reshape(shape)
    n_max = int(n_max or meta.get("n_max") or samples)
    objectives = tuple(meta["objectives"])
    strategy_cls = STRATEGIES.get(meta.get("strategy"))
    if strategy_cls is None:
        raise ConfigError(f"unknown strategy {meta.get('strategy')!r} (known: "
                          f"{', '.join(STRATEGIES)})", source=src, field="meta.strategy")
    if strategy_cls.pull_kind == VOTES:
        answer = np.where(arrays["has_answer"], arrays["answer"].astype(str), _NONE)
        local, gold = _local_answer_ids(query, answer, arrays["target"].astype(str))
        backend = ReplayVotes(local[order].reshape(shape), gold, cost, n_max, prompt_ids)
        backend.strategy = strategy_cls.like(backend.strategy)
    else:
        scores = arrays["scores"].astype(float)[order].reshape(*shape, len(objectives))
        backend = CategoricalScores(np.full(shape, 1.0 / samples), scores, cost, n_max,
                                    objectives, prompt_ids)
        backend.strategy = strategy_cls.like(backend.strategy)
    contexts = Contexts(("default",), np.ones((1, len(objectives))), np.zeros(1),
                        np.ones(1))
    return Environment(meta.get("name", Path(path).stem), backend, contexts,
                       {"source": src, "n_max": n_max, "model": meta.get("model")})


def load_environment(path: str | Path, n_max: int | None = None) -> Environment:
    """A recorded environment file: a replay file (``iapo record``) or a categorical npz."""
    try:
        meta = json.loads(str(read_npz(path).get("meta", "{}")))
    except json.JSONDecodeError:
        meta = {}  # load_npz says what is wrong
    if isinstance(meta, dict) and meta.get("format") == FORMAT:
        return load_replay(path, n_max)
    return load_npz(path)
