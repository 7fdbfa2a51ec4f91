"""Turn a validated config into the objects a run needs, checking it against the backend."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..algorithms import BudgetMeter, Problem, make_algorithm
from ..backends import Contexts, Environment
from ..config import COST, Config, check_budget
from ..errors import ConfigError
from ..evaluation import split_queries
from ..strategies import strategy_like
from . import _live  # registers the 'live' builder
from ._backends import build_environment


@dataclass
class ResolvedRun:
    config: Config
    source: str
    env: Environment
    problem: Problem
    test: np.ndarray
    algorithm: object
    budget: int | float  # in budget_unit: int for completions and tokens
    seed: int
    budget_unit: str = "completions"  # one of algorithms.METER_UNITS


def _objective_names(config: Config, env: Environment, source: str) -> tuple[str, ...]:
    names = tuple(env.backend.strategy.objectives)
    if config.objectives is not None:
        declared = tuple(o.name for o in config.objectives)
        if declared != names:
            raise ConfigError(
                f"the {config.backend.kind} backend scores {', '.join(names)}; "
                f"got {', '.join(declared)}", source=source, field="objectives")
    return names


def context_weights(weights: dict[str, float], objectives: tuple[str, ...], where: str,
                    source: str | None = None, names: bool = False
                    ) -> tuple[list[float], float]:
    """A context's ``weights`` (objective name or 'cost' -> weight) as (the task weights in
    the order of ``objectives``, the cost weight). An unknown name, a negative cost weight
    or (unless ``names``: check the keys only) every weight 0 is a ConfigError naming
    ``where``."""
    known = (*objectives, COST)
    for key in weights:
        if key not in known:
            raise ConfigError(f"unknown objective '{key}' (objectives: {', '.join(known)})",
                              source=source, field=where)
    if weights.get(COST, 0.0) < 0:
        raise ConfigError("the cost weight must be >= 0 (it multiplies O_cost = -cost)",
                          source=source, field=f"{where}.{COST}")
    row = [float(weights.get(o, 0.0)) for o in objectives]
    if not names and not any(row) and not weights.get(COST, 0.0):
        # every arm would be worth exactly 0: a policy would mean nothing
        combo = ",".join(f"{k}={v:g}" for k, v in weights.items())
        what = f"the combination {combo} has" if where == "contexts.grid" else "has"
        raise ConfigError(f"{what} every weight 0, so every arm is worth 0; give an "
                          f"objective or cost a weight", source=source, field=where)
    return row, float(weights.get(COST, 0.0))


def build_contexts(config: Config, env: Environment, source: str) -> Contexts:
    if config.contexts is None:
        return env.contexts
    objectives = _objective_names(config, env, source)

    def weights_row(weights: dict[str, float], where: str, names: bool = False
                    ) -> tuple[list[float], float]:
        return context_weights(weights, objectives, where, source, names)

    if isinstance(config.contexts, list):
        rows = [weights_row(c.weights, f"contexts[{i}].weights")
                for i, c in enumerate(config.contexts)]
        names = tuple(c.name for c in config.contexts)
        probs = [c.probability for c in config.contexts]
        probs = np.full(len(rows), 1.0) if probs[0] is None else np.array(probs, dtype=float)
        if probs.sum() <= 0:
            raise ConfigError("probabilities must not all be 0", source=source,
                              field="contexts")
    else:
        keys = list(config.contexts.grid)
        weights_row(dict.fromkeys(keys, 0.0), "contexts.grid", names=True)
        combos = list(itertools.product(*(config.contexts.grid[k] for k in keys)))
        rows = [weights_row(dict(zip(keys, combo, strict=True)), "contexts.grid")
                for combo in combos]
        names = tuple(",".join(f"{k}={v:g}" for k, v in zip(keys, combo, strict=True))
                      for combo in combos)
        probs = np.full(len(rows), 1.0)
    max_usd = max_n = None
    if isinstance(config.contexts, list):
        if any(c.max_cost_per_query is not None for c in config.contexts):
            if not getattr(env.backend, "usd_known", False):
                i = next(i for i, c in enumerate(config.contexts)
                         if c.max_cost_per_query is not None)
                raise ConfigError("a cap in USD needs a price for every model (give "
                                  "price: {input, output}, or use a model LiteLLM prices)",
                                  source=source, field=f"contexts[{i}].max_cost_per_query")
            max_usd = np.array([np.nan if c.max_cost_per_query is None
                                else c.max_cost_per_query for c in config.contexts])
        if any(c.max_n is not None for c in config.contexts):
            max_n = np.array([c.max_n or 0 for c in config.contexts], dtype=np.int64)
    return Contexts(
        names,
        np.array([r[0] for r in rows], dtype=float),
        np.array([r[1] for r in rows], dtype=float),
        probs / probs.sum(),
        max_usd,
        max_n,
    )


def resolve(config: Config, source: str, budget: float | None = None, seed: int | None = None,
            require_keys: bool = True) -> ResolvedRun:
    """Every check that needs the backend; no completion is drawn here. A live model whose
    key is missing from the environment is refused unless ``require_keys`` is False (then
    ``env.info[MISSING_ENVIRONMENT]`` lists it)."""
    env = build_environment(config, source)
    missing = env.info.get(_live.MISSING_ENVIRONMENT)
    if missing and require_keys:
        raise ConfigError(missing[0][1], source=source, field=missing[0][0])
    backend = env.backend
    if config.strategy is not None and config.strategy != backend.strategy.name:
        try:  # any strategy of the kind of pull the backend delivers
            backend.strategy = strategy_like(config.strategy, backend.strategy)
        except ValueError:
            raise ConfigError(f"the {config.backend.kind} backend uses "
                              f"'{backend.strategy.name}', not '{config.strategy}'",
                              source=source, field="strategy") from None
    n_prompts = len(backend.prompt_ids)
    if config.prompts is not None and config.backend.kind != "live":
        if len(config.prompts) != n_prompts:
            raise ConfigError(f"lists {len(config.prompts)} prompts but the backend has "
                              f"{n_prompts}", source=source, field="prompts")
        backend.prompt_ids = tuple(p.id for p in config.prompts)
    n_max = backend.n_max
    if config.scales == "max":
        scales = np.arange(1, n_max + 1)
    else:
        for i, s in enumerate(config.scales):
            if not 1 <= s <= n_max:
                raise ConfigError(f"{s} is outside 1..{n_max} (the backend's n_max)",
                                  source=source, field=f"scales[{i}]")
        scales = np.array(sorted(config.scales))
    contexts = build_contexts(config, env, source)
    unit, amount = config.budget_spec()
    if unit != "completions":
        _check_budget_unit(backend, unit, source)
    given = budget
    if given is not None and not math.isfinite(given):
        raise ConfigError(f"must be a finite number, got {given}", source=source,
                          field="--budget")
    if given is not None and unit in ("completions", "tokens") and \
            not float(given).is_integer():
        raise ConfigError(f"must be a whole number of {unit} (the config's budget unit), "
                          f"got {given:g}", source=source, field="--budget")
    budget = amount if budget is None else budget
    budget = float(budget) if unit in ("usd", "cost") else int(budget)
    field = ("budget" if unit == "completions" else f"budget.{unit}") if given is None \
        else "--budget"
    try:
        check_budget(budget)
    except ValueError as exc:
        raise ConfigError(str(exc), source=source, field=field) from None
    cheapest = n_prompts * int(scales[0])
    if unit == "completions" and budget < cheapest:
        raise ConfigError(f"{budget} is smaller than one pull at N={scales[0]} per prompt "
                          f"({n_prompts} prompts need {cheapest})", source=source, field=field)
    seed = config.seed if seed is None else seed
    if seed < 0:  # only an override can be: the config's seed is checked by the schema
        raise ConfigError(f"must be >= 0, got {seed}", source=source, field="--seed")
    try:
        algorithm = make_algorithm(config.algorithm.name, **config.algorithm.params)
    except ConfigError as exc:
        raise ConfigError(exc.detail, source=source, field="algorithm") from None
    train, test = split_queries(backend.n_queries, seed, 0, config.split.test_fraction)
    if len(train) == 0 or len(test) == 0:  # training needs queries, evaluate needs a test
        part = "training" if len(train) == 0 else "test"
        raise ConfigError(f"{config.split.test_fraction:g} of {backend.n_queries} queries leaves "
                          f"the {part} split empty", source=source, field="split.test_fraction")
    problem = Problem(backend, train, scales, contexts)
    try:
        algorithm.check_problem(problem)
    except ConfigError as exc:
        raise ConfigError(exc.detail, source=source, field="algorithm") from None
    if unit != "completions":
        # the worst case of one query of every arm at the smallest scale (prompt tokens
        # bounded, completions at max_tokens): a budget below it could not sample them all
        worst = BudgetMeter(problem, budget, unit).worst_prices()[:, scales[0] - 1]
        free = np.flatnonzero(worst <= 0)
        if free.size:  # a budget in this unit would never be spent on it
            raise ConfigError(f"a budget in {unit} needs every arm to cost something, but "
                              f"{backend.prompt_ids[free[0]]} costs 0 (a price of 0, or a "
                              f"cost of 0); use a budget in completions",
                              source=source, field=field)
        needed = float(worst.sum())
        if budget < needed:
            raise ConfigError(f"{budget:g} {unit} is less than one pull at N={scales[0]} of "
                              f"each of the {n_prompts} arms at worst case ({needed:.4g} "
                              f"{unit})", source=source, field=field)
    return ResolvedRun(config, source, env, problem, test, algorithm, budget, int(seed), unit)


def _check_budget_unit(backend, unit: str, source: str) -> None:
    """A budget in ``unit`` needs a backend that meters it: usd a live backend with a price
    for every model, tokens a live backend, cost an offline one with per-completion
    costs (ConfigError on ``budget.<unit>`` otherwise)."""
    field = f"budget.{unit}"
    live = hasattr(backend, "worst_usage")
    if unit == "usd" and not (live and getattr(backend, "usd_known", False)):
        what = "a price for every model (give price: {input, output}, or use a model " \
            "LiteLLM prices)" if live else "a live backend with prices"
        raise ConfigError(f"a budget in usd needs {what}", source=source, field=field)
    if unit == "tokens" and not live:
        raise ConfigError("a budget in tokens needs a live backend (offline environments "
                          "count completions or cost)", source=source, field=field)
    if unit == "cost" and not hasattr(backend, "worst_cost"):
        raise ConfigError("a budget in cost needs an offline environment with "
                          "per-completion costs (live backends take usd or tokens)",
                          source=source, field=field)
