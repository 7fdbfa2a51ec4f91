"""``bench``: a study of algorithms across budgets on an offline environment, written to a
study directory (results.csv, summary.csv). ``run_bench`` is the Python entry point the
``iapo bench`` command calls."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import errors
from ..algorithms import AlgorithmParameterError
from ..artifacts import StudyDir
from ..backends import Environment, load_environment, synthetic
from ..config import MAX_BUDGET
from ..errors import ConfigError
from ..evaluation import AlgorithmSpec, StudyInterrupted, run_study, summarize

if TYPE_CHECKING:
    import pandas as pd


class BenchInterrupted(errors.Interrupted):
    """Ctrl-C or ``kill`` during ``run_bench`` (exit 130): the runs that finished are
    written to ``out``/results.csv (``partial``), summary.csv is not."""

    def __init__(self, out: Path, partial: pd.DataFrame):
        self.out = out
        self.partial = partial
        super().__init__(f"interrupted; partial results saved in {out}")


@dataclass
class StudyOutcome:
    """What ``run_bench`` wrote: ``results`` one row per (algorithm, budget, run),
    ``summary`` one row per (algorithm, budget) with p-values against ``reference``."""

    out: StudyDir
    environment: Environment
    results: pd.DataFrame
    summary: pd.DataFrame
    reference: str
    runs: int


def _parse_ints(text: str, flag: str, kind: type = int) -> list:
    """``"1000,2000"`` -> ``[1000, 2000]``; ConfigError naming ``flag`` unless every value
    is a positive integer (``kind`` float: a positive finite number) and there is at
    least one."""
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise ConfigError(f"expected comma-separated {what}, got {text!r}", field=flag
                          ) from None
    if kind is float and not all(math.isfinite(v) for v in values):
        raise ConfigError(f"expected finite numbers, got {text!r}", field=flag)
    if not values or min(values) <= 0:
        raise ConfigError("needs at least one value, all > 0", field=flag)
    return values


def load_env(spec: str | Path) -> Environment:
    """``synthetic:NAME`` or the path of a recorded environment (replay or categorical
    npz); a bad one is a ConfigError."""
    text = str(spec)
    if text.startswith("synthetic:"):
        try:
            return synthetic(text.removeprefix("synthetic:"))
        except ConfigError as exc:
            raise ConfigError(exc.detail, field="--env") from None
    return load_environment(spec)


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses: ``a,b(x=1,y=2)`` -> ``['a', 'b(x=1,y=2)']``."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += (char == "(") - (char == ")")
        if depth < 0:
            raise ConfigError(f"unbalanced ')' in {text!r}", field="--algorithms")
        current += char
    if depth:
        raise ConfigError(f"unbalanced '(' in {text!r}", field="--algorithms")
    return [part.strip() for part in parts + [current] if part.strip()]


def _scalar(text: str) -> object:
    """A parameter value: a number where it reads as one (``1e-3`` too, which YAML 1.1
    would leave a string), else a YAML scalar (``never``, ``true``)."""
    import yaml

    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if not text:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:  # e.g. '[1' (a comma split it): the text, which the check rejects
        return text


def parse_algorithms(text: str) -> list[AlgorithmSpec]:
    """``psst,psst_topk(k=3,rho=0.1),ucb`` -> specs; each is built once here so a bad name,
    parameter or value is an input error before any work starts."""
    specs = []
    for item in _split_top_level(text):
        name, _, rest = item.partition("(")
        name = name.strip()
        params: list[tuple[str, object]] = []
        if rest:
            if not rest.endswith(")"):
                raise ConfigError(f"expected NAME(key=value,...), got {item!r}",
                                  field="--algorithms")
            for pair in _split_top_level(rest[:-1]):
                key, eq, value = pair.partition("=")
                if not eq or not key.strip().isidentifier():
                    raise ConfigError(f"expected key=value in {item!r}, got {pair!r}",
                                      field="--algorithms")
                params.append((key.strip(), _scalar(value.strip())))
        spec = AlgorithmSpec(name, tuple(params))
        _check_builds(spec)
        specs.append(spec)
    return _check_specs(specs)


def _check_builds(spec: AlgorithmSpec) -> None:
    """ConfigError naming ``--algorithms`` unless ``spec`` builds (known name, parameters
    and values in range)."""
    try:
        spec.build()
    except ConfigError as exc:  # a value out of range: say which algorithm's
        detail = f"{spec.name}: {exc.detail}" if isinstance(exc, AlgorithmParameterError) \
            else exc.detail
        raise ConfigError(detail, field="--algorithms") from None


def _check_specs(specs: list[AlgorithmSpec]) -> list[AlgorithmSpec]:
    """``specs`` unless empty or listing one label twice (ConfigError)."""
    if not specs:
        raise ConfigError("needs at least one algorithm", field="--algorithms")
    labels = [spec.label for spec in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ConfigError(f"{repeated[0]!r} is listed twice", field="--algorithms")
    return specs


def run_bench(env: str | Path | Environment, algorithms: str | Sequence[AlgorithmSpec],
              budgets: str | Sequence[int], runs: int, seed: int = 0,
              workers: int | None = None, out: str | Path | None = None,
              progress: Callable[[int, int], None] | None = None,
              budget_unit: str = "completions") -> StudyOutcome:
    """Run a study in the paper's protocol and write ``out``/results.csv and summary.csv.

    ``budget_unit``: ``completions`` (integer budgets) or ``cost`` (budgets in the
    environment's per-completion cost units, numbers; the environment must carry costs).

    ``env``: an environment, ``synthetic:NAME`` or a recorded file; ``algorithms``: specs
    (or their texts) or the ``--algorithms`` text (``psst,psst_topk(k=3),ucb``);
    ``budgets``: integers or ``"1000,2000"``; ``runs`` random 80/20 splits per budget (at
    least 2); ``workers`` processes, at least 1 (default: all cores); ``progress(done,
    total)`` after every run. Every input is checked (ConfigError; a budget listed twice
    too) before any work starts or any file is written. p-values are against ``psst`` when
    it is listed, else against the first algorithm.

    On Ctrl-C the finished runs are written to results.csv and ``BenchInterrupted`` is
    raised.
    """
    if isinstance(algorithms, str):
        specs = parse_algorithms(algorithms)
    else:  # specs (or their texts) from Python: the same checks as the flag's
        specs = [parse_algorithms(a)[0] if isinstance(a, str) else a for a in algorithms]
        for spec in specs:
            _check_builds(spec)
        _check_specs(specs)
    if budget_unit not in ("completions", "cost"):
        raise ConfigError(f"must be completions or cost, got {budget_unit!r}",
                          field="--budget-unit")
    budget_list = _parse_ints(budgets if isinstance(budgets, str)
                              else ",".join(str(b) for b in budgets), "--budgets",
                              int if budget_unit == "completions" else float)
    if out is None:
        raise ConfigError("a directory for results.csv and summary.csv is needed",
                          field="--out")
    if not budget_list or min(budget_list) <= 0:
        raise ConfigError("needs at least one value, all > 0", field="--budgets")
    if max(budget_list) > MAX_BUDGET:
        raise ConfigError(f"{max(budget_list)} is above 2**53 = {MAX_BUDGET} (budget "
                          f"arithmetic is exact only up to there)", field="--budgets")
    repeated = sorted({b for b in budget_list if budget_list.count(b) > 1})
    if repeated:  # its runs would pool into one summary row and break the pairing
        raise ConfigError(f"{repeated[0]} is listed twice", field="--budgets")
    if workers is not None and workers < 1:
        raise ConfigError(f"must be at least 1, got {workers}", field="--workers")
    if runs < 2:
        raise ConfigError("needs at least 2 runs", field="--runs")
    if seed < 0:
        raise ConfigError(f"must be >= 0, got {seed}", field="--seed")
    environment = env if isinstance(env, Environment) else load_env(env)
    backend = environment.backend
    if budget_unit == "cost":
        if not hasattr(backend, "worst_cost"):
            raise ConfigError(f"the environment {environment.name} has no per-completion "
                              f"costs; use --budget-unit completions", field="--budget-unit")
        queries = np.arange(backend.n_queries)
        worst = [float(np.max(backend.worst_cost(p, queries, 1)))
                 for p in range(len(backend.prompt_ids))]
        if min(worst) <= 0:
            raise ConfigError(f"prompt {backend.prompt_ids[int(np.argmin(worst))]} of "
                              f"{environment.name} costs 0: a budget in cost would never be "
                              f"spent on it; use --budget-unit completions",
                              field="--budget-unit")
        smallest = float(sum(worst))
        if min(budget_list) < smallest:
            raise ConfigError(f"{min(budget_list):g} is less than one pull at N=1 per prompt "
                              f"at worst case ({smallest:.4g} cost units)", field="--budgets")
    smallest = len(backend.prompt_ids)
    if budget_unit == "completions" and min(budget_list) < smallest:
        raise ConfigError(f"{min(budget_list)} is smaller than one pull at N=1 per prompt "
                          f"({smallest} prompts)", field="--budgets")
    study = StudyDir.make(out)
    labels = [spec.label for spec in specs]
    reference = "psst" if "psst" in labels else labels[0]
    try:
        results = run_study(environment, specs, budget_list, runs, seed=seed,
                            workers=workers, progress=progress, budget_unit=budget_unit)
    except StudyInterrupted as exc:  # keep the finished runs
        study.write_results(exc.partial)
        raise BenchInterrupted(study.path, exc.partial) from None
    summary = summarize(results, reference=reference)
    study.write_results(results)
    study.write_summary(summary)
    return StudyOutcome(study, environment, results, summary, reference, runs)
