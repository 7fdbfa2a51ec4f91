"""Run orchestration: config -> environment -> algorithm -> run directory."""

from ._backends import register_backend
from ._evaluate import (
    BelowMinimum,
    Evaluation,
    EvaluationInterrupted,
    evaluate,
    write_evaluation,
)
from ._optimize import Interrupted, RunFailed, RunOutcome, optimize, validate
from ._record import RecordInterrupted, RecordOutcome, record
from ._resolve import ResolvedRun, build_contexts, build_environment, resolve

__all__ = [
    "BelowMinimum",
    "Evaluation",
    "EvaluationInterrupted",
    "evaluate",
    "write_evaluation",
    "Interrupted",
    "ResolvedRun",
    "RunFailed",
    "RecordInterrupted",
    "RecordOutcome",
    "RunOutcome",
    "build_contexts",
    "build_environment",
    "optimize",
    "record",
    "register_backend",
    "resolve",
    "validate",
]
