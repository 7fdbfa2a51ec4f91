"""``optimize``: resolve a config, train, and write the run directory."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..algorithms import Observer, Trainer, TrainingResult
from ..artifacts import (
    new_run_dir,
    policy_records,
    write_config,
    write_json,
    write_table,
)
from ..config import COST, load_config
from ..errors import IapoError
from ._resolve import ResolvedRun, resolve


class Interrupted(IapoError):
    """Training was interrupted (Ctrl-C); what was done is saved in ``run_dir``."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        super().__init__(f"interrupted; partial results saved in {run_dir}")


@dataclass
class RunOutcome:
    run_dir: Path
    resolved: ResolvedRun
    result: TrainingResult
    seconds: float


def validate(config_path: str | Path, budget: int | None = None, seed: int | None = None
             ) -> ResolvedRun:
    """Every check ``optimize`` makes, without drawing a completion."""
    config = load_config(config_path)
    return resolve(config, str(config_path), budget, seed)


def _weights(resolved: ResolvedRun) -> list[dict]:
    contexts = resolved.problem.contexts
    names = resolved.problem.backend.strategy.objectives
    return [{**{n: float(w) for n, w in zip(names, row, strict=True)}, COST: float(cost)}
            for row, cost in zip(contexts.task_weights, contexts.cost_weights, strict=True)]


def _write(run_dir: Path, resolved: ResolvedRun, trainer: Trainer, result: TrainingResult | None,
           seconds: float, status: str) -> None:
    policy = result.policy if result is not None else trainer.policy()
    problem = resolved.problem
    write_table(run_dir / "trimming_log.csv", trainer.log.frame())
    frame = policy.frame()
    write_table(run_dir / "policy.csv", frame)
    write_json(run_dir / "policy.json", {
        "status": status,
        "strategy": problem.backend.strategy.name,
        "contexts": policy_records(frame, _weights(resolved), problem.contexts.probabilities),
    })
    write_json(run_dir / "summary.json", {
        "status": status,
        "name": resolved.config.name,
        "iapo_version": __version__,
        "algorithm": resolved.config.algorithm.name,
        "algorithm_params": resolved.config.algorithm.params,
        "strategy": problem.backend.strategy.name,
        "backend": resolved.config.backend.kind,
        "environment": resolved.env.name,
        "seed": resolved.seed,
        "budget": resolved.budget,
        "spent": trainer.spent,
        "pulls": trainer.pulls,
        "rounds": trainer.rounds,
        "screened": bool(result.extra.get("screened")) if result is not None else None,
        "prompts": len(problem.backend.prompt_ids),
        "scales": problem.scales.tolist(),
        "contexts": len(problem.contexts),
        "train_queries": int(len(problem.train)),
        "test_queries": int(len(resolved.test)),
        "seconds": round(seconds, 4),
    })


def optimize(config_path: str | Path, out: str | Path | None = None, budget: int | None = None,
             seed: int | None = None, observer: Observer | None = None) -> RunOutcome:
    """Train the configured algorithm and write ``<out>/<name>-<UTC stamp>/``.

    On Ctrl-C the files are written from what was done (status "interrupted") and
    ``Interrupted`` is raised.
    """
    resolved = validate(config_path, budget, seed)
    config = resolved.config
    if out is not None:
        run_dir = Path(out)
        run_dir.mkdir(parents=True, exist_ok=True)
    else:
        run_dir = new_run_dir(config.output, config.name)
    write_config(run_dir, {**config.model_dump(mode="json"), "budget": resolved.budget,
                           "seed": resolved.seed})
    write_json(run_dir / "split.json", {"train": resolved.problem.train.tolist(),
                                        "test": resolved.test.tolist()})
    rng = np.random.default_rng(resolved.seed)
    algorithm = resolved.algorithm
    start = time.perf_counter()
    try:
        result = algorithm.fit(resolved.problem, resolved.budget, rng, observer)
    except KeyboardInterrupt:
        trainer = getattr(algorithm, "trainer_", None)
        if trainer is not None:
            _write(run_dir, resolved, trainer, None, time.perf_counter() - start, "interrupted")
        raise Interrupted(run_dir) from None
    seconds = time.perf_counter() - start
    _write(run_dir, resolved, algorithm.trainer_, result, seconds, "complete")
    return RunOutcome(run_dir, resolved, result, seconds)
