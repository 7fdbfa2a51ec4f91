"""Run orchestration: config -> environment -> algorithm -> run directory; studies."""

from ._backends import register_backend
from ._deploy import DeployedArm, Policy
from ._evaluate import (
    BelowMinimum,
    Evaluation,
    EvaluationInterrupted,
    evaluate,
    reopen_run,
    write_evaluation,
)
from ._infer import CapReached, InferInterrupted, InferOutcome, infer
from ._optimize import Interrupted, RunFailed, RunOutcome, optimize, validate
from ._plan import Plan, plan, plan_estimate
from ._record import RecordInterrupted, RecordOutcome, record
from ._report import build_report, gather_samples
from ._resolve import ResolvedRun, build_contexts, build_environment, resolve
from ._samples import RunSamples, SampleFilter, SampleRecord, samples
from ._serve import PolicyService, ServeStopped, create_app
from ._study import BenchInterrupted, StudyOutcome, load_env, parse_algorithms, run_bench

__all__ = [
    "BelowMinimum",
    "BenchInterrupted",
    "CapReached",
    "InferInterrupted",
    "InferOutcome",
    "infer",
    "PolicyService",
    "ServeStopped",
    "create_app",
    "DeployedArm",
    "Policy",
    "Evaluation",
    "EvaluationInterrupted",
    "evaluate",
    "reopen_run",
    "write_evaluation",
    "Interrupted",
    "ResolvedRun",
    "RunFailed",
    "RecordInterrupted",
    "RecordOutcome",
    "RunOutcome",
    "StudyOutcome",
    "build_contexts",
    "build_environment",
    "load_env",
    "optimize",
    "parse_algorithms",
    "Plan",
    "plan",
    "plan_estimate",
    "record",
    "build_report",
    "gather_samples",
    "register_backend",
    "resolve",
    "run_bench",
    "RunSamples",
    "SampleFilter",
    "SampleRecord",
    "samples",
    "validate",
]
