"""A two-model loopback project with a money budget, and its exact truth (issue 11's bars).

One loopback server answers as two models: ``small`` (right with probability 0.6, short
answers, cheap, ``n`` support: the prompt billed once per query) and ``large`` (0.85,
longer answers, 15x the price per token, no ``n`` support: one request, and the prompt
billed, per completion). What each arm is worth per context is
known exactly from the server's answer model (``exact_arms``), so a test can say whether a
policy's choice is truly the best. Shared by ``tests/run/test_money_budget.py`` and
``benchmarks/money_budget.py``.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
from pathlib import Path

import numpy as np
import yaml

from tests.conftest import write_sums
from tests.loopback import LoopbackModel

MODELS = {"small": LoopbackModel(0.6, (2, 6), supports_n=True),
          "large": LoopbackModel(0.85, (6, 14), supports_n=False)}
PRICES = {"small": (0.2, 0.8), "large": (3.0, 12.0)}  # USD per million input, output tokens
N_MAX = 8
WRONG_ANSWERS = 3  # the loopback's wrong answers: gold + 1, 2 or 3, equally likely
PROMPT_WORDS = 7  # "What is a + b? Answer: <n>": the server counts words as tokens
CONTEXTS = [
    {"name": "accuracy-first", "weights": {"correct": 1.0, "cost": 0.0}},
    {"name": "frugal", "weights": {"correct": 1.0, "cost": 1.0}},  # 1 per $ per 1k queries
    {"name": "capped", "weights": {"correct": 1.0, "cost": 0.0},
     "max_cost_per_query": 0.00004},
]


def money_config(path: Path, url: str, rows: int = 60, budget: dict | int | None = None,
                 seed: int = 0, concurrency: int = 8) -> Path:
    """The config at ``path`` (its own cache beside it): prompts ``a`` and ``b`` on both
    models, contexts ``CONTEXTS``, money as the cost measure (scale 1000: utility per
    dollar per 1000 queries), ``budget`` default ``{usd: 0.08}``."""
    data = write_sums(path.parent / "sums.jsonl", rows)
    models = [{"id": name, "model": f"openai/{name}", "api_base": url,
               "price": {"input": PRICES[name][0], "output": PRICES[name][1]},
               "params": {"max_tokens": 20}, "concurrency": concurrency, "max_retries": 0,
               "timeout": 10, "supports_n": MODELS[name].supports_n,
               "transport": "http"}  # iapo's own client: no LiteLLM import or CPU
              for name in MODELS]
    config = {
        "name": "money", "backend": {"kind": "live", "n_max": N_MAX,
                                     "cache_dir": str(path.parent / "cache")},
        "models": models,
        "dataset": {"path": str(data), "target_field": "answer", "id_field": "id"},
        "strategy": "majority_vote",
        "prompts": [{"id": "a", "template": "{question} Answer: <n>"},
                    {"id": "b", "template": "{question} Answer: <n>",
                     "decoding": {"temperature": 0.9}}],
        "cost": {"measure": "money", "scale": 1000},
        "contexts": CONTEXTS,
        "budget": {"usd": 0.08} if budget is None else budget,
        "seed": seed,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def vote_accuracy(p: float, n: int, wrong: int = WRONG_ANSWERS) -> float:
    """Expected majority-vote credit of n i.i.d. answers, right with probability p and
    otherwise one of ``wrong`` wrong answers uniformly; a tie for the top with t answers
    earns 1/t (iapo's rule), no votes at all earns 0."""
    probs = [p] + [(1 - p) / wrong] * wrong
    total = 0.0
    for counts in itertools.product(range(n + 1), repeat=wrong + 1):
        if sum(counts) != n:
            continue
        ways = math.factorial(n) / math.prod(math.factorial(c) for c in counts)
        chance = ways * math.prod(q ** c for q, c in zip(probs, counts, strict=True))
        top = max(counts)
        if counts[0] == top:
            total += chance / sum(c == top for c in counts)
    return total


def usd_per_query(model: str, n: int) -> float:
    """Expected USD of one query at N=n: prompt tokens once per request (one request with
    ``n`` support, n without), completion tokens ``words + 3`` per completion."""
    spec, (price_in, price_out) = MODELS[model], PRICES[model]
    completion = (spec.words[0] + spec.words[1]) / 2 + 3  # "Working: ... .\nAnswer: v"
    requests = 1 if spec.supports_n else n
    return (requests * PROMPT_WORDS * price_in + n * completion * price_out) / 1e6


def exact_arms() -> dict[str, dict[tuple[str, int], float]]:
    """Per context name, the exact utility of every (model, N) arm it may choose (both
    prompts are the same to the server); a capped context's arms above its cap left out."""
    out = {}
    for context in CONTEXTS:
        weight = context["weights"]["cost"]
        cap = context.get("max_cost_per_query")
        arms = {}
        for model in MODELS:
            for n in range(1, N_MAX + 1):
                usd = usd_per_query(model, n)
                if cap is not None and usd > cap:
                    continue
                arms[(model, n)] = vote_accuracy(MODELS[model].accuracy, n) - \
                    weight * 1000 * usd
        out[context["name"]] = arms
    return out


def server_usd(served: dict[str, dict[str, int]]) -> float:
    """What the server billed: its metered tokens per model times the configured prices."""
    return sum((meter["prompt_tokens"] * PRICES[name][0]
                + meter["completion_tokens"] * PRICES[name][1]) / 1e6
               for name, meter in served.items())


def best(arms: dict[tuple[str, int], float]) -> tuple[tuple[str, int], float]:
    arm = max(arms, key=arms.get)
    return arm, arms[arm]


def regret(arms: dict[tuple[str, int], float], chosen: tuple[str, int]) -> float:
    return best(arms)[1] - arms.get(chosen, -np.inf)


@contextlib.contextmanager
def trained_money_run(directory: Path, seed: int, budget: int = 200):
    """A loopback server answering as ``MODELS`` (seeded by request content) and a run
    trained on it with a completion ``budget``, for a module's tests: yields (server, run
    directory), with a test key set for as long as they live (module fixtures cannot use
    monkeypatch)."""
    from iapo_cli.run import optimize
    from tests.loopback import LoopbackServer

    saved = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = "sk-test-not-a-key"
    try:
        with LoopbackServer(seed=seed, models=MODELS, seed_by_content=True) as server:
            config = money_config(directory / "c.yaml", server.url, budget=budget)
            yield server, optimize(config, out=directory / "run").run_dir
    finally:
        if saved is None:
            os.environ.pop("OPENAI_API_KEY", None)
        else:
            os.environ["OPENAI_API_KEY"] = saved
