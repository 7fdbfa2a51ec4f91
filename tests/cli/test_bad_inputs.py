"""Issue 10's bar: every bad input iapo can be given - each config field, dataset format,
CLI flag and run-directory file - exits 2 with exactly ONE line ``error: <file>: <field>:
<what is wrong>``, no traceback, and writes nothing (no run directory, no cache entry, no
changed file); the documented runtime failures (a user's scorer misbehaving) exit 1 with
status ``failed`` and lose nothing.

The cases are tables: a valid base config plus one dotted-path mutation, a dataset text,
a command line, a run-directory file's new contents. Every case runs in this process
(``run_cli``) on an offline backend or the in-process simulator ``iapo-sim`` (bad input is
caught before any completion), so the whole file takes a few seconds.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import run_cli, write_npz, write_replay_votes

DELETE = object()  # a mutation that removes the key
HUGE = 2**53 + 1  # one above the largest budget (float64 arithmetic is exact up to 2**53)

SYN = {
    "name": "bad",
    "backend": {"kind": "synthetic", "family": "bernoulli-mv", "prompts": 6, "queries": 60,
                "n_max": 8, "seed": 3},
    "contexts": [{"name": "free", "weights": {"correct": 1.0, "cost": 0.0}},
                 {"name": "costly", "weights": {"correct": 1.0, "cost": 2.0}}],
    "budget": 600,
    "seed": 1,
}
CAT = {**SYN, "backend": {"kind": "categorical", "path": "{data}/tiny.npz"}, "contexts": None}
REP = {**SYN, "backend": {"kind": "replay", "path": "{data}/votes.replay.npz"},
       "contexts": None}
LIVE = {
    "name": "bad",
    "backend": {"kind": "live", "model": "iapo-sim/arith", "n_max": 4},
    "dataset": {"path": "{data}/d20.jsonl", "input_fields": ["question"],
                "target_field": "answer", "id_field": "id"},
    "strategy": "majority_vote",
    "answer": {"pattern": r"(?im)^\s*answer\s*:\s*(.+?)\s*$"},
    "prompts": [{"id": "a", "template": "{question}\nGive 'Answer: <n>'."},
                {"id": "b", "template": "{question}\nThink step by step; 'Answer: <n>'."}],
    "contexts": [{"name": "c1", "weights": {"correct": 1.0, "cost": 0.0}}],
    "budget": 40,
    "seed": 0,
}
MULTI = {**LIVE, "backend": {"kind": "live", "n_max": 4},
         "models": [{"id": "small", "model": "iapo-sim/arith-small",
                     "price": {"input": 0.15, "output": 0.6}},
                    {"id": "large", "model": "iapo-sim/arith-large",
                     "price": {"input": 2.5, "output": 10}}]}
BON = {**LIVE, "strategy": "best_of_n",
       "objectives": [{"name": "correct", "scorer": "numeric_match"}]}

KEY = "sk-proj-AbCdEf0123456789XyZ"  # key-shaped, not a real key
TOKEN = "Zq8Lx2Rv7Nw4Pt9Ks1Mb6Hc3Jd5Fg0Ya"  # 34 characters of random mixed case + digits

# (base, dotted path (list items by index), new value or DELETE, field, in the message)
CONFIG_CASES = [
    # top level
    (SYN, "name", "", "name", "at least 1 character"),
    (SYN, "name", "a b", "name", "should match pattern"),
    (SYN, "name", DELETE, "name", "is required"),
    (SYN, "name", [1], "name", "valid string"),
    (SYN, "colour", "red", "colour", "unknown key"),
    (SYN, "budget", 0, "budget", "greater than 0"),
    (SYN, "budget", -3, "budget", "greater than 0"),
    (SYN, "budget", "lots", "budget", "valid integer"),
    (SYN, "budget", 1.5, "budget", "valid integer"),
    (SYN, "budget", None, "budget", "valid integer"),
    (SYN, "budget", DELETE, "budget", "is required"),
    (SYN, "budget", 5, "budget", "5 is smaller than one pull at N=1 per prompt"),
    (SYN, "budget", HUGE, "budget", "must be at most 2**53"),
    (SYN, "budget", 10**30, "budget", "must be at most 2**53"),
    (SYN, "seed", -1, "seed", "greater than or equal to 0"),
    (SYN, "seed", "x", "seed", "valid integer"),
    (SYN, "seed", 1.5, "seed", "valid integer"),
    (SYN, "strategy", "magic", "strategy", "unknown strategy 'magic'"),
    (SYN, "strategy", "best_of_n", "strategy", "uses 'majority_vote', not 'best_of_n'"),
    (SYN, "output", "{data}/afile", "output", "cannot create the directory"),
    (SYN, "output", "{data}/afile/runs", "output", "cannot create the directory"),
    (SYN, "output", "/dev/null/runs", "output", "cannot create the directory"),
    (SYN, "output", "/proc/iapo-runs", "output", "cannot create the directory"),
    (SYN, "output", "/sys", "output", "cannot write into /sys"),
    (SYN, "output", ["runs"], "output", "valid string"),
    # backend
    (SYN, "backend", DELETE, "backend", "is required"),
    (SYN, "backend", "synthetic", "backend", "must be a mapping of keys to values"),
    (SYN, "backend.kind", "nope", "backend.kind", "unknown kind 'nope'"),
    (SYN, "backend.kind", None, "backend.kind", "unknown kind null"),
    (SYN, "backend.kind", DELETE, "backend.kind", "is required"),
    (SYN, "backend.family", "nope", "backend.family", "unknown synthetic family 'nope'"),
    (SYN, "backend.family", "", "backend.family", "at least 1 character"),
    (SYN, "backend.prompts", 1, "backend.prompts", "greater than or equal to 2"),
    (SYN, "backend.prompts", "many", "backend.prompts", "valid integer"),
    (SYN, "backend.queries", 4, "backend.queries", "greater than or equal to 5"),
    (SYN, "backend.n_max", 0, "backend.n_max", "greater than or equal to 1"),
    (SYN, "backend.n_max", 257, "backend.n_max", "less than or equal to 256"),
    (SYN, "backend.seed", -1, "backend.seed", "greater than or equal to 0"),
    (SYN, "backend.seed", 1.5, "backend.seed", "valid integer"),
    (SYN, "backend.model", "gpt", "backend.model", "unknown key for kind 'synthetic'"),
    (CAT, "backend.path", "{data}/missing.npz", "backend.path", "file not found"),
    (CAT, "backend.path", "", "backend.path", "at least 1 character"),
    (CAT, "backend.path", DELETE, "backend.path", "is required"),
    (CAT, "backend.family", "x", "backend.family", "unknown key for kind 'categorical'"),
    (REP, "backend.path", "{data}/missing.replay.npz", "backend.path", "file not found"),
    (REP, "backend.n_max", 0, "backend.n_max", "greater than or equal to 1"),
    (REP, "strategy", "best_of_n", "strategy", "not 'best_of_n'"),
    # prompts and objectives of offline backends
    (SYN, "prompts", [], "prompts", "must not be empty"),
    (SYN, "prompts", [{"id": "a"}, {"id": "a"}], "prompts", "duplicate prompt id 'a'"),
    (SYN, "prompts", [{"id": "a"}], "prompts", "lists 1 prompts but the backend has 6"),
    (SYN, "prompts", [{"id": ""}], "prompts[0].id", "at least 1 character"),
    (SYN, "prompts", [{"id": "a", "colour": 1}], "prompts[0].colour", "unknown key"),
    (SYN, "prompts", "a,b", "prompts", "valid list"),
    (SYN, "objectives", [{"name": "quality"}], "objectives", "scores correct; got quality"),
    (SYN, "objectives", [{"name": "correct", "range": [1, 0]}], "objectives[0].range",
     "low < high"),
    (SYN, "objectives", [{"name": "correct", "range": [0, float("nan")]}],
     "objectives[0].range[1]", "finite number"),
    (SYN, "objectives", [{"name": ""}], "objectives[0].name", "at least 1 character"),
    # cost and scales
    (SYN, "cost", "tokens", "cost", "must be a mapping of keys to values"),
    (SYN, "cost.measure", "dollars", "cost.measure", "input should be"),
    (SYN, "cost.scale", 0, "cost.scale", "greater than 0"),
    (SYN, "cost.scale", -1, "cost.scale", "greater than 0"),
    (SYN, "cost.scale", float("inf"), "cost.scale", "finite number"),
    (SYN, "cost.colour", 1, "cost.colour", "unknown key"),
    (SYN, "scales", [], "scales", "must not be empty"),
    (SYN, "scales", [1, 1], "scales", "must not repeat a scale"),
    (SYN, "scales", [0], "scales[0]", "0 is outside 1..8"),
    (SYN, "scales", [1, 9], "scales[1]", "9 is outside 1..8"),
    (SYN, "scales", "some", "scales", "must be 'max' or a list of integers"),
    (SYN, "scales", [1.5], "scales[0]", "valid integer"),
    # contexts
    (SYN, "contexts", [], "contexts", "must not be empty"),
    (SYN, "contexts.1.name", "free", "contexts", "duplicate context name 'free'"),
    (SYN, "contexts.0.probability", 0.5, "contexts",
     "give a probability for every context or for none"),
    (SYN, "contexts.0.weights.correct", float("nan"), "contexts[0].weights.correct",
     "finite number"),
    (SYN, "contexts.0.weights.correct", float("inf"), "contexts[0].weights.correct",
     "finite number"),
    (SYN, "contexts.0.weights.correct", "high", "contexts[0].weights.correct",
     "valid number"),
    (SYN, "contexts.0.weights.fluency", 1, "contexts[0].weights",
     "unknown objective 'fluency'"),
    (SYN, "contexts.1.weights.cost", -2, "contexts[1].weights.cost",
     "the cost weight must be >= 0"),
    (SYN, "contexts.0.weights", {"correct": 0.0, "cost": 0.0}, "contexts[0].weights",
     "every weight 0"),
    (SYN, "contexts.0.weights", {}, "contexts[0].weights", "every weight 0"),
    (SYN, "contexts.0.weights", DELETE, "contexts[0].weights", "is required"),
    (SYN, "contexts.0.name", "", "contexts[0].name", "at least 1 character"),
    (SYN, "contexts.0.colour", 1, "contexts[0].colour", "unknown key"),
    (SYN, "contexts", [{"name": "a", "weights": {"correct": 1}, "probability": -0.5}],
     "contexts[0].probability", "greater than or equal to 0"),
    (SYN, "contexts", [{"name": "a", "weights": {"correct": 1}, "probability": float("nan")}],
     "contexts[0].probability", "finite number"),
    (SYN, "contexts", [{"name": "a", "weights": {"correct": 1}, "probability": float("inf")}],
     "contexts[0].probability", "finite number"),
    (SYN, "contexts", [{"name": "a", "weights": {"correct": 1}, "probability": 0},
                       {"name": "b", "weights": {"correct": 1}, "probability": 0}],
     "contexts", "probabilities must not all be 0"),
    (SYN, "contexts", {"grid": {}}, "contexts.grid", "must name at least one weight"),
    (SYN, "contexts", {"grid": {"correct": []}}, "contexts.grid", "'correct' has no values"),
    (SYN, "contexts", {"grid": {"correct": [0, 1], "cost": [0]}}, "contexts.grid",
     "the combination correct=0,cost=0 has every weight 0"),
    (SYN, "contexts", {"grid": {"fluency": [1]}}, "contexts.grid",
     "unknown objective 'fluency'"),
    (SYN, "contexts", {"grid": {"correct": [1], "cost": [-1]}}, "contexts.grid.cost",
     "the cost weight must be >= 0"),
    (SYN, "contexts", {"grid": {"correct": [float("nan")]}}, "contexts.grid.correct[0]",
     "finite number"),
    (SYN, "contexts", {"grid": {"correct": [1]}, "colour": 1}, "contexts.colour",
     "unknown key"),
    # algorithm
    (SYN, "algorithm", "psst", "algorithm", "must be a mapping of keys to values"),
    (SYN, "algorithm.name", "magic", "algorithm", "unknown algorithm 'magic'"),
    (SYN, "algorithm.params", [1], "algorithm.params", "valid dictionary"),
    (SYN, "algorithm.params", {"bogus": 1}, "algorithm", "bad parameters for psst"),
    (SYN, "algorithm.params", {"rho": 2}, "algorithm", "rho must lie in (0, 1), got 2"),
    (SYN, "algorithm.params", {"rho": float("nan")}, "algorithm", "rho must be a finite"),
    (SYN, "algorithm.params", {"rho": "abc"}, "algorithm", "rho must be a number"),
    (SYN, "algorithm.params", {"rounds": 0}, "algorithm", "rounds must be at least 1"),
    (SYN, "algorithm.params", {"rounds": 65}, "algorithm", "rounds must be at most 64"),
    (SYN, "algorithm.params", {"rounds": 10**9}, "algorithm", "rounds must be at most 64"),
    (SYN, "algorithm.params", {"rounds": 1.5}, "algorithm", "rounds must be an integer"),
    (SYN, "algorithm.params", {"k": 0}, "algorithm", "k must be at least 1"),
    (SYN, "algorithm.params", {"schedule": "fast"}, "algorithm", "schedule must be"),
    (SYN, "algorithm.params", {"screen": "maybe"}, "algorithm", "screen must be one of"),
    (SYN, "algorithm.params", {"estimator": "fancy"}, "algorithm", "estimator must be one of"),
    (SYN, "algorithm.params", {"alpha": 0}, "algorithm", "alpha must be positive, got 0"),
    (SYN, "algorithm.params", {"votes": 0}, "algorithm", "votes must be at least 1, got 0"),
    (BON, "algorithm", {"name": "psst", "params": {"estimator": "pooled"}}, "algorithm",
     "estimator 'pooled' needs majority voting, not 'best_of_n' (use auto or unbiased)"),
    (SYN, "algorithm", {"name": "ucb", "params": {"c": -1}}, "algorithm", "c must be >= 0"),
    (SYN, "algorithm", {"name": "ucb", "params": {"batches": 0}}, "algorithm",
     "batches must be at least 1"),
    (SYN, "algorithm", {"name": "epsilon_greedy", "params": {"epsilon": 2}}, "algorithm",
     "epsilon must lie in [0, 1]"),
    (SYN, "algorithm", {"name": "softmax", "params": {"temperature": 0}}, "algorithm",
     "temperature must be > 0"),
    (SYN, "algorithm", {"name": "sequential_halving", "params": {"rounds": 0}}, "algorithm",
     "rounds must be at least 1"),
    (SYN, "algorithm", {"name": "sequential_halving", "params": {"rounds": 10**9}},
     "algorithm", "rounds must be at most 64"),
    (SYN, "algorithm", {"name": "uniform", "params": {"x": 1}}, "algorithm",
     "bad parameters for uniform"),
    (SYN, "algorithm.colour", 1, "algorithm.colour", "unknown key"),
    # split
    (SYN, "split.test_fraction", 0, "split.test_fraction", "greater than 0"),
    (SYN, "split.test_fraction", 1, "split.test_fraction", "less than 1"),
    (SYN, "split.test_fraction", 0.999, "split.test_fraction",
     "leaves the training split empty"),
    (SYN, "split.test_fraction", 0.001, "split.test_fraction", "leaves the test split empty"),
    (SYN, "split.test_fraction", float("nan"), "split.test_fraction", "finite number"),
    (SYN, "split.test_fraction", "half", "split.test_fraction", "valid number"),
    (SYN, "split.colour", 1, "split.colour", "unknown key"),
    (LIVE, "split.test_fraction", 0.99, "split.test_fraction",
     "0.99 of 20 queries leaves the training split empty"),
    # live backend settings
    (LIVE, "backend.model", "", "backend.model", "at least 1 character"),
    (LIVE, "backend.model", DELETE, "backend.model", "is required"),
    (LIVE, "backend.timeout", 0, "backend.timeout", "greater than 0"),
    (LIVE, "backend.timeout", float("inf"), "backend.timeout", "finite number"),
    (LIVE, "backend.concurrency", 0, "backend.concurrency", "greater than or equal to 1"),
    (LIVE, "backend.concurrency", 513, "backend.concurrency", "less than or equal to 512"),
    (LIVE, "backend.max_retries", -1, "backend.max_retries", "greater than or equal to 0"),
    (LIVE, "backend.max_retries", 21, "backend.max_retries", "less than or equal to 20"),
    (LIVE, "backend.retry_base_delay", -1, "backend.retry_base_delay",
     "greater than or equal to 0"),
    (LIVE, "backend.retry_max_delay", float("inf"), "backend.retry_max_delay",
     "finite number"),
    (LIVE, "backend.max_n", 0, "backend.max_n", "greater than or equal to 1"),
    (LIVE, "backend.n_max", 300, "backend.n_max", "less than or equal to 256"),
    (LIVE, "backend.supports_n", "maybe", "backend.supports_n", "valid boolean"),
    (LIVE, "backend.family", "x", "backend.family", "unknown key for kind 'live'"),
    (LIVE, "backend.cache_dir", "{data}/afile", "backend.cache_dir", "afile"),
    (LIVE, "backend.cache_dir", "/dev/null/cache", "backend.cache_dir", "/dev/null"),
    (LIVE, "backend.cache_dir", "/proc/iapo-cache", "backend.cache_dir", "cannot write"),
    (LIVE, "backend.retry_after_max", -1, "backend.retry_after_max", "greater than or equal"),
    (LIVE, "backend.api_key_env", KEY, "backend.api_key_env", "not hold the key itself"),
    (LIVE, "backend.transport", "pigeon", "backend.transport", "'litellm' or 'http'"),
    (LIVE, "backend.params", {"extra_body": [1]}, "backend",
     "params.extra_body must be a mapping, got list"),
    (MULTI, "models.0.params", {"extra_headers": "X-Team: a"}, "models[0]",
     "params.extra_headers must be a mapping, got str"),
    (LIVE, "backend.transport", "http", "backend", "transport 'http' needs an api_base"),
    (MULTI, "models.1.transport", "http", "models[1]", "transport 'http' needs an api_base"),
    # several models (issue 11)
    (MULTI, "models", [], "models", "must not be empty"),
    (MULTI, "models.1.id", "small", "models", "duplicate model id 'small'"),
    (MULTI, "models.1.id", "a b", "models[1].id", "should match pattern"),
    (MULTI, "models.0.model", DELETE, "models[0].model", "is required"),
    (MULTI, "models.0.price.input", -1, "models[0].price.input",
     "greater than or equal to 0"),
    (MULTI, "models.0.params", {"n": 2}, "models[0].params", "'n' is set by iapo itself"),
    (MULTI, "models.0.api_key_env", KEY, "models[0].api_key_env", "not hold the key itself"),
    (MULTI, "backend.model", "iapo-sim/arith", "backend.model", "set it per model in models"),
    (MULTI, "backend.timeout", 5, "backend.timeout", "set it per model in models"),
    (MULTI, "prompts.0.models", ["nope"], "prompts[0].models[0]",
     "unknown model id 'nope' (known: large, small)"),
    (MULTI, "prompts.0.models", [], "prompts[0].models", "must not be empty"),
    (MULTI, "budget", {"usd": 1}, "models[0].params.max_tokens",
     "a budget in usd needs max_tokens (or max_completion_tokens) for every arm"),
    (LIVE, "budget", {"tokens": 1000}, "backend.params.max_tokens",
     "a budget in tokens needs max_tokens"),
    (LIVE, "prompts.0.models", ["small"], "prompts[0].models",
     "names models, but the config lists none"),
    (LIVE, "backend.price", {"input": 1}, "backend.price.output", "is required"),
    (LIVE, "cost.measure", "money", "cost.measure",
     "LiteLLM has no price for 'iapo-sim/arith'; give backend.price"),
    (SYN, "models", MULTI["models"], "models", "needs a live backend (kind 'live')"),
    (LIVE, "contexts.0.max_cost_per_query", 0.01, "contexts[0].max_cost_per_query",
     "a cap in USD needs a price for every model"),
    (LIVE, "contexts.0.max_cost_per_query", 0, "contexts[0].max_cost_per_query",
     "greater than 0"),
    (LIVE, "contexts.0.max_n", 0, "contexts[0].max_n", "greater than or equal to 1"),
    (LIVE, "budget", {"usd": 1, "tokens": 5}, "budget", "give exactly one of"),
    (LIVE, "budget", {}, "budget", "give exactly one of"),
    (LIVE, "budget", {"dollars": 1}, "budget.dollars", "unknown key"),
    (SYN, "budget", {"usd": 1}, "budget.usd", "a budget in usd needs a live backend with "
     "prices"),
    (SYN, "budget", {"tokens": 1000}, "budget.tokens", "a budget in tokens needs a live "
     "backend (offline environments count completions or cost)"),
    (LIVE, "budget", {"cost": 5}, "budget.cost", "a budget in cost needs an offline "
     "environment with per-completion costs (live backends take usd or tokens)"),
    (SYN, "budget", {"cost": 1e-9}, "budget.cost", "1e-09 cost is less than one pull at N=1 "
     "of each of the 6 arms at worst case"),
    (SYN, "budget", {"cost": float("nan")}, "budget.cost", "finite number"),
    # request keys the client sets itself: given twice, every request would fail
    (LIVE, "backend.params", {"timeout": 5}, "backend.params",
     "'timeout' is set by iapo itself (use backend.timeout)"),
    (LIVE, "backend.params", {"n": 4}, "backend.params", "'n' is set by iapo itself"),
    (LIVE, "backend.params", {"num_retries": 3}, "backend.params",
     "'num_retries' is set by iapo itself"),
    (LIVE, "backend.params", {"model": "x"}, "backend.params", "'model' is set by iapo"),
    # secrets: by name (not max_tokens) and by value, at any depth
    (LIVE, "backend.params", {"api_key": "x"}, "backend",
     "'params.api_key' looks like a secret"),
    (LIVE, "backend.params", {"API_Token": "x"}, "backend",
     "'params.API_Token' looks like a secret"),
    (LIVE, "backend.params", {"accessToken": "x"}, "backend",
     "'params.accessToken' looks like a secret"),
    (LIVE, "backend.params", {"client_secret": "x"}, "backend",
     "'params.client_secret' looks like a secret"),
    (LIVE, "backend.params", {"extra_headers": {"X-Key": KEY}}, "backend",
     "'params.extra_headers.X-Key' looks like a secret"),
    (LIVE, "backend.params", {"extra_headers": {"Authorization": "x"}}, "backend",
     "'params.extra_headers.Authorization' looks like a secret"),
    (LIVE, "backend.params", {"extra_headers": {"X-Custom": KEY}}, "backend",
     "'params.extra_headers.X-Custom' holds a key-shaped value"),
    (LIVE, "backend.params", {"extra_headers": {"X-Custom": "Bearer abcdefgh12345"}},
     "backend", "'params.extra_headers.X-Custom' holds a key-shaped value"),
    (LIVE, "backend.params", {"extra_body": {"meta": {"note": TOKEN}}}, "backend",
     "'params.extra_body.meta.note' holds a key-shaped value"),
    (LIVE, "backend.params", {"headers": [{"x": "hf_abcdefghijklmnop"}]}, "backend",
     "'params.headers[0].x' holds a key-shaped value"),
    (LIVE, "backend.params", {"aws": "AKIAABCDEFGHIJKLMNOP"}, "backend",
     "'params.aws' holds a key-shaped value"),
    (LIVE, "backend.api_base", "https://user:hunter22@example.com/v1", "backend",
     "'api_base' holds a key-shaped value"),
    (LIVE, "prompts.0.decoding", {"api_key": KEY}, "prompts[0]",
     "'decoding.api_key' looks like a secret"),
    (LIVE, "prompts.0.decoding", {"logit_bias": {"x": KEY}}, "prompts[0]",
     "'decoding.logit_bias.x' holds a key-shaped value"),
    (BON, "objectives.0.params", {"model": "openai/x", "api_key": KEY}, "objectives[0]",
     "'params.api_key' looks like a secret"),
    # live inputs
    (LIVE, "dataset", DELETE, "dataset", "kind 'live' needs a dataset"),
    (LIVE, "dataset.duplicates", "sometimes", "dataset.duplicates", "'error', 'drop' or"),
    (LIVE, "prompts", DELETE, "prompts", "kind 'live' needs prompts"),
    (LIVE, "dataset.path", "{data}/missing.jsonl", "dataset.path", "file not found"),
    (LIVE, "dataset.path", "{data}/afile", "dataset.path", "use a .jsonl or .csv file"),
    (LIVE, "dataset.path", "{data}", "dataset.path", "file not found"),
    (LIVE, "dataset.path", DELETE, "dataset.path", "is required"),
    (LIVE, "dataset.input_fields", ["nope"], "dataset.input_fields[0]",
     "'nope' is not a field of every row"),
    (LIVE, "dataset.input_fields", "question", "dataset.input_fields", "valid list"),
    (LIVE, "dataset.target_field", "nope", "dataset.target_field", "'nope' is not a field"),
    (LIVE, "dataset.target_field", DELETE, "dataset.target_field",
     "majority voting needs the gold answer's field"),
    (LIVE, "dataset.id_field", "nope", "dataset.id_field", "'nope' is not a field"),
    (LIVE, "dataset.id_field", "steps", "dataset.id_field", "'steps' values repeat"),
    (LIVE, "dataset.colour", 1, "dataset.colour", "unknown key"),
    (LIVE, "prompts.0.template", "", "prompts[0].template", "is required for a live"),
    (LIVE, "prompts.0.template", "{missing}", "prompts[0].template",
     "names field 'missing'"),
    (LIVE, "prompts.0.template", "{steps}", "prompts[0].template", "names field 'steps'"),
    (LIVE, "prompts.0.template", "{a.b}", "prompts[0].template", "plain field name"),
    (LIVE, "prompts.0.template", "{oops", "prompts[0].template", "malformed template"),
    (LIVE, "prompts.0.template", "{}", "prompts[0].template", "empty placeholder"),
    (LIVE, "prompts.0.decoding", {"n": 3}, "prompts[0].decoding.n",
     "cannot be set per prompt"),
    (LIVE, "prompts.0.decoding", {"model": "x"}, "prompts[0].decoding.model",
     "cannot be set per prompt"),
    (LIVE, "prompts.0.decoding", "hot", "prompts[0].decoding", "valid dictionary"),
    (LIVE, "prompts.0.decoding", {"timeout": 5}, "prompts[0].decoding.timeout",
     "cannot be set per prompt"),
    (LIVE, "prompts.0.decoding", {"temperature": "hot"}, "prompts[0].decoding",
     "'temperature' must be a number in [0, 2], got str"),
    (LIVE, "prompts.0.decoding", {"temperature": -1}, "prompts[0].decoding",
     "'temperature' must be a number in [0, 2], got -1"),
    (LIVE, "prompts.0.decoding", {"max_tokens": -5}, "prompts[0].decoding",
     "'max_tokens' must be an integer in [1, 2147483647], got -5"),
    (LIVE, "backend.params", {"top_p": 1.5}, "backend.params",
     "'top_p' must be a number in [0, 1], got 1.5"),
    (LIVE, "answer.pattern", "(", "answer.pattern", ""),
    (LIVE, "answer.lowercase", "maybe", "answer.lowercase", "valid boolean"),
    (LIVE, "cost.measure", "money", "cost.measure", "LiteLLM has no price"),
    (LIVE, "objectives", [{"name": "quality"}], "objectives",
     "majority voting has the single objective 'correct'"),
    (LIVE, "budget", 1, "budget", "1 is smaller than one pull at N=1 per prompt"),
    (LIVE, "strategy", "best_of_n", "objectives", "Best-of-N needs objectives"),
    (BON, "objectives.0.scorer", DELETE, "objectives[0].scorer", "needs a scorer"),
    (BON, "objectives.0.scorer", "bleu", "objectives[0].scorer", "unknown scorer 'bleu'"),
    (BON, "objectives.0.scorer", "python:nowhere:fn", "objectives[0].scorer",
     "needs 'range'"),
    (BON, "objectives.0", {"name": "correct", "scorer": "python:nowhere_mod:fn",
                           "range": [0, 1]}, "objectives[0].scorer",
     "cannot import 'nowhere_mod'"),
    (BON, "objectives.0", {"name": "correct", "scorer": "python:exits_on_import:score",
                           "range": [0, 1]}, "objectives[0].scorer",
     "cannot import 'exits_on_import' (SystemExit"),
    (BON, "objectives.0", {"name": "correct", "scorer": "python:scorers:missing",
                           "range": [0, 1]}, "objectives[0].scorer",
     "'scorers' has no function 'missing'"),
    (BON, "objectives.0", {"name": "correct", "scorer": "python:scorers",
                           "range": [0, 1]}, "objectives[0].scorer", "must name module"),
    (BON, "objectives.0", {"name": "correct", "scorer": "regex_match",
                           "params": {"pattern": "("}}, "objectives[0].scorer",
     "bad pattern"),
    (BON, "objectives.0", {"name": "correct", "scorer": "length", "params": {"bogus": 1}},
     "objectives[0].scorer", "bad params for 'length'"),
    (BON, "objectives.0", {"name": "correct", "scorer": "llm_judge"},
     "objectives[0].scorer", "needs params.model"),
    (BON, "objectives", [], "objectives", "Best-of-N needs objectives"),
]


def _case_id(case) -> str:
    base = {id(SYN): "syn", id(CAT): "cat", id(REP): "replay", id(LIVE): "live", id(MULTI): "multi",
            id(BON): "bon"}[id(case[0])]
    value = "DELETE" if case[2] is DELETE else json.dumps(case[2], default=str)[:40]
    return f"{base}-{case[1]}={value}"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Files the cases name: a 20-row dataset, an npz env, a replay file, a plain file,
    the user's scorer modules, and a complete offline run."""
    root = tmp_path_factory.mktemp("data")
    bank = Path(__file__).resolve().parents[2] / "configs" / "data" / "arithmetic.jsonl"
    lines = bank.read_text(encoding="utf-8").splitlines()[:20]
    (root / "d20.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_npz(root / "tiny.npz")
    write_replay_votes(root / "votes.replay.npz")
    (root / "afile").write_text("not a directory, not a dataset\n", encoding="utf-8")
    (root / "exits_on_import.py").write_text("import sys\nsys.exit(3)\n", encoding="utf-8")
    (root / "scorers.py").write_text(
        "import sys\n"
        "def nan(text, row): return float('nan')\n"
        "def inf(text, row): return float('inf')\n"
        "def text(text, row): return 'high'\n"
        "def none(text, row): return None\n"
        "def exits(text, row): sys.exit(3)\n"
        "def raises(text, row): raise KeyError('x')\n", encoding="utf-8")
    return root


def dump(data: dict) -> str:
    """``data`` as YAML (libyaml's safe dumper where there is one: 10x faster)."""
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper))


