"""Run orchestration: config -> environment -> algorithm -> run directory."""

from ._optimize import Interrupted, RunFailed, RunOutcome, optimize, validate
from ._record import RecordInterrupted, RecordOutcome, record
from ._resolve import ResolvedRun, build_contexts, build_environment, resolve

__all__ = [
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
    "resolve",
    "validate",
]
