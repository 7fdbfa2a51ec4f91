"""Answer health in a run: the early check a live run trains under, and the per-arm outcome
counts as the run's files report them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..backends._health import OUTCOMES, EarlyCheck, HealthCheck, check_window

if TYPE_CHECKING:
    import pandas as pd

    from ._resolve import ResolvedRun

HEALTH_COLUMNS = tuple(f"health_{outcome}" for outcome in OUTCOMES)
"""estimates.csv columns of a live run: per arm, its training completions by outcome."""


def extractor_label(backend) -> str | None:
    """How the backend's answer extractor is described to a person (None: no extractor)."""
    extractor = getattr(backend, "extractor", None)
    if extractor is None:
        return None
    describe = getattr(extractor, "describe", None)
    return describe() if describe is not None else f"pattern {extractor.regex.pattern!r}"


def install_early_check(resolved: ResolvedRun, budget: float, unit: str,
                        samples_hint: str) -> None:
    """Have a live run's backend stop the run once a model's first completions mostly give
    nothing to score (``answer_health``); nothing when the config turns the check off or
    the backend is offline. ``samples_hint``: how the user sees the completions."""
    backend = resolved.problem.backend
    settings = resolved.config.answer_health
    if not hasattr(backend, "health") or not settings.stop_early:
        return
    check = HealthCheck(check_window(budget, unit, settings.window), settings.max_unanswered,
                        settings.max_truncated)
    fix = "fix answer.pattern or answer.preset" if backend.extractor is not None \
        else "check the prompts"
    go_on = "or set answer_health.stop_early: false to go on anyway"
    hints = (f"{fix} ({samples_hint} shows what the model wrote), {go_on}",
             f"raise max_tokens (a new run: it changes the completions; {samples_hint} "
             f"shows them), {go_on}")
    backend.early = EarlyCheck(check, backend.arm_model_labels,
                               extractor_label(backend) or "(none)", hints)


def health_summary(backend) -> dict | None:
    """summary.json's ``answer_health`` of a live backend: the extractor, the outcome names,
    counts per model and per arm (arms without completions left out); None offline."""
    health = getattr(backend, "health", None)
    if health is None:
        return None
    models = backend.arm_model_labels
    names = backend.arm_prompts if backend.arm_models is not None else backend.prompt_ids
    return {"extractor": extractor_label(backend), "outcomes": list(OUTCOMES),
            "models": health.by_model(models),
            "arms": health.records([_arm_id(n, m, backend) for n, m in zip(names, models,
                                                                          strict=True)],
                                   models)}


def _arm_id(prompt: str, model: str, backend) -> str:
    return f"{prompt}@{model}" if backend.arm_models is not None else prompt


def with_health_columns(estimates: pd.DataFrame, backend) -> pd.DataFrame:
    """``estimates`` (rows per context, arm and N, with ``prompt`` and, on several models,
    ``model``) with a live run's ``HEALTH_COLUMNS``: each row's arm's counts; unchanged
    offline."""
    health = getattr(backend, "health", None)
    if health is None:
        return estimates
    names = backend.arm_prompts if backend.arm_models is not None else backend.prompt_ids
    if backend.arm_models is not None:
        index = {(p, m): i for i, (p, m) in enumerate(zip(names, backend.arm_models,
                                                          strict=True))}
        arms = [index[(p, m)] for p, m in zip(estimates["prompt"], estimates["model"],
                                              strict=True)]
    else:
        index = {p: i for i, p in enumerate(names)}
        arms = [index[p] for p in estimates["prompt"]]
    counts = health.counts[np.asarray(arms, dtype=np.int64)] if arms else \
        np.zeros((0, len(OUTCOMES)), dtype=np.int64)
    return estimates.assign(**{column: counts[:, k] for k, column in enumerate(HEALTH_COLUMNS)})
