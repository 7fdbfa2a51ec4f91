"""Run orchestration: config -> environment -> algorithm -> run directory."""

from ._optimize import Interrupted, RunOutcome, optimize, validate
from ._resolve import ResolvedRun, build_contexts, build_environment, resolve

__all__ = [
    "Interrupted",
    "ResolvedRun",
    "RunOutcome",
    "build_contexts",
    "build_environment",
    "optimize",
    "resolve",
    "validate",
]
