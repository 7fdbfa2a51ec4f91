"""``iapo bench``: studies of algorithms across budgets in the paper's protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from ..algorithms import AlgorithmParameterError
from ..artifacts import write_table
from ..backends import load_environment, synthetic
from ..errors import ConfigError
from ..evaluation import AlgorithmSpec, StudyInterrupted, run_study, summarize
from ..run import Interrupted
from ._render import console, progress, table


def _parse_ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"expected comma-separated integers, got {text!r}", field=flag
                          ) from None
    if not values or min(values) <= 0:
        raise ConfigError("needs at least one value, all > 0", field=flag)
    return values


def load_env(spec: str):
    if spec.startswith("synthetic:"):
        try:
            return synthetic(spec.removeprefix("synthetic:"))
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
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return yaml.safe_load(text) if text else None


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
        try:
            spec.build()
        except ConfigError as exc:  # a value out of range: say which algorithm's
            detail = f"{name}: {exc.detail}" if isinstance(exc, AlgorithmParameterError) \
                else exc.detail
            raise ConfigError(detail, field="--algorithms") from None
        specs.append(spec)
    if not specs:
        raise ConfigError("needs at least one algorithm", field="--algorithms")
    labels = [spec.label for spec in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ConfigError(f"{repeated[0]!r} is listed twice", field="--algorithms")
    return specs


def bench_command(
    env: Annotated[str, typer.Option(help="PATH.npz (a categorical env or an iapo replay "
                                     "file) or synthetic:NAME (bernoulli-mv, bon-grid).")],
    out: Annotated[Path, typer.Option(help="Directory for results.csv and summary.csv.")],
    algorithms: Annotated[str, typer.Option(
        help="Comma-separated algorithms, each NAME or NAME(key=value,...), e.g. "
             "psst,psst_topk(k=3),ucb(c=0.2).")] =
        "psst,psst_topk,uniform",
    budgets: Annotated[str, typer.Option(help="Comma-separated budgets.")] = "1000,2000,5000",
    runs: Annotated[int, typer.Option(help="Random 80/20 splits per budget.")] = 200,
    seed: Annotated[int, typer.Option(help="Study seed.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Processes (default: all cores).")] = None,
) -> None:
    """Compare algorithms on an offline environment with exact test values."""
    specs = parse_algorithms(algorithms)
    budget_list = _parse_ints(budgets, "--budgets")
    if runs < 2:
        raise ConfigError("needs at least 2 runs", field="--runs")
    environment = load_env(env)
    smallest = len(environment.backend.prompt_ids)
    if min(budget_list) < smallest:
        raise ConfigError(f"{min(budget_list)} is smaller than one pull at N=1 per prompt "
                          f"({smallest} prompts)", field="--budgets")
    out.mkdir(parents=True, exist_ok=True)
    labels = [spec.label for spec in specs]
    reference = "psst" if "psst" in labels else labels[0]
    try:
        with progress("runs", runs) as update:
            results = run_study(environment, specs, budget_list,
                                runs, seed=seed, workers=workers,
                                progress=lambda done, total: update(done, total))
    except StudyInterrupted as exc:  # keep the finished runs, then exit 130
        write_table(out / "results.csv", exc.partial)
        raise Interrupted(out) from None
    summary = summarize(results, reference=reference)
    write_table(out / "results.csv", results)
    write_table(out / "summary.csv", summary)
    shown = summary[["algorithm", "budget", "mean_acr", "sem_acr", "mean_regret", "mean_spent",
                     "median_seconds", f"p_vs_{reference}"]]
    console.print(table(shown, f"{environment.name}: {runs} runs"))
    console.print(f"wrote {out / 'results.csv'} and {out / 'summary.csv'}")
