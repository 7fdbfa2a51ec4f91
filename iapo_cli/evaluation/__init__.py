"""Scoring policies exactly and running studies in the paper's protocol."""

from ._compare import (
    AGNOSTIC,
    AGNOSTIC_BEST_N,
    DESCRIPTIONS,
    ORACLE,
    POLICY,
    SINGLE_ARM,
    Choice,
    ChoiceScore,
    comparison_choices,
    gain_captured,
    oracle_choice,
    score_choice,
)
from ._exact import ExactTable, Score, score_policy
from ._study import AlgorithmSpec, StudyInterrupted, run_study, split_queries, summarize

__all__ = [
    "AGNOSTIC",
    "AGNOSTIC_BEST_N",
    "DESCRIPTIONS",
    "ORACLE",
    "POLICY",
    "SINGLE_ARM",
    "Choice",
    "ChoiceScore",
    "comparison_choices",
    "gain_captured",
    "oracle_choice",
    "score_choice",
    "AlgorithmSpec",
    "ExactTable",
    "Score",
    "StudyInterrupted",
    "run_study",
    "score_policy",
    "split_queries",
    "summarize",
]