def _fill(value, data: Path):
    if isinstance(value, str):
        return value.replace("{data}", str(data))
    if isinstance(value, dict):
        return {k: _fill(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, data) for v in value]
    return value


def mutated(base: dict, path: str, value, data: Path, tmp: Path) -> dict:
    """``base`` (paths filled in, output and cache under ``tmp``) with ``path`` set to
    ``value`` (or removed)."""
    config = copy.deepcopy(_fill(base, data))
    config = {k: v for k, v in config.items() if v is not None}
    config["output"] = str(tmp / "runs")
    if config["backend"].get("kind") == "live":
        config["backend"]["cache_dir"] = str(tmp / "cache")
    node, parts = config, path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = int(parts[-1]) if isinstance(node, list) else parts[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = _fill(value, data)
    return config


def snapshot(root: Path) -> dict[str, str]:
    """Every file and directory under ``root`` with a hash of its contents."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "dir" for p in sorted(root.rglob("*"))}


def assert_bad_input(result, source, field: str | None, message: str) -> None:
    """Exit 2, one line ``error: <source>: <field>: ...message...``, nothing on stdout."""
    code, out, err = result
    assert code == 2, (code, err)
    assert "Traceback" not in err and out == "", err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    prefix = "error: " + "".join(f"{p}: " for p in (source, field) if p)
    assert lines[0].startswith(prefix), (lines[0], prefix)
    assert message in lines[0][len(prefix):], (lines[0], message)


@pytest.mark.parametrize("base, path, value, field, message", CONFIG_CASES,
                         ids=[_case_id(c) for c in CONFIG_CASES])
def test_a_bad_config_value(data, tmp_path, base, path, value, field, message):
    config = tmp_path / "c.yaml"
    config.write_text(dump(mutated(base, path, value, data, tmp_path)),
                      encoding="utf-8")
    for module in ("scorers.py", "exits_on_import.py"):  # python scorers: next to the config
        shutil.copy(data / module, tmp_path / module)
    before = snapshot(tmp_path)
    result = run_cli("optimize", config)
    assert_bad_input(result, config, field, message)
    assert snapshot(tmp_path) == before  # no run directory, no cache
    assert KEY not in result[2] and TOKEN not in result[2]  # a secret is named, not shown


def test_the_bases_are_valid(data, tmp_path):
    """Each case differs from a config that passes, so each case tests its mutation."""
    for i, base in enumerate((SYN, CAT, REP, LIVE, MULTI, BON)):
        config = tmp_path / f"c{i}.yaml"
        config.write_text(dump(mutated(base, "seed", 0, data, tmp_path)),
                          encoding="utf-8")
        code, out, err = run_cli("validate", config)
        assert code == 0, err


NAN_PROBS = np.full((4, 40, 3), np.nan)
# (arrays replaced in a valid categorical env, the array named, in the message); the
# file named is the env file itself
ENV_CASES = [
    ({"probs": NAN_PROBS}, "probs", "has negative or non-finite entries"),
    ({"probs": -np.ones((4, 40, 3))}, "probs", "has negative or non-finite entries"),
    ({"probs": np.ones((4, 40))}, "probs", "must have shape (P, X, C)"),
    ({"answers": np.zeros(7, dtype=int)}, "answers", "must have shape (40,)"),
    ({"answers": np.full(40, 9)}, "answers", "gold indices must lie in -1..2"),
    ({"cost": np.ones(3)}, "cost", "must have shape (4,)"),
    ({"cost": np.full(4, np.inf)}, "cost", "must be finite and non-negative"),
    ({"cost": -np.ones(4)}, "cost", "must be finite and non-negative"),
    ({"meta": np.array("{not json")}, "meta", "is not JSON"),
]


@pytest.mark.parametrize("arrays, field, message", ENV_CASES,
                         ids=[f"{c[1]}-{c[2][:20]}" for c in ENV_CASES])
def test_a_bad_environment_file(data, tmp_path, arrays, field, message):
    env = write_npz(tmp_path / "env.npz", **arrays)
    config = tmp_path / "c.yaml"
    config.write_text(dump(mutated(CAT, "backend.path", str(env), data, tmp_path)),
                      encoding="utf-8")
    before = snapshot(tmp_path)
    assert_bad_input(run_cli("optimize", config), env, field, message)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("base", [CAT, REP], ids=["categorical", "replay"])
def test_an_environment_file_that_is_no_archive(data, tmp_path, base):
    config = tmp_path / "c.yaml"
    config.write_text(dump(mutated(base, "backend.path", "{data}/afile", data,
                                             tmp_path)), encoding="utf-8")
    assert_bad_input(run_cli("optimize", config), data / "afile", None,
                     "not a readable .npz archive")
    assert not (tmp_path / "runs").exists()


SYN_TEXT = yaml.safe_dump(SYN, sort_keys=False)  # the line numbers below are its
# (config file text, field, in the message): what YAML itself gets wrong
TEXT_CASES = [
    (SYN_TEXT + "budget: 700\n", "budget",
     "line 20: the key is given twice (first on line 18)"),
    (SYN_TEXT.replace("  n_max: 8\n", "  n_max: 8\n  n_max: 4\n"), "backend.n_max",
     "the key is given twice"),
    (SYN_TEXT.replace("- name: free\n", "- name: free\n  name: again\n"), "contexts[0].name",
     "the key is given twice"),
    (SYN_TEXT.replace("    correct: 1.0\n", "    correct: 1.0\n    correct: 2.0\n", 1),
     "contexts[0].weights.correct", "the key is given twice"),
    ("name: [\n", None, "line 2, column 1: malformed YAML"),
    ("name: bad\n\tbudget: 3\n", None, "malformed YAML"),
    ("- a\n- b\n", None, "the top level must be a mapping of keys to values"),
    ("", None, "the top level must be a mapping of keys to values"),
    ("just text\n", None, "the top level must be a mapping of keys to values"),
    ("name: !!python/object:os.system x\n", None, "malformed YAML"),
    (SYN_TEXT + "budget: [\n", None, "malformed YAML"),
]


@pytest.mark.parametrize("text, field, message", TEXT_CASES,
                         ids=[f"{i}-{c[2][:24]}" for i, c in enumerate(TEXT_CASES)])
def test_a_bad_config_file(tmp_path, text, field, message):
    config = tmp_path / "c.yaml"
    config.write_text(text, encoding="utf-8")
    before = snapshot(tmp_path)
    assert_bad_input(run_cli("optimize", config), config, field, message)
    assert snapshot(tmp_path) == before


def test_an_unreadable_or_missing_config_file(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_bytes(b"name: \xff\xfe\n")
    assert_bad_input(run_cli("validate", config), config, None, "cannot read")
    assert_bad_input(run_cli("validate", tmp_path / "none.yaml"), tmp_path / "none.yaml",
                     None, "file not found")
    assert_bad_input(run_cli("validate", tmp_path), tmp_path, None, "file not found")


def _rows(count: int = 20, **changes) -> list[dict]:
    rows = [{"id": f"q{i}", "question": f"What is {i} + {i}?", "answer": str(2 * i),
             "steps": "1"} for i in range(count)]
    for index, row in changes.items():
        rows[int(index.removeprefix("r"))] = row
    return rows


def _jsonl(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


CSV_OK = "id,question,answer,steps\n" + "".join(f"q{i},What is {i}+{i}?,{2 * i},1\n"
                                                  for i in range(20))
# (dataset file name, its text (str) or bytes, field, in the message)
DATASET_CASES = [
    ("d.jsonl", _jsonl(_rows()[:3]), "dataset.path", "has 3 rows; at least 5 are needed"),
    ("d.jsonl", "", "dataset.path", "has 0 rows"),
    ("d.jsonl", _jsonl(_rows()) + "not json\n", "dataset.path", "line 21: not JSON"),
    ("d.jsonl", _jsonl(_rows()) + "[1, 2]\n", "dataset.path",
     "line 21: must be a JSON object"),
    ("d.jsonl", _jsonl(_rows()) + '"text"\n', "dataset.path", "must be a JSON object"),
    ("d.jsonl", b'{"id": "q\xff"}\n', "dataset.path", "cannot read"),
    ("d.jsonl", _jsonl(_rows(r3={"id": "q3", "question": "x", "answer": None})),
     "dataset.target_field", "row q3 has no gold answer (null or empty)"),
    ("d.jsonl", _jsonl(_rows(r4={"id": "q4", "question": "x", "answer": ""})),
     "dataset.target_field", "row q4 has no gold answer"),
    ("d.jsonl", _jsonl(_rows(r5={"id": "q5", "question": "x", "answer": "   "})),
     "dataset.target_field", "row q5 has no gold answer"),
    ("d.jsonl", _jsonl(_rows(r6={"id": "q6", "question": "x"})), "dataset.target_field",
     "'answer' is not a field of every row"),
    ("d.jsonl", _jsonl(_rows(r7={"question": "x", "answer": "1"})), "dataset.id_field",
     "'id' is not a field of every row"),
    ("d.jsonl", _jsonl(_rows(r8={"id": "q0", "question": "x", "answer": "1"})),
     "dataset.id_field", "'id' values repeat"),
    ("d.jsonl", _jsonl(_rows(r9={"id": "q9", "answer": "1"})), "dataset.input_fields[0]",
     "'question' is not a field of every row"),
    ("d.csv", CSV_OK + "q20,extra,40,1,surplus\n", "dataset.path",
     "line 22: 5 fields, the header has 4"),
    ("d.csv", CSV_OK + "q20,short\n", "dataset.path", "line 22: 2 fields, the header has 4"),
    ("d.csv", "id,question,answer,id\n" + CSV_OK.split("\n", 1)[1], "dataset.path",
     "the header names 'id' twice"),
    ("d.csv", "id,question,answer,steps\n", "dataset.path", "has 0 rows"),
    ("d.csv", CSV_OK + "q20,What?,,1\n", "dataset.target_field", "row q20 has no gold answer"),
    ("d.csv", CSV_OK + 'q20,"What?,40,1\nq21,x,42,1\n', "dataset.path",
     "line 23: not CSV (unexpected end of data)"),
    ("d.csv", CSV_OK + 'q20,"What"?,40,1\n', "dataset.path", "line 22: not CSV"),
    ("d.csv", b"id,question,answer\n\xff\xfe,x,1\n", "dataset.path", "cannot read"),
    ("d.tsv", "id\tquestion\tanswer\n", "dataset.path", "use a .jsonl or .csv file"),
    ("d.json", json.dumps(_rows()), "dataset.path", "use a .jsonl or .csv file"),
]


@pytest.mark.parametrize("name, text, field, message", DATASET_CASES,
                         ids=[f"{i}-{c[0]}-{c[3][:24]}" for i, c in enumerate(DATASET_CASES)])
def test_a_bad_dataset(data, tmp_path, name, text, field, message):
    dataset = tmp_path / name
    if isinstance(text, bytes):
        dataset.write_bytes(text)
    else:
        dataset.write_text(text, encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(dump(mutated(LIVE, "dataset.path", str(dataset), data,
                                             tmp_path)), encoding="utf-8")
    before = snapshot(tmp_path)
    assert_bad_input(run_cli("optimize", config), config, field, message)
    assert snapshot(tmp_path) == before


@pytest.fixture(scope="module")
def complete_run(data, tmp_path_factory) -> Path:
    """A complete offline run (optimize, evaluate) to copy and corrupt."""
    root = tmp_path_factory.mktemp("run")
    config = root / "c.yaml"
    # every case's copy of this config (for --resume) makes nothing here
    stored = {**mutated(SYN, "seed", 1, data, root), "output": str(data / "never")}
    config.write_text(dump(stored), encoding="utf-8")
    run = root / "run"
    for args in (["optimize", config, "--out", run], ["evaluate", run]):
        code, _, err = run_cli(*args)
        assert code == 0, err
    return run


@pytest.fixture
def world(data, complete_run, tmp_path) -> dict[str, Path]:
    """Per case: a valid synthetic and live config, a copy of the complete run, an empty
    and a non-empty directory (under ``tmp_path``, which the case checks is unchanged)."""
    cfg = tmp_path / "c.yaml"  # the complete run's config, so that --resume may take it
    shutil.copy(complete_run.parent / "c.yaml", cfg)
    live = tmp_path / "live.yaml"
    live.write_text(dump(mutated(LIVE, "seed", 0, data, tmp_path)),
                    encoding="utf-8")
    live_sys = tmp_path / "live_sys.yaml"
    live_sys.write_text(dump({**mutated(LIVE, "seed", 0, data, tmp_path),
                                        "output": "/sys"}), encoding="utf-8")
    run = tmp_path / "run"
    shutil.copytree(complete_run, run)
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine\n", encoding="utf-8")
    return {"cfg": cfg, "live": live, "live_sys": live_sys, "run": run, "tmp": tmp_path,
            "data": data}


BENCH = ["bench", "--env", "synthetic:bernoulli-mv", "--algorithms", "psst",
         "--budgets", "100", "--runs", "2", "--workers", "1", "--out", "{tmp}/bench"]


def _bench(**flags) -> list[str]:
    args = list(BENCH)
    for flag, value in flags.items():
        args[args.index(f"--{flag}") + 1] = value
    return args


# (command line, the file named or None, the field (flag or argument), in the message)
FLAG_CASES = [
    ([*BENCH, "--budget-unit", "dollars"], None, "--budget-unit",
     "must be completions or cost, got 'dollars'"),
    (_bench(**{"budgets": "nan"}) + ["--budget-unit", "cost"], None, "--budgets",
     "expected finite numbers"),
    (_bench(**{"budgets": "1e-9"}) + ["--budget-unit", "cost"], None, "--budgets",
     "is less than one pull at N=1 per prompt at worst case"),
    (["optimize", "{cfg}", "--budget", "0"], "{cfg}", "--budget", "must be > 0"),
    (["optimize", "{cfg}", "--budget", "-5"], "{cfg}", "--budget", "must be > 0"),
    (["optimize", "{cfg}", "--budget", str(HUGE)], "{cfg}", "--budget",
     "must be at most 2**53"),
    (["optimize", "{cfg}", "--budget", "3"], "{cfg}", "--budget", "3 is smaller than one pull"),
    (["optimize", "{cfg}", "--budget", "abc"], None, "--budget", "'abc' is not a number"),
    (["optimize", "{cfg}", "--budget", "2.5"], "{cfg}", "--budget",
     "must be a whole number of completions (the config's budget unit), got 2.5"),
    (["optimize", "{cfg}", "--budget", "nan"], "{cfg}", "--budget", "must be a finite number"),
    (["optimize", "{cfg}", "--budget"], None, None, "'--budget' requires an argument"),
    (["optimize", "{cfg}", "--seed", "-1"], "{cfg}", "--seed", "must be >= 0, got -1"),
    (["optimize", "{cfg}", "--seed", "x"], None, "--seed", "valid integer"),
    (["optimize", "{cfg}", "--out", "{data}/afile"], None, "--out",
     "cannot create the directory"),
    (["optimize", "{cfg}", "--out", "{data}/afile/run"], None, "--out",
     "cannot create the directory"),
    (["optimize", "{cfg}", "--out", "/dev/null/x"], None, "--out",
     "cannot create the directory /dev/null/x"),
    (["optimize", "{cfg}", "--out", "/proc/iapo-run"], None, "--out",
     "cannot create the directory /proc/iapo-run"),
    (["optimize", "{cfg}", "--out", "/sys"], None, "--out", "/sys is not empty"),
    (["optimize", "{cfg}", "--out", "{run}"], None, "--out",
     "is not empty (it holds config.yaml, estimates.csv, evaluation.csv, ...); give a new "
     "or empty directory (continue an interrupted or failed run with --resume)"),
    (["optimize", "{cfg}", "--out", "{tmp}/full"], None, "--out",
     "full is not empty (it holds notes.txt)"),
    (["optimize", "{cfg}", "--resume", "{tmp}/nowhere", "--out", "{tmp}/x"], None, "--out",
     "use --resume or --out, not both"),
    (["optimize", "{cfg}", "--resume", "{tmp}/nowhere"], None, "--resume",
     "nowhere is not a run directory (no config.yaml)"),
    (["optimize", "{cfg}", "--resume", "{tmp}/empty"], None, "--resume",
     "empty is not a run directory (no config.yaml)"),
    (["optimize", "{cfg}", "--resume", "{data}/afile"], None, "--resume",
     "afile is not a run directory (no config.yaml)"),
    (["optimize", "{live_sys}"], "{live_sys}", "output", "cannot write into /sys"),
    (["optimize"], None, None, "Missing argument 'config'"),
    (["optimize", "{tmp}/none.yaml"], "{tmp}/none.yaml", None, "file not found"),
    (["optimize", "{cfg}", "--bogus"], None, None, "No such option: --bogus"),
    (["validate", "{tmp}/none.yaml"], "{tmp}/none.yaml", None, "file not found"),
    (["validate"], None, None, "Missing argument 'config'"),
    (["validate", "{cfg}", "--budget", "5"], None, None, "No such option: --budget"),
    (["record", "{live}", "--samples", "0"], None, "--samples", "must be at least 1"),
    (["record", "{live}", "--samples", "-1"], None, "--samples", "must be at least 1"),
    (["record", "{live}", "--samples", "x"], None, "--samples", "valid integer"),
    (["record", "{live}"], None, None, "Missing option '--samples'"),
    (["record", "{cfg}", "--samples", "2"], "{cfg}", "backend.kind",
     "iapo record needs a live backend"),
    (["record", "{live}", "--samples", "2", "--out", "{tmp}/empty"], None, "--out",
     "is a directory, not a replay file name"),
    (["record", "{live}", "--samples", "2", "--out", "{tmp}/full/notes.txt"], None, "--out",
     "exists and is not a replay file (.npz)"),
    (["record", "{live}", "--samples", "2", "--out", "/dev/null/x.npz"], None, "--out",
     "cannot create the directory /dev/null"),
    (["record", "{live}", "--samples", "2", "--out", "/proc/x.replay.npz"], None, "--out",
     "cannot write into /proc"),
    (["record", "{live}", "--samples", "2", "--out", "{data}/afile/x.npz"], None, "--out",
     "cannot create the directory"),
    (["record", "{live_sys}", "--samples", "2"], "{live_sys}", "output",
     "cannot write into /sys"),
    (["record", "{tmp}/none.yaml", "--samples", "2"], "{tmp}/none.yaml", None,
     "file not found"),
    (["evaluate", "{run}", "--min-acr", "nan"], None, "--min-acr",
     "must be a finite number, got nan"),
    (["evaluate", "{run}", "--min-acr", "inf"], None, "--min-acr", "must be a finite number"),
    (["evaluate", "{run}", "--min-acr", "-inf"], None, "--min-acr", "must be a finite"),
    (["evaluate", "{run}", "--min-acr", "abc"], None, "--min-acr", "valid number"),
    (["evaluate", "{run}", "--budget", "0"], None, "--budget", "must be > 0"),
    (["evaluate", "{run}", "--budget", "-1"], None, "--budget", "must be > 0"),
    (["evaluate", "{run}", "--budget", "x"], None, "--budget", "valid integer"),
    (["evaluate", "{tmp}/nowhere"], None, "RUN_DIR", "is not a run directory"),
    (["evaluate", "{tmp}/empty"], None, "RUN_DIR", "is not a run directory"),
    (["evaluate", "{data}/afile"], None, "RUN_DIR", "is not a run directory"),
    (["evaluate"], None, None, "Missing argument"),
    (["report", "{tmp}/nowhere"], None, "PATH", "is neither a run directory"),
    (["report", "{tmp}/empty"], None, "PATH", "is neither a run directory"),
    (["report", "{data}/afile"], None, "PATH", "is neither a run directory"),
    (_bench(env="{tmp}/none.npz"), "{tmp}/none.npz", None, "file not found"),
    (_bench(env="synthetic:nope"), None, "--env", "unknown synthetic family 'nope'"),
    (_bench(env="{data}/afile"), "{data}/afile", None, "not a readable .npz archive"),
    (_bench(algorithms="psst,magic"), None, "--algorithms", "unknown algorithm 'magic'"),
    (_bench(algorithms="psst(rho=2)"), None, "--algorithms", "rho must lie in (0, 1)"),
    (_bench(algorithms="psst(rounds=100)"), None, "--algorithms", "rounds must be at most 64"),
    (_bench(algorithms="psst,psst"), None, "--algorithms", "twice"),
    (_bench(algorithms="psst(rho="), None, "--algorithms", ""),
    (_bench(algorithms=""), None, "--algorithms", ""),
    (_bench(budgets="0"), None, "--budgets", "all > 0"),
    (_bench(budgets="100,100"), None, "--budgets", "100 is listed twice"),
    (_bench(budgets="abc"), None, "--budgets", ""),
    (_bench(budgets=str(HUGE)), None, "--budgets", "is above 2**53"),
    (_bench(budgets="2"), None, "--budgets", "2 is smaller than one pull"),
    (_bench(runs="1"), None, "--runs", "needs at least 2 runs"),
    (_bench(runs="x"), None, "--runs", "valid integer"),
    (_bench(workers="0"), None, "--workers", "must be at least 1, got 0"),
    (_bench(seed="-1") if "--seed" in BENCH else [*BENCH, "--seed", "-1"], None, "--seed",
     "must be >= 0, got -1"),
    (_bench(out="{data}/afile"), None, "--out", "cannot create the directory"),
    (["explain", "nope"], None, "SECTION", "no config section 'nope'"),
    (["explain", "backend.nope"], None, "SECTION", "no config section 'backend.nope'"),
    (["bogus"], None, None, "No such command 'bogus'"),
    (["--nope"], None, None, "No such option: --nope"),
]


def _fill_args(items, world: dict[str, Path]) -> list[str]:
    return [str(item).format(**world) for item in items]


@pytest.mark.parametrize("args, source, field, message", FLAG_CASES,
                         ids=[f"{i}-{' '.join(c[0])[:40]}" for i, c in enumerate(FLAG_CASES)])
def test_a_bad_flag(world, args, source, field, message):
    before = snapshot(world["tmp"])
    result = run_cli(*_fill_args(args, world))
    source = source.format(**world) if source else None
    assert_bad_input(result, source, field, message)
    assert snapshot(world["tmp"]) == before
    assert not (world["data"] / "never").exists()  # the config's output


EVALUATE, REPORT, RESUME = (["evaluate", "{run}"], ["report", "{run}"],
                            ["optimize", "{cfg}", "--resume", "{run}"])
ESTIMATES_HEAD = "context,prompt,n,utility,task_utility,cost,samples\n"
LOG_HEAD = "round,context,prompt,n,estimate,samples,kept\n"
# (file, its new contents (DELETE: removed), the commands that read it, in the message);
# the message names the file (source) - or, for a missing file, the directory's argument
RUN_FILE_CASES = [
    ("config.yaml", "name: [\n", [EVALUATE, RESUME], "not valid YAML"),
    ("config.yaml", "- a\n", [EVALUATE, RESUME], "is not a YAML mapping"),
    ("config.yaml", "", [EVALUATE, RESUME], "is not a YAML mapping"),
    ("config.yaml", b"name: \xff\n", [EVALUATE, RESUME], "cannot read (not UTF-8 text)"),
    ("config.yaml", "{budget}", [EVALUATE], "budget: input should be greater than 0"),
    ("config.yaml", "{colour}", [EVALUATE, RESUME], "colour: unknown key"),
    ("summary.json", "{broken", [EVALUATE, REPORT, RESUME], "not valid JSON"),
    ("summary.json", "[1, 2]", [EVALUATE, REPORT, RESUME], "is not a JSON object"),
    ("summary.json", "", [EVALUATE, REPORT, RESUME], "not valid JSON"),
    ("summary.json", b"\xff\xfe", [EVALUATE, REPORT, RESUME], "cannot read (not UTF-8"),
    ("summary.json", '{"config_path": 5}', [EVALUATE], "'config_path' must be a string"),
    ("summary.json", '{"attempt": "two"}', [RESUME], "'attempt' must be an integer"),
    ("split.json", "{broken", [EVALUATE], "not valid JSON"),
    ("split.json", '{"train": [0]}', [EVALUATE], "lacks the key 'test'"),
    ("split.json", '{"train": [0], "test": "x"}', [EVALUATE], "'test' must be a list"),
    ("split.json", '{"train": [0], "test": [-1]}', [EVALUATE], "'test' must be a list"),
    ("split.json", '{"train": [0], "test": [1.5]}', [EVALUATE], "'test' must be a list"),
    ("split.json", '{"train": [0], "test": []}', [EVALUATE], "the run has no test queries"),
    ("split.json", '{"train": [0, 1, 2], "test": [2, 3]}', [EVALUATE],
     "'test' shares 1 queries with 'train' (e.g. 2)"),
    ("split.json", '{"train": [0], "test": [999]}', [EVALUATE],
     "names queries the backend does not have"),
    ("policy.json", "{broken", [EVALUATE, REPORT], "not valid JSON"),
    ("policy.json", '{"status": "complete"}', [EVALUATE, REPORT],
     "lacks the key 'contexts'"),
    ("policy.json", '{"contexts": "x"}', [EVALUATE, REPORT],
     "'contexts' must be a list of JSON objects"),
    ("policy.json", '{"contexts": [{"context": "free", "prompt": "p0", "n": 0}]}',
     [EVALUATE, REPORT], "contexts[0].n must be an integer >= 1"),
    ("policy.json", '{"contexts": [{"context": "free", "prompt": "p99", "n": 1}]}',
     [EVALUATE], "has no usable arm for context 'free'"),
    ("policy.json", '{"contexts": [{"context": "free", "prompt": "p0", "n": 99}, '
                    '{"context": "costly", "prompt": "p0", "n": 1}]}', [EVALUATE],
     "deploys an N outside the run's scale grid"),
    ("estimates.csv", "{broken", [EVALUATE, REPORT], "lacks the column"),
    ("estimates.csv", ESTIMATES_HEAD, [EVALUATE, REPORT], "has no rows"),
    ("estimates.csv", ESTIMATES_HEAD.replace("\n", ",unbiased_utility\n")
     + "free,p0,1,0.5,0.5,0,1,high\n", [EVALUATE],
     "column 'unbiased_utility' holds a non-number ('high')"),
    ("estimates.csv", "", [EVALUATE, REPORT], "not a readable CSV table"),
    ("estimates.csv", ESTIMATES_HEAD + "free,p0,abc,0,0,0,1\n", [EVALUATE, REPORT],
     "column 'n' holds a non-number ('abc')"),
    ("estimates.csv", ESTIMATES_HEAD + "free,p0,1,high,0,0,1\n", [EVALUATE, REPORT],
     "column 'utility' holds a non-number ('high')"),
    ("estimates.csv", "context,prompt\nfree,p0\n", [EVALUATE, REPORT],
     "lacks the column 'n'"),
    ("estimates.csv", b"context,prompt,n\n\xff,p0,1\n", [EVALUATE, REPORT],
     "cannot read (not UTF-8 text)"),
    ("trimming_log.csv", "", [REPORT], "not a readable CSV table"),
    ("trimming_log.csv", "round,context\n1,free\n", [REPORT], "lacks the column 'prompt'"),
    ("trimming_log.csv", LOG_HEAD + "one,free,p0,1,0.5,3,True\n", [REPORT],
     "column 'round' holds a non-number ('one')"),
    ("evaluation.json", "{broken", [REPORT], "not valid JSON"),
    ("evaluation.json", "[]", [REPORT], "is not a JSON object"),
    ("evaluation.json", '{"comparisons": []}', [REPORT], "lacks the key 'test_queries'"),
    ("evaluation.json", '{"comparisons": "x", "test_queries": 5, "method": "exact"}',
     [REPORT], "'comparisons' must be a list of JSON objects"),
    ("evaluation.json", '{"comparisons": [{"name": "x"}], "test_queries": 5, '
                        '"method": "exact"}', [REPORT], "comparisons[0] lacks the key 'acr'"),
    ("evaluation.json", '{"comparisons": [{"name": "x", "acr": "high", "acr_sem": 0, '
                        '"regret": null, "gain_captured": null}], "test_queries": 5, '
                        '"method": "exact"}', [REPORT], "comparisons[0].acr must be a number"),
]
MISSING_CASES = [
    ("config.yaml", EVALUATE, "RUN_DIR", "is not a run directory (no config.yaml)"),
    ("config.yaml", RESUME, "--resume", "is not a run directory (no config.yaml)"),
    ("summary.json", EVALUATE, "RUN_DIR", "is not a complete run directory (no summary.json)"),
    ("summary.json", REPORT, "PATH", "is not a complete run directory (no summary.json)"),
    ("split.json", EVALUATE, "RUN_DIR", "is not a complete run directory (no split.json)"),
    ("policy.json", EVALUATE, "RUN_DIR", "is not a complete run directory (no policy.json)"),
    ("policy.json", REPORT, "PATH", "is neither a run directory (policy.json) nor a bench"),
    ("estimates.csv", EVALUATE, "RUN_DIR", "has no estimates.csv"),
    ("estimates.csv", REPORT, "PATH", "no estimates.csv"),
    ("trimming_log.csv", REPORT, "PATH", "no trimming_log.csv"),
]


def _run_file_cases():
    for name, text, commands, message in RUN_FILE_CASES:
        for command in commands:
            yield pytest.param(name, text, command, message,
                               id=f"{command[0]}{'-resume' if '--resume' in command else ''}"
                                  f"-{name}-{str(text)[:24]}")


def _config_text(run: Path, text) -> str | bytes:
    """``text``, or for '{budget}'/'{colour}' the run's own config with that change."""
    if text not in ("{budget}", "{colour}"):
        return text
    stored = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    stored.update({"budget": -1} if text == "{budget}" else {"colour": "red"})
    return dump(stored)


@pytest.mark.parametrize("name, text, command, message", list(_run_file_cases()))
def test_a_corrupt_run_directory_file(world, name, text, command, message):
    run = world["run"]
    text = _config_text(run, text)
    path = run / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    before = snapshot(world["tmp"])
    result = run_cli(*_fill_args(command, world))
    assert_bad_input(result, path, None, message)
    assert snapshot(world["tmp"]) == before


@pytest.mark.parametrize("name, command, flag, message", MISSING_CASES,
                         ids=[f"{c[1][0]}-{c[2]}-{c[0]}" for c in MISSING_CASES])
def test_a_missing_run_directory_file(world, name, command, flag, message):
    (world["run"] / name).unlink()
    before = snapshot(world["tmp"])
    assert_bad_input(run_cli(*_fill_args(command, world)), None, flag, message)
    assert snapshot(world["tmp"]) == before


# (the user's scorer function in scorers.py, in the message): documented runtime failures
SCORER_FAILURES = [
    ("nan", "python:scorers:nan returned nan, not a finite number"),
    ("inf", "python:scorers:inf returned inf, not a finite number"),
    ("text", "python:scorers:text returned str 'high', not a number"),
    ("none", "python:scorers:none returned NoneType 'None', not a number"),
    ("exits", "python:scorers:exits failed: SystemExit: 3"),
    ("raises", "python:scorers:raises failed: KeyError: 'x'"),
]


@pytest.mark.parametrize("function, message", SCORER_FAILURES,
                         ids=[c[0] for c in SCORER_FAILURES])
def test_a_failing_scorer_fails_the_run_and_loses_nothing(data, tmp_path, function, message):
    """A scorer's failure is the run's runtime failure (exit 1, status failed), never an
    exit code of its own (``sys.exit(3)`` escaped as exit 3, the --min-acr code)."""
    from iapo_cli.llm import CompletionCache

    shutil.copy(data / "scorers.py", tmp_path / "scorers.py")
    objective = {"name": "correct", "scorer": f"python:scorers:{function}", "range": [0, 1]}
    config = tmp_path / "c.yaml"
    config.write_text(dump(mutated(BON, "objectives.0", objective, data, tmp_path)),
                      encoding="utf-8")
    run = tmp_path / "run"
    code, out, err = run_cli("optimize", config, "--out", run)
    assert code == 1, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), err
    assert f"partial results saved in {run}; continue with --resume {run}" in lines[0]
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "failed" and message in summary["error"]
    paid = summary["usage"]["this_attempt"]["completion"]["fresh"]
    assert paid > 0
    cache = CompletionCache(tmp_path / "cache")
    try:
        assert len(cache) == paid  # every completion paid for is kept for --resume
    finally:
        cache.close()


