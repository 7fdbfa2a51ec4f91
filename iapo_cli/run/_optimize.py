"""``optimize``: resolve a config, train, and write the run directory."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import __version__, errors
from ..algorithms import Observer, Trainer, TrainingResult, train
from ..artifacts import (
    RunDir,
    check_creatable,
    estimates_table,
    ledger_totals,
    policy_records,
    policy_table,
    unreceived_totals,
)
from ..config import COST, Config, LiveBackendConfig, config_from_mapping, load_config
from ..errors import ConfigError, IapoError
from ..llm import (
    TRANSPORT_PARAMS,
    LiteLLMTransport,
    LLMError,
    Usage,
    preload_litellm,
    redact,
)
from ..tasks import ScoringError

if TYPE_CHECKING:
    import pandas as pd
from ..backends._health import AnswerHealthError
from ._backends import config_path as config_relative
from ._health import health_summary, install_early_check, with_health_columns
from ._resolve import ResolvedRun, resolve


class Interrupted(errors.Interrupted):
    """Training was interrupted (Ctrl-C or ``kill``, exit 130); what was done is saved in
    ``run_dir``."""

    def __init__(self, run_dir: Path, resumable: bool = False):
        self.run_dir = run_dir
        hint = f"; continue with --resume {run_dir}" if resumable else ""
        super().__init__(f"interrupted; partial results saved in {run_dir}{hint}")


class RunFailed(IapoError):
    """A live run stopped on a failure it cannot work around (exit 1); paid completions
    are cached and the run can be resumed."""

    def __init__(self, reason: str, run_dir: Path):
        self.run_dir = run_dir
        super().__init__(f"{reason}; partial results saved in {run_dir}; "
                         f"continue with --resume {run_dir}")


@dataclass
class RunOutcome:
    run_dir: Path
    resolved: ResolvedRun
    result: TrainingResult
    seconds: float
    usage: dict | None = None
    policy_table: pd.DataFrame | None = None
    """policy.csv as written: per context the chosen arm, its estimate and samples, and the
    inference-agnostic choice in the same units (see ``artifacts.policy_table``)."""
    answer_health: dict | None = None
    """summary.json's ``answer_health`` of a live run (None offline): what became of every
    completion, per model and per arm."""


def validate(config_path: str | Path, budget: int | None = None, seed: int | None = None,
             require_keys: bool = True) -> ResolvedRun:
    """Every check ``optimize`` makes, without drawing a completion (``require_keys``:
    see ``resolve``)."""
    config = load_config(config_path)
    resolved = resolve(config, str(config_path), budget, seed, require_keys)
    # where optimize would write its run directory (optimize checks it again as it makes it)
    check_creatable(config_relative(resolved.source, config.output), "output", resolved.source)
    return resolved


def _weights(resolved: ResolvedRun) -> list[dict]:
    contexts = resolved.problem.contexts
    names = resolved.problem.backend.strategy.objectives
    return [{**{n: float(w) for n, w in zip(names, row, strict=True)}, COST: float(cost)}
            for row, cost in zip(contexts.task_weights, contexts.cost_weights, strict=True)]


def client_usage(resolved: ResolvedRun) -> dict[str, dict] | None:
    """Per kind (completion, judge), the counters of every client of a live backend since
    it was built; None for offline backends."""
    clients = getattr(resolved.problem.backend, "clients", None)
    if not clients:
        return None
    merged: dict[str, Usage] = {}
    for client in clients:
        for kind, usage in client.usage.items():
            merged.setdefault(kind, Usage()).add(usage)
    return {kind: u.as_dict() for kind, u in merged.items()}


def _cache_dir(resolved: ResolvedRun) -> str | None:
    """The absolute completion cache directory of a live run (None offline)."""
    clients = getattr(resolved.problem.backend, "clients", None)
    return str(clients[0].cache.directory) if clients else None


def _usage(resolved: ResolvedRun, files: RunDir, attempt: int) -> dict | None:
    """This attempt's client counters; the ledger's totals over every attempt, received
    and (apart) possibly billed but never received; and the clients' notes."""
    usage = client_usage(resolved)
    if usage is None:
        return None
    entries = files.read_ledger()
    notes = [note for client in resolved.problem.backend.clients for note in client.notes]
    return {"model": resolved.config.model_label(), "attempt": attempt,
            "this_attempt": usage, "all_attempts": ledger_totals(entries),
            "possibly_billed_not_received": unreceived_totals(entries), "notes": notes}


