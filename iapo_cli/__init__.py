"""iapo: inference-aware prompt optimization (PSST).

The Python API; each name is imported on first use (PEP 562), so ``import iapo_cli`` and
the ``iapo`` command stay fast::

    from iapo_cli import evaluate, optimize

    run = optimize("configs/bon-grid.yaml", out="runs/demo", budget=2000)
    print(run.result.policy.frame())          # per context: prompt, N, estimated utility
    print(evaluate(run.run_dir).policy.acr)   # exact test ACR of the policy

* ``load_config(path) -> Config``: read and validate a YAML config (``ConfigError``).
* ``validate(config_path, budget=None, seed=None) -> ResolvedRun``: every check
  ``optimize`` makes, without drawing a completion.
* ``optimize(config_path, out=None, budget=None, seed=None, observer=None, resume=None)
  -> RunOutcome``: train and write a run directory.
* ``evaluate(run_dir, budget=None, progress=None) -> Evaluation``: score a run's policy on
  its test split; ``write_evaluation(evaluation, min_acr=None)`` writes evaluation.json/.csv.
* ``record(config_path, samples, out=None) -> RecordOutcome``: a replay file from a live
  backend.
* ``run_study(env, algorithms, budgets, runs, seed=0, ...) -> DataFrame``: one row per
  (algorithm, budget, run), nothing written; ``summarize(results)`` per (algorithm, budget).
* ``run_bench(env, algorithms, budgets, runs, seed=0, workers=None, out=...)
  -> StudyOutcome``: ``iapo bench``, writing results.csv and summary.csv.
* ``load_env(spec)``, ``parse_algorithms(text)``, ``AlgorithmSpec``: study inputs.
* ``build_report(path) -> Report``: ``iapo report`` (figures, report.md and a
  self-contained report.html whose sample browser shows a live run's completions, read
  from its cache); ``write_report(path, samples=None)`` renders without gathering them.
* ``samples(run_dir, context=None, arm=None, query=None, unparsed=False, wrong=False,
  split=None, limit=20) -> list[SampleRecord]``: ``iapo samples``, nothing sent.
* ``Policy.load(run_dir) -> Policy``: a run's choice per context, to deploy:
  ``policy.contexts``, ``policy.arm(context)`` or ``policy.arm(weights=..., max_usd=...,
  max_n=...)`` for a context that was not trained (arm, model, decoding, N, strategy,
  expected utility and USD per query, samples; ``messages(row)``, ``answer(row)``,
  ``answer_many(rows)``, ``answer_many_async(rows)``).
* ``infer(run_dir, input_path, context=..., out=...) -> InferOutcome``: ``iapo infer``.
* ``RunDir``, ``StudyDir``: the files of a run or a study directory.

Errors are ``iapo_cli.errors.IapoError`` subclasses carrying ``exit_code``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "load_config": "iapo_cli.config",
    "validate": "iapo_cli.run",
    "optimize": "iapo_cli.run",
    "evaluate": "iapo_cli.run",
    "write_evaluation": "iapo_cli.run",
    "record": "iapo_cli.run",
    "run_bench": "iapo_cli.run",
    "load_env": "iapo_cli.run",
    "parse_algorithms": "iapo_cli.run",
    "Policy": "iapo_cli.run",
    "infer": "iapo_cli.run",
    "run_study": "iapo_cli.evaluation",
    "summarize": "iapo_cli.evaluation",
    "AlgorithmSpec": "iapo_cli.evaluation",
    "write_report": "iapo_cli.report",
    "build_report": "iapo_cli.run",
    "samples": "iapo_cli.run",
    "RunDir": "iapo_cli.artifacts",
    "StudyDir": "iapo_cli.artifacts",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'iapo_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