def test_evaluate_refuses_results_it_could_not_write_before_drawing(world):
    # issue 10 campaign: evaluation.json a directory made evaluate pay for every test
    # completion, then fail with a traceback-hinted bug
    run = world["run"]
    (run / "evaluation.json").unlink()
    (run / "evaluation.json").mkdir()
    before = snapshot(world["tmp"])
    result = run_cli("evaluate", run)
    assert_bad_input(result, run / "evaluation.json", None, "is in the way")
    assert snapshot(world["tmp"]) == before


def test_the_readme_counts_these_cases():
    """The exit-code reference (docs/reference/exit-codes.md) says how many bad inputs are
    pinned here."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "reference"
              / "exit-codes.md").read_text(encoding="utf-8")
    text = " ".join(readme.split())
    counts = {
        "config values": len(CONFIG_CASES),
        "environment files": len(ENV_CASES) + 2,  # + the two files that are no archive
        "config texts": len(TEXT_CASES) + 3,  # + unreadable, missing, a directory
        "datasets": len(DATASET_CASES),
        "command lines": len(FLAG_CASES),
        "run-directory files": len(list(_run_file_cases())) + len(MISSING_CASES),
    }
    total = sum(counts.values())
    assert f"`tests/cli/test_bad_inputs.py`: {total} cases," in text
    for what, count in counts.items():
        assert f"{count} {what}" in text, what
    assert f"plus {len(SCORER_FAILURES)} runtime failures" in text