def _write(run_dir: Path, resolved: ResolvedRun, trainer: Trainer | None,
           result: TrainingResult | None, seconds: float, status: str, attempt: int = 1,
           error: str | None = None) -> tuple[dict | None, pd.DataFrame | None]:
    """Write the run's files; returns the usage block (live runs) and the policy table
    (policy.csv; None before training) it wrote."""
    files = RunDir(run_dir)
    problem = resolved.problem
    usage = _usage(resolved, files, attempt)
    where = {"config_path": str(Path(resolved.source).resolve()),
             "cache_dir": _cache_dir(resolved)}
    if trainer is None:  # nothing trained yet: the status, where things are, the accounting
        files.write_summary({"status": status, "name": resolved.config.name, **where,
                             "attempt": attempt, "usage": usage})
        return usage, None
    if trainer.recorder is not None:
        trainer.recorder.finish()
    policy = result.policy if result is not None else trainer.policy()
    log = trainer.log.frame()
    estimates = trainer.arm_estimates()
    files.write_trimming_log(log)
    files.write_estimates(with_health_columns(estimates_table(estimates, log),
                                              problem.backend))
    frame = policy_table(policy.frame(), estimates)
    files.write_policy({
        "status": status,
        "strategy": problem.backend.strategy.name,
        "contexts": policy_records(frame, _weights(resolved), problem.contexts.probabilities),
    }, frame)
    health = health_summary(problem.backend)
    files.write_summary({
        "status": status,
        "name": resolved.config.name,
        **where,
        "iapo_version": __version__,
        "algorithm": resolved.config.algorithm.name,
        "algorithm_params": resolved.config.algorithm.params,
        "strategy": problem.backend.strategy.name,
        "backend": resolved.config.backend.kind,
        "environment": resolved.env.name,
        "seed": resolved.seed,
        "budget": resolved.budget,
        "budget_unit": resolved.budget_unit,
        "spent": trainer.spent,
        "completions": trainer.completions,
        "pulls": trainer.pulls,
        "rounds": trainer.rounds,
        "screened": bool(result.extra.get("screened")) if result is not None else None,
        "prompts": len(problem.backend.prompt_ids),
        "scales": problem.scales.tolist(),
        "contexts": len(problem.contexts),
        "train_queries": int(len(problem.train)),
        "test_queries": int(len(resolved.test)),
        "seconds": round(seconds, 4),
        "attempt": attempt,
        "error": error,
        "usage": usage,
        **({"answer_health": health} if health is not None else {}),
    })
    return usage, frame


def _resolved_config(resolved: ResolvedRun, config: Config | None = None) -> dict:
    """``config`` (default: the resolved run's) as stored in config.yaml, with the run's
    budget and seed."""
    config = resolved.config if config is None else config
    budget = resolved.budget if resolved.budget_unit == "completions" else \
        {resolved.budget_unit: resolved.budget}
    return {**config.stored(), "budget": budget, "seed": resolved.seed}


RESUMABLE_CHANGES = frozenset({
    *(f"backend.{name}" for name in ("api_base", "timeout", "concurrency", "max_retries",
                                     "retry_base_delay", "retry_max_delay", "supports_n",
                                     "max_n", "cache_dir", "retry_after_max",
                                     "api_key_env", "transport")),
    *(f"backend.params.{name}" for name in TRANSPORT_PARAMS),
    "output",
    "answer",
    "answer_health",
})
"""Settings that may change on ``--resume``: how and where requests are sent (transport-only
``backend.params`` too), where the cache and new runs live, how answers are extracted and
scored (``answer``, and each objective's scorer, params and range: see
``resumable_changes``) and the early check (``answer_health``). None of them changes a
completion (the cache is slot-keyed and its keys hold no endpoint, extraction or scorer),
so the resumed run pays nothing twice: it replays training from the cached completions,
every estimate computed anew with the new extraction, and goes on."""


JUDGE_TRANSPORT = ("api_base", "timeout", "concurrency")
"""An ``llm_judge`` objective's params that only say how its requests travel (the judge's
endpoint, timeout and concurrency): they may change on ``--resume`` like the backend's."""


