"""``iapo plan``: the run's cost before its first call, and the line ``optimize`` prints."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ._render import console, parse_budget


def plan_command(
    config: Annotated[Path, typer.Argument(help="Experiment config (YAML).")],
    budget: Annotated[str | None, typer.Option(
        help="Override the config's budget (in its unit: completions, tokens, USD).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the config's seed.")] = None,
    pilot: Annotated[int, typer.Option(
        help="Draw K completions per arm (through the run's cache, at the slots the run "
             "asks for first, so it reuses them) to measure completion tokens and "
             "latency. 0: send nothing.", metavar="K")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document "
                                          "(schema: docs/reference/files.md).")] = False,
) -> None:
    """What the run will cost: tokens, dollars, completions, rounds and wall time, per arm
    and in total, before the first call (nothing is sent without --pilot)."""
    from ..run import plan

    result = plan(config, parse_budget(budget), seed, pilot)
    if as_json:
        print(json.dumps(result.as_dict(), default=_plain))
        return
    console.print(arms_table(result))
    console.print(estimate_line(result))
    schedule = result.schedule
    if schedule is not None:
        console.print(schedule_line(result))
    if result.pilot:
        pilot_ = result.pilot
        console.print(f"pilot: {pilot_['completions']} completions "
                      f"({pilot_['from_cache']} from cache), {pilot_['requests']} requests, "
                      f"{pilot_['prompt_tokens']} prompt + {pilot_['completion_tokens']} "
                      f"completion tokens billed, " + _usd(pilot_["usd"]))
    for line in pilot_health_lines(result.health):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    for warning in result.warnings:
        console.print(f"warning: {warning}", soft_wrap=True)


def pilot_health_lines(health: dict | None) -> list[str]:
    """Per model of a pilot: the share of its completions with an answer (and without:
    none found, cut at max_tokens, empty) and one example with its extracted answer and
    the gold."""
    if not health:
        return []
    out = []
    for model, entry in health["models"].items():
        total = entry["completions"]
        missing = [f"{entry[k]} {k.replace('_', ' ')}" for k in
                   ("no_answer", "truncated", "empty", "scorer_failed") if entry.get(k)]
        share = entry["answered"] / total if total else 0.0
        out.append(f"pilot answers: {model}: {entry['answered']} of {total} answered "
                   f"({share:.0%}) by {health['extractor']}"
                   + (f"; {', '.join(missing)}" if missing else ""))
        example = entry.get("example")
        if example:
            text = " ".join(example["text"].split())
            text = text if len(text) <= 160 else "…" + text[-159:]
            out.append(f"  e.g. {example['arm']} on {example['query']}: {text!r} -> "
                       f"answer {example['answer']!r}, gold {example['gold']!r} "
                       f"({example['verdict']})")
    return out


def _plain(value):
    """numpy scalars and arrays as JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or not math.isfinite(value):
        return "?"
    return f"{value:,.{digits}f}"


def _usd(value: float | None) -> str:
    return "unpriced" if value is None else f"${value:,.4f}"


def _per_1k(usd_per_query: float | None) -> str:
    return "unpriced" if usd_per_query is None else f"${1000 * usd_per_query:,.3f}"


def arms_table(result) -> Table:
    """Per arm: tokens per request and completion, N support, tokens per query and dollars
    per 1000 queries at the smallest and largest N, latency, round-1 pulls."""
    out = Table(title=f"plan: {result.config}", caption="compl. tok: pilot mean, cached "
                "pilot, or max_tokens; n: the largest n per request (no: one request per "
                "completion); tok/q, $/1k q: per query, per 1000 queries at N")
    low, high = (result.arms[0].per_n[0]["n"], result.arms[0].per_n[-1]["n"]) \
        if result.arms else (None, None)
    columns = ["arm", "model", "prompt tok", "compl. tok", "n",
               f"tok/q N={low}", f"tok/q N={high}", f"$/1k q N={low}",
               f"$/1k q N={high}", "latency s", "round 1"]
    for name in columns:
        out.add_column(name, justify="left" if name in ("arm", "model") else "right",
                       overflow="fold")
    schedule = result.schedule
    for i, arm in enumerate(result.arms):
        source = {"pilot": " (pilot)", "cache": " (cache)", "max_tokens": " (max)"}.get(
            arm.completion_from or "", "")
        first = "-" if schedule is None else (
            f"{int(schedule.round1_queries[i])} x N={int(schedule.round1_scale[i])}"
            if schedule.round1_scale[i] else "0")
        out.add_row(arm.arm, arm.model, _num(arm.prompt_tokens, 1),
                    _num(arm.completion_tokens, 1) + source,
                    f"≤{arm.max_n}" if arm.supports_n else "no",
                    _num(arm.per_n[0]["tokens_per_query"]),
                    _num(arm.per_n[-1]["tokens_per_query"]),
                    _per_1k(arm.per_n[0]["usd_per_query"]),
                    _per_1k(arm.per_n[-1]["usd_per_query"]),
                    _num(arm.latency, 3), first)
    return out


def estimate_line(result) -> str:
    """One line: completions, expected and worst-case tokens and dollars, wall time."""
    exact = "" if result.completions_exact else "at most "
    tokens, usd = result.tokens, result.usd
    unit, amount = result.budget["unit"], result.budget["amount"]
    if unit == "completions":
        text = f"estimate: {exact}{result.completions} completions"
    else:  # a metered budget: a ceiling on its unit, the completions it buys estimated
        ceiling = f"${amount:g}" if unit == "usd" else f"{amount:g} {unit}"
        # completion tokens at max_tokens over-price every pull: the count is a floor
        floor = any(arm.completion_from == "max_tokens" for arm in result.arms)
        bought = (f"at least {result.completions}" if floor else
                  f"about {result.completions}") if result.completions else \
            "an unknown number of"
        text = f"estimate: {bought} completions within {ceiling} (a ceiling)"
    if result.backend == "live":
        text += f", {_estimates(tokens, 'tokens', _num)}, {_estimates(usd, 'USD', _usd)}, " \
                f"wall time {_seconds(result.wall_seconds)}"
    return text


def _estimates(values: dict, what: str, show) -> str:
    """'X expected, worst Y' with the reason when either is unknown."""
    if values["expected"] is None and values["worst"] is None:
        return f"{what} unknown" if what != "USD" else "unpriced"
    expected = "?" if values["expected"] is None else show(values["expected"])
    worst = "unbounded, no max_tokens" if values["worst"] is None else show(values["worst"])
    return f"{expected} {what} expected (worst {worst})" if what != "USD" else \
        f"{expected} expected (worst {worst})"


def schedule_line(result) -> str:
    schedule = result.schedule
    screening = (f"screening at N={schedule.screen_scale} on {schedule.screen_queries} "
                 f"queries per prompt, then " if schedule.screened else "")
    kind = "pooled" if schedule.pooled else "trimming"
    return (f"{result.algorithm}: {screening}{schedule.rounds} {kind} rounds; round 1 "
            f"pulls {schedule.round1_prompts} prompts "
            f"{int(schedule.round1_queries.max())} queries each at "
            f"N={int(schedule.round1_scale.max())}")


def _seconds(value: float | None) -> str:
    if value is None:
        return "unknown (no latency: --pilot)"
    return f"~{value:.0f} s" if value >= 10 else f"~{value:.1f} s"
