"""Reports people can look at: PNG figures (matplotlib, headless), report.md and a
self-contained report.html. Renders what it is given: it reads run files, never a cache."""

from ._figures import (
    acr_vs_budget,
    frontier,
    frontier_axis,
    pareto_front,
    regret_vs_budget,
    trimming,
    utility_vs_cost,
    utility_vs_n,
)
from ._html import SAMPLE_FIELDS, SampleSet
from ._report import Report, markdown_table, run_report, study_report, write_report

__all__ = [
    "Report",
    "SAMPLE_FIELDS",
    "SampleSet",
    "acr_vs_budget",
    "frontier",
    "frontier_axis",
    "markdown_table",
    "pareto_front",
    "regret_vs_budget",
    "run_report",
    "study_report",
    "trimming",
    "utility_vs_cost",
    "utility_vs_n",
    "write_report",
]