def resumable_changes(config: Config) -> frozenset[str]:
    """``RESUMABLE_CHANGES`` plus the transport params of ``config``'s ``llm_judge``
    objectives (``objectives[i].params.api_base``, ...), the scorer, params and range of
    its other objectives (scoring is not part of a completion) and, for each of its
    ``models``, the same transport fields as the backend's (``models[i].timeout``, ...)."""
    judges = [i for i, objective in enumerate(config.objectives or ())
              if objective.scorer == "llm_judge"]
    backend = [name.removeprefix("backend.") for name in RESUMABLE_CHANGES
               if name.startswith("backend.") and name != "backend.cache_dir"]
    models = {f"models[{i}].{name}" for i in range(len(config.models or ()))
              for name in backend}
    scoring = {f"objectives[{i}].{name}" for i, objective in enumerate(config.objectives or ())
               if i not in judges for name in ("scorer", "params", "range")}
    return RESUMABLE_CHANGES | models | scoring | {f"objectives[{i}].params.{name}"
                                                   for i in judges
                                                   for name in JUDGE_TRANSPORT}


def first_difference(old: object, new: object, path: str = "",
                     ignore: frozenset[str] = frozenset()) -> str | None:
    """The dotted path (``backend.model``, ``prompts[2].template``) of the first place where
    the plain data ``old`` and ``new`` differ, skipping the paths in ``ignore``; None when
    they are equal. Mappings are walked in ``new``'s key order, then keys only ``old``
    has; a list of another length differs at its first extra index."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*new, *(k for k in old if k not in new)]:
            where = f"{path}.{key}" if path else str(key)
            if where in ignore:
                continue
            if key not in old or key not in new:
                return where
            found = first_difference(old[key], new[key], where, ignore)
            if found is not None:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list):
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]", ignore)
            if found is not None:
                return found
        return None if len(old) == len(new) else f"{path}[{min(len(old), len(new))}]"
    return None if old == new else path


def _with_run_cache(config: Config, files: RunDir) -> Config:
    """``config`` with the cache directory the run being resumed used (summary.json's
    ``cache_dir``, absolute), so that the run finds its own cache from any working
    directory and config location; unchanged when the run recorded none or when
    ``backend.cache_dir`` was changed since (the user moved the cache). Missing files are
    left for ``_reopen`` to report."""
    if config.backend.kind != "live" or not (files.has(RunDir.SUMMARY)
                                            and files.has(RunDir.CONFIG)):
        return config
    stored = files.read_config().get("backend")
    default = LiveBackendConfig.model_fields["cache_dir"].default
    if not isinstance(stored, dict) or \
            stored.get("cache_dir", default) != config.backend.cache_dir:
        return config
    return with_recorded_cache(config, files.read_summary())


def with_recorded_cache(config: Config, summary: dict) -> Config:
    """``config`` with the absolute cache directory a live run recorded in its summary.json
    (``cache_dir``); unchanged offline, when the run recorded none, or when that directory
    no longer exists (the cache was moved; the config's own path then applies). ``evaluate``
    and ``--resume`` use it so a run finds its own cache from any working directory, even
    when its config file has been copied or moved since."""
    recorded = summary.get("cache_dir")
    if config.backend.kind != "live" or not isinstance(recorded, str) \
            or not Path(recorded).is_dir():
        return config
    return config.model_copy(update={
        "backend": config.backend.model_copy(update={"cache_dir": recorded})})


def _reopen(resolved: ResolvedRun, run_dir: Path, config: Config) -> int:
    """Check that ``run_dir`` holds this very run (only ``RESUMABLE_CHANGES`` may differ)
    and store ``config`` (the user's, as given for the resume) as its config; the attempt
    number to use."""
    files = RunDir(run_dir, flag="--resume")
    stored = files.read_config()
    # through the schema (it holds the resolved budget and seed), so that a config stored
    # before a field was added compares equal when the field has its default
    previous = config_from_mapping(stored, str(files.file(RunDir.CONFIG))).stored()
    current = _resolved_config(resolved, config)
    changed = first_difference(previous, current, ignore=resumable_changes(config))
    if changed is not None:
        raise ConfigError(f"differs from the run being resumed in '{changed}' (resume needs "
                          f"the same config, budget and seed; only the endpoint, timeouts, "
                          f"retries, concurrency, batching, the key variable, transport-only "
                          f"params, a judge's api_base, timeout and concurrency, answer "
                          f"extraction, scorers, answer_health, cache_dir and output may "
                          f"change)",
                          source=resolved.source)
    attempt = files.last_attempt() + 1
    files.write_config(current)  # e.g. the new endpoint, for evaluate
    return attempt


def optimize(config_path: str | Path, out: str | Path | None = None,
             budget: float | None = None,
             seed: int | None = None, observer: Observer | None = None,
             resume: str | Path | None = None,
             on_start: Callable[[ResolvedRun], None] | None = None) -> RunOutcome:
    """Train the configured algorithm and write ``<out>/<name>-<UTC stamp>/``.

    ``resume``: an earlier run directory of the same config; the run is replayed with the
    same seed, so every completion it already paid for comes from the cache. On Ctrl-C
    the files are written from what was done (status "interrupted") and ``Interrupted`` is
    raised; a live failure writes status "failed" and raises ``RunFailed``.
    ``on_start(resolved)`` is called once every check passed, just before training (the
    command line announces the plan's estimate there).
    """
    given = load_config(config_path)
    config = given
    if resume is not None:  # before the backend is built: it opens the run's own cache
        config = _with_run_cache(given, RunDir(resume, flag="--resume"))
    resolved = resolve(config, str(config_path), budget, seed)
    if config.backend.kind == "live" and any(
            isinstance(client.transport, LiteLLMTransport)
            for client in resolved.problem.backend.clients):
        # every check passed (a missing key never pays LiteLLM's seconds of import): its
        # import overlaps the run directory's set-up and the first round's planning
        preload_litellm()
    if resume is not None:
        run_dir = Path(resume)
        attempt = _reopen(resolved, run_dir, given)
    else:
        files = RunDir.make(out) if out is not None else RunDir.create(
            config_relative(resolved.source, config.output), config.name,
            source=resolved.source)
        run_dir = files.path
        attempt = 1
        files.write_config(_resolved_config(resolved))
        files.write_split(resolved.problem.train.tolist(), resolved.test.tolist())
    live = config.backend.kind == "live"
    if live:
        ledger = RunDir(run_dir).ledger(attempt)
        for client in resolved.problem.backend.clients:
            client.ledger = ledger
        _write(run_dir, resolved, None, None, 0.0, "running", attempt)
    try:
        return _train_and_write(resolved, run_dir, attempt, live, observer, on_start)
    finally:
        if live:
            ledger.close()


def _train_and_write(resolved: ResolvedRun, run_dir: Path, attempt: int, live: bool,
                     observer: Observer | None,
                     on_start: Callable[[ResolvedRun], None] | None) -> RunOutcome:
    """``optimize``'s training and writing, once the run directory is set up."""
    install_early_check(resolved, resolved.budget, resolved.budget_unit,
                        f"iapo samples {run_dir} --unparsed")
    trainer = None
    start = time.perf_counter()
    try:
        if on_start is not None:
            on_start(resolved)
        # the run owns the trainer, so what the algorithm learned survives an interrupt
        trainer = Trainer(resolved.problem, resolved.budget,
                          np.random.default_rng(resolved.seed), observer,
                          unit=resolved.budget_unit)
        trainer.recorder = RunDir(run_dir).pull_recorder()
        start = time.perf_counter()
        result = train(resolved.algorithm, trainer)
    except KeyboardInterrupt:
        _write(run_dir, resolved, trainer, None, time.perf_counter() - start, "interrupted",
               attempt)
        raise Interrupted(run_dir, resumable=live) from None
    except (LLMError, ScoringError, AnswerHealthError) as exc:
        _write(run_dir, resolved, trainer, None, time.perf_counter() - start, "failed",
               attempt, error=str(exc))
        raise RunFailed(str(exc), run_dir) from None
    except Exception as exc:  # a bug: it keeps its traceback, and the run says it failed
        try:
            _write(run_dir, resolved, trainer, None, time.perf_counter() - start, "failed",
                   attempt, error=redact(f"{type(exc).__name__}: {exc}"))
        except Exception:  # the bug's own traceback is the one that matters
            pass
        raise
    seconds = time.perf_counter() - start
    usage, table = _write(run_dir, resolved, trainer, result, seconds, "complete", attempt)
    return RunOutcome(run_dir, resolved, result, seconds, usage, table,
                      health_summary(resolved.problem.backend))
