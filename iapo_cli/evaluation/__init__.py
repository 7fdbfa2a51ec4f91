"""Scoring policies exactly and running studies in the paper's protocol."""

from ._exact import ExactTable, Score, score_policy
from ._study import AlgorithmSpec, StudyInterrupted, run_study, split_queries, summarize

__all__ = [
    "AlgorithmSpec",
    "ExactTable",
    "Score",
    "StudyInterrupted",
    "run_study",
    "score_policy",
    "split_queries",
    "summarize",
]
